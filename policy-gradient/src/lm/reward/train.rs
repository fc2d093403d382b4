//! `pg lm reward`: training a reward model on a policy's completions, labelled by the gold judge.
//!
//! 1. draw `train_pairs` labelled pairs from training prompts (labels flipped with probability
//!    `label_noise`) and `heldout_pairs` exact ones from held-out prompts ([`super::data`]);
//! 2. start the reward model from the policy's weights and a zero head ([`RewardModel`]);
//! 3. each step, score `batch_size` pairs drawn with replacement, take the mean Bradley–Terry
//!    loss ([`bradley_terry_loss`]), clip the gradient norm and take one Adam step;
//! 4. every `eval_every` steps, the held-out accuracy and loss.
//!
//! ```text
//! DIR/config.toml              the RewardConfig
//! DIR/metrics.csv              row 0 (the untrained model) and one row per step (COLUMNS)
//! DIR/checkpoints/latest.ckpt  the reward model and the training state (super::checkpoint)
//! DIR/curve.svg                held-out preference accuracy against pairs seen
//! ```
//!
//! The data are drawn again from the seed when a run resumes (streams 3 and 4), so only the
//! model, Adam and the minibatch stream (1) are in the checkpoint.

use super::checkpoint;
use super::data::{Draw, Preference, pair_accuracy, pair_texts, sample_preferences};
use super::loss::{bradley_terry_loss, pair_loss};
use super::model::RewardModel;
use crate::error::{PgError, Result};
use crate::lm::checkpoint::{Progress, TrainState};
use crate::lm::config::RewardConfig;
use crate::lm::run::{make_task, stream_rng};
use crate::metrics::{CsvRow, MetricsWriter, csv_line};
use crate::plot::{PlotSpec, render_svg};
use crate::progress::bar;
use crate::run::RunOptions;
use crate::run::config::RunConfig;
use crate::run::dir::RunDir;
use crate::run::update::clip_and_step;
use autograd::Tape;
use dense::optim::{Adam, AdamConfig};
use envs::tokens::Split;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

/// The columns of a reward run's `metrics.csv`, in order.
pub const COLUMNS: &[&str] = &[
    "step",
    "samples",
    "loss",
    "train_accuracy",
    "heldout_loss",
    "heldout_accuracy",
    "grad_norm",
    "samples_per_second",
    "elapsed_seconds",
];

/// The x-axis label of a reward run's curve (its `samples` column).
pub const PAIRS_AXIS: &str = "preference pairs seen";

/// Texts scored per forward pass when measuring held-out pairs.
const EVAL_CHUNK: usize = 256;

/// One row of a reward run's `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardMetrics {
    /// Gradient steps taken.
    pub step: u64,
    /// Training pairs seen (with repeats).
    pub samples: u64,
    /// The step's mean Bradley–Terry loss (on noisy labels).
    pub loss: f64,
    /// Fraction of the step's pairs ranked as labelled.
    pub train_accuracy: f64,
    /// Mean Bradley–Terry loss on the held-out pairs (evaluation rows).
    pub heldout_loss: f64,
    /// Fraction of held-out pairs ranked as the gold judge ranks them (evaluation rows).
    pub heldout_accuracy: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Pairs per second of wall-clock time.
    pub samples_per_second: f64,
    /// Seconds since the run (or its resumption) started.
    pub elapsed_seconds: f64,
}

impl Default for RewardMetrics {
    /// Every measurement `nan`, counters 0.
    fn default() -> Self {
        Self {
            step: 0,
            samples: 0,
            loss: f64::NAN,
            train_accuracy: f64::NAN,
            heldout_loss: f64::NAN,
            heldout_accuracy: f64::NAN,
            grad_norm: f64::NAN,
            samples_per_second: f64::NAN,
            elapsed_seconds: f64::NAN,
        }
    }
}

impl CsvRow for RewardMetrics {
    const COLUMNS: &'static [&'static str] = COLUMNS;
    fn csv_row(&self) -> String {
        csv_line(
            &[self.step, self.samples],
            &[
                self.loss,
                self.train_accuracy,
                self.heldout_loss,
                self.heldout_accuracy,
                self.grad_norm,
                self.samples_per_second,
                self.elapsed_seconds,
            ],
        )
    }
}

/// Accuracy and mean loss of a model on labelled pairs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairEvaluation {
    /// Fraction ranked as labelled ([`pair_accuracy`]).
    pub accuracy: f64,
    /// Mean Bradley–Terry loss.
    pub loss: f64,
}

