//! Held-out evaluation: success rate, reward and length of completions to prompts never trained on.
//!
//! Accuracy is measured twice: sampling at temperature 1 (the policy as it is, the quantity RL
//! optimises) and greedily (its single most likely answer). Imitating noisy text can make the two
//! differ widely: a model that puts 70% on the right answer is right 70% of the time when
//! sampled but always right when greedy.

use super::generate::Completion;
use super::policy::LmPolicy;
use envs::tokens::{Token, TokenTask};
use rand::Rng;

/// The result of one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Success rate of completions sampled at temperature 1.
    pub accuracy: f64,
    /// Success rate of greedy completions.
    pub greedy_accuracy: f64,
    /// Mean reward of the sampled completions.
    pub reward: f64,
    /// Mean length of the sampled completions (end token included).
    pub mean_length: f64,
    /// The sampled completions, in prompt order.
    pub samples: Vec<Completion>,
}

/// Evaluates `policy` on `prompts` (see the module docs).
pub fn evaluate<R: Rng + ?Sized>(
    policy: &LmPolicy,
    task: &dyn TokenTask,
    prompts: &[Vec<Token>],
    rng: &mut R,
) -> Evaluation {
    evaluate_with(|p, t, r| policy.generate(task, p, t, r), task, prompts, rng)
}

/// Evaluates the sampler `sample(prompts, temperature, rng)` on `prompts`: any policy's
/// generation (the MLP's [`crate::lm::generate::generate`], the GPT's [`crate::lm::gpt::cache::generate`]).
pub fn evaluate_with<R: Rng + ?Sized>(
    mut sample: impl FnMut(&[Vec<Token>], f32, &mut R) -> Vec<Completion>,
    task: &dyn TokenTask,
    prompts: &[Vec<Token>],
    rng: &mut R,
) -> Evaluation {
    let n = prompts.len().max(1) as f64;
    let samples = sample(prompts, 1.0, rng);
    let greedy = sample(prompts, 0.0, rng);
    let rate = |cs: &[Completion]| {
        cs.iter()
            .filter(|c| task.is_success(&c.prompt, &c.completion))
            .count() as f64
            / n
    };
    Evaluation {
        accuracy: rate(&samples),
        greedy_accuracy: rate(&greedy),
        reward: samples
            .iter()
            .map(|c| task.reward(&c.prompt, &c.completion))
            .sum::<f64>()
            / n,
        mean_length: samples.iter().map(|c| c.completion.len()).sum::<usize>() as f64 / n,
        samples,
    }
}
