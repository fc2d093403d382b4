//! `pg sweep` as an experimenter uses it: interrupted part-way (Ctrl-C reaches the whole process
//! group, as a terminal sends it) and run again, it skips the finished runs, resumes the stopped
//! ones and ends with the same summary as a sweep that never stopped.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pg-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The sweep's arguments: 2 learning rates × 3 seeds of tiny CartPole runs that checkpoint
/// every epoch (so an interrupted one resumes part-way).
fn sweep_args(out: &Path) -> Vec<String> {
    let mut a: Vec<String> = ["sweep", "CartPole-v1", "--seeds", "0..3", "--jobs", "2"]
        .map(String::from)
        .into();
    for s in [
        "lr=0.003,0.01",
        "num_envs=2",
        "steps_per_env=50",
        "total_env_steps=3000",
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

#[test]
fn an_interrupted_sweep_rerun_gives_the_same_summary() {
    let whole = tmp("whole");
    let r = sweep(&whole);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let expected = table(&whole);
    assert_eq!(expected.lines().count(), 4, "{expected}");
    assert!(expected.contains("| lr=0.003 |") && expected.contains("| lr=0.01 |"));
    assert!(whole.join("lr=0.01/seed2/checkpoints/latest.ckpt").exists());

    // Interrupt the second sweep as soon as its first run has finished.
    let parted = tmp("parted");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg"))
        .args(sweep_args(&parted))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let first_finished = line.starts_with("finished");
        seen.push(line);
        if first_finished {
            break;
        }
    }
    let group = format!("-{}", child.id());
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    seen.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the sweep finished before the interrupt: {seen:?}"
    );
    assert!(!parted.join("summary.md").exists());
    let finished = seen.iter().filter(|l| l.starts_with("finished")).count();
    assert!((1..6).contains(&finished), "{seen:?}");

    // The same command again: finished runs are skipped, the others resumed or started.
    let r = sweep(&parted);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        stdout.matches("\ndone ").count() + stdout.starts_with("done ") as usize,
        finished,
        "{stdout}"
    );
    assert_eq!(table(&parted), expected);
    // Once more: nothing left to run.
    let r = sweep(&parted);
    assert!(String::from_utf8_lossy(&r.stdout).contains("6 runs: 6 finished, 0 to run"));
    assert_eq!(table(&parted), expected);

    // A directory of another configuration stops a sweep before it starts anything.
    let mut other = sweep_args(&parted);
    let i = other
        .iter()
        .position(|a| a == "total_env_steps=3000")
        .unwrap();
    other[i] = "total_env_steps=2000".into();
    let r = Command::new(env!("CARGO_BIN_EXE_pg"))
        .args(other)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && e.contains("another configuration"),
        "{e}"
    );
    std::fs::remove_dir_all(whole).unwrap();
    std::fs::remove_dir_all(parted).unwrap();
}
