//! Periodic evaluation: `eval.csv` has one row per `eval_every` env steps, `best.ckpt` holds the
//! policy of the row with the highest mean return, `keep_checkpoints` keeps the latest few, and a
//! run stopped and resumed writes the same `eval.csv` as one that never stopped.

use policy_gradient::config::Config;
use policy_gradient::evaluate::Agent;
use policy_gradient::run::evaluation::evaluate;
use policy_gradient::run::{QUIET, RunOptions, train_new, train_resume};
use std::path::{Path, PathBuf};

use crate::common::csv_column;
use crate::common::scratch;

fn column(dir: &Path, name: &str) -> Vec<f64> {
    csv_column(&dir.join("eval.csv"), name)
}

fn tmp(name: &str) -> PathBuf {
    scratch("eval", name)
}

fn config() -> Config {
    Config {
        num_envs: 2,
        steps_per_env: 100,
        total_env_steps: 4000,
        hidden_sizes: vec![8],
        checkpoint_every: 1,
        eval_every: 400,
        eval_episodes: 3,
        keep_checkpoints: 2,
        ..Config::preset("CartPole-v1").unwrap()
    }
}

#[test]
fn best_checkpoint_is_the_best_evaluation() {
    let c = config();
    let dir = tmp("best");
    train_new(c.clone(), &dir, &QUIET).unwrap();
    let means = column(&dir, "mean_return");
    let steps = column(&dir, "env_steps");
    assert_eq!(
        steps,
        (1..=10).map(|k| 400.0 * k as f64).collect::<Vec<_>>()
    );
    let best = (0..means.len()).fold(0, |b, i| if means[i] > means[b] { i } else { b });

    let agent = Agent::load(&dir.join("checkpoints/best.ckpt")).unwrap();
    assert_eq!(agent.env_steps as f64, steps[best]);
    let again = evaluate(&agent, &c, 1).unwrap();
    assert_eq!(again.mean_return, means[best]);

    let mut history: Vec<String> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    history.sort();
    assert_eq!(history, ["step-3800.ckpt", "step-4000.ckpt"]);

    // Stopped after epoch 7 (evaluations at 400..1200 done), resumed: the same eval.csv.
    let cut = tmp("cut");
    let stop = RunOptions {
        stop_after: Some(7),
        ..QUIET
    };
    assert!(train_new(c, &cut, &stop).is_err());
    assert_eq!(column(&cut, "env_steps").len(), 3);
    train_resume(&cut, &QUIET).unwrap();
    assert_eq!(
        std::fs::read_to_string(cut.join("eval.csv")).unwrap(),
        std::fs::read_to_string(dir.join("eval.csv")).unwrap()
    );
    // The same best policy (the files differ only in the wall-clock seconds they record).
    let resumed_best = Agent::load(&cut.join("checkpoints/best.ckpt")).unwrap();
    assert_eq!(resumed_best.env_steps, agent.env_steps);
    assert!(
        resumed_best.policy == agent.policy,
        "the best policies differ"
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(cut).unwrap();
}
