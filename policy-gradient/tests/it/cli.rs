//! The `pg` command as a user meets it: bad input is one clear line and a non-zero exit, never a
//! panic or a backtrace; a small run trains, evaluates, renders and plots.

use std::path::PathBuf;
use std::process::Output;

use crate::common::{clean_failure, pg, pg_with_env, scratch};

fn tmp(name: &str) -> PathBuf {
    scratch("cli", name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_input_is_a_clear_error() {
    clean_failure(&pg(&["train", "CartPol-v1"]), "known ids: CartPole-v1");
    clean_failure(
        &pg(&["train", "CartPole-v1", "--set", "gama=0.9"]),
        "unknown config key `gama`",
    );
    clean_failure(
        &pg(&["train", "CartPole-v1", "--set", "num_envs=many"]),
        "`num_envs`",
    );
    clean_failure(&pg(&["eval", "/nonexistent/run"]), "/nonexistent/run");
    let cfg = tmp("bad.toml");
    std::fs::write(&cfg, "hidden_sizes = [64, \"wide\"]\n").unwrap();
    clean_failure(
        &pg(&["train", "CartPole-v1", "--config", cfg.to_str().unwrap()]),
        "`hidden_sizes`",
    );
    std::fs::remove_file(cfg).unwrap();
}

#[test]
fn a_small_run_end_to_end() {
    let out = tmp("run");
    let o = out.to_str().unwrap();
    let small = [
        "--set",
        "num_envs=2",
        "--set",
        "steps_per_env=50",
        "--set",
        "total_env_steps=400",
        "--set",
        "hidden_sizes=[8]",
    ];
    let mut args = vec!["train", "CartPole-v1", "--out", o, "-q"];
    args.extend(small);
    let r = pg(&args);
    assert!(r.status.success(), "{}", stderr(&r));
    for f in [
        "config.toml",
        "metrics.csv",
        "curve.svg",
        "checkpoints/latest.ckpt",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // The same command again is refused, and accepted with --force.
    clean_failure(&pg(&args), "--force");
    args.push("--force");
    assert!(pg(&args).status.success());

    let r = pg(&["eval", o, "--episodes", "3"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(String::from_utf8_lossy(&r.stdout).contains("3 sampled episodes"));
    let svg = out.join("episode.svg");
    assert!(
        pg(&["render", o, "--out", svg.to_str().unwrap()])
            .status
            .success()
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let curve = out.join("both.svg");
    assert!(
        pg(&["plot", o, o, "--out", curve.to_str().unwrap()])
            .status
            .success()
    );
    let both = std::fs::read_to_string(&curve).unwrap();
    assert!(both.contains("(2 runs)"), "{both}");
    assert!(both.contains(">environment steps</text>"), "{both}");

    // A damaged checkpoint is an error, not a panic.
    let ckpt = out.join("checkpoints/latest.ckpt");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    clean_failure(&pg(&["eval", o]), "checkpoint");
    clean_failure(&pg(&["train", "--resume", o]), "checkpoint");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn preset_names_are_listed() {
    let o = pg(&["envs"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let cartpole = out.lines().find(|l| l.starts_with("CartPole-v1")).unwrap();
    assert!(
        cartpole.ends_with("; default, ppo, reinforce"),
        "{cartpole}"
    );
    let acrobot = out.lines().find(|l| l.starts_with("Acrobot-v1")).unwrap();
    assert!(acrobot.ends_with("; default, ppo"), "{acrobot}");
    let o = pg(&["lm", "tasks"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("presets: default"), "{out}");
}

#[test]
fn the_reinforce_preset_trains_on_whole_episodes_with_sgd() {
    let out = tmp("reinforce-preset");
    let o = out.to_str().unwrap();
    let args = [
        "train",
        "CartPole-v1",
        "--preset",
        "reinforce",
        "--set",
        "total_env_steps=1500",
        "--out",
        o,
        "-q",
    ];
    let r = pg(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let printed = String::from_utf8_lossy(&r.stdout);
    assert!(
        printed.contains("env steps") && printed.contains("not solved"),
        "{printed}"
    );
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in [
        "estimator = \"reinforce\"\n",
        "optimizer = \"sgd\"\n",
        "batch_episodes = 4\n",
        "normalize_advantages = false\n",
    ] {
        assert!(config.contains(line), "`{line}` not in\n{config}");
    }
    // Every epoch ended after exactly 4 whole episodes.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "episodes").unwrap();
    let episodes: Vec<&str> = rows.map(|l| l.split(',').nth(col).unwrap()).collect();
    assert!(
        episodes.len() > 3 && episodes.iter().all(|e| *e == "4"),
        "{episodes:?}"
    );
    // On another environment the preset does not exist.
    let r = pg(&["train", "Acrobot-v1", "--preset", "reinforce", "--out", o]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("no preset `reinforce`") && !err.contains("panicked"),
        "{err}"
    );
    std::fs::remove_dir_all(out).unwrap();
}

/// `DENSE_KERNEL` chooses the kernel path; a name that is no path stops `pg` with one line
/// that names it, and a path every CPU has (`portable`) trains.
#[test]
fn the_kernel_path_is_checked() {
    let with_kernel = |value: &str, args: &[&str]| pg_with_env("DENSE_KERNEL", value, args);
    clean_failure(
        &with_kernel("avx1024", &["envs"]),
        "DENSE_KERNEL=\"avx1024\"",
    );
    let out = tmp("kernel-portable");
    let run = with_kernel(
        "portable",
        &[
            "train",
            "CartPole-v1",
            "--set",
            "total_env_steps=2000",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(out.join("metrics.csv").exists());
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn the_thread_count_is_checked_and_changes_no_result() {
    let with_env = |value: &str, args: &[&str]| pg_with_env("PG_THREADS", value, args);
    clean_failure(&with_env("many", &["envs"]), "PG_THREADS `many`");
    clean_failure(&pg(&["--threads", "99999", "envs"]), "--threads `99999`");
    // The same short run on one thread (flag) and on three (environment): the same numbers.
    let (a, b) = (tmp("threads-1"), tmp("threads-3"));
    let short = ["--set", "total_env_steps=6000", "-q"];
    let one = pg(&[
        &[
            "train",
            "CartPole-v1",
            "--threads",
            "1",
            "--out",
            a.to_str().unwrap(),
        ],
        &short[..],
    ]
    .concat());
    assert!(one.status.success(), "{}", stderr(&one));
    let three = with_env(
        "3",
        &[
            &["train", "CartPole-v1", "--out", b.to_str().unwrap()],
            &short[..],
        ]
        .concat(),
    );
    assert!(three.status.success(), "{}", stderr(&three));
    let learning = |dir: &PathBuf| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        // Every column but the two wall-clock ones, which are last.
        text.lines()
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(learning(&a), learning(&b));
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_tiny_transformer_pretrains_fine_tunes_samples_and_measures() {
    let out = tmp("gpt");
    let o = out.to_str().unwrap();
    let mut args = vec!["lm", "pretrain", "reverse", "--out", o, "-q"];
    for set in [
        "model=transformer",
        "context=20",
        "width=16",
        "heads=2",
        "layers=1",
        "steps=6",
        "batch_size=8",
        "eval_every=3",
        "eval_prompts=8",
    ] {
        args.extend(["--set", set]);
    }
    let r = pg(&args);
    assert!(r.status.success(), "{}", stderr(&r));
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("model = \"transformer\""), "{config}");
    // Five held-out completions, and a given prompt twice, greedily.
    let r = pg(&["lm", "sample", o, "-n", "5"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(String::from_utf8_lossy(&r.stdout).lines().count(), 5);
    let r = pg(&[
        "lm",
        "sample",
        o,
        "-n",
        "2",
        "--temperature",
        "0",
        "--prompt",
        "123=",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let lines: Vec<String> = String::from_utf8_lossy(&r.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("123= -> ") && lines[0] == lines[1],
        "{lines:?}"
    );
    // A prompt longer than the context allows is one line naming the context.
    let long = "1".repeat(15) + "=";
    let r = pg(&["lm", "sample", o, "--prompt", &long]);
    clean_failure(&r, "`context`");
    // The checkpoint resumes as a transformer: a finished run resumed has nothing left to do.
    let r = pg(&["lm", "pretrain", "--resume", o, "-q"]);
    assert!(r.status.success(), "{}", stderr(&r));
    // RL fine-tunes it (every estimator's machinery: RLOO, k3 KL to the frozen reference, PPO
    // epochs), the same bits twice, and its result samples.
    let rl_args = |dir: &str, extra: &[&'static str]| {
        let mut a: Vec<String> = ["lm", "rl", "reverse", "--reference", o, "--out", dir, "-q"]
            .map(String::from)
            .to_vec();
        for set in [
            "total_samples=48",
            "prompts_per_step=4",
            "samples_per_prompt=4",
            "eval_prompts=8",
            "eval_every=1",
            "kl=\"k3_loss\"",
            "kl_coef=0.1",
            "update=\"ppo\"",
            "update_epochs=2",
        ] {
            a.extend(["--set".to_string(), set.to_string()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let (rl_a, rl_b) = (out.join("rl-a"), out.join("rl-b"));
    let (a, b) = (rl_a.to_str().unwrap(), rl_b.to_str().unwrap());
    let args: Vec<String> = rl_args(a, &[]);
    let r = pg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(r.status.success(), "{}", stderr(&r));
    let metrics = std::fs::read_to_string(rl_a.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics.lines().count(),
        1 + 1 + 3,
        "header, row 0, 3 steps: {metrics}"
    );
    let r = pg(&["lm", "sample", a, "-n", "3"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(String::from_utf8_lossy(&r.stdout).lines().count(), 3);
    let a_ckpt = std::fs::read(rl_a.join("checkpoints/latest.ckpt")).unwrap();
    let args = rl_args(b, &[]);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--force");
    assert!(pg(&args).status.success());
    let b_ckpt = std::fs::read(rl_b.join("checkpoints/latest.ckpt")).unwrap();
    assert!(
        a_ckpt == b_ckpt,
        "the same RL run twice ends at the same bits"
    );
    // gradvar measures its gradients: one row per estimator.
    let r = pg(&[
        "lm",
        "gradvar",
        o,
        "--batches",
        "2",
        "--prompts",
        "2",
        "--samples",
        "2",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let text = String::from_utf8_lossy(&r.stdout);
    for name in ["reinforce", "rloo", "grpo"] {
        assert!(text.contains(name), "{text}");
    }
    std::fs::remove_dir_all(out).unwrap();
}