/// Scores every pair (no gradient) and measures [`PairEvaluation`].
pub fn evaluate_pairs(model: &RewardModel, pairs: &[Preference]) -> PairEvaluation {
    let refs: Vec<&Preference> = pairs.iter().collect();
    let mut scores = Vec::with_capacity(2 * pairs.len());
    for chunk in refs.chunks(EVAL_CHUNK / 2) {
        scores.extend(model.score(pair_texts(chunk)));
    }
    let loss = scores
        .chunks_exact(2)
        .map(|s| pair_loss(s[0], s[1]))
        .sum::<f64>()
        / pairs.len().max(1) as f64;
    PairEvaluation {
        accuracy: pair_accuracy(&scores),
        loss,
    }
}

/// The preference data of a run, drawn from its seed: (training pairs, held-out pairs).
fn preference_data(cfg: &RewardConfig, d: Draw<'_>) -> Result<(Vec<Preference>, Vec<Preference>)> {
    let train = sample_preferences(&d, cfg.train_pairs, &mut stream_rng(cfg.seed, 3))?;
    let exact = Draw {
        split: Split::HeldOut,
        label_noise: 0.0,
        ..d
    };
    let held = sample_preferences(&exact, cfg.heldout_pairs, &mut stream_rng(cfg.seed, 4))?;
    Ok((train, held))
}

/// The state of a reward run between steps.
struct RewardSession {
    run: RunDir,
    model: RewardModel,
    adam: Adam,
    rng: ChaCha8Rng,
    done: Progress,
    writer: MetricsWriter<RewardMetrics>,
}

impl RewardSession {
    /// A new run from `fresh`, or the run in `out` resumed.
    fn start(
        cfg: &RewardConfig,
        out: &Path,
        opts: RunOptions,
        fresh: impl FnOnce() -> RewardModel,
    ) -> Result<Self> {
        let mut adam = Adam::new(AdamConfig {
            lr: cfg.lr,
            ..AdamConfig::default()
        });
        if opts.resume {
            let run = RunDir::resume(out)?;
            let (model, done, mut rngs) =
                checkpoint::load_training(&run.latest_checkpoint(), &["data"], &mut adam)?;
            crate::lm::metrics::check_columns(&run.metrics_path(), COLUMNS)?;
            let writer = MetricsWriter::resume(&run.metrics_path(), 1 + done.step)?;
            let rng = rngs.pop().expect("one stream");
            Ok(Self {
                run,
                model,
                adam,
                rng,
                done,
                writer,
            })
        } else {
            let run = RunDir::create(out, &cfg.to_toml(), opts.force)?;
            let writer = MetricsWriter::create(&run.metrics_path())?;
            Ok(Self {
                run,
                model: fresh(),
                adam,
                rng: stream_rng(cfg.seed, 1),
                done: Progress::default(),
                writer,
            })
        }
    }

    fn save(&self, now: Progress) -> Result<()> {
        let rngs = [("data", &self.rng)];
        let state = TrainState {
            progress: now,
            rngs: &rngs,
            adam: &self.adam,
        };
        checkpoint::save(&self.run.latest_checkpoint(), &self.model, Some(state))
    }
}

/// One Adam step on `batch` (pairs); returns (loss, batch accuracy, gradient norm).
fn train_step(
    s: &mut RewardSession,
    tape: &mut Tape<f32>,
    batch: &[&Preference],
    cfg: &RewardConfig,
    lr: f32,
) -> (f64, f64, f32) {
    tape.reset();
    let tape = &*tape;
    let texts = s.model.texts(pair_texts(batch));
    let vars = s.model.param_vars(tape);
    let scores = s.model.scores(&vars, &texts);
    let values: Vec<f64> = scores.with_value(|t| t.data().iter().map(|&x| x as f64).collect());
    let loss = bradley_terry_loss(scores);
    let value = loss.item() as f64;
    let grads = loss.backward();
    let mut g: Vec<_> = vars.iter().map(|&v| grads[v].clone()).collect();
    let norm = clip_and_step(
        &mut s.adam,
        &mut s.model.param_slices_mut(),
        &mut g,
        cfg.max_grad_norm,
        lr,
    );
    (value, pair_accuracy(&values), norm)
}

