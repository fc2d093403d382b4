//! The command-line options every training command shares (`pg train`, `pg lm pretrain`,
//! `pg lm rl`): how the configuration is layered, where the run goes, and how it is shown.

use crate::error::{PgError, Result};
use crate::run::RunOptions;
use crate::run::config::Layers;
use clap::Args;
use std::path::PathBuf;

/// Options of a new or resumed run, flattened into each training command's arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The environment id (`pg train`, see `pg envs`) or token task (`pg lm`, see `pg lm tasks`);
    /// optional with --config (its env_id or task) or --resume.
    #[arg(value_name = "ENV_ID|TASK")]
    pub subject: Option<String>,
    /// Continue the run in this directory from its latest checkpoint, with its saved
    /// configuration, exactly as if it had never stopped.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["subject", "preset", "config", "seed", "out", "sets", "force"])]
    pub resume: Option<PathBuf>,
    /// A named preset of the environment or task (`pg envs` and `pg lm tasks` list them).
    #[arg(long)]
    pub preset: Option<String>,
    /// A TOML file setting any subset of the configuration's keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed of everything random, any integer from 0 to 2^64 - 1 (the same as --set seed=N).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output run directory (default: under runs/, named after the run).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override one config key, e.g. --set lr=0.0005 (repeatable; applied last, in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Overwrite a finished or stopped run in the output directory (never one that is running).
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The configuration layers: `--preset`, the `--config` file's text, then `--seed` and the
    /// `--set` arguments in order. `extra_sets` (a command's own flags, such as `--algo`) come
    /// between the file and `--seed`.
    pub fn layers(&self, extra_sets: &[String]) -> Result<Layers> {
        let file = config_file(self.config.as_deref())?;
        let mut sets = extra_sets.to_vec();
        if let Some(s) = self.seed {
            sets.push(format!("seed={s}"));
        }
        sets.extend(self.sets.iter().cloned());
        Ok(Layers {
            preset: self.preset.clone(),
            file,
            sets,
        })
    }

    /// How the run is driven: new (forced or not) or resumed, quiet or not.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            force: self.force,
            quiet: self.quiet,
            resume: self.resume.is_some(),
            ..RunOptions::default()
        }
    }

    /// The run directory: `--resume DIR`, `--out DIR`, or `default` (named after the run).
    pub fn dir(&self, default: impl FnOnce() -> PathBuf) -> PathBuf {
        self.resume
            .clone()
            .or_else(|| self.out.clone())
            .unwrap_or_else(default)
    }
}

/// The text and name of a `--config FILE`, if one was given.
pub fn config_file(path: Option<&std::path::Path>) -> Result<Option<(String, String)>> {
    match path {
        Some(p) => Ok(Some((
            std::fs::read_to_string(p).map_err(|e| PgError::io(p, e))?,
            p.display().to_string(),
        ))),
        None => Ok(None),
    }
}
