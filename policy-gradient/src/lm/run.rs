//! What `pg lm pretrain` and `pg lm rl` share around their training step: the task and the RNG
//! streams, starting or resuming a run ([`Session`]), saving its checkpoint, the progress
//! display, the curves and the samples file. The run directory, its lock, the checkpoint unit and
//! the signals are [`crate::run`]'s, the same as `pg train`'s.
//!
//! ```text
//! DIR/config.toml              the PretrainConfig or RlConfig of the run
//! DIR/metrics.csv              one row per step (lm::metrics::COLUMNS)
//! DIR/checkpoints/latest.ckpt  the model and the training state, one file (lm::checkpoint)
//! DIR/curve.svg                held-out accuracy against sampled sequences
//! DIR/samples.txt              held-out completions of the final model
//! ```

use super::checkpoint::{self, Progress, TrainState};
use super::generate::Completion;
use super::metrics::{COLUMNS, LmMetrics};
use super::policy::{LmPolicy, PolicySpec};
use crate::error::{PgError, Result};
use crate::metrics::MetricsWriter;
use crate::plot::{Curve, PlotSpec, load_curves, render_svg};
use crate::progress::{bar, fmt_or_dash as fmt};
use crate::run::RunOptions;
use crate::run::dir::RunDir;
use dense::optim::{Adam, AdamConfig};
use envs::tokens::{self, TokenTask};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Seed of the held-out evaluation prompts: the same set for every run, whatever its seed, so
/// runs are compared on the same questions.
pub const EVAL_PROMPT_SEED: u64 = 20_240_601;

/// The RNG stream of one purpose: ChaCha8 seeded with the run's seed, on stream `stream`
/// (0: initialisation, 1: training data and samples, 2: evaluation samples).
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Builds a registered task, as a `pg` error.
pub fn make_task(id: &str) -> Result<Box<dyn TokenTask>> {
    tokens::make(id).map_err(|e| PgError::Other(Box::new(e)))
}

/// Writes completions as `prompt -> completion  [ok|--] reward r`, one per line.
pub fn write_samples(
    path: &Path,
    task: &dyn TokenTask,
    header: &str,
    samples: &[Completion],
) -> Result<()> {
    let mut text = format!("{header}\n");
    for c in samples {
        text.push_str(&c.describe(task));
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| PgError::io(path, e))
}

/// A started or resumed `pg lm` run: its locked directory, the policy, the optimiser, the two
/// RNG streams, the counters at the start, and the metrics file.
pub struct Session {
    /// The run directory (locked while the session lives).
    pub run: RunDir,
    /// The policy being trained.
    pub policy: LmPolicy,
    /// Its optimiser.
    pub adam: Adam,
    /// Stream 1: training data and samples.
    pub data_rng: ChaCha8Rng,
    /// Stream 2: evaluation samples.
    pub eval_rng: ChaCha8Rng,
    /// The counters of the checkpoint the run started from (zero for a new run).
    pub done: Progress,
    /// `metrics.csv`.
    pub writer: MetricsWriter<LmMetrics>,
    /// Steps between periodic checkpoints (0: none).
    checkpoint_every: u64,
    /// Stop (as on a signal) after this step.
    stop_after: Option<u64>,
    /// The command that continues the run.
    command: &'static str,
}

/// Where and how a [`Session`] starts.
#[derive(Clone, Copy, Debug)]
pub struct Start<'a> {
    /// The run directory.
    pub out: &'a Path,
    /// The configuration to save in a new run.
    pub config_toml: &'a str,
    /// The run's seed (of the RNG streams of a new run).
    pub seed: u64,
    /// The base learning rate.
    pub lr: f32,
    /// New or resumed, forced, quiet.
    pub opts: RunOptions,
    /// The model's shape; a resumed checkpoint must hold exactly this.
    pub spec: &'a PolicySpec,
    /// Metrics rows written before step 1 (RL writes a row 0).
    pub rows_before: u64,
    /// Save a checkpoint every this many steps (0: only at the end and on a signal).
    pub checkpoint_every: u64,
    /// The command that continues the run (`pg lm pretrain`, `pg lm rl`), for messages.
    pub command: &'static str,
}

