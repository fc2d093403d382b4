//! Same seed and config give bit-identical metrics, and a resumed run continues exactly as the
//! uninterrupted one (every CSV column except the wall-clock ones compared as text).

use policy_gradient::PgError;
use policy_gradient::config::{Config, Estimator, Optimizer, Update};
use policy_gradient::metrics::{COLUMNS, WALL_CLOCK_COLUMNS};
use policy_gradient::run::{QUIET, RunOptions, train_new, train_resume};
use std::path::{Path, PathBuf};

use crate::common::scratch;

fn tmp(name: &str) -> PathBuf {
    scratch("test", name)
}

fn small(env: &str, estimator: Estimator) -> Config {
    Config {
        num_envs: 3,
        steps_per_env: 40,
        total_env_steps: 3 * 40 * 8,
        hidden_sizes: vec![16],
        value_iters: 3,
        estimator,
        checkpoint_every: 3,
        normalize_observations: true,
        entropy_coef: 0.01,
        ..Config::preset(env).unwrap()
    }
}

/// `c` updated by PPO: several epochs of shuffled minibatches (so the RNG is drawn), both clips
/// and the KL stop on.
fn ppo(c: Config) -> Config {
    Config {
        update: Update::Ppo,
        update_epochs: 3,
        minibatch_size: 32,
        clip_range: 0.2,
        clip_range_value: 0.5,
        target_kl: 0.05,
        ..c
    }
}

/// The CSV without its wall-clock columns.
fn learning_columns(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let keep: Vec<usize> = (0..COLUMNS.len())
        .filter(|&j| !WALL_CLOCK_COLUMNS.contains(&COLUMNS[j]))
        .collect();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), COLUMNS.len(), "row `{l}`");
            keep.iter().map(|&j| f[j]).collect::<Vec<_>>().join(",")
        })
        .collect()
}

/// The rows of `episodes.csv` without the wall-clock column (the last), checked against
/// `metrics.csv`: as many rows as episodes counted there, steps not decreasing.
fn episode_rows(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("episodes.csv")).unwrap();
    let rows: Vec<String> = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    assert_eq!(rows[0], "episode,env_steps,return,length");
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let counted: u64 = metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(rows.len() as u64 - 1, counted);
    let steps: Vec<u64> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    rows
}

#[test]
fn same_seed_same_csv() {
    for (name, c) in [
        ("CartPole-v1", small("CartPole-v1", Estimator::Gae)),
        ("Pendulum-v1", small("Pendulum-v1", Estimator::Vpg)),
        ("CartPole-v1-ppo", ppo(small("CartPole-v1", Estimator::Gae))),
    ] {
        let env = name;
        let (a, b) = (tmp(&format!("same-a-{env}")), tmp(&format!("same-b-{env}")));
        train_new(c.clone(), &a, &QUIET).unwrap();
        train_new(c.clone(), &b, &QUIET).unwrap();
        let (ca, cb) = (learning_columns(&a), learning_columns(&b));
        assert_eq!(ca.len(), 9, "header + 8 epochs");
        assert_eq!(ca, cb, "{env}: two runs with the same seed differ");
        // A different seed really changes the numbers (the test can fail).
        let d = tmp(&format!("other-{env}"));
        train_new(Config { seed: 1, ..c }, &d, &QUIET).unwrap();
        assert_ne!(learning_columns(&d), ca);
        for p in [a, b, d] {
            std::fs::remove_dir_all(p).unwrap();
        }
    }
}

#[test]
fn resume_continues_bit_identically() {
    for (name, c) in [
        ("CartPole-v1", small("CartPole-v1", Estimator::Reinforce)),
        (
            "MountainCarContinuous-v0",
            small("MountainCarContinuous-v0", Estimator::Gae),
        ),
        ("Pendulum-v1-ppo", ppo(small("Pendulum-v1", Estimator::Gae))),
        (
            "CartPole-v1-sgd",
            Config {
                optimizer: Optimizer::Sgd,
                lr: 0.01,
                value_lr: 0.01,
                ..small("CartPole-v1", Estimator::Vpg)
            },
        ),
        (
            "CartPole-v1-whole-episodes",
            Config {
                num_envs: 1,
                batch_episodes: 2,
                ..small("CartPole-v1", Estimator::Reinforce)
            },
        ),
        (
            "CartPole-v1-episodes-of-3-envs",
            Config {
                batch_episodes: 2,
                ..small("CartPole-v1", Estimator::Gae)
            },
        ),
    ] {
        let env = name;
        let full = tmp(&format!("full-{env}"));
        let whole = train_new(c.clone(), &full, &QUIET).unwrap();
        assert!(whole.epochs > 5, "{env}: {} epochs", whole.epochs);

        let cut = tmp(&format!("cut-{env}"));
        let stop = |n| RunOptions {
            stop_after: Some(n),
            ..QUIET
        };
        // Interrupted (as by Ctrl-C) after epoch 3; keep that checkpoint aside.
        let e = train_new(c.clone(), &cut, &stop(3)).unwrap_err();
        assert!(matches!(e, PgError::Interrupted { .. }), "{e}");
        assert!(e.to_string().contains("`pg train --resume "), "{e}");
        let ckpt = cut.join("checkpoints/latest.ckpt");
        std::fs::copy(&ckpt, cut.join("epoch3.ckpt")).unwrap();
        // Resumed and interrupted again after epoch 5 ...
        assert!(train_resume(&cut, &stop(5)).is_err());
        assert_eq!(learning_columns(&cut).len(), 6);
        // ... then "killed": only the epoch-3 checkpoint survives, the CSV has rows 4 and 5.
        std::fs::copy(cut.join("epoch3.ckpt"), &ckpt).unwrap();
        let summary = train_resume(&cut, &QUIET).unwrap();
        assert_eq!(
            (summary.epochs, summary.env_steps),
            (whole.epochs, whole.env_steps)
        );
        assert_eq!(
            learning_columns(&cut),
            learning_columns(&full),
            "{env}: resumed run differs"
        );
        assert_eq!(
            episode_rows(&cut),
            episode_rows(&full),
            "{env}: resumed episodes.csv differs"
        );
        for p in [full, cut] {
            std::fs::remove_dir_all(p).unwrap();
        }
    }
}

#[test]
fn the_optimizer_key_selects_the_update_rule() {
    let adam = small("CartPole-v1", Estimator::Vpg);
    let sgd = Config {
        optimizer: Optimizer::Sgd,
        ..adam.clone()
    };
    let (a, s) = (tmp("opt-adam"), tmp("opt-sgd"));
    train_new(adam, &a, &QUIET).unwrap();
    train_new(sgd, &s, &QUIET).unwrap();
    let (ca, cs) = (learning_columns(&a), learning_columns(&s));
    // Same header, different learning from the first step on.
    assert_eq!(ca[0], cs[0]);
    assert_ne!(ca[1..], cs[1..]);
    for p in [a, s] {
        std::fs::remove_dir_all(p).unwrap();
    }
}
