//! `pg lm rl`: policy-gradient fine-tuning of the pretrained model on the task's reward.
//!
//! One step, the whole algorithm (each line names the function that does it):
//!
//! 1. draw `P` training prompts and repeat each `k` times (the groups of RLOO and GRPO);
//! 2. sample a completion for each at the configured temperature ([`LmPolicy::generate`]);
//! 3. score each finished text: `r_i` = the task's reward ([`envs::tokens::TokenTask::reward`]),
//!    or with `reward = "model:DIR"` a learned reward model's score ([`learned_reward`]); the
//!    gold score ([`envs::tokens::TokenTask::gold`]) is logged beside it, never optimised;
//! 4. one recorded forward pass over every completion token gives `log π(y_t | s_t)`
//!    ([`LmPolicy::forward`]); one no-grad pass of the frozen reference gives
//!    `log π_ref(y_t | s_t)` ([`LmPolicy::log_probs_into`]);
//! 5. with `kl = k1_reward`, `r_i ← r_i - β Σ_t (log π - log π_ref)` ([`super::kl::kl_penalised_rewards`]);
//! 6. advantages from the rewards ([`advantages`]);
//! 7. loss `-(1/N) Σ_i A_i Σ_t log π(y_t)` (+ `β/N Σ k3` with `kl = k3_loss`) ([`pg_loss`]);
//! 8. backward, clip the gradient norm, one Adam step ([`LmPolicy::clip_and_step`]);
//! 9. with `update = "ppo"`, `update_epochs − 1` more steps on the same completions through
//!    the clipped ratio to the sampling policy ([`clipped_pg_loss`]): GRPO's full objective.
//!
//! The token terms are averaged as `loss_averaging` says
//! ([`crate::lm::batch::TokenBatch::averaged_weights`]).
//!
//! The policy is a copy of the reference at step 0 and the reference never changes. It is the
//! MLP or the transformer the reference is ([`crate::lm::policy`]): every step above but the
//! forward pass and sampling is the same code for both.

use super::advantage::{
    batch_mean_advantages_into, grpo_advantages_into, reinforce_advantages_into,
    rloo_advantages_into,
};
use super::batch::TokenBatch;
use super::checkpoint;
use super::checkpoint::Progress;
use super::config::{Baseline, Estimator, KlMode, REWARD_MODEL_PREFIX, RewardSource, RlConfig};
use super::eval::{Evaluation, evaluate};
use super::generate::Completion;
use super::gpt::batch::SeqBatch;
use super::kl::{exact_kl, kl_penalised_rewards_into};
use super::metrics::{LengthSplit, LmMetrics, mean_std};
use super::objective::{clipped_pg_loss, pg_loss};
use super::policy::{GradStep, LmPolicy};
use super::reward::RewardModel;
use super::run::{
    EVAL_PROMPT_SEED, LmProgress, Session, Start, make_task, write_curve, write_samples,
};
use super::sample::mean_entropy;
use crate::config::Update;
use crate::error::{PgError, Result};
use crate::ppo::RatioStats;
use crate::run::RunOptions;
use crate::run::config::RunConfig;
use crate::run::dir::RunDir;
use crate::run::update::Stepper;
use envs::tokens::{Split, Token, TokenTask};
use std::path::Path;
use std::time::Instant;

/// The advantages of the configured estimator for rewards laid out group by group
/// (`cfg.samples_per_prompt` consecutive completions per prompt).
///
/// ```
/// use policy_gradient::lm::config::{Estimator, RlConfig};
/// use policy_gradient::lm::rl::advantages;
/// let mut c = RlConfig::preset("addition").unwrap();
/// c.samples_per_prompt = 2;
/// c.estimator = Estimator::Rloo;
/// assert_eq!(advantages(&c, &[1.0, 0.0, 1.0, 1.0]), vec![1.0, -1.0, 0.0, 0.0]);
/// ```
pub fn advantages(cfg: &RlConfig, rewards: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    advantages_into(cfg, rewards, &mut out);
    out
}

