//! `pg lm pretrain`: maximum likelihood on the task's training text, producing the reference model.
//!
//! Each step draws `batch_size` fresh prompts from the training split, lets the task's (noisy)
//! demonstrator write their completions, and takes one Adam step on the mean negative
//! log-likelihood of the completion tokens ([`super::objective::nll_loss`]). Imitation learns the
//! demonstrator's distribution, errors included: with answers wrong 30% of the time, the model
//! learns to be wrong about 30% of the time when it samples.

use super::checkpoint::Progress;
use super::config::{ModelKind, PretrainConfig};
use super::eval::{Evaluation, evaluate};
use super::gpt::GptSpec;
use super::metrics::{LengthSplit, LmMetrics};
use super::model::ModelSpec;
use super::policy::{LmPolicy, NllBatch, PolicySpec, TransformerSpec};
use super::run::{
    EVAL_PROMPT_SEED, LmProgress, Session, Start, make_task, stream_rng, write_curve, write_samples,
};
use crate::error::Result;
use crate::run::RunOptions;
use crate::run::config::RunConfig;
use crate::run::dir::RunDir;
use envs::tokens::Split;
use std::path::Path;
use std::time::Instant;

/// The model a pretraining configuration trains on its task's vocabulary of `vocab` tokens:
/// the architecture its `model` key names, with that architecture's sizes.
pub fn model_spec(cfg: &PretrainConfig, vocab: usize) -> PolicySpec {
    match cfg.model {
        ModelKind::Mlp => PolicySpec::Mlp(ModelSpec {
            task: cfg.task.clone(),
            vocab,
            context: cfg.context,
            embed_dim: cfg.embed_dim,
            hidden_sizes: cfg.hidden_sizes.clone(),
            activation: cfg.activation,
        }),
        ModelKind::Transformer => PolicySpec::Transformer(TransformerSpec {
            task: cfg.task.clone(),
            gpt: GptSpec {
                vocab,
                context: cfg.context,
                width: cfg.width,
                heads: cfg.heads,
                layers: cfg.layers,
            },
        }),
    }
}

