//! `pg plot DIR... --out curve.svg`: one learning curve, mean ± sd across the given runs.

use crate::config::Config;
use crate::error::{PgError, Result};
use crate::plot::{ENV_STEPS_AXIS, PlotSpec, load_curves, render_svg};
use crate::run::dir::RunDir;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `pg plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run directories (each holding a metrics.csv), e.g. runs/CartPole-v1-seed*.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write the SVG.
    #[arg(long, default_value = "curve.svg")]
    pub out: PathBuf,
    /// The metrics.csv column to plot against env_steps.
    #[arg(long, default_value = "moving_avg_return")]
    pub column: String,
    /// Title (default: the env id of the first run).
    #[arg(long)]
    pub title: Option<String>,
}

/// Runs `pg plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    let curves = load_curves(&args.runs, "env_steps", &args.column)?;
    let config: Config = RunDir::open(&args.runs[0])?.config()?;
    let title = args
        .title
        .unwrap_or_else(|| format!("{} ({})", config.env_id, estimator_name(&config)));
    let threshold = args
        .column
        .contains("return")
        .then_some(config.solved_return);
    let svg = render_svg(
        &curves,
        &PlotSpec {
            title,
            x_label: ENV_STEPS_AXIS.to_string(),
            y_label: args.column.replace('_', " "),
            threshold,
        },
    );
    std::fs::write(&args.out, svg).map_err(|e| PgError::io(&args.out, e))?;
    println!("wrote {} ({} runs)", args.out.display(), curves.len());
    Ok(())
}

fn estimator_name(c: &Config) -> String {
    toml::Value::try_from(c.estimator)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