/// [`advantages`] into `out` (replaced; its buffer reused).
pub fn advantages_into(cfg: &RlConfig, rewards: &[f64], out: &mut Vec<f64>) {
    let k = cfg.samples_per_prompt;
    match (cfg.estimator, cfg.baseline) {
        (Estimator::Reinforce, Baseline::None) => reinforce_advantages_into(rewards, out),
        (Estimator::Reinforce, Baseline::BatchMean) => batch_mean_advantages_into(rewards, out),
        (Estimator::Rloo, _) => rloo_advantages_into(rewards, k, out),
        (Estimator::Grpo, _) => grpo_advantages_into(rewards, k, cfg.grpo_eps, out),
    }
}

/// The reward model the configuration optimises (`reward = "model:DIR"`), checked against the
/// task: it must score texts of the task's vocabulary, and (a transformer) fit its prompts.
/// `None` for the task's own reward.
pub fn learned_reward(
    cfg: &RlConfig,
    task: &dyn TokenTask,
    prompts: &[Vec<Token>],
) -> Result<Option<RewardModel>> {
    let RewardSource::Model(dir) = RewardSource::parse(&cfg.reward, "the configuration")? else {
        return Ok(None);
    };
    // Loading checks the model's vocabulary against the task it names, so the same task means
    // the same vocabulary.
    let rm = super::reward::checkpoint::load(Path::new(&dir))?;
    if rm.task() != cfg.task {
        return Err(PgError::BadConfigValue {
            key: "reward".into(),
            origin: "the configuration".into(),
            message: format!(
                "the reward model in {dir} scores texts of task `{}`, not `{}`",
                rm.task(),
                cfg.task
            ),
        });
    }
    rm.check_fits(task, prompts, &format!("the reward model in {dir}"))?;
    Ok(Some(rm))
}

/// A short name of the estimator for titles: `reinforce`, `reinforce+mean`, `rloo`, `grpo`.
pub fn algo_name(cfg: &RlConfig) -> &'static str {
    match (cfg.estimator, cfg.baseline) {
        (Estimator::Reinforce, Baseline::None) => "reinforce",
        (Estimator::Reinforce, Baseline::BatchMean) => "reinforce+mean",
        (Estimator::Rloo, _) => "rloo",
        (Estimator::Grpo, _) => "grpo",
    }
}

/// What one RL update ([`RlUpdate::step`]) measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateStats {
    /// The surrogate (with the k3 term) of the first gradient step.
    pub loss: f64,
    /// The mean entropy of the policy at the completion tokens, before the update.
    pub entropy: f64,
    /// The mean over completions of the exact `KL(π ‖ π_ref)` summed over their tokens, before
    /// the update.
    pub kl: f64,
    /// The gradient norm of the first step, before clipping.
    pub grad_norm: f32,
    /// The mean fraction of clipped ratios over the PPO epochs after the first (NaN with none).
    pub clip_fraction: f64,
}

/// Steps 4-9 of the module docs, with every buffer kept from step to step: the parameters are
/// lent to the tape and the gradients written into reused tensors
/// ([`LmPolicy::gradients_into`], [`LmPolicy::log_probs_into`]), so a warm update allocates
/// nothing.
#[derive(Default)]
pub struct RlUpdate {
    grad: GradStep,
    /// The reference's pass, and its `log π_ref(· | s_t)` of every row (`[rows × V]`).
    reference: GradStep,
    ref_rows: Vec<f32>,
    /// `log π_ref(y_t | s_t)` of each row's sampled token.
    ref_tok: Vec<f32>,
    /// `log π(y_t | s_t)` before the update (the PPO ratio's denominator).
    old_logp: Vec<f32>,
    /// The exact KL of each row, then its sum per completion.
    exact_kl: Vec<f64>,
    per_sequence: Vec<f64>,
    /// The k1 estimate `log π − log π_ref` of each row.
    k1_rows: Vec<f64>,
    shaped: Vec<f64>,
    advantages: Vec<f64>,
    /// The loss weight `w_t` of each row.
    weights: Vec<f32>,
    clip_fractions: Vec<f64>,
}

