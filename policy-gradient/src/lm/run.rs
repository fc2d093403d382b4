//! Run directories of `pg lm` (the same layout as `pg train`'s, see [`crate::run_dir`]), the
//! progress display, and the curves.
//!
//! ```text
//! DIR/config.toml          the PretrainConfig or RlConfig of the run
//! DIR/metrics.csv          one row per step (lm::metrics::COLUMNS)
//! DIR/checkpoints/latest/  model.toml (the ModelSpec) and params.bin (a dense parameter file)
//! DIR/curve.svg            held-out accuracy against sampled sequences
//! DIR/samples.txt          held-out completions of the final model
//! ```

use super::metrics::{COLUMNS, LmMetrics};
use crate::error::{PgError, Result};
use crate::metrics::Table;
use crate::plot::{Curve, PlotSpec, render_svg};
use crate::run_dir::RunDir;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};

/// Creates (or, with `force`, clears) `root` for a new run and writes `config_toml` as its
/// `config.toml`. Refuses a directory that already holds a run unless `force`.
pub fn create_run(root: &Path, config_toml: &str, force: bool) -> Result<RunDir> {
    let config = root.join("config.toml");
    if config.exists() || root.join("metrics.csv").exists() {
        if !force {
            return Err(PgError::RunExists(root.to_path_buf()));
        }
        for f in ["config.toml", "metrics.csv", "curve.svg", "samples.txt"] {
            let p = root.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| PgError::io(&p, e))?;
            }
        }
        let c = root.join("checkpoints");
        if c.exists() {
            std::fs::remove_dir_all(&c).map_err(|e| PgError::io(&c, e))?;
        }
    }
    let checkpoints = root.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(|e| PgError::io(&checkpoints, e))?;
    std::fs::write(&config, config_toml).map_err(|e| PgError::io(&config, e))?;
    RunDir::open(root)
}

/// How a training command runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Overwrite a run already in the output directory.
    pub force: bool,
    /// No progress bar or table.
    pub quiet: bool,
    /// Continue the run in the output directory from its latest checkpoint.
    pub resume: bool,
    /// Save a checkpoint and stop (as Ctrl-C does) after this step; for tests and for
    /// splitting a long run.
    pub stop_after: Option<u64>,
}

/// `DIR/checkpoints/latest/`: the checkpoint directory a `pg lm` run saves and `rl`/`sample` load.
pub fn latest_checkpoint(run: &RunDir) -> PathBuf {
    run.checkpoints_dir().join("latest")
}

/// The latest checkpoint if the run has saved one (periodically, at Ctrl-C, or before it was
/// resumed): what a run that must stop can still offer.
pub fn saved_checkpoint(run: &RunDir) -> Option<PathBuf> {
    let p = latest_checkpoint(run);
    p.exists().then_some(p)
}

/// `DIR/samples.txt`.
pub fn samples_path(run: &RunDir) -> PathBuf {
    run.root().join("samples.txt")
}

/// The x-axis label of `pg lm` curves: the `samples` column (generated training texts in
/// pretraining, sampled completions in RL).
pub const SAMPLES_AXIS: &str = "sampled sequences";

/// Writes `DIR/curve.svg`: `column` of `metrics.csv` against `samples` for one run.
pub fn write_curve(run: &RunDir, column: &str, title: &str) -> Result<()> {
    let curve = load_curve(run.root(), column)?;
    let svg = render_svg(
        &[curve],
        &PlotSpec {
            title: title.to_string(),
            x_label: SAMPLES_AXIS.to_string(),
            y_label: column.replace('_', " "),
            threshold: None,
        },
    );
    let p = run.curve_path();
    std::fs::write(&p, svg).map_err(|e| PgError::io(&p, e))
}

/// The `(samples, column)` points of a run's `metrics.csv` where `column` is not `nan`.
pub fn load_curve(dir: &Path, column: &str) -> Result<Curve> {
    let p = dir.join("metrics.csv");
    let t = Table::read(&p)?;
    let x = t.column("samples", &p)?;
    let y = t.column(column, &p)?;
    Ok(x.into_iter()
        .zip(y)
        .filter(|(_, y)| y.is_finite())
        .collect())
}

/// The progress bar over steps and a table row at every evaluation.
pub struct LmProgress {
    bar: ProgressBar,
    quiet: bool,
    rows: u64,
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.digits$}")
    }
}

impl LmProgress {
    /// A bar over `steps`; `quiet` hides the bar and the table.
    pub fn new(steps: u64, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(steps)
        };
        bar.set_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} steps  {msg}  [{elapsed_precise}<{eta_precise}]",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        Self {
            bar,
            quiet,
            rows: 0,
        }
    }

    /// Updates the bar; prints a table row when the row holds an evaluation.
    pub fn step(&mut self, m: &LmMetrics) {
        self.bar.set_position(m.step);
        self.bar.set_message(format!(
            "{:.0} seq/s  loss {}",
            m.samples_per_second,
            fmt(m.loss, 3)
        ));
        if self.quiet || m.heldout_accuracy.is_nan() {
            return;
        }
        if self.rows.is_multiple_of(20) {
            self.bar.println(format!(
                "{:>6} {:>9} {:>8} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7} {:>6}",
                "step",
                "samples",
                "loss",
                "reward",
                "acc",
                "greedy",
                "kl",
                "entropy",
                "length",
                "seq/s"
            ));
        }
        self.bar.println(format!(
            "{:>6} {:>9} {:>8} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7} {:>6.0}",
            m.step,
            m.samples,
            fmt(m.loss, 4),
            fmt(m.reward, 3),
            fmt(m.heldout_accuracy, 3),
            fmt(m.heldout_greedy_accuracy, 3),
            fmt(m.kl, 4),
            fmt(m.entropy, 3),
            fmt(m.mean_length, 2),
            m.samples_per_second
        ));
        self.rows += 1;
    }

    /// Prints a line above the bar (unless quiet).
    pub fn println(&self, line: impl AsRef<str>) {
        if !self.quiet {
            self.bar.println(line.as_ref());
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The text of a `metrics.csv` without its wall-clock columns (`samples_per_second`,
/// `elapsed_seconds`, the last two): what two runs with the same seed and configuration must
/// write identically.
pub fn csv_without_wall_clock(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| PgError::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            fields[..fields.len().saturating_sub(2)].join(",")
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The columns a curve can be drawn from (all but the counters).
pub fn plottable_columns() -> &'static [&'static str] {
    &COLUMNS[3..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_existing_run_unless_forced() {
        let dir = std::env::temp_dir().join(format!("pg-lm-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let run = create_run(&dir, "a = 1\n", false).unwrap();
        assert!(run.checkpoints_dir().is_dir());
        let e = create_run(&dir, "a = 2\n", false).unwrap_err();
        assert!(matches!(e, PgError::RunExists(_)), "{e}");
        std::fs::write(samples_path(&run), "x").unwrap();
        let run = create_run(&dir, "a = 3\n", true).unwrap();
        assert_eq!(
            std::fs::read_to_string(run.config_path()).unwrap(),
            "a = 3\n"
        );
        assert!(!samples_path(&run).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