/// Runs pretraining into `out` (or continues it, with `opts.resume`); returns the run and the
/// final held-out evaluation.
pub fn pretrain(
    cfg: &PretrainConfig,
    out: &Path,
    opts: RunOptions,
) -> Result<(RunDir, Evaluation)> {
    cfg.validate("the configuration")?;
    let task = make_task(&cfg.task)?;
    let spec = model_spec(cfg, task.vocab().len());
    spec.validate("the configuration")?;
    if let PolicySpec::Transformer(t) = &spec {
        let eval_prompts = task.held_out_prompts(cfg.eval_prompts, EVAL_PROMPT_SEED);
        t.check_prompts_fit(&*task, &eval_prompts, "the configuration")?;
    }
    let start = Start {
        out,
        config_toml: &cfg.to_toml(),
        seed: cfg.seed,
        lr: cfg.lr,
        opts,
        spec: &spec,
        rows_before: 0,
        checkpoint_every: cfg.checkpoint_every,
        command: "pg lm pretrain",
    };
    let mut s = Session::start(start, || LmPolicy::new(&spec, &mut stream_rng(cfg.seed, 0)))?;
    let eval_prompts = task.held_out_prompts(cfg.eval_prompts, EVAL_PROMPT_SEED);
    let mut progress = LmProgress::new(cfg.steps, opts.quiet);
    progress.println(format!(
        "pretraining on {}: {} parameters",
        task.describe(),
        spec.num_params()
    ));
    let mut batch = NllBatch::new(&s.policy);
    let mut prompts = Vec::with_capacity(cfg.batch_size);
    let clock = Instant::now();
    let done = s.done;
    let (mut samples, mut tokens) = (done.samples, done.tokens);
    let mut last_eval = None;
    for step in done.step + 1..=cfg.steps {
        batch.clear();
        prompts.clear();
        for _ in 0..cfg.batch_size {
            let prompt = task.sample_prompt(Split::Train, &mut s.data_rng);
            let demo = task.demonstration(&prompt, &mut s.data_rng);
            batch.push(&prompt, &demo);
            prompts.push(prompt);
        }
        s.policy
            .check_prompts_fit(&*task, &prompts, "the configuration")?;
        samples += cfg.batch_size as u64;
        tokens += batch.completion_tokens() as u64;
        let (loss, ent, grad_norm) = {
            let f = s.policy.nll_gradients(&mut batch);
            if !f.loss.is_finite() {
                return Err(s.non_finite(step, "pretraining loss"));
            }
            let lr = cfg.lr_schedule.rate(cfg.lr, step - 1, cfg.steps);
            let norm = s
                .policy
                .clip_and_step(&mut s.adam, f.grads, cfg.max_grad_norm, lr);
            (f.loss, f.entropy, norm)
        };
        let elapsed = clock.elapsed().as_secs_f64();
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
            let e = evaluate(&s.policy, &*task, &eval_prompts, &mut s.eval_rng);
            m.record_heldout(&e);
            m.record_lengths(LengthSplit::of(&*task, &e.samples));
            last_eval = Some(e);
        }
        s.end_step(&m, &mut progress)?;
    }
    let now = Progress {
        step: cfg.steps,
        samples,
        tokens,
    };
    s.finish(now, &progress)?;
    write_curve(
        &s.run,
        "heldout_accuracy",
        &format!("pretraining on {}", cfg.task),
    )?;
    // The last step always evaluates; a run resumed after its last step evaluates once more.
    let e = match last_eval {
        Some(e) => e,
        None => evaluate(&s.policy, &*task, &eval_prompts, &mut s.eval_rng),
    };
    write_samples(
        &s.run.samples_path(),
        &*task,
        &format!(
            "held-out samples at temperature 1 after pretraining (accuracy {:.3}, greedy {:.3})",
            e.accuracy, e.greedy_accuracy
        ),
        &e.samples,
    )?;
    Ok((s.run, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PgError;
    use crate::lm::checkpoint;
    use crate::lm::policy::LmPolicy;

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
            ..crate::run::QUIET
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
        assert!(run.samples_path().is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tiny_transformer_pretrains_resumes_exactly_and_refuses_a_short_context() {
        let dir = crate::run::dir::fresh_test_dir("lm-pretrain-gpt");
        let mut c = PretrainConfig::preset("reverse").unwrap();
        c.model = ModelKind::Transformer;
        (c.context, c.width, c.heads, c.layers) = (20, 16, 2, 1);
        (c.steps, c.batch_size, c.eval_every, c.eval_prompts) = (12, 8, 6, 8);
        c.checkpoint_every = 0;
        let fresh = RunOptions {
            force: true,
            ..crate::run::QUIET
        };
        let (run, e) = pretrain(&c, &dir.join("a"), fresh).unwrap();
        let stop = RunOptions {
            stop_after: Some(5),
            ..fresh
        };
        assert!(pretrain(&c, &dir.join("b"), stop).is_err());
        let resume = RunOptions {
            resume: true,
            ..fresh
        };
        let (_, e2) = pretrain(&c, &dir.join("b"), resume).unwrap();
        assert_eq!(
            e, e2,
            "a resumed transformer run ends where the uninterrupted one does"
        );
        let same = |d: &str| {
            crate::lm::run::csv_without_wall_clock(&dir.join(d).join("metrics.csv")).unwrap()
        };
        assert_eq!(same("a"), same("b"));
        let saved = checkpoint::load(run.root()).unwrap();
        assert_eq!(saved, checkpoint::load(&dir.join("b")).unwrap());
        assert!(matches!(saved, LmPolicy::Transformer(_)));
        let t = crate::metrics::Table::read(&run.metrics_path()).unwrap();
        let loss = t.column("loss", &run.metrics_path()).unwrap();
        // A fresh transformer is near uniform over the 13 tokens of `reverse`, then learns.
        assert!((loss[0] - 13f64.ln()).abs() < 0.2, "first loss {}", loss[0]);
        assert!(loss[11] < loss[0], "loss {} -> {}", loss[0], loss[11]);
        let entropy = t.column("entropy", &run.metrics_path()).unwrap();
        assert!(
            entropy[0] > 2.0 && entropy[0] <= 13f64.ln() + 1e-6,
            "{}",
            entropy[0]
        );
        // Prompts of up to 9 tokens and 10 completion tokens need up to 18 positions.
        c.context = 12;
        let e = pretrain(&c, &dir.join("c"), fresh).unwrap_err().to_string();
        assert!(e.contains("`context`") && e.contains("12"), "{e}");
        assert!(
            !dir.join("c").exists(),
            "refused before the run directory is made"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