impl RlUpdate {
    /// Updates `policy` on the completions of `batch` (and `seqs`, for the transformer) with
    /// their `rewards` (one per completion) and the log-probabilities the frozen `reference`
    /// gives them ([`LmPolicy::log_probs_into`]; it is unchanged): one gradient step of
    /// [`pg_loss`], then with
    /// `update = "ppo"` `update_epochs − 1` steps of [`clipped_pg_loss`], each clipped and
    /// stepped by `opt` at rate `lr`. `None` if a loss is not finite (nothing is stepped from
    /// it).
    #[allow(clippy::too_many_arguments)]
    pub fn step<O: Stepper>(
        &mut self,
        cfg: &RlConfig,
        policy: &mut LmPolicy,
        opt: &mut O,
        batch: &TokenBatch,
        seqs: &SeqBatch,
        rewards: &[f64],
        reference: &mut LmPolicy,
        lr: f32,
    ) -> Option<UpdateStats> {
        let v = policy.vocab();
        let n = batch.sequences();
        // 4. The frozen reference's log-probabilities of the sampled tokens.
        reference.log_probs_into(batch, seqs, &mut self.reference, &mut self.ref_rows);
        let Self {
            grad,
            ref_rows,
            ref_tok,
            old_logp,
            exact_kl: exact,
            per_sequence,
            k1_rows,
            shaped,
            advantages: adv,
            weights,
            clip_fractions,
            ..
        } = self;
        ref_tok.clear();
        ref_tok.extend(
            batch
                .targets()
                .iter()
                .enumerate()
                .map(|(t, &y)| ref_rows[t * v + y]),
        );
        let beta_over_n = (cfg.kl_coef / n as f64) as f32;
        let k3 = || (cfg.kl == KlMode::K3Loss).then_some((&ref_tok[..], beta_over_n));
        let (mut entropy, mut kl) = (0.0, 0.0);
        let loss = policy.gradients_into(grad, batch, seqs, |f| {
            entropy = f.log_probs.with_value(|lp| {
                let rows = lp.data();
                exact.clear();
                exact.extend(
                    rows.chunks_exact(v)
                        .zip(ref_rows.chunks_exact(v))
                        .map(|(p, q)| exact_kl(p, q)),
                );
                mean_entropy(rows, v)
            });
            batch.sum_per_sequence_into(exact, per_sequence);
            kl = per_sequence.iter().sum::<f64>() / n as f64;
            f.token_logp.with_value(|lp| {
                old_logp.clear();
                old_logp.extend_from_slice(lp.data());
            });
            // 5. k1 reward penalty: r_i - β Σ_t (log π(y_t) - log π_ref(y_t)).
            let rewards = if cfg.kl == KlMode::K1Reward {
                k1_rows.clear();
                k1_rows.extend(
                    old_logp
                        .iter()
                        .zip(&ref_tok[..])
                        .map(|(&a, &b)| (a - b) as f64),
                );
                batch.sum_per_sequence_into(k1_rows, per_sequence);
                kl_penalised_rewards_into(rewards, per_sequence, cfg.kl_coef, shaped);
                &shaped[..]
            } else {
                rewards
            };
            // 6-7. Advantages, then the surrogate (and the k3 term).
            advantages_into(cfg, rewards, adv);
            batch.averaged_weights_into(adv, cfg.loss_averaging, weights);
            pg_loss(f.token_logp, weights, k3())
        });
        if !loss.is_finite() {
            return None;
        }
        // 8. Clip the gradient norm and one Adam step.
        let grad_norm = policy.clip_and_step(opt, grad.grads(), cfg.max_grad_norm, lr);
        // 9. With `update = "ppo"`, more steps on the same samples through the clipped ratio
        //    to the policy that sampled them (GRPO's μ inner iterations).
        clip_fractions.clear();
        if cfg.update == Update::Ppo {
            let clip = (cfg.clip_range > 0.0).then_some(cfg.clip_range);
            for _ in 1..cfg.update_epochs {
                let mut fraction = 0.0;
                let loss = policy.gradients_into(grad, batch, seqs, |f| {
                    fraction = f
                        .token_logp
                        .with_value(|lp| RatioStats::of(lp.data(), old_logp, clip).clip_fraction);
                    clipped_pg_loss(f.token_logp, old_logp, weights, clip, k3())
                });
                if !loss.is_finite() {
                    return None;
                }
                clip_fractions.push(fraction);
                policy.clip_and_step(opt, grad.grads(), cfg.max_grad_norm, lr);
            }
        }
        Some(UpdateStats {
            loss: loss as f64,
            entropy,
            kl,
            grad_norm,
            clip_fraction: mean_std(clip_fractions).0,
        })
    }
}

