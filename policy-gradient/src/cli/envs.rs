//! `pg envs`: the environments `pg train` knows, with their spaces and thresholds.

use crate::config::{Config, PRESET_ENVS};
use crate::error::Result;
use clap::Args;

/// Arguments of `pg envs` (none).
#[derive(Debug, Args)]
pub struct EnvsArgs {}

/// Runs `pg envs`.
pub fn run(_args: EnvsArgs) -> Result<()> {
    println!("{:<26} {:>10} {:>14}  preset", "id", "solved at", "budget");
    for id in PRESET_ENVS {
        let c = Config::preset(id)?;
        println!(
            "{:<26} {:>10} {:>14}  {:?}",
            id, c.solved_return, c.total_env_steps, c.estimator
        );
    }
    Ok(())
}
