//! Nothing is lost under faults: `pg train`, `pg lm rl` and `pg lm reward`, checkpointing every
//! epoch or step,
//! killed with SIGKILL at random instants and resumed, end with the same metrics and parameters
//! as an uninterrupted run; two processes on one run directory give one clean refusal and lose
//! no file; SIGTERM saves, says so and exits 143.
//!
//! The number of kills per run is `PG_KILLS` (default 3, so CI stays fast; the fault hunt of
//! issue 9 used 55) and the kill points are drawn from a ChaCha8 stream seeded with
//! `PG_KILL_SEED` (default 0). For example `PG_KILLS=50 cargo test -p policy-gradient --test faults`.

use policy_gradient::lm::checkpoint as lm_checkpoint;
use policy_gradient::lm::reward::checkpoint as reward_checkpoint;
use policy_gradient::metrics::WALL_CLOCK_COLUMNS;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::scratch;

fn tmp(name: &str) -> PathBuf {
    scratch("faults", name)
}

fn pg() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pg"));
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run(args: &[String]) -> Output {
    pg().args(args).output().expect("pg runs")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A CSV without the columns named in `wall_clock`.
fn without(dir: &Path, wall_clock: &[&str]) -> String {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&j| !wall_clock.contains(&header[j]))
        .collect();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&j| f[j]).collect::<Vec<_>>().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows in `dir/metrics.csv` (0 when it does not exist yet).
fn rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

/// Runs `new` (a fresh run into `dir`), killing it with SIGKILL `kills` times, each time
/// continuing with `resume` (or, when the kill came before the run had a checkpoint, starting
/// again with `new --force`); then lets it finish.
///
/// A kill instant is random in the run's progress rather than in wall-clock time (the machine's
/// speed varies): once `metrics.csv` holds a random number of rows between those already written
/// and `total_rows` (one time in four: right at the start), after a further random delay of up
/// to 300 µs (about one epoch or step), so kills land during start-up, inside updates, between a
/// metrics row and its checkpoint, and while a checkpoint is written.
fn run_with_kills(new: &[String], resume: &[String], dir: &Path, kills: u64, total_rows: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(env_u64("PG_KILL_SEED", 0));
    let has_checkpoint = || dir.join("checkpoints/latest.ckpt").exists();
    let next_args = |fresh_done: bool| -> Vec<String> {
        if fresh_done && has_checkpoint() {
            resume.to_vec()
        } else {
            let mut a = new.to_vec();
            a.push("--force".into());
            a
        }
    };
    let mut started = false;
    let mut landed = 0;
    for _ in 0..kills {
        let args = next_args(started);
        started = true;
        // A point in what is left of the run (at the start of it one time in four: during
        // start-up), then up to 300 µs more (about one epoch or step).
        let done = rows(dir).min(total_rows);
        let target = if rng.gen_bool(0.25) {
            done
        } else {
            done + rng.gen_range(0..(total_rows - done).max(1))
        };
        let delay = Duration::from_micros(rng.gen_range(0..300));
        let mut child: Child = pg().args(&args).spawn().unwrap();
        while rows(dir) < target && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; the run may already have finished
        let status = child.wait().unwrap();
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(9) {
            landed += 1;
        }
    }
    eprintln!("{}: {landed} of {kills} kills landed", dir.display());
    assert!(
        kills == 0 || landed > 0,
        "no kill landed while the run was alive"
    );
    let out = run(&next_args(started));
    assert!(
        out.status.success(),
        "the last resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for entry in std::fs::read_dir(dir.join("checkpoints")).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().contains(".tmp-"),
            "a temporary file survived: {name:?}"
        );
    }
    assert!(!dir.join("lock").exists(), "the lock was not released");
}

/// Runs `args` uninterrupted and returns the number of metrics rows it wrote.
fn uninterrupted(args: &[String], dir: &Path) -> usize {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rows(dir)
}

/// Runs `args(root/full)` uninterrupted, and `args(root/cut)` killed at random instants and
/// resumed with `resume_command --resume root/cut QUIET` until done; checks that both wrote the
/// same metrics but for the `wall` columns, and returns (full, cut) for the caller to compare
/// their checkpoints.
fn killed_and_resumed(
    root: &Path,
    args: impl Fn(&Path) -> Vec<String>,
    resume_command: &[&str],
    quiet: &str,
    wall: &[&str],
) -> (PathBuf, PathBuf) {
    let full = root.join("full");
    let total = uninterrupted(&args(&full), &full);
    let cut = root.join("cut");
    let mut resume = strings(resume_command);
    resume.extend(strings(&["--resume", cut.to_str().unwrap(), quiet]));
    run_with_kills(&args(&cut), &resume, &cut, env_u64("PG_KILLS", 3), total);
    assert_eq!(without(&cut, wall), without(&full, wall));
    (full, cut)
}

