//! `pg lm pretrain`: maximum likelihood on the task's training text, producing the reference model.
//!
//! Each step draws `batch_size` fresh prompts from the training split, lets the task's (noisy)
//! demonstrator write their completions, and takes one Adam step on the mean negative
//! log-likelihood of the completion tokens ([`super::objective::nll_loss`]). Imitation learns the
//! demonstrator's distribution, errors included: with answers wrong 30% of the time, the model
//! learns to be wrong about 30% of the time when it samples.

use super::batch::TokenBatch;
use super::checkpoint;
use super::config::PretrainConfig;
use super::eval::{Evaluation, evaluate};
use super::generate::Completion;
use super::metrics::LmMetrics;
use super::model::{ModelSpec, TokenPolicy};
use super::objective::{forward, nll_loss};
use super::run::{
    LmProgress, RunOptions, create_run, latest_checkpoint, samples_path, saved_checkpoint,
    write_curve,
};
use super::sample::entropy;
use super::state;
use crate::config::LrSchedule;
use crate::error::{PgError, Result};
use crate::metrics::MetricsWriter;
use crate::run_dir::RunDir;
use autograd::{Gradients, Tape, Var};
use dense::optim::{Adam, AdamConfig, clip_grad_norm};
use envs::tokens::{self, Split, TokenTask};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

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