/// Trains a reward model into `out` (or continues it, with `opts.resume`); returns the run and
/// the final held-out evaluation.
pub fn train_reward(
    cfg: &RewardConfig,
    out: &Path,
    opts: RunOptions,
) -> Result<(RunDir, PairEvaluation)> {
    cfg.validate("the configuration")?;
    let task = make_task(&cfg.task)?;
    let policy = crate::lm::checkpoint::load(Path::new(&cfg.policy))?;
    if policy.task() != cfg.task {
        return Err(PgError::BadConfigValue {
            key: "policy".into(),
            origin: "the configuration".into(),
            message: format!(
                "{} was trained on task `{}`, not `{}`",
                cfg.policy,
                policy.task(),
                cfg.task
            ),
        });
    }
    // A new run stores its policy as an absolute path, so `--resume` works from anywhere.
    let absolute;
    let cfg = if opts.resume {
        cfg
    } else {
        let path = std::fs::canonicalize(&cfg.policy).map_err(|e| PgError::io(&cfg.policy, e))?;
        absolute = RewardConfig {
            policy: path.display().to_string(),
            ..cfg.clone()
        };
        &absolute
    };
    let draw = Draw {
        policy: &policy,
        task: &*task,
        split: Split::Train,
        temperature: cfg.temperature,
        label_noise: cfg.label_noise,
    };
    let fresh = RewardModel::from_policy(policy.clone());
    let (train, held) = preference_data(cfg, draw)?;
    let prompts: Vec<_> = train
        .iter()
        .chain(&held)
        .map(|p| p.prompt.clone())
        .collect();
    fresh.check_fits(&*task, &prompts, &format!("the policy {}", cfg.policy))?;
    let mut s = RewardSession::start(cfg, out, opts, || fresh)?;
    let template = "{bar:30.cyan/blue} {pos}/{len} steps  {msg}  [{elapsed_precise}<{eta_precise}]";
    let progress = bar(cfg.steps, s.done.step, template, opts.quiet);
    let say = |line: String| {
        if !opts.quiet {
            progress.println(line);
        }
    };
    say(format!(
        "reward model on {} ({} pairs, label noise {}, {} held-out pairs): {}",
        cfg.task,
        train.len(),
        cfg.label_noise,
        held.len(),
        s.run.root().display()
    ));
    let clock = Instant::now();
    let mut last = None;
    if s.done.step == 0 {
        let e = evaluate_pairs(&s.model, &held);
        s.writer.append(&RewardMetrics {
            heldout_accuracy: e.accuracy,
            heldout_loss: e.loss,
            ..RewardMetrics::default()
        })?;
    }
    let mut tape = Tape::new();
    for step in s.done.step + 1..=cfg.steps {
        let batch: Vec<&Preference> = (0..cfg.batch_size)
            .map(|_| &train[s.rng.gen_range(0..train.len())])
            .collect();
        let lr = cfg.lr_schedule.rate(cfg.lr, step - 1, cfg.steps);
        let (loss, accuracy, norm) = train_step(&mut s, &mut tape, &batch, cfg, lr);
        if !loss.is_finite() {
            return Err(PgError::NonFiniteLoss {
                at: step,
                unit: "step",
                what: "reward loss",
                checkpoint: s.run.saved_checkpoint(),
            });
        }
        let samples = step * cfg.batch_size as u64;
        let elapsed = clock.elapsed().as_secs_f64();
        let mut m = RewardMetrics {
            step,
            samples,
            loss,
            train_accuracy: accuracy,
            grad_norm: norm as f64,
            samples_per_second: (samples - s.done.samples) as f64 / elapsed.max(1e-9),
            elapsed_seconds: elapsed,
            ..RewardMetrics::default()
        };
        if step % cfg.eval_every == 0 || step == cfg.steps {
            let e = evaluate_pairs(&s.model, &held);
            (m.heldout_accuracy, m.heldout_loss) = (e.accuracy, e.loss);
            say(format!(
                "step {step:>6}  loss {loss:.4}  held-out accuracy {:.3}  loss {:.4}",
                e.accuracy, e.loss
            ));
            last = Some(e);
        }
        s.writer.append(&m)?;
        progress.set_position(step);
        progress.set_message(format!("loss {loss:.4}"));
        let now = Progress {
            step,
            samples,
            tokens: 0,
        };
        if crate::run::signal::requested() || opts.stop_after == Some(step) {
            s.save(now)?;
            progress.finish_and_clear();
            crate::run::signal::clear();
            return Err(PgError::Interrupted {
                dir: s.run.root().to_path_buf(),
                command: "pg lm reward",
            });
        }
        if cfg.checkpoint_every > 0 && step.is_multiple_of(cfg.checkpoint_every) {
            s.save(now)?;
        }
    }
    progress.finish_and_clear();
    s.save(Progress {
        step: cfg.steps,
        samples: cfg.steps * cfg.batch_size as u64,
        tokens: 0,
    })?;
    let last = last.unwrap_or_else(|| evaluate_pairs(&s.model, &held));
    write_accuracy_curve(&s.run, &cfg.task)?;
    Ok((s.run, last))
}

