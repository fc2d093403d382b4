//! `pg eval DIR|CHECKPOINT [--episodes N] [--seed S] [--deterministic]`: average return of a
//! trained policy over fresh episodes.

use crate::error::Result;
use crate::evaluate::{Agent, make_env};
use crate::metrics::summary;
use crate::run::bounds;
use crate::run::config::check_size;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `pg eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A run directory (its latest checkpoint) or a checkpoint file.
    pub path: PathBuf,
    /// Number of episodes.
    #[arg(long, default_value_t = 100)]
    pub episodes: u64,
    /// Seed of the first episode (episode k uses seed + k), distinct from training's by default.
    #[arg(long, default_value_t = 1_000_000)]
    pub seed: u64,
    /// Take the most likely action instead of sampling.
    #[arg(long)]
    pub deterministic: bool,
}

/// Runs `pg eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    check_size(
        "--episodes",
        args.episodes,
        1,
        bounds::EVAL_EPISODES,
        "the command line",
    )?;
    let agent = Agent::load(&args.path)?;
    let mut env = make_env(&agent.env_id)?;
    let mut returns = Vec::new();
    let mut lens = Vec::new();
    for k in 0..args.episodes {
        let (r, l) = agent.episode(env.as_mut(), args.seed + k, args.deterministic, |_| {})?;
        returns.push(r);
        lens.push(l as f64);
    }
    let (m, sd, min, max) = summary(&returns);
    println!(
        "{} after {} env steps, {} {} episodes: return {m:.2} ± {sd:.2} (min {min:.2}, max {max:.2}), length {:.1}",
        agent.env_id,
        agent.env_steps,
        args.episodes,
        if args.deterministic {
            "deterministic"
        } else {
            "sampled"
        },
        summary(&lens).0
    );
    Ok(())
}