/// Copies the gradients of `params` out of `grads`, clips their global norm to `max_norm`
/// (0: no clipping) and takes one Adam step with rate `lr`. Returns the norm before clipping.
pub fn apply_update(
    policy: &mut TokenPolicy,
    adam: &mut Adam,
    grads: &Gradients<f32>,
    params: &[Var<'_, f32>],
    max_norm: f32,
    lr: f32,
) -> f32 {
    let mut g = TokenPolicy::grads_of(params, grads);
    let norm = if max_norm > 0.0 {
        clip_grad_norm(&mut g, max_norm)
    } else {
        dense::optim::global_norm(&g)
    };
    adam.set_lr(lr);
    adam.step(&mut policy.param_slices_mut(), &g);
    norm
}

/// Mean per-row entropy of `[rows × v]` log-probabilities.
pub fn mean_entropy(log_probs: &[f32], v: usize) -> f64 {
    let rows = log_probs.len() / v;
    if rows == 0 {
        return f64::NAN;
    }
    log_probs.chunks_exact(v).map(entropy).sum::<f64>() / rows as f64
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

/// The learning rate at step `step` (from 1) of `steps`: constant, or decayed linearly to 0 after
/// the last step, `lr · (1 - (step-1)/steps)`.
pub fn scheduled_lr(lr: f32, schedule: LrSchedule, step: u64, steps: u64) -> f32 {
    match schedule {
        LrSchedule::Constant => lr,
        LrSchedule::Linear => lr * (1.0 - (step - 1) as f32 / steps as f32),
    }
}

/// Saves the model and the training state (counters, RNG streams, optimiser) into the run's
/// latest checkpoint.
pub fn save_checkpoint(
    run: &RunDir,
    policy: &TokenPolicy,
    done: state::Progress,
    rngs: &[(&str, &ChaCha8Rng)],
    adam: &Adam,
) -> Result<()> {
    let dir = latest_checkpoint(run);
    checkpoint::save(policy, &dir)?;
    state::save(&dir, done, rngs, adam)
}

/// Runs pretraining into `out` (or continues it, with `opts.resume`); returns the run and the
/// final held-out evaluation.
pub fn pretrain(
    cfg: &PretrainConfig,
    out: &Path,
    opts: RunOptions,
) -> Result<(RunDir, Evaluation)> {
    use super::config::LmConfig;
    cfg.validate("the configuration")?;
    let task = make_task(&cfg.task)?;
    let adam_config = AdamConfig {
        lr: cfg.lr,
        ..AdamConfig::default()
    };
    let mut adam = Adam::new(adam_config);
    let (run, mut policy, mut data_rng, mut eval_rng, done, mut writer) = if opts.resume {
        let run = RunDir::open(out)?;
        let ckpt = latest_checkpoint(&run);
        let policy = checkpoint::load(&ckpt)?;
        let (done, mut rngs) = state::load(&ckpt, &["data", "eval"], &mut adam)?;
        let writer = MetricsWriter::<LmMetrics>::resume(&run.metrics_path(), done.step)?;
        let eval_rng = rngs.pop().expect("two streams");
        let data_rng = rngs.pop().expect("two streams");
        (run, policy, data_rng, eval_rng, done, writer)
    } else {
        let run = create_run(out, &cfg.to_toml(), opts.force)?;
        let spec = ModelSpec {
            task: cfg.task.clone(),
            vocab: task.vocab().len(),
            context: cfg.context,
            embed_dim: cfg.embed_dim,
            hidden_sizes: cfg.hidden_sizes.clone(),
            activation: cfg.activation,
        };
        let policy = TokenPolicy::new(spec, &mut stream_rng(cfg.seed, 0));
        let writer = MetricsWriter::<LmMetrics>::create(&run.metrics_path())?;
        let (data, eval) = (stream_rng(cfg.seed, 1), stream_rng(cfg.seed, 2));
        (run, policy, data, eval, state::Progress::default(), writer)
    };
    let eval_prompts = task.held_out_prompts(cfg.eval_prompts, EVAL_PROMPT_SEED);
    let mut progress = LmProgress::new(cfg.steps, opts.quiet);
    progress.println(format!(
        "pretraining on {}: {} parameters",
        task.describe(),
        policy.spec().num_params()
    ));
    let mut tape = Tape::<f32>::new();
    let mut grads = Gradients::new();
    let mut batch = TokenBatch::new(cfg.context);
    let v = task.vocab().len();
    let start = Instant::now();
    let (mut samples, mut tokens) = (done.samples, done.tokens);
    let mut last_eval = None;
    for step in done.step + 1..=cfg.steps {
        batch.clear();
        for _ in 0..cfg.batch_size {
            let prompt = task.sample_prompt(Split::Train, &mut data_rng);
            let demo = task.demonstration(&prompt, &mut data_rng);
            batch.push(&prompt, &demo);
        }
        samples += cfg.batch_size as u64;
        tokens += batch.rows() as u64;
        tape.reset();
        let (loss, ent, grad_norm) = {
            let f = forward(&policy, &tape, &batch);
            let loss = nll_loss(f.token_logp);
            let value = loss.item() as f64;
            if !value.is_finite() {
                return Err(PgError::NonFiniteLoss {
                    epoch: step,
                    what: "pretraining loss",
                    checkpoint: saved_checkpoint(&run),
                });
            }
            loss.backward_into(&mut grads);
            let ent = f.log_probs.with_value(|t| mean_entropy(t.data(), v));
            let norm = apply_update(
                &mut policy,
                &mut adam,
                &grads,
                &f.params,
                cfg.max_grad_norm,
                scheduled_lr(cfg.lr, cfg.lr_schedule, step, cfg.steps),
            );
            (value, ent, norm)
        };
        let elapsed = start.elapsed().as_secs_f64();
        let mut m = LmMetrics {
            step,
            samples,
            tokens,
            loss,
            entropy: ent,
            grad_norm: grad_norm as f64,
            samples_per_second: (samples - done.samples) as f64 / elapsed.max(1e-9),
            elapsed_seconds: elapsed,
            ..LmMetrics::default()
        };
        if step % cfg.eval_every == 0 || step == cfg.steps {
            let e = evaluate(&policy, &*task, &eval_prompts, &mut eval_rng);
            m.heldout_accuracy = e.accuracy;
            m.heldout_greedy_accuracy = e.greedy_accuracy;
            m.heldout_reward = e.reward;
            m.mean_length = e.mean_length;
            last_eval = Some(e);
        }
        writer.append(&m)?;
        progress.step(&m);
        if crate::interrupt::requested() || opts.stop_after == Some(step) {
            let now = state::Progress {
                step,
                samples,
                tokens,
            };
            save_checkpoint(
                &run,
                &policy,
                now,
                &[("data", &data_rng), ("eval", &eval_rng)],
                &adam,
            )?;
            progress.finish();
            return Err(PgError::Interrupted {
                dir: run.root().to_path_buf(),
                command: "pg lm pretrain",
            });
        }
    }
    progress.finish();
    let now = state::Progress {
        step: cfg.steps,
        samples,
        tokens,
    };
    save_checkpoint(
        &run,
        &policy,
        now,
        &[("data", &data_rng), ("eval", &eval_rng)],
        &adam,
    )?;
    write_curve(
        &run,
        "heldout_accuracy",
        &format!("pretraining on {}", cfg.task),
    )?;
    // The last step always evaluates; a run resumed after its last step evaluates once more.
    let e = match last_eval {
        Some(e) => e,
        None => evaluate(&policy, &*task, &eval_prompts, &mut eval_rng),
    };
    write_samples(
        &samples_path(&run),
        &*task,
        &format!(
            "held-out samples at temperature 1 after pretraining (accuracy {:.3}, greedy {:.3})",
            e.accuracy, e.greedy_accuracy
        ),
        &e.samples,
    )?;
    Ok((run, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_schedule_reaches_zero_after_the_last_step() {
        let mut c = PretrainConfig::preset("addition").unwrap();
        c.steps = 4;
        c.lr = 1.0;
        let lrs: Vec<f32> = (1..=4)
            .map(|s| scheduled_lr(c.lr, c.lr_schedule, s, c.steps))
            .collect();
        assert_eq!(lrs, vec![1.0, 0.75, 0.5, 0.25]);
        assert_eq!(scheduled_lr(1.0, LrSchedule::Constant, 4, 4), 1.0);
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        use rand::Rng;
        let a: u64 = stream_rng(1, 0).r#gen();
        let b: u64 = stream_rng(1, 1).r#gen();
        assert_ne!(a, b);
        assert_eq!(a, stream_rng(1, 0).r#gen::<u64>());
    }

    #[test]
    fn a_tiny_pretraining_run_learns_and_is_reproducible() {
        let dir = std::env::temp_dir().join(format!("pg-lm-pretrain-{}", std::process::id()));
        let mut c = PretrainConfig::preset("reviews").unwrap();
        c.hidden_sizes = vec![32];
        c.steps = 40;
        c.batch_size = 16;
        c.eval_every = 20;
        c.eval_prompts = 8;
        let fresh = RunOptions {
            force: true,
            quiet: true,
            ..RunOptions::default()
        };
        let (run, e) = pretrain(&c, &dir.join("a"), fresh).unwrap();
        let (_, e2) = pretrain(&c, &dir.join("b"), fresh).unwrap();
        assert_eq!(e, e2, "same seed, same result");
        let csv = |d: &str| {
            let t = crate::metrics::Table::read(&dir.join(d).join("metrics.csv")).unwrap();
            let p = dir.join(d).join("metrics.csv");
            t.column("loss", &p).unwrap()
        };
        let loss = csv("a");
        let same = |d: &str| {
            crate::lm::run::csv_without_wall_clock(&dir.join(d).join("metrics.csv")).unwrap()
        };
        assert_eq!(
            same("a"),
            same("b"),
            "bit-identical metrics but the wall clock"
        );
        // Stopped after step 20 (as by Ctrl-C) and resumed, the run writes the same metrics and
        // ends at the same model as the uninterrupted one.
        let stop = RunOptions {
            stop_after: Some(20),
            ..fresh
        };
        let e = pretrain(&c, &dir.join("c"), stop).unwrap_err();
        assert!(matches!(e, PgError::Interrupted { .. }), "{e}");
        assert!(e.to_string().contains("`pg lm pretrain --resume "), "{e}");
        let resume = RunOptions {
            resume: true,
            ..fresh
        };
        let (_, e3) = pretrain(&c, &dir.join("c"), resume).unwrap();
        assert_eq!(e3, e2);
        assert_eq!(same("c"), same("a"), "resumed run");
        assert_eq!(
            checkpoint::load(&dir.join("c")).unwrap(),
            checkpoint::load(&dir.join("a")).unwrap()
        );
        assert_eq!(loss.len(), 40);
        // The loss starts near ln V (a near-uniform model) and falls.
        assert!(
            (loss[0] - (29f64).ln()).abs() < 0.3,
            "first loss {}",
            loss[0]
        );
        assert!(loss[39] < loss[0] - 1.0, "loss {} -> {}", loss[0], loss[39]);
        checkpoint::load(run.root()).unwrap();
        assert!(run.curve_path().is_file());
        assert!(samples_path(&run).is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
