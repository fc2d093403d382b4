//! `pg sweep ENV_ID --seeds 0..10 --set lr=1e-3,3e-3 [--preset NAME] [--config FILE]
//! [--out DIR] [--jobs N]`: every configuration of the grid with every seed, each a `pg train`
//! run in its own process and directory, then the summary table (see [`crate::run::sweep`]).
//!
//! Ctrl-C reaches every process of the sweep: each running job saves its checkpoint and stops,
//! no new job starts, and the sweep exits 130. The same command continues it: finished runs are
//! skipped, stopped ones resumed, the rest started.

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
    let parallel = match args.jobs {
        Some(0) => return Err(PgError::Other("--jobs 0: expected at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
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
        "{} runs: {} finished, {} to run, {} at a time",
        all.len(),
        all.len() - queue.len(),
        queue.len(),
        parallel
    );
    let failures = run_all(queue, parallel, &args)?;
    if signal::requested() {
        return Err(PgError::Other(
            format!(
                "{}: interrupted; finished runs are kept, stopped ones checkpointed; \
                 run the same command to continue",
                signal::signal_name()
            )
            .into(),
        ));
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

/// Runs the queue, at most `parallel` at a time; stops starting jobs once a signal arrived.
/// Returns one line per failed job.
fn run_all(queue: Vec<(Job, Plan)>, parallel: usize, args: &SweepArgs) -> Result<Vec<String>> {
    let mut queue = queue.into_iter();
    let mut running: Vec<Running> = Vec::new();
    let mut failures = Vec::new();
    loop {
        while running.len() < parallel && !signal::requested() {
            let Some((job, p)) = queue.next() else { break };
            let child = command(&job, p, args)
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
            match status.code() {
                Some(0) => println!("finished {dir}"),
                Some(130 | 143) => println!("stopped  {dir}"),
                _ => {
                    let why = err.lines().last().unwrap_or("no message").to_string();
                    println!("failed   {dir}: {why}");
                    failures.push(format!("{dir}: {why}"));
                }
            }
        }
    }
}

/// The `pg train` command of one job: the same layers as the sweep, then its settings and seed.
fn command(job: &Job, p: Plan, args: &SweepArgs) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pg"));
    let mut c = Command::new(exe);
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
    // The jobs share the cores: each gets its share of kernel threads unless PG_THREADS says
    // otherwise (the count never changes a run's numbers, see crate::run::threads).
    if std::env::var_os(crate::run::threads::ENV_VAR).is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = (cores / args.jobs.unwrap_or(cores).max(1)).max(1);
        c.env(crate::run::threads::ENV_VAR, share.to_string());
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}
