//! `pg plot DIR... --out curve.svg`: one curve per group of runs (mean ± sd across its seeds),
//! with a legend. Runs whose configurations differ only in `seed` form a group, unless
//! `--group-by KEY` says otherwise; runs of different environments are refused.

use crate::config::Config;
use crate::error::{PgError, Result};
use crate::plot::{PlotSpec, Series, XAxis, load_curves_along, render_groups};
use crate::run::dir::RunDir;
use crate::run::group::{GroupBy, group_runs, one_subject, read_config_table, relabel};
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
    /// The metrics.csv column to plot.
    #[arg(long, default_value = "moving_avg_return")]
    pub column: String,
    /// What the x axis counts.
    #[arg(long, value_enum, default_value = "steps")]
    pub xaxis: XAxis,
    /// Group runs by the value of this config key instead of by whole configuration.
    #[arg(long, value_name = "KEY")]
    pub group_by: Option<String>,
    /// Legend text of each group, in the order of their first run (repeat once per group).
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,
    /// Title (default: the env id, and the estimator when there is one group).
    #[arg(long)]
    pub title: Option<String>,
}

/// Runs `pg plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    let configs = args
        .runs
        .iter()
        .map(|d| Ok((d.clone(), read_config_table(d)?)))
        .collect::<Result<Vec<_>>>()?;
    one_subject(&configs, "env_id")?;
    let by = match &args.group_by {
        Some(k) => GroupBy::Key(k.clone()),
        None => GroupBy::Config,
    };
    let mut groups = group_runs(&configs, &by)?;
    relabel(&mut groups, &args.labels)?;
    let series = groups
        .iter()
        .map(|g| {
            Ok(Series {
                label: g.label.clone(),
                curves: load_curves_along(&g.dirs, args.xaxis, &args.column)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let config: Config = RunDir::open(&args.runs[0])?.config()?;
    // One group is named in the title; several are named in the legend.
    let title = args.title.unwrap_or_else(|| match series.len() {
        1 => format!("{} ({})", config.env_id, estimator_name(&config)),
        _ => config.env_id.clone(),
    });
    let threshold = args
        .column
        .contains("return")
        .then_some(config.solved_return);
    let svg = render_groups(
        &series,
        &PlotSpec {
            title,
            x_label: args.xaxis.label().to_string(),
            y_label: args.column.replace('_', " "),
            threshold,
        },
    );
    std::fs::write(&args.out, svg).map_err(|e| PgError::io(&args.out, e))?;
    println!(
        "wrote {} ({} runs in {} group{})",
        args.out.display(),
        args.runs.len(),
        series.len(),
        if series.len() == 1 { "" } else { "s" }
    );
    for s in series.iter().filter(|s| !s.label.is_empty()) {
        let n = s.curves.len();
        println!("  {} ({n} run{})", s.label, if n == 1 { "" } else { "s" });
    }
    Ok(())
}

fn estimator_name(c: &Config) -> String {
    toml::Value::try_from(c.estimator)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