#[test]
fn pg_train_killed_at_random_instants_resumes_to_the_same_run() {
    let root = tmp("train");
    let cfg = [
        "--set",
        "num_envs=2",
        "--set",
        "steps_per_env=100",
        "--set",
        "total_env_steps=6000",
        "--set",
        "hidden_sizes=[16]",
        "--set",
        "checkpoint_every=1",
        "-q",
    ];
    let args = |dir: &Path| {
        let mut a = strings(&["train", "CartPole-v1", "--out", dir.to_str().unwrap()]);
        a.extend(strings(&cfg));
        a
    };
    let (full, cut) = killed_and_resumed(&root, args, &["train"], "-q", WALL_CLOCK_COLUMNS);
    let load = |d: &Path| {
        policy_gradient::checkpoint::load(&d.join("checkpoints/latest.ckpt"), None).unwrap()
    };
    let (a, b) = (load(&full), load(&cut));
    assert_eq!(a.policy(), b.policy(), "final parameters differ");
    assert_eq!(a.env_steps(), 6000);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Pretrains a tiny policy on `task` into `dir` (20 steps of a 16-unit MLP): the starting point
/// of the `pg lm rl` and `pg lm reward` kill tests.
fn tiny_pretrain(task: &str, dir: &Path) {
    let out = run(&strings(&[
        "lm",
        "pretrain",
        task,
        "--out",
        dir.to_str().unwrap(),
        "--quiet",
        "--set",
        "steps=20",
        "--set",
        "batch_size=8",
        "--set",
        "hidden_sizes=[16]",
        "--set",
        "eval_prompts=4",
        "--set",
        "eval_every=10",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pg_lm_rl_killed_at_random_instants_resumes_to_the_same_run() {
    let root = tmp("lm");
    let reference = root.join("ref");
    tiny_pretrain("reviews", &reference);
    let args = |dir: &Path| {
        strings(&[
            "lm",
            "rl",
            "reviews",
            "--reference",
            reference.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--quiet",
            "--set",
            "prompts_per_step=4",
            "--set",
            "samples_per_prompt=4",
            "--set",
            "total_samples=480",
            "--set",
            "eval_prompts=8",
            "--set",
            "eval_every=5",
            "--set",
            "checkpoint_every=1",
        ])
    };
    let wall = ["samples_per_second", "elapsed_seconds"];
    let (full, cut) = killed_and_resumed(&root, args, &["lm", "rl"], "--quiet", &wall);
    assert_eq!(
        lm_checkpoint::load(&cut).unwrap(),
        lm_checkpoint::load(&full).unwrap(),
        "final parameters differ"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn pg_lm_reward_killed_at_random_instants_resumes_to_the_same_run() {
    let root = tmp("lm-reward");
    let policy = root.join("policy");
    tiny_pretrain("dialogue", &policy);
    let args = |dir: &Path| {
        strings(&[
            "lm",
            "reward",
            "dialogue",
            "--policy",
            policy.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--quiet",
            "--set",
            "train_pairs=64",
            "--set",
            "heldout_pairs=16",
            "--set",
            "steps=40",
            "--set",
            "batch_size=8",
            "--set",
            "eval_every=5",
            "--set",
            "checkpoint_every=1",
        ])
    };
    let wall = ["samples_per_second", "elapsed_seconds"];
    let (full, cut) = killed_and_resumed(&root, args, &["lm", "reward"], "--quiet", &wall);
    assert_eq!(
        reward_checkpoint::load(&cut).unwrap(),
        reward_checkpoint::load(&full).unwrap(),
        "final parameters differ"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Waits until `dir` holds a lock file and a checkpoint (the run is under way).
fn wait_until_running(dir: &Path, child: &mut Child) {
    let t = Instant::now();
    while !(dir.join("lock").exists() && dir.join("checkpoints/latest.ckpt").exists()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the test could meet it"
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_running_directory_is_refused_to_a_second_process_and_sigterm_saves() {
    let dir = tmp("lock");
    let d = dir.to_str().unwrap();
    // A run long enough to be met while it trains (it is stopped by SIGTERM below).
    let mut first = pg()
        .args([
            "train",
            "CartPole-v1",
            "--out",
            d,
            "-q",
            "--set",
            "num_envs=2",
            "--set",
            "steps_per_env=50",
            "--set",
            "hidden_sizes=[8]",
            "--set",
            "checkpoint_every=1",
            "--set",
            "total_env_steps=100000000",
        ])
        .spawn()
        .unwrap();
    wait_until_running(&dir, &mut first);
    let pid = first.id().to_string();
    // A second resume and a forced new run are both refused, naming the holder.
    for args in [
        strings(&["train", "--resume", d, "-q"]),
        strings(&["train", "CartPole-v1", "--out", d, "--force", "-q"]),
        strings(&["train", "CartPole-v1", "--out", d, "-q"]),
    ] {
        let out = run(&args);
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        assert!(
            e.contains(&pid) || e.contains("already holds a run"),
            "{args:?}: {e}"
        );
    }
    for f in [
        "config.toml",
        "metrics.csv",
        "checkpoints/latest.ckpt",
        "lock",
    ] {
        assert!(dir.join(f).exists(), "{f} was lost");
    }
    // SIGTERM: the run saves, says so, and exits 128 + 15.
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let out = first.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{e}");
    assert!(
        e.contains("SIGTERM") && e.contains("checkpoint saved"),
        "{e}"
    );
    assert!(!dir.join("lock").exists(), "the lock was released");
    // The saved checkpoint matches the metrics: a resume continues from it.
    let rows = std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let t = policy_gradient::checkpoint::load(&dir.join("checkpoints/latest.ckpt"), None).unwrap();
    assert_eq!(t.epochs_done(), rows as u64);
    std::fs::remove_dir_all(&dir).unwrap();
}