impl Session {
    /// Starts a new run (writing its config) with the policy `fresh` builds, or, with
    /// `opts.resume`, continues the run from its checkpoint.
    pub fn start(s: Start<'_>, fresh: impl FnOnce() -> LmPolicy) -> Result<Session> {
        let Start {
            out,
            config_toml,
            seed,
            lr,
            opts,
            spec,
            rows_before,
            checkpoint_every,
            command,
        } = s;
        let mut adam = Adam::new(AdamConfig {
            lr,
            ..AdamConfig::default()
        });
        if opts.resume {
            let run = RunDir::resume(out)?;
            let ckpt = run.latest_checkpoint();
            let (policy, done, mut rngs) =
                checkpoint::load_training(&ckpt, &["data", "eval"], &mut adam)?;
            if policy.spec() != *spec {
                return Err(PgError::checkpoint(
                    &ckpt,
                    format!(
                        "its model {:?} differs from the run's {:?}",
                        policy.spec(),
                        spec
                    ),
                ));
            }
            super::metrics::check_columns(&run.metrics_path(), COLUMNS)?;
            let writer =
                MetricsWriter::<LmMetrics>::resume(&run.metrics_path(), rows_before + done.step)?;
            let eval_rng = rngs.pop().expect("two streams");
            let data_rng = rngs.pop().expect("two streams");
            Ok(Session {
                run,
                policy,
                adam,
                data_rng,
                eval_rng,
                done,
                writer,
                checkpoint_every,
                stop_after: opts.stop_after,
                command,
            })
        } else {
            let run = RunDir::create(out, config_toml, opts.force)?;
            let writer = MetricsWriter::<LmMetrics>::create(&run.metrics_path())?;
            Ok(Session {
                run,
                policy: fresh(),
                adam,
                data_rng: stream_rng(seed, 1),
                eval_rng: stream_rng(seed, 2),
                done: Progress::default(),
                writer,
                checkpoint_every,
                stop_after: opts.stop_after,
                command,
            })
        }
    }

    /// Saves the policy and the training state at `now` as the run's latest checkpoint.
    pub fn save(&self, now: Progress) -> Result<()> {
        let rngs = [("data", &self.data_rng), ("eval", &self.eval_rng)];
        let state = TrainState {
            progress: now,
            rngs: &rngs,
            adam: &self.adam,
        };
        checkpoint::save(&self.run.latest_checkpoint(), &self.policy, Some(state))
    }

    /// Ends step `m.step`: writes its metrics row `m` and shows it; then, on a signal or at
    /// `stop_after`, saves and returns [`PgError::Interrupted`]; else saves every
    /// `checkpoint_every` steps. The row comes first, so a checkpoint never runs ahead of the
    /// metrics (a resume drops rows written after its checkpoint).
    pub fn end_step(&mut self, m: &LmMetrics, progress: &mut LmProgress) -> Result<()> {
        let now = Progress {
            step: m.step,
            samples: m.samples,
            tokens: m.tokens,
        };
        self.writer.append(m)?;
        progress.step(m);
        if crate::run::signal::requested() || self.stop_after == Some(now.step) {
            self.save(now)?;
            progress.finish();
            crate::run::signal::clear();
            return Err(PgError::Interrupted {
                dir: self.run.root().to_path_buf(),
                command: self.command,
            });
        }
        if self.checkpoint_every > 0 && now.step.is_multiple_of(self.checkpoint_every) {
            self.save(now)?;
        }
        Ok(())
    }

    /// Ends the run at `now`: removes the bar and saves the final checkpoint.
    pub fn finish(&self, now: Progress, progress: &LmProgress) -> Result<()> {
        progress.finish();
        self.save(now)
    }

    /// The error of a non-finite loss at `step`, naming the last saved checkpoint.
    pub fn non_finite(&self, step: u64, what: &'static str) -> PgError {
        PgError::NonFiniteLoss {
            at: step,
            unit: "step",
            what,
            checkpoint: self.run.saved_checkpoint(),
        }
    }
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
    load_curve_along(dir, "samples", column)
}

/// The `(x_column, column)` points of a run's `metrics.csv` where neither is `nan`, in row order.
pub fn load_curve_along(dir: &Path, x_column: &str, column: &str) -> Result<Curve> {
    let mut curves = load_curves(&[dir.to_path_buf()], x_column, column)?;
    Ok(curves.pop().unwrap_or_default())
}

/// The progress bar over steps and a table row at every evaluation.
pub struct LmProgress {
    bar: ProgressBar,
    quiet: bool,
    rows: u64,
    gold: bool,
}

impl LmProgress {
    /// A bar over `steps`; `quiet` hides the bar and the table.
    pub fn new(steps: u64, quiet: bool) -> Self {
        let template =
            "{bar:30.cyan/blue} {pos}/{len} steps  {msg}  [{elapsed_precise}<{eta_precise}]";
        Self {
            bar: bar(steps, 0, template, quiet),
            quiet,
            rows: 0,
            gold: false,
        }
    }

