//! `pg sweep ENV_ID --seeds 0..10 --set lr=1e-3,3e-3 [--preset NAME] [--config FILE]
//! [--out DIR] [--jobs N]`: every configuration of the grid with every seed, each a `pg train`
//! run in its own process and directory, then the summary table (see [`crate::run::sweep`]).
//!
//! Ctrl-C or SIGTERM stops the whole sweep: no new job starts, the sweep passes the signal on to
//! each running job (which saves its checkpoint and exits 130 or 143), waits for them, and exits
//! as they do, 130 or 143. Each job runs in a process group of its own, so a terminal's Ctrl-C
//! reaches the sweep only and every job gets the signal once, from the sweep, whether the sweep
//! was stopped from the terminal or by `kill PID` (a second signal would make a job exit without
//! saving). The same command continues the sweep: finished runs are skipped, stopped ones resumed,
//! the rest started.
//!
//! Threads: each job gets `pg --threads N`, with N the count given to the sweep (`--threads` or
//! `PG_THREADS`), else the cores divided among the jobs that run at once.

use crate::error::{PgError, Result};
use crate::run::args::config_file;
use crate::run::config::Layers;
use crate::run::signal;
use crate::run::sweep::{Job, Plan, jobs, parse_seeds, plan, summarise};
use clap::Args;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Arguments of `pg sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The environment id (see `pg envs`).
    pub env_id: String,
    /// The seeds: A..B (A up to B − 1) or a list such as 0,3,7.
    #[arg(long, default_value = "0..5")]
    pub seeds: String,
    /// One axis of the grid, e.g. --set lr=1e-3,3e-3 (repeatable; a single value sets the key
    /// in every run).
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    pub sets: Vec<String>,
    /// A named preset of the environment (`pg envs` lists them).
    #[arg(long)]
    pub preset: Option<String>,
    /// A TOML file setting any subset of the configuration's keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The sweep's directory (default: runs/sweep-ENV_ID).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time, each in its own process (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// A job running in a child process.
struct Running {
    job: Job,
    child: Child,
}

/// Runs `pg sweep`.
pub fn run(args: SweepArgs) -> Result<()> {
    signal::install();
    let seeds = parse_seeds(&args.seeds)?;
    let base = Layers {
        preset: args.preset.clone(),
        file: config_file(args.config.as_deref())?,
        sets: Vec::new(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{}", args.env_id)));
    let (combos, all) = jobs(&args.env_id, &base, &args.sets, &seeds, &out)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = match args.jobs {
        Some(0) => return Err(PgError::Other("--jobs 0: expected at least 1".into())),
        Some(n) => n,
        None => cores,
    };
    // The count never changes a run's numbers (crate::run::threads), only how the jobs share the
    // cores.
    let threads = crate::run::threads::chosen().unwrap_or((cores / parallel).max(1));
    // Plan every run before starting any, so a directory of another experiment stops the sweep
    // before it has done anything.
    let mut queue = Vec::new();
    for job in &all {
        match plan(job)? {
            Plan::Done => println!("done     {}", job.dir.display()),
            p => queue.push((job.clone(), p)),
        }
    }
    println!(
        "{} runs: {} finished, {} to run, {} at a time, {}",
        all.len(),
        all.len() - queue.len(),
        queue.len(),
        parallel,
        match threads {
            0 => "every core each".to_string(),
            1 => "1 kernel thread each".to_string(),
            n => format!("{n} kernel threads each"),
        }
    );
    let failures = run_all(queue, parallel, |job, p| command(job, p, &args, threads))?;
    if signal::requested() {
        return Err(PgError::SweepInterrupted { out });
    }
    if !failures.is_empty() {
        return Err(PgError::Other(
            format!("{} run(s) failed: {}", failures.len(), failures.join("; ")).into(),
        ));
    }
    let command = std::iter::once("pg".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let table = summarise(&combos, &all)?;
    let text = format!("`{command}`\n\n{table}");
    let p = out.join("summary.md");
    crate::run::dir::write_atomically(&p, text.as_bytes())?;
    println!("\n{text}\nwrote {}", p.display());
    Ok(())
}

/// Runs the queue, at most `parallel` at a time, each job with the command `command` gives it.
/// Once a signal arrives, starts no more jobs and passes the signal on to the running ones.
/// Returns one line per failed job.
fn run_all(
    queue: Vec<(Job, Plan)>,
    parallel: usize,
    command: impl Fn(&Job, Plan) -> Command,
) -> Result<Vec<String>> {
    let mut queue = queue.into_iter();
    let mut running: Vec<Running> = Vec::new();
    let mut failures = Vec::new();
    let mut forwarded = false;
    loop {
        while running.len() < parallel && !signal::requested() {
            let Some((job, p)) = queue.next() else { break };
            let child = command(&job, p)
                .spawn()
                .map_err(|e| PgError::Other(format!("cannot start pg train: {e}").into()))?;
            println!(
                "{} {}",
                match p {
                    Plan::Resume => "resume  ",
                    Plan::Restart => "restart ",
                    _ => "start   ",
                },
                job.dir.display()
            );
            running.push(Running { job, child });
        }
        if running.is_empty() {
            return Ok(failures);
        }
        std::thread::sleep(Duration::from_millis(20));
        if signal::requested() && !forwarded {
            for r in &running {
                signal::forward(r.child.id());
            }
            forwarded = true;
        }
        let mut i = 0;
        while i < running.len() {
            let status = running[i]
                .child
                .try_wait()
                .map_err(|e| PgError::Other(format!("waiting for pg train: {e}").into()))?;
            let Some(status) = status else {
                i += 1;
                continue;
            };
            let mut r = running.swap_remove(i);
            let mut err = String::new();
            if let Some(mut e) = r.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let dir = r.job.dir.display();
            if status.success() {
                println!("finished {dir}");
            } else if stopped_by(status) {
                println!("stopped  {dir} ({status})");
            } else {
                let why = err.lines().last().unwrap_or("no message").to_string();
                println!("failed   {dir}: {why}");
                failures.push(format!("{dir}: {why}"));
            }
        }
    }
}

/// Whether a job ended because of a signal: it saved and exited 130 or 143, or a signal killed
/// it outright (a rerun then resumes or restarts it).
fn stopped_by(status: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    if let Some(s) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return [signal::SIGINT, signal::SIGTERM].contains(&(s as u8));
    }
    matches!(status.code(), Some(130 | 143))
}

/// The `pg train` command of one job: the same layers as the sweep, then its settings and seed,
/// with `threads` kernel threads, in a process group of its own (see the module documentation).
fn command(job: &Job, p: Plan, args: &SweepArgs, threads: usize) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pg"));
    let mut c = Command::new(exe);
    c.args(["--threads", &threads.to_string()]);
    c.arg("train").arg("-q");
    if p == Plan::Resume {
        c.arg("--resume").arg(&job.dir);
    } else {
        c.arg(&args.env_id).arg("--out").arg(&job.dir);
        if p == Plan::Restart {
            c.arg("--force");
        }
        if let Some(preset) = &args.preset {
            c.args(["--preset", preset]);
        }
        if let Some(file) = &args.config {
            c.arg("--config").arg(file);
        }
        for s in &job.settings {
            c.args(["--set", s]);
        }
        c.args(["--seed", &job.seed.to_string()]);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    signal::block_in_child(&mut c);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::Path;

    /// Parses `pg sweep ...` as the binary would.
    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        sweep: SweepArgs,
    }

    #[test]
    fn each_job_is_a_pg_train_command_with_the_sweeps_thread_count() {
        let args = TestCli::parse_from(["sweep", "CartPole-v1", "--preset", "ppo"]).sweep;
        let base = Layers {
            preset: args.preset.clone(),
            file: None,
            sets: Vec::new(),
        };
        let (_, all) = jobs(
            "CartPole-v1",
            &base,
            &["lr=0.01".into()],
            &[4],
            Path::new("out"),
        )
        .unwrap();
        let c = command(&all[0], Plan::Start, &args, 3);
        let words: Vec<_> = c.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            words.join(" "),
            "--threads 3 train -q CartPole-v1 --out out/base/seed4 --preset ppo --set lr=0.01 \
             --seed 4"
        );
        let c = command(&all[0], Plan::Resume, &args, 1);
        let words: Vec<_> = c.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            words.join(" "),
            "--threads 1 train -q --resume out/base/seed4"
        );
    }
}
