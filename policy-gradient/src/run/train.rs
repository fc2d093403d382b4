//! Driving a `pg train` run: the epoch loop around a [`Trainer`] with its run directory, metrics
//! file, progress display, periodic checkpoints, signals and the final learning curve.

use crate::callback::{Callback, Control};
use crate::checkpoint;
use crate::config::Config;
use crate::error::{PgError, Result};
use crate::metrics::{EpochMetrics, MetricsWriter, Table};
use crate::plot::{PlotSpec, load_curves, render_svg};
use crate::progress::Progress;
use crate::run::RunOptions;
use crate::run::dir::RunDir;
use crate::run::episodes::{self, EpisodeRow, EpochStart};
use crate::run::evaluation::{Evaluator, save_history};
use crate::run::signal;
use crate::trainer::Trainer;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run directory.
    pub dir: std::path::PathBuf,
    /// Epochs completed.
    pub epochs: u64,
    /// Environment steps taken.
    pub env_steps: u64,
    /// The final moving average return.
    pub moving_avg_return: f64,
    /// The first env step count at which the moving average reached the solved threshold.
    pub solved_at: Option<u64>,
    /// Seconds of training.
    pub elapsed: f64,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} epochs, {} env steps in {:.1} s ({:.0} steps/s); final average return {:.2}; ",
            self.dir.display(),
            self.epochs,
            self.env_steps,
            self.elapsed,
            self.env_steps as f64 / self.elapsed.max(1e-9),
            self.moving_avg_return
        )?;
        match self.solved_at {
            Some(s) => write!(f, "solved at {s} env steps"),
            None => write!(f, "not solved"),
        }
    }
}

/// The default output directory of a run: `runs/ENV_ID-seedN`.
pub fn default_dir(config: &Config) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-seed{}", config.env_id, config.seed))
}

/// Starts a new run in `out` (refusing an existing run unless `opts.force`).
pub fn train_new(config: Config, out: &Path, opts: &RunOptions) -> Result<RunSummary> {
    train_new_with(config, out, opts, &mut ())
}

/// [`train_new`] with a [`Callback`] called after every epoch (after its metrics, evaluation and
/// periodic checkpoint are written); a callback that stops ends the run as its budget would.
pub fn train_new_with(
    config: Config,
    out: &Path,
    opts: &RunOptions,
    callback: &mut dyn Callback,
) -> Result<RunSummary> {
    let trainer = Trainer::new(config.clone())?;
    let run = RunDir::create(out, &config.to_toml(), opts.force)?;
    let metrics = MetricsWriter::create(&run.metrics_path())?;
    let episodes = episodes::open(&run.episodes_path(), None)?;
    let evaluator = Evaluator::open(&run, &trainer, false)?;
    let records = Records {
        metrics,
        episodes,
        evaluator,
    };
    drive(&run, trainer, records, opts, callback)
}

/// Continues the run in `dir` from its latest checkpoint, dropping metrics rows written after it.
pub fn train_resume(dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    train_resume_with(dir, opts, &mut ())
}

/// [`train_resume`] with a [`Callback`], as in [`train_new_with`].
pub fn train_resume_with(
    dir: &Path,
    opts: &RunOptions,
    callback: &mut dyn Callback,
) -> Result<RunSummary> {
    let run = RunDir::resume(dir)?;
    let config: Config = run.config()?;
    let trainer = checkpoint::load(&run.latest_checkpoint(), Some(&config))?;
    let metrics = MetricsWriter::resume(&run.metrics_path(), trainer.epochs_done())?;
    let episodes = episodes::open(&run.episodes_path(), Some(trainer.tracker.total_episodes()))?;
    let evaluator = Evaluator::open(&run, &trainer, true)?;
    let records = Records {
        metrics,
        episodes,
        evaluator,
    };
    drive(&run, trainer, records, opts, callback)
}

/// The files a run appends to after each epoch.
struct Records {
    metrics: MetricsWriter<EpochMetrics>,
    episodes: MetricsWriter<EpisodeRow>,
    evaluator: Option<Evaluator>,
}

