//! Preference data: pairs of completions of one prompt, one marked better, standing in for a
//! human rater's choices.
//!
//! For each prompt the policy samples two completions; the task's gold judge
//! ([`envs::tokens::TokenTask::gold`]) scores both, and the higher one is *chosen*. Pairs the
//! judge scores equally carry no preference and are dropped (as raters' ties usually are).
//! Raters also make mistakes: with probability `label_noise` the label is flipped. Held-out pairs
//! are drawn from the held-out prompts without noise, so the accuracy on them measures agreement
//! with the gold judge itself.

use crate::error::{PgError, Result};
use crate::lm::policy::LmPolicy;
use envs::tokens::{Split, Token, TokenTask};
use rand::Rng;

/// Prompts drawn per pair asked for before giving up on collecting enough pairs with a
/// preference (a policy whose completions differ in gold score once in a hundred still gives
/// its pairs).
pub const MAX_PROMPTS_PER_PAIR: usize = 100;

/// One labelled comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preference {
    /// The prompt.
    pub prompt: Vec<Token>,
    /// The completion the (possibly mistaken) rater preferred.
    pub chosen: Vec<Token>,
    /// The other one.
    pub rejected: Vec<Token>,
}

/// How to draw a set of pairs.
#[derive(Clone, Copy, Debug)]
pub struct Draw<'a> {
    /// The policy that writes the completions.
    pub policy: &'a LmPolicy,
    /// The task: its prompts and its gold judge.
    pub task: &'a dyn TokenTask,
    /// Training or held-out prompts.
    pub split: Split,
    /// Sampling temperature of the completions.
    pub temperature: f32,
    /// Probability of flipping each label.
    pub label_noise: f64,
}

/// Draws `n` labelled pairs (see the module docs), sampling rounds of prompts (as many as pairs
/// are missing, at least 16) until `n` pairs differ in gold score; an error once
/// [`MAX_PROMPTS_PER_PAIR`]` · n` prompts have not given enough of them.
pub fn sample_preferences<R: Rng>(d: &Draw<'_>, n: usize, rng: &mut R) -> Result<Vec<Preference>> {
    let mut out = Vec::with_capacity(n);
    let mut drawn = 0usize;
    while out.len() < n && drawn < MAX_PROMPTS_PER_PAIR.saturating_mul(n) {
        let want = (n - out.len()).max(16);
        let prompts: Vec<Vec<Token>> = (0..want)
            .flat_map(|_| {
                let p = d.task.sample_prompt(d.split, rng);
                [p.clone(), p]
            })
            .collect();
        d.policy.check_prompts_fit(d.task, &prompts, "the policy")?;
        let completions = d.policy.generate(d.task, &prompts, d.temperature, rng);
        drawn += want;
        for two in completions.chunks_exact(2) {
            let (a, b) = (&two[0], &two[1]);
            let (ga, gb) = (
                d.task.gold(&a.prompt, &a.completion),
                d.task.gold(&b.prompt, &b.completion),
            );
            let flip = rng.gen_bool(d.label_noise);
            if ga == gb || out.len() >= n {
                continue;
            }
            let (better, worse) = if ga > gb { (a, b) } else { (b, a) };
            let (chosen, rejected) = if flip {
                (worse, better)
            } else {
                (better, worse)
            };
            out.push(Preference {
                prompt: a.prompt.clone(),
                chosen: chosen.completion.clone(),
                rejected: rejected.completion.clone(),
            });
        }
    }
    if out.len() < n {
        return Err(PgError::Other(
            format!(
                "only {} of {n} pairs of completions differ in gold score after {drawn} prompts of task `{}`: the policy's completions are too alike to compare (a less trained policy, or a higher temperature, gives more)",
                out.len(),
                d.task.id()
            )
            .into(),
        ));
    }
    Ok(out)
}

/// The texts of `pairs` laid out chosen, rejected, chosen, rejected, …, as
/// [`super::loss::bradley_terry_loss`] reads their scores.
pub fn pair_texts<'a>(pairs: &[&'a Preference]) -> Vec<(&'a [Token], &'a [Token])> {
    pairs
        .iter()
        .flat_map(|p| {
            [
                (p.prompt.as_slice(), p.chosen.as_slice()),
                (p.prompt.as_slice(), p.rejected.as_slice()),
            ]
        })
        .collect()
}

/// The fraction of pairs ranked as labelled, from scores laid out as [`pair_texts`]: a pair
/// counts 1 if `r_c > r_j`, ½ on a tie, 0 otherwise.
///
/// ```
/// use policy_gradient::lm::reward::data::pair_accuracy;
/// assert_eq!(pair_accuracy(&[2.0, 1.0, 0.0, 3.0, 5.0, 5.0]), 0.5);
/// ```
pub fn pair_accuracy(scores: &[f64]) -> f64 {
    let pairs = scores.len() / 2;
    if pairs == 0 {
        return f64::NAN;
    }
    let right: f64 = scores
        .chunks_exact(2)
        .map(|s| match s[0].partial_cmp(&s[1]) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Equal) => 0.5,
            _ => 0.0,
        })
        .sum();
    right / pairs as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::model::ModelSpec;
    use crate::lm::policy::PolicySpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn fresh_policy(task: &dyn TokenTask) -> LmPolicy {
        let spec = PolicySpec::Mlp(ModelSpec {
            task: task.id().into(),
            vocab: task.vocab().len(),
            context: 4,
            embed_dim: 4,
            hidden_sizes: vec![8],
            activation: crate::config::Activation::Tanh,
        });
        LmPolicy::new(&spec, &mut ChaCha8Rng::seed_from_u64(0))
    }

    #[test]
    fn pairs_are_ranked_by_the_gold_judge_and_noise_flips_them() {
        let task = envs::tokens::make("dialogue").unwrap();
        let policy = fresh_policy(&*task);
        let mut d = Draw {
            policy: &policy,
            task: &*task,
            split: Split::Train,
            temperature: 1.0,
            label_noise: 0.0,
        };
        let clean = sample_preferences(&d, 40, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
        assert_eq!(clean.len(), 40);
        let gold = |p: &Preference, c: &[Token]| task.gold(&p.prompt, c);
        assert!(
            clean
                .iter()
                .all(|p| gold(p, &p.chosen) > gold(p, &p.rejected))
        );
        // The same seed with noise draws the same pairs, some of them flipped.
        d.label_noise = 0.3;
        let noisy = sample_preferences(&d, 40, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
        let flipped = noisy
            .iter()
            .zip(&clean)
            .filter(|(n, c)| n.chosen == c.rejected && n.rejected == c.chosen)
            .count();
        assert!(noisy.iter().zip(&clean).all(|(n, c)| n.prompt == c.prompt));
        assert!(
            (4..=22).contains(&flipped),
            "{flipped} of 40 flipped at 0.3"
        );
    }

    #[test]
    fn a_policy_whose_completions_never_differ_is_an_error() {
        // Addition's gold score is 1 only for the exact sum: a random policy never writes it.
        let task = envs::tokens::make("addition").unwrap();
        let policy = fresh_policy(&*task);
        let d = Draw {
            policy: &policy,
            task: &*task,
            split: Split::Train,
            temperature: 1.0,
            label_noise: 0.0,
        };
        let e = sample_preferences(&d, 50, &mut ChaCha8Rng::seed_from_u64(0));
        let e = e.unwrap_err().to_string();
        assert!(e.contains("of 50 pairs") && e.contains("`addition`"), "{e}");
    }
}
