//! `pg sweep` as an experimenter uses it: interrupted part-way (Ctrl-C from a terminal, or
//! SIGTERM to the sweep alone) and run again, it skips the finished runs, resumes the stopped
//! ones and ends with the same summary as a sweep that never stopped; and the thread count given
//! to the sweep is the one its jobs use.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::scratch;

fn tmp(name: &str) -> PathBuf {
    scratch("sweep", name)
}

/// The sweep's arguments: 2 learning rates × 3 seeds of small CartPole runs that checkpoint
/// every epoch (so an interrupted one resumes part-way). Each run is 300 epochs, long enough
/// that the signal sent just after a run starts finds it running even on a loaded machine (at
/// 30 epochs, a run could finish first, and the sweep then stopped with no run to stop).
fn sweep_args(out: &Path) -> Vec<String> {
    let mut a: Vec<String> = ["sweep", "CartPole-v1", "--seeds", "0..3", "--jobs", "2"]
        .map(String::from)
        .into();
    for s in [
        "lr=0.003,0.01",
        "num_envs=2",
        "steps_per_env=50",
        "total_env_steps=30000",
        "hidden_sizes=[8]",
        "checkpoint_every=1",
        "solved_window=10",
        "solved_return=40",
    ] {
        a.extend(["--set".to_string(), s.to_string()]);
    }
    a.extend(["--out".to_string(), out.display().to_string()]);
    a
}

fn sweep(out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pg"))
        .args(sweep_args(out))
        .output()
        .expect("pg runs")
}

/// The summary table of `summary.md` (without the command line above it, which names `--out`).
fn table(out: &Path) -> String {
    let text = std::fs::read_to_string(out.join("summary.md")).unwrap();
    text.split_once("\n\n").unwrap().1.to_string()
}

/// Starts the sweep into `out`, waits until its first run has finished and the next one has
/// started, then sends `signal` (`INT` or `TERM`) to the sweep alone or, with `group`, to its
/// whole process group as a terminal's Ctrl-C does. Returns the exit code and every line the
/// sweep printed.
fn interrupted_sweep(out: &Path, signal: &str, group: bool) -> (Option<i32>, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg"))
        .args(sweep_args(out))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut finished = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        finished |= line.starts_with("finished");
        let next_started = finished && line.starts_with("start");
        seen.push(line);
        if next_started {
            break;
        }
    }
    let target = if group {
        format!("-{}", child.id())
    } else {
        child.id().to_string()
    };
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), "--", &target])
        .status();
    assert!(kill.unwrap().success());
    seen.extend(lines.map(|l| l.unwrap()));
    (child.wait().unwrap().code(), seen)
}

/// Checks an interrupted sweep: it exited `code`, wrote no summary, and every run it stopped
/// saved and exited with `code` too (the run that had just started among them). Returns the
/// number of runs that had finished.
fn check_interrupted(out: &Path, (status, seen): (Option<i32>, Vec<String>), code: i32) -> usize {
    assert_eq!(status, Some(code), "{seen:?}");
    assert!(!out.join("summary.md").exists());
    let stopped: Vec<&String> = seen.iter().filter(|l| l.starts_with("stopped")).collect();
    assert!(!stopped.is_empty(), "{seen:?}");
    for line in stopped {
        assert!(line.ends_with(&format!("(exit status: {code})")), "{line}");
    }
    let finished = seen.iter().filter(|l| l.starts_with("finished")).count();
    assert!((1..6).contains(&finished), "{seen:?}");
    finished
}

/// Reruns an interrupted sweep: the `finished` runs are skipped, the others resumed or started,
/// and the summary is `expected`.
fn check_rerun(out: &Path, finished: usize, expected: &str) {
    let r = sweep(out);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        stdout.matches("\ndone ").count() + stdout.starts_with("done ") as usize,
        finished,
        "{stdout}"
    );
    assert_eq!(table(out), expected);
}

/// The summary of the sweep run once without a stop.
fn whole_sweep(name: &str) -> String {
    let whole = tmp(name);
    let r = sweep(&whole);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let expected = table(&whole);
    assert_eq!(expected.lines().count(), 4, "{expected}");
    assert!(expected.contains("| lr=0.003 |") && expected.contains("| lr=0.01 |"));
    assert!(whole.join("lr=0.01/seed2/checkpoints/latest.ckpt").exists());
    std::fs::remove_dir_all(whole).unwrap();
    expected
}

#[test]
fn an_interrupted_sweep_rerun_gives_the_same_summary() {
    let expected = whole_sweep("whole");

    // Ctrl-C from a terminal: SIGINT to the sweep's process group, which holds the sweep only
    // (each job has a group of its own); the sweep passes it on to its jobs.
    let parted = tmp("parted");
    let finished = check_interrupted(&parted, interrupted_sweep(&parted, "INT", true), 130);

    // The same command again: finished runs are skipped, the others resumed or started.
    check_rerun(&parted, finished, &expected);
    // Once more: nothing left to run.
    let r = sweep(&parted);
    assert!(String::from_utf8_lossy(&r.stdout).contains("6 runs: 6 finished, 0 to run"));
    assert_eq!(table(&parted), expected);

    // A directory of another configuration stops a sweep before it starts anything.
    let mut other = sweep_args(&parted);
    let i = other
        .iter()
        .position(|a| a == "total_env_steps=30000")
        .unwrap();
    other[i] = "total_env_steps=20000".into();
    let r = Command::new(env!("CARGO_BIN_EXE_pg"))
        .args(other)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && e.contains("another configuration"),
        "{e}"
    );
    std::fs::remove_dir_all(parted).unwrap();
}

#[test]
fn sigterm_to_the_sweep_reaches_its_jobs() {
    let expected = whole_sweep("whole-term");
    // SIGTERM to the sweep's process alone, as a process manager sends it: its jobs save and
    // exit 143 because the sweep passes the signal on, and the sweep exits 143.
    let parted = tmp("parted-term");
    let finished = check_interrupted(&parted, interrupted_sweep(&parted, "TERM", false), 143);
    check_rerun(&parted, finished, &expected);
    std::fs::remove_dir_all(parted).unwrap();
}

#[test]
fn the_thread_count_given_to_a_sweep_reaches_its_jobs() {
    let expected = whole_sweep("whole-threads");
    for (flag, env, said) in [
        (Some("3"), None, "3 kernel threads each"),
        (None, Some("1"), "1 kernel thread each"),
    ] {
        let out = tmp("threads");
        let mut c = Command::new(env!("CARGO_BIN_EXE_pg"));
        c.env_remove("PG_THREADS");
        if let Some(n) = flag {
            c.args(["--threads", n]);
        }
        if let Some(n) = env {
            c.env("PG_THREADS", n);
        }
        let r = c.args(sweep_args(&out)).output().unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert!(stdout.contains(&format!("2 at a time, {said}")), "{stdout}");
        // The count changes no number of any run.
        assert_eq!(table(&out), expected);
        std::fs::remove_dir_all(out).unwrap();
    }
}
