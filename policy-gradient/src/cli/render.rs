//! `pg render DIR|CHECKPOINT --out episode.svg`: an animated SVG of one episode of the trained
//! policy (the frames are drawn by `envs`; any browser plays the file).

use crate::error::{PgError, Result};
use crate::evaluate::{Agent, make_env};
use clap::Args;
use envs::render::EpisodeSvg;
use std::path::PathBuf;

/// Arguments of `pg render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A run directory (its latest checkpoint) or a checkpoint file.
    pub path: PathBuf,
    /// Where to write the animated SVG.
    #[arg(long, default_value = "episode.svg")]
    pub out: PathBuf,
    /// Seed of the episode.
    #[arg(long, default_value_t = 1_000_000)]
    pub seed: u64,
    /// Take the most likely action instead of sampling.
    #[arg(long)]
    pub deterministic: bool,
    /// Keep one frame in this many (long episodes make large files).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
}

/// Gymnasium's `render_fps` of each classic-control environment.
pub fn fps(env_id: &str) -> f64 {
    match env_id {
        "CartPole-v1" => 50.0,
        "Acrobot-v1" => 15.0,
        _ => 30.0,
    }
}

/// Runs `pg render`.
pub fn run(args: RenderArgs) -> Result<()> {
    let agent = Agent::load(&args.path)?;
    let mut env = make_env(&agent.env_id)?;
    let mut svg = EpisodeSvg::new(fps(&agent.env_id) / args.every as f64);
    let mut k = 0u64;
    let (ret, len) = agent.episode(env.as_mut(), args.seed, args.deterministic, |e| {
        if k.is_multiple_of(args.every) {
            svg.push(e);
        }
        k += 1;
    })?;
    std::fs::write(&args.out, svg.finish()).map_err(|e| PgError::io(&args.out, e))?;
    println!(
        "wrote {} ({} frames): return {ret:.2} in {len} steps",
        args.out.display(),
        svg.len()
    );
    Ok(())
}