/// Runs RL fine-tuning into `out` (or continues it, with `opts.resume`); returns the run and the
/// final held-out evaluation.
pub fn rl(cfg: &RlConfig, out: &Path, opts: RunOptions) -> Result<(RunDir, Evaluation)> {
    cfg.validate("the configuration")?;
    let task = make_task(&cfg.task)?;
    let mut reference = checkpoint::load(Path::new(&cfg.reference))?;
    // A new run stores its reference as an absolute path, so `--resume` works from anywhere.
    let absolute;
    let cfg = if opts.resume {
        cfg
    } else {
        let path =
            std::fs::canonicalize(&cfg.reference).map_err(|e| PgError::io(&cfg.reference, e))?;
        let reward = match RewardSource::parse(&cfg.reward, "the configuration")? {
            RewardSource::Task => cfg.reward.clone(),
            RewardSource::Model(dir) => {
                let dir = std::fs::canonicalize(&dir).map_err(|e| {
                    let message = format!("`{}`: {e}; expected a pg lm reward run", cfg.reward);
                    crate::run::config::bad_value("reward", "the configuration", message)
                })?;
                format!("{REWARD_MODEL_PREFIX}{}", dir.display())
            }
        };
        absolute = RlConfig {
            reference: path.display().to_string(),
            reward,
            ..cfg.clone()
        };
        &absolute
    };
    if reference.task() != cfg.task {
        return Err(PgError::BadConfigValue {
            key: "reference".into(),
            origin: "the configuration".into(),
            message: format!(
                "{} was trained on task `{}`, not `{}`",
                cfg.reference,
                reference.task(),
                cfg.task
            ),
        });
    }
    // Everything that can be refused is checked before the run directory is made.
    let eval_prompts = task.held_out_prompts(cfg.eval_prompts, EVAL_PROMPT_SEED);
    let origin = format!("the model in {}", cfg.reference);
    reference.check_prompts_fit(&*task, &eval_prompts, &origin)?;
    let learned = learned_reward(cfg, &*task, &eval_prompts)?;
    let start = Start {
        out,
        config_toml: &cfg.to_toml(),
        seed: cfg.seed,
        lr: cfg.lr,
        opts,
        spec: &reference.spec(),
        // Row 0 (the reference before training) and one row per step.
        rows_before: 1,
        checkpoint_every: cfg.checkpoint_every,
        command: "pg lm rl",
    };
    let mut s = Session::start(start, || reference.clone())?;
    let done = s.done;
    let score = |cs: &[Completion]| -> Vec<f64> {
        match &learned {
            Some(rm) => rm.score(cs.iter().map(|c| (&c.prompt[..], &c.completion[..]))),
            None => cs
                .iter()
                .map(|c| task.reward(&c.prompt, &c.completion))
                .collect(),
        }
    };
    let mean_gold = |cs: &[Completion]| {
        let g: Vec<f64> = cs
            .iter()
            .map(|c| task.gold(&c.prompt, &c.completion))
            .collect();
        mean_std(&g).0
    };
    let per_step = cfg.samples_per_step() as u64;
    let steps = cfg.total_samples.div_ceil(per_step);
    let mut progress = LmProgress::new(steps, opts.quiet);
    if learned.is_some() {
        progress = progress.with_gold_column();
    }
    progress.println(format!(
        "RL on {} with {}, kl {:?} (beta {}), {} completions per step, {steps} steps",
        cfg.task,
        algo_name(cfg),
        cfg.kl,
        cfg.kl_coef,
        per_step
    ));
    let mut update = RlUpdate::default();
    // The completion tokens as windows (the MLP's rows, and the order of every per-token
    // quantity) and, for the transformer, as whole sequences.
    let mut batch = reference.token_batch();
    let mut seqs = SeqBatch::default();
    let transformer = matches!(reference, LmPolicy::Transformer(_));
    let clock = Instant::now();

    let mut last_eval = None;
    if done.step == 0 {
        // Row 0: the pretrained model before any update.
        let e0 = evaluate(&s.policy, &*task, &eval_prompts, &mut s.eval_rng);
        let mut row0 = LmMetrics {
            heldout_accuracy: e0.accuracy,
            heldout_greedy_accuracy: e0.greedy_accuracy,
            heldout_reward: e0.reward,
            heldout_gold: mean_gold(&e0.samples),
            kl: 0.0,
            elapsed_seconds: 0.0,
            ..LmMetrics::default()
        };
        row0.record_lengths(LengthSplit::of(&*task, &e0.samples));
        s.writer.append(&row0)?;
        progress.step(&row0);
    }
    let (mut samples, mut tokens) = (done.samples, done.tokens);
    for step in done.step + 1..=steps {
        // 1-2. Prompts, each repeated k times, and their sampled completions.
        let prompts: Vec<Vec<Token>> = (0..cfg.prompts_per_step)
            .flat_map(|_| {
                let p = task.sample_prompt(Split::Train, &mut s.data_rng);
                std::iter::repeat_n(p, cfg.samples_per_prompt)
            })
            .collect();
        reference.check_prompts_fit(&*task, &prompts, &origin)?;
        if let Some(rm) = &learned {
            rm.check_fits(&*task, &prompts, "the reward model")?;
        }
        let completions = s
            .policy
            .generate(&*task, &prompts, cfg.temperature, &mut s.data_rng);
        // 3. Rewards of the finished texts: the task's, or the learned model's score.
        let rewards = score(&completions);
        let successes = completions
            .iter()
            .filter(|c| task.is_success(&c.prompt, &c.completion))
            .count();
        batch.clear();
        seqs.clear();
        for c in &completions {
            batch.push(&c.prompt, &c.completion);
            if transformer {
                seqs.push(&c.prompt, &c.completion);
            }
        }
        let n = completions.len();
        samples += n as u64;
        tokens += batch.rows() as u64;
        // 4. The frozen reference's log-probabilities of the sampled tokens.
        let lr = cfg.lr_schedule.rate(cfg.lr, step - 1, steps);
        // 4-9. The update.
        let Some(u) = update.step(
            cfg,
            &mut s.policy,
            &mut s.adam,
            &batch,
            &seqs,
            &rewards,
            &mut reference,
            lr,
        ) else {
            return Err(s.non_finite(step, "policy loss"));
        };
        let (reward, reward_std) = mean_std(&rewards);
        let elapsed = clock.elapsed().as_secs_f64();
        let mut m = LmMetrics {
            step,
            samples,
            tokens,
            loss: u.loss,
            reward,
            reward_std,
            train_success: successes as f64 / n as f64,
            kl: u.kl,
            entropy: u.entropy,
            grad_norm: u.grad_norm as f64,
            gold: mean_gold(&completions),
            clip_fraction: u.clip_fraction,
            samples_per_second: (samples - done.samples) as f64 / elapsed.max(1e-9),
            elapsed_seconds: elapsed,
            ..LmMetrics::default()
        };
        m.record_lengths(LengthSplit::of(&*task, &completions));
        if step % cfg.eval_every == 0 || step == steps {
            let e = evaluate(&s.policy, &*task, &eval_prompts, &mut s.eval_rng);
            m.record_heldout(&e);
            m.heldout_gold = mean_gold(&e.samples);
            last_eval = Some(e);
        }
        s.end_step(&m, &mut progress)?;
    }
    let now = Progress {
        step: steps,
        samples,
        tokens,
    };
    s.finish(now, &progress)?;
    // The last step always evaluates; a run resumed after its last step evaluates once more.
    let last_eval = match last_eval {
        Some(e) => e,
        None => evaluate(&s.policy, &*task, &eval_prompts, &mut s.eval_rng),
    };
    write_curve(
        &s.run,
        "heldout_accuracy",
        &format!("{} on {}", algo_name(cfg), cfg.task),
    )?;
    write_samples(
        &s.run.samples_path(),
        &*task,
        &format!(
            "held-out samples at temperature 1 after RL (accuracy {:.3}, greedy {:.3}, reward {:.3})",
            last_eval.accuracy, last_eval.greedy_accuracy, last_eval.reward
        ),
        &last_eval.samples,
    )?;
    Ok((s.run, last_eval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::config::PretrainConfig;
    use crate::lm::pretrain::pretrain;

    #[test]
    fn estimator_dispatch_matches_the_pure_functions() {
        let mut c = RlConfig::preset("addition").unwrap();
        c.samples_per_prompt = 3;
        let r = [2.0, 4.0, 9.0];
        c.estimator = Estimator::Reinforce;
        c.baseline = Baseline::None;
        assert_eq!(advantages(&c, &r), r.to_vec());
        c.baseline = Baseline::BatchMean;
        assert_eq!(advantages(&c, &r), vec![-3.0, -1.0, 4.0]);
        c.estimator = Estimator::Rloo;
        assert_eq!(advantages(&c, &r), vec![-4.5, -1.5, 6.0]);
        c.estimator = Estimator::Grpo;
        c.grpo_eps = 0.0;
        let s = 13f64.sqrt();
        let a = advantages(&c, &r);
        assert!((a[2] - 4.0 / s).abs() < 1e-12);
        assert_eq!(algo_name(&c), "grpo");
    }

    #[test]
    fn a_tiny_rl_run_is_reproducible_and_refuses_a_wrong_reference() {
        let dir = std::env::temp_dir().join(format!("pg-lm-rl-{}", std::process::id()));
        let mut p = PretrainConfig::preset("reviews").unwrap();
        p.hidden_sizes = vec![16];
        p.steps = 10;
        p.batch_size = 8;
        p.eval_every = 10;
        p.eval_prompts = 4;
        let fresh = RunOptions {
            force: true,
            ..crate::run::QUIET
        };
        pretrain(&p, &dir.join("ref"), fresh).unwrap();
        let mut c = RlConfig::preset("reviews").unwrap();
        c.reference = dir.join("ref").display().to_string();
        c.prompts_per_step = 2;
        c.samples_per_prompt = 3;
        c.total_samples = 18;
        c.eval_every = 2;
        c.eval_prompts = 4;
        for kl in [KlMode::None, KlMode::K1Reward, KlMode::K3Loss] {
            c.kl = kl;
            let (_, a) = rl(&c, &dir.join("a"), fresh).unwrap();
            let (run, b) = rl(&c, &dir.join("b"), fresh).unwrap();
            assert_eq!(a, b, "{kl:?}");
            let same = |d: &str| {
                crate::lm::run::csv_without_wall_clock(&dir.join(d).join("metrics.csv")).unwrap()
            };
            assert_eq!(same("a"), same("b"), "{kl:?}: bit-identical metrics");
            let path = run.metrics_path();
            let t = crate::metrics::Table::read(&path).unwrap();
            // A row before training, then 3 steps of 6 completions.
            assert_eq!(
                t.column("samples", &path).unwrap(),
                vec![0.0, 6.0, 12.0, 18.0]
            );
            let kl_col = t.column("kl", &path).unwrap();
            assert_eq!(kl_col[0], 0.0);
            // The length columns split each step's mean length by success:
            // mean_length = s · length_right + (1 − s) · length_wrong (a side with no
            // completion is nan and counts 0).
            let col = |name: &str| t.column(name, &path).unwrap();
            let (mean, success) = (col("mean_length"), col("train_success"));
            let (right, wrong) = (col("length_right"), col("length_wrong"));
            for i in 1..mean.len() {
                let part = |share: f64, length: f64| if share > 0.0 { share * length } else { 0.0 };
                let split = part(success[i], right[i]) + part(1.0 - success[i], wrong[i]);
                assert!(
                    (split - mean[i]).abs() < 1e-9,
                    "{kl:?} row {i}: {split} vs {}",
                    mean[i]
                );
            }
            // The first step samples from the reference itself: only rounding separates them.
            assert!(
                kl_col[1].abs() < 1e-5,
                "the first step is on-reference: {}",
                kl_col[1]
            );
        }
        // GRPO's full objective: three clipped steps per batch, sequence-level averaging. It
        // moves the model differently from one step ...
        let one_step = crate::lm::run::csv_without_wall_clock(&dir.join("b").join("metrics.csv"));
        c.update = Update::Ppo;
        c.update_epochs = 3;
        c.estimator = Estimator::Grpo;
        c.loss_averaging = crate::lm::config::LossAveraging::Sequence;
        rl(&c, &dir.join("b"), fresh).unwrap();
        let ppo = crate::lm::run::csv_without_wall_clock(&dir.join("b").join("metrics.csv"));
        assert_ne!(ppo.unwrap(), one_step.unwrap());
        // ... and, like every run, stops after step 1 (as by Ctrl-C) and resumes to the same
        // metrics and model.
        let stop = RunOptions {
            stop_after: Some(1),
            ..fresh
        };
        let e = rl(&c, &dir.join("d"), stop).unwrap_err();
        assert!(matches!(e, PgError::Interrupted { .. }), "{e}");
        assert!(e.to_string().contains("`pg lm rl --resume "), "{e}");
        let resume = RunOptions {
            resume: true,
            ..fresh
        };
        let (_, d) = rl(&c, &dir.join("d"), resume).unwrap();
        let (_, a) = rl(&c, &dir.join("a"), fresh).unwrap();
        assert_eq!(d, a);
        let same = |p: &str| {
            crate::lm::run::csv_without_wall_clock(&dir.join(p).join("metrics.csv")).unwrap()
        };
        assert_eq!(same("d"), same("a"), "resumed run");
        assert_eq!(
            checkpoint::load(&dir.join("d")).unwrap(),
            checkpoint::load(&dir.join("a")).unwrap()
        );
        // A diverging run (an absurd step size blows the weights up in the first update) stops
        // at the first non-finite loss and names the checkpoint it saved before.
        let diverging = RlConfig {
            lr: 1e38,
            checkpoint_every: 1,
            update: Update::Pg,
            ..c.clone()
        };
        let e = rl(&diverging, &dir.join("e"), fresh).unwrap_err();
        let PgError::NonFiniteLoss {
            at,
            unit: "step",
            checkpoint: Some(ckpt),
            ..
        } = &e
        else {
            panic!("expected a non-finite loss with a checkpoint, got {e}");
        };
        assert!(*at >= 2, "{e}");
        assert_eq!(ckpt, &dir.join("e").join("checkpoints").join("latest.ckpt"));
        let text = e.to_string();
        assert!(text.contains("the last good checkpoint is"), "{e}");
        assert!(
            text.contains(&format!("at step {at}")) && !text.contains("epoch"),
            "{e}"
        );
        c.task = "addition".into();
        let e = rl(&c, &dir.join("c"), fresh).unwrap_err().to_string();
        assert!(e.contains("trained on task `reviews`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_transformer_fine_tunes_on_reference_and_resumes_exactly() {
        let dir = crate::run::dir::fresh_test_dir("lm-rl-gpt");
        let mut p = PretrainConfig::preset("reverse").unwrap();
        p.model = crate::lm::config::ModelKind::Transformer;
        (p.context, p.width, p.heads, p.layers) = (20, 16, 2, 1);
        // Enough pretraining that some sampled answers are right: with every reward 0 (and the
        // policy at the reference) there is nothing to follow.
        (p.steps, p.batch_size, p.eval_every, p.eval_prompts, p.lr) = (40, 16, 40, 4, 0.01);
        let fresh = RunOptions {
            force: true,
            ..crate::run::QUIET
        };
        pretrain(&p, &dir.join("ref"), fresh).unwrap();
        let mut c = RlConfig::preset("reverse").unwrap();
        c.reference = dir.join("ref").display().to_string();
        (c.prompts_per_step, c.samples_per_prompt, c.total_samples) = (4, 4, 48);
        (c.eval_every, c.eval_prompts) = (1, 4);
        (c.kl, c.kl_coef) = (KlMode::K3Loss, 0.1);
        (c.update, c.update_epochs) = (Update::Ppo, 2);
        let (run, a) = rl(&c, &dir.join("a"), fresh).unwrap();
        let path = run.metrics_path();
        let t = crate::metrics::Table::read(&path).unwrap();
        let kl_col = t.column("kl", &path).unwrap();
        // The first step samples from the reference itself: only rounding separates them.
        assert!(
            kl_col[1].abs() < 1e-5,
            "first step on-reference: {}",
            kl_col[1]
        );
        let rewards = t.column("reward", &path).unwrap();
        assert!(rewards[1..].iter().any(|&r| r > 0.0), "{rewards:?}");
        assert!(
            kl_col[2..].iter().any(|&k| k > 1e-4),
            "the policy moves: {kl_col:?}"
        );
        let stop = RunOptions {
            stop_after: Some(1),
            ..fresh
        };
        assert!(rl(&c, &dir.join("b"), stop).is_err());
        let resume = RunOptions {
            resume: true,
            ..fresh
        };
        let (_, b) = rl(&c, &dir.join("b"), resume).unwrap();
        assert_eq!(a, b);
        let same = |d: &str| {
            crate::lm::run::csv_without_wall_clock(&dir.join(d).join("metrics.csv")).unwrap()
        };
        assert_eq!(same("a"), same("b"), "resumed run");
        assert_eq!(
            checkpoint::load(&dir.join("a")).unwrap(),
            checkpoint::load(&dir.join("b")).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