/// Writes `DIR/curve.svg`: held-out preference accuracy against pairs seen.
fn write_accuracy_curve(run: &RunDir, task: &str) -> Result<()> {
    let curves =
        crate::plot::load_curves(&[run.root().to_path_buf()], "samples", "heldout_accuracy")?;
    let svg = render_svg(
        &curves,
        &PlotSpec {
            title: format!("reward model on {task}: held-out preference accuracy"),
            x_label: PAIRS_AXIS.to_string(),
            y_label: "held-out accuracy".into(),
            threshold: None,
        },
    );
    let p = run.curve_path();
    std::fs::write(&p, svg).map_err(|e| PgError::io(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::config::PretrainConfig;
    use crate::lm::pretrain::pretrain;
    use crate::lm::run::csv_without_wall_clock;

    const FRESH: RunOptions = RunOptions {
        force: true,
        ..crate::run::QUIET
    };

    /// A barely pretrained policy of `task` in `dir`.
    fn tiny_policy(task: &str, dir: &Path) {
        let mut p = PretrainConfig::preset(task).unwrap();
        (p.hidden_sizes, p.steps, p.batch_size) = (vec![16], 20, 8);
        (p.eval_every, p.eval_prompts) = (20, 4);
        pretrain(&p, dir, FRESH).unwrap();
    }

    fn tiny_config(policy: &Path) -> RewardConfig {
        let mut c = RewardConfig::preset("dialogue").unwrap();
        c.policy = policy.display().to_string();
        (c.train_pairs, c.heldout_pairs, c.steps, c.batch_size) = (24, 12, 6, 4);
        (c.eval_every, c.checkpoint_every) = (2, 0);
        c
    }

    #[test]
    fn a_reward_run_is_deterministic_and_resumes_exactly() {
        let dir = crate::run::dir::fresh_test_dir("lm-reward");
        tiny_policy("dialogue", &dir.join("policy"));
        let c = tiny_config(&dir.join("policy"));
        let (run, a) = train_reward(&c, &dir.join("a"), FRESH).unwrap();
        let (_, b) = train_reward(&c, &dir.join("b"), FRESH).unwrap();
        assert_eq!(a, b);
        let csv = |d: &str| csv_without_wall_clock(&dir.join(d).join("metrics.csv")).unwrap();
        assert_eq!(csv("a"), csv("b"), "bit-identical metrics");
        let path = run.metrics_path();
        let t = crate::metrics::Table::read(&path).unwrap();
        // Row 0 (the zero head ties every pair), then 6 steps of 4 pairs.
        assert_eq!(
            t.column("samples", &path).unwrap(),
            vec![0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0]
        );
        let acc = t.column("heldout_accuracy", &path).unwrap();
        assert_eq!(acc[0], 0.5);
        assert!(run.curve_path().exists());
        // Stopped after step 3 (as by Ctrl-C), then resumed: the same metrics and model.
        let stop = RunOptions {
            stop_after: Some(3),
            ..FRESH
        };
        let e = train_reward(&c, &dir.join("c"), stop).unwrap_err();
        assert!(e.to_string().contains("`pg lm reward --resume "), "{e}");
        let resume = RunOptions {
            resume: true,
            ..FRESH
        };
        let (_, resumed) = train_reward(&c, &dir.join("c"), resume).unwrap();
        assert_eq!(resumed, a);
        assert_eq!(csv("c"), csv("a"), "resumed run");
        assert_eq!(
            checkpoint::load(&dir.join("c")).unwrap(),
            checkpoint::load(&dir.join("a")).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_is_one_line_naming_it() {
        let dir = crate::run::dir::fresh_test_dir("lm-reward-bad");
        let mut c = tiny_config(&dir.join("missing"));
        let e = train_reward(&c, &dir.join("a"), FRESH)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing") && !e.contains('\n'), "{e}");
        tiny_policy("reviews", &dir.join("reviews"));
        c.policy = dir.join("reviews").display().to_string();
        let e = train_reward(&c, &dir.join("a"), FRESH)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("trained on task `reviews`, not `dialogue`"),
            "{e}"
        );
        c.label_noise = 0.75;
        let e = train_reward(&c, &dir.join("a"), FRESH)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`label_noise`") && e.contains("0.75"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
