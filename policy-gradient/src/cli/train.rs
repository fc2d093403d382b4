//! `pg train ENV_ID [--config FILE] [--seed N] [--out DIR] [--set key=value ...] [--force]` and
//! `pg train --resume DIR`.

use crate::config::Config;
use crate::error::{PgError, Result};
use crate::run::{RunOptions, train_new, train_resume};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `pg train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Environment id (see `pg envs`); optional with --config (its env_id) or --resume.
    pub env_id: Option<String>,
    /// A TOML file overriding any subset of the preset's keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed (the same as --set seed=N).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (default: runs/ENV_ID-seedN).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override one config key, e.g. --set gamma=0.99 (repeatable; applied last, in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Overwrite an existing run in the output directory.
    #[arg(long)]
    pub force: bool,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["env_id", "config", "seed", "out", "sets", "force"])]
    pub resume: Option<PathBuf>,
    /// Print a table row every N epochs (default: every epoch, or about 200 rows for long runs).
    #[arg(long)]
    pub print_every: Option<u64>,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `pg train`.
pub fn run(args: TrainArgs) -> Result<()> {
    crate::interrupt::install();
    let opts = RunOptions {
        print_every: args.print_every.unwrap_or(0),
        quiet: args.quiet,
        stop_after_epochs: None,
    };
    let summary = if let Some(dir) = &args.resume {
        train_resume(dir, &opts)?
    } else {
        let file = match &args.config {
            Some(p) => Some((
                std::fs::read_to_string(p).map_err(|e| PgError::io(p, e))?,
                p.display().to_string(),
            )),
            None => None,
        };
        let mut sets = Vec::new();
        if let Some(s) = args.seed {
            sets.push(format!("seed={s}"));
        }
        sets.extend(args.sets.iter().cloned());
        let config = Config::assemble(
            args.env_id.as_deref(),
            file.as_ref().map(|(t, o)| (t.as_str(), o.as_str())),
            &sets,
        )?;
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| crate::run_dir::default_dir(&config));
        train_new(config, &out, args.force, &opts)?
    };
    println!("{summary}");
    Ok(())
}