fn drive(
    run: &RunDir,
    mut trainer: Trainer,
    mut records: Records,
    opts: &RunOptions,
    callback: &mut dyn Callback,
) -> Result<RunSummary> {
    let c = trainer.config().clone();
    let epochs = c.total_env_steps.div_ceil(c.steps_per_epoch());
    let every = match opts.print_every {
        0 => epochs.div_ceil(200).max(1),
        n => n,
    };
    let mut progress = Progress::new(c.total_env_steps, trainer.env_steps(), every, opts.quiet);
    let mut last_checkpoint = run
        .latest_checkpoint()
        .exists()
        .then(|| run.latest_checkpoint());
    while !trainer.finished() {
        let stop = opts.stop_after.is_some_and(|n| trainer.epochs_done() >= n);
        if stop || signal::requested() {
            checkpoint::save(&trainer, &run.latest_checkpoint())?;
            progress.finish();
            write_curve(run, &c)?;
            signal::clear();
            return Err(PgError::Interrupted {
                dir: run.root().to_path_buf(),
                command: "pg train",
            });
        }
        let start = EpochStart {
            env_steps: trainer.env_steps(),
            seconds: trainer.elapsed,
            at: Instant::now(),
        };
        let m = match trainer.epoch() {
            Ok(m) => m,
            Err(PgError::NonFiniteLoss { at, unit, what, .. }) => {
                progress.finish();
                return Err(PgError::NonFiniteLoss {
                    at,
                    unit,
                    what,
                    checkpoint: last_checkpoint,
                });
            }
            Err(e) => return Err(e),
        };
        records.metrics.append(&m)?;
        for row in episodes::epoch_rows(&trainer.tracker, start) {
            records.episodes.append(&row)?;
        }
        if let Some(e) = records.evaluator.as_mut() {
            e.after_epoch(run, &trainer, start.env_steps)?;
        }
        progress.epoch(&m);
        if c.checkpoint_every > 0 && m.epoch.is_multiple_of(c.checkpoint_every) {
            checkpoint::save(&trainer, &run.latest_checkpoint())?;
            save_history(run, &trainer, c.keep_checkpoints)?;
            last_checkpoint = Some(run.latest_checkpoint());
        }
        if callback.on_epoch(&trainer, &m)? == Control::Stop {
            break;
        }
    }
    checkpoint::save(&trainer, &run.latest_checkpoint())?;
    progress.finish();
    write_curve(run, &c)?;
    let table = Table::read(&run.metrics_path())?;
    let p = run.metrics_path();
    let steps = table.column("env_steps", &p)?;
    let avg = table.column("moving_avg_return", &p)?;
    let elapsed = table.column("elapsed_seconds", &p)?;
    let solved_at = first_reaching(&steps, &avg, c.solved_return);
    Ok(RunSummary {
        dir: run.root().to_path_buf(),
        epochs: trainer.epochs_done(),
        env_steps: trainer.env_steps(),
        moving_avg_return: avg.last().copied().unwrap_or(f64::NAN),
        solved_at,
        elapsed: elapsed.last().copied().unwrap_or(0.0),
    })
}

/// The first `steps[i]` at which `avg[i] >= goal`: when a run reached its goal.
pub fn first_reaching(steps: &[f64], avg: &[f64], goal: f64) -> Option<u64> {
    steps
        .iter()
        .zip(avg)
        .find(|(_, a)| **a >= goal)
        .map(|(s, _)| *s as u64)
}

/// Writes the run's own learning curve (`curve.svg`).
pub fn write_curve(run: &RunDir, c: &Config) -> Result<()> {
    let curves = load_curves(
        &[run.root().to_path_buf()],
        "env_steps",
        "moving_avg_return",
    )?;
    let svg = render_svg(
        &curves,
        &PlotSpec {
            title: format!("{} seed {}", c.env_id, c.seed),
            x_label: crate::plot::ENV_STEPS_AXIS.to_string(),
            y_label: format!("average return (last {} episodes)", c.solved_window),
            threshold: Some(c.solved_return),
        },
    );
    let p = run.curve_path();
    std::fs::write(&p, svg).map_err(|e| PgError::io(&p, e))
}
