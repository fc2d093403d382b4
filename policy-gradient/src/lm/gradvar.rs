//! Measuring what a baseline buys: the variance of each estimator's gradient at a fixed policy.
//!
//! Final accuracies hide the mechanism, so this measures it directly. At a fixed policy, draw `B`
//! independent batches (`P` prompts × `k` completions each); on each batch compute the gradient
//! `g_e` of the surrogate of every estimator `e` from the *same* samples (a paired comparison);
//! then report, per estimator,
//!
//! ```text
//! mean gradient      ḡ = (1/B) Σ_b g_b
//! total variance     tr Cov(g) = (1/(B-1)) Σ_b ‖g_b - ḡ‖²
//! signal             ‖E g‖² ≈ ‖ḡ‖² - tr Cov(g) / B   (‖ḡ‖² alone is biased up by the noise)
//! signal-to-noise    ‖E g‖² / tr Cov(g)
//! ```
//!
//! An unbiased baseline leaves `E[g]` unchanged and lowers `tr Cov(g)`; GRPO's normalisation also
//! rescales the gradient, which signal-to-noise (unlike the variance alone) does not reward.

use super::config::{Baseline, Estimator, RlConfig};
use super::generate::Completion;
use super::gpt::batch::SeqBatch;
use super::objective::pg_loss;
use super::policy::LmPolicy;
use super::rl::{advantages, algo_name};
use super::run::stream_rng;
use crate::error::Result;
use autograd::{Gradients, Tape};
use envs::tokens::{Split, Token, TokenTask};

/// The gradient statistics of one estimator.
#[derive(Clone, Debug, PartialEq)]
pub struct GradStats {
    /// `reinforce`, `reinforce+mean`, `rloo` or `grpo`.
    pub estimator: &'static str,
    /// `‖E g‖²` estimated without bias as `‖ḡ‖² - tr Cov(g)/B` (can come out slightly negative
    /// when the signal is buried in noise).
    pub mean_sq_norm: f64,
    /// `tr Cov(g)`, the summed variance of every gradient coordinate.
    pub total_variance: f64,
    /// `‖ḡ‖² / tr Cov(g)`.
    pub signal_to_noise: f64,
}

/// The four estimators, in the order reported.
pub fn estimators(base: &RlConfig) -> Vec<RlConfig> {
    [
        (Estimator::Reinforce, Baseline::None),
        (Estimator::Reinforce, Baseline::BatchMean),
        (Estimator::Rloo, Baseline::None),
        (Estimator::Grpo, Baseline::None),
    ]
    .iter()
    .map(|&(estimator, baseline)| RlConfig {
        estimator,
        baseline,
        ..base.clone()
    })
    .collect()
}

/// Measures every estimator of [`estimators`] over `batches` batches drawn with `seed`, with the
/// task's reward.
///
/// Panics if `batches < 2` (a variance needs two samples). A prompt longer than a transformer
/// reads is an error ([`LmPolicy::check_prompts_fit`]).
pub fn measure(
    policy: &LmPolicy,
    task: &dyn TokenTask,
    base: &RlConfig,
    batches: usize,
    seed: u64,
) -> Result<Vec<GradStats>> {
    measure_with(policy, task, base, batches, seed, |c| {
        task.reward(&c.prompt, &c.completion)
    })
}