    /// Adds a `gold` column after `reward`: the task's own score of the sampled completions,
    /// worth showing when the reward optimised is a learned model's.
    pub fn with_gold_column(self) -> Self {
        Self { gold: true, ..self }
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
            self.bar.println(self.table_header());
        }
        self.bar.println(self.table_row(m));
        self.rows += 1;
    }

    /// The table's column names.
    fn table_header(&self) -> String {
        format!(
            "{:>6} {:>9} {:>8} {:>7}{} {:>7} {:>8} {:>8} {:>7} {:>7} {:>6}",
            "step",
            "samples",
            "loss",
            "reward",
            self.gold_cell("gold".into()),
            "acc",
            "greedy",
            "kl",
            "entropy",
            "length",
            "seq/s"
        )
    }

    /// The table row of `m`.
    fn table_row(&self, m: &LmMetrics) -> String {
        format!(
            "{:>6} {:>9} {:>8} {:>7}{} {:>7} {:>8} {:>8} {:>7} {:>7} {:>6.0}",
            m.step,
            m.samples,
            fmt(m.loss, 4),
            fmt(m.reward, 3),
            self.gold_cell(fmt(m.gold, 3)),
            fmt(m.heldout_accuracy, 3),
            fmt(m.heldout_greedy_accuracy, 3),
            fmt(m.kl, 4),
            fmt(m.entropy, 3),
            fmt(m.mean_length, 2),
            m.samples_per_second
        )
    }

    /// The optional `gold` column's cell with its leading space, or nothing.
    fn gold_cell(&self, cell: String) -> String {
        match self.gold {
            true => format!(" {cell:>7}"),
            false => String::new(),
        }
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

/// The wall-clock columns of the `metrics.csv` of every `pg lm` command: the only ones two runs
/// with the same seed and configuration may write differently.
pub const LM_WALL_CLOCK_COLUMNS: &[&str] = &["samples_per_second", "elapsed_seconds"];

/// The text of a `metrics.csv` without its wall-clock columns ([`LM_WALL_CLOCK_COLUMNS`], found
/// by name in the header, wherever they are): what two runs with the same seed and configuration
/// must write identically.
pub fn csv_without_wall_clock(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| PgError::io(path, e))?;
    let header = text.lines().next().unwrap_or("");
    let keep: Vec<bool> = header
        .split(',')
        .map(|c| !LM_WALL_CLOCK_COLUMNS.contains(&c))
        .collect();
    Ok(text
        .lines()
        .map(|l| {
            l.split(',')
                .zip(&keep)
                .filter_map(|(f, &k)| k.then_some(f))
                .collect::<Vec<_>>()
                .join(",")
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
    fn the_wall_clock_columns_are_dropped_by_name() {
        let dir = crate::run::dir::fresh_test_dir("lm-without-wall-clock");
        let path = dir.join("metrics.csv");
        std::fs::write(
            &path,
            "step,samples_per_second,loss,elapsed_seconds,length_wrong\n1,900.5,0.25,2.5,7\n",
        )
        .unwrap();
        assert_eq!(
            csv_without_wall_clock(&path).unwrap(),
            "step,loss,length_wrong\n1,0.25,7"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_gold_column_follows_the_reward_when_asked_for() {
        let m = LmMetrics {
            step: 3,
            reward: 0.25,
            gold: -0.75,
            heldout_accuracy: 0.5,
            ..LmMetrics::default()
        };
        let plain = LmProgress::new(1, true);
        assert!(!plain.table_header().contains("gold"));
        assert!(!plain.table_row(&m).contains("-0.750"));
        let gold = LmProgress::new(1, true).with_gold_column();
        let (header, row) = (gold.table_header(), gold.table_row(&m));
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let at = |s: &str, w: &str| words(s).iter().position(|x| x == w).unwrap();
        assert_eq!(at(&header, "gold"), at(&header, "reward") + 1, "{header}");
        assert_eq!(
            words(&row)[at(&header, "gold")],
            "-0.750",
            "{header}\n{row}"
        );
        assert_eq!(
            words(&row)[at(&header, "reward")],
            "0.250",
            "{header}\n{row}"
        );
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        use rand::Rng;
        let a: u64 = stream_rng(1, 0).r#gen();
        let b: u64 = stream_rng(1, 1).r#gen();
        assert_ne!(a, b);
        assert_eq!(a, stream_rng(1, 0).r#gen::<u64>());
    }
}