/// [`measure`] with any reward function of the completion.
pub fn measure_with(
    policy: &LmPolicy,
    task: &dyn TokenTask,
    base: &RlConfig,
    batches: usize,
    seed: u64,
    reward: impl Fn(&Completion) -> f64,
) -> Result<Vec<GradStats>> {
    assert!(
        batches >= 2,
        "measure: need at least 2 batches, got {batches}"
    );
    let configs = estimators(base);
    let dim = policy.spec().num_params();
    let mut sums = vec![vec![0.0f64; dim]; configs.len()];
    let mut sq_sums = vec![0.0f64; configs.len()];
    let mut rng = stream_rng(seed, 5);
    let mut tape = Tape::<f32>::new();
    let mut grads = Gradients::new();
    let mut batch = policy.token_batch();
    let mut seqs = SeqBatch::default();
    let mut flat = vec![0.0f64; dim];
    for _ in 0..batches {
        let prompts: Vec<Vec<Token>> = (0..base.prompts_per_step)
            .flat_map(|_| {
                let p = task.sample_prompt(Split::Train, &mut rng);
                std::iter::repeat_n(p, base.samples_per_prompt)
            })
            .collect();
        policy.check_prompts_fit(task, &prompts, "the model")?;
        let completions = policy.generate(task, &prompts, 1.0, &mut rng);
        let rewards: Vec<f64> = completions.iter().map(&reward).collect();
        batch.clear();
        seqs.clear();
        for c in &completions {
            batch.push(&c.prompt, &c.completion);
            if matches!(policy, LmPolicy::Transformer(_)) {
                seqs.push(&c.prompt, &c.completion);
            }
        }
        for (e, cfg) in configs.iter().enumerate() {
            let weights = batch.row_weights(&advantages(cfg, &rewards));
            tape.reset();
            let (params, f) = policy.forward(&tape, &batch, &seqs);
            pg_loss(f.token_logp, &weights, None).backward_into(&mut grads);
            let mut k = 0;
            for &v in &params {
                for &g in grads[v].data() {
                    flat[k] = g as f64;
                    k += 1;
                }
            }
            for (s, &g) in sums[e].iter_mut().zip(&flat) {
                *s += g;
            }
            sq_sums[e] += flat.iter().map(|g| g * g).sum::<f64>();
        }
    }
    let b = batches as f64;
    Ok(configs
        .iter()
        .zip(sums.iter().zip(&sq_sums))
        .map(|(cfg, (sum, &sq))| {
            let mean_bar_sq = sum.iter().map(|s| (s / b).powi(2)).sum::<f64>();
            // Σ_b ‖g_b - ḡ‖² = Σ_b ‖g_b‖² - B ‖ḡ‖²
            let total_variance = (sq - b * mean_bar_sq) / (b - 1.0);
            // E‖ḡ‖² = ‖E g‖² + tr Cov(g)/B
            let mean_sq_norm = mean_bar_sq - total_variance / b;
            GradStats {
                estimator: algo_name(cfg),
                mean_sq_norm,
                total_variance,
                signal_to_noise: mean_sq_norm / total_variance,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use crate::lm::model::ModelSpec;
    use crate::lm::policy::{PolicySpec, TransformerSpec};
    use envs::tokens::Addition;
    use rand::SeedableRng;

    #[test]
    fn baselines_are_blind_to_a_constant_reward_and_reinforce_is_not() {
        // Every completion scores 1. The expected gradient is 0 for every estimator (a constant
        // has nothing to teach), but only the baselines see that on each batch: their
        // advantages are exactly 0, while REINFORCE's A_i = 1 pushes up whatever was sampled.
        let task = Addition::new(1, 0.0).unwrap();
        let spec = ModelSpec {
            task: "addition".into(),
            vocab: task.vocab().len(),
            context: 4,
            embed_dim: 3,
            hidden_sizes: vec![8],
            activation: Activation::Relu,
        };
        let mlp = PolicySpec::Mlp(spec);
        let transformer = PolicySpec::Transformer(TransformerSpec {
            task: "addition".into(),
            gpt: crate::lm::gpt::GptSpec {
                vocab: task.vocab().len(),
                context: 8,
                width: 8,
                heads: 2,
                layers: 1,
            },
        });
        for spec in [mlp, transformer] {
            let policy = LmPolicy::new(&spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
            constant_reward_case(&policy, &task);
        }
    }

    fn constant_reward_case(policy: &LmPolicy, task: &Addition) {
        let mut cfg = RlConfig::preset("addition").unwrap();
        cfg.prompts_per_step = 4;
        cfg.samples_per_prompt = 2;
        let stats = measure_with(policy, task, &cfg, 4, 0, |_| 1.0).unwrap();
        let names: Vec<&str> = stats.iter().map(|s| s.estimator).collect();
        assert_eq!(names, ["reinforce", "reinforce+mean", "rloo", "grpo"]);
        assert!(stats[0].total_variance > 1e-6, "{:?}", stats[0]);
        for s in &stats[1..] {
            assert_eq!((s.mean_sq_norm, s.total_variance), (0.0, 0.0), "{s:?}");
        }
        // With the task's own reward the statistics are finite and the variance non-negative.
        for s in measure(policy, task, &cfg, 2, 1).unwrap() {
            assert!(
                s.mean_sq_norm.is_finite() && s.total_variance >= -1e-9,
                "{s:?}"
            );
        }
    }
}
