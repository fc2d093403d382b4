//! Sampling completions: many episodes stepped in lock-step with one batched forward pass.
//!
//! Each active episode contributes its context window (its state) as one row; one no-grad forward
//! gives every row's logits; each row samples its next token (the action) in order from one RNG;
//! episodes that emit the end token terminate, those that reach the task's maximum length are
//! truncated, and the rest go round again. Rows are sampled in a fixed order, so the same seed
//! gives the same completions.

use super::model::TokenPolicy;
use super::sample::sample_token;
use envs::tokens::{Episode, Status, Token, TokenTask};
use rand::Rng;

/// A finished episode: prompt, completion and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The prompt.
    pub prompt: Vec<Token>,
    /// The generated tokens (ending with the end token when terminated).
    pub completion: Vec<Token>,
    /// [`Status::Terminated`] or [`Status::Truncated`].
    pub status: Status,
}

impl From<Episode> for Completion {
    /// The episode's prompt, completion and status.
    fn from(ep: Episode) -> Self {
        Completion {
            prompt: ep.prompt().to_vec(),
            completion: ep.completion().to_vec(),
            status: ep.status(),
        }
    }
}

impl Completion {
    /// One line for a reader: `prompt -> completion  [ok|--] reward r` (`ok` when the task
    /// counts the completion a success), as `pg lm sample` prints and `samples.txt` holds.
    pub fn describe(&self, task: &dyn TokenTask) -> String {
        let v = task.vocab();
        format!(
            "{} -> {}  [{}] reward {}",
            v.render(&self.prompt),
            v.render(&self.completion),
            if task.is_success(&self.prompt, &self.completion) {
                "ok"
            } else {
                "--"
            },
            task.reward(&self.prompt, &self.completion)
        )
    }
}

/// Samples one completion per prompt at `temperature` (0: greedy), in the prompts' order.
///
pub fn generate<R: Rng + ?Sized>(
    policy: &TokenPolicy,
    task: &dyn TokenTask,
    prompts: &[Vec<Token>],
    temperature: f32,
    rng: &mut R,
) -> Vec<Completion> {
    let v = task.vocab().len();
    assert_eq!(
        policy.spec().vocab,
        v,
        "generate: the policy has {} outputs but task {} has {v} tokens",
        policy.spec().vocab,
        task.id()
    );
    let c = policy.spec().context;
    let mut episodes: Vec<Episode> = prompts
        .iter()
        .map(|p| Episode::new(p, task.max_completion_len(), v))
        .collect();
    let mut active: Vec<usize> = (0..episodes.len()).collect();
    let mut contexts: Vec<Token> = Vec::new();
    let mut logp: Vec<f32> = Vec::new();
    while !active.is_empty() {
        contexts.resize(active.len() * c, 0);
        for (row, &e) in contexts.chunks_exact_mut(c).zip(&active) {
            episodes[e].context_into(row);
        }
        // Sampling from log-probabilities is sampling from the logits (softmax is shift-invariant).
        policy.log_probs_into(&contexts, &mut logp);
        for (row, &e) in logp.chunks_exact(v).zip(&active) {
            let token = sample_token(row, temperature, rng);
            episodes[e]
                .step(token)
                .expect("a running episode accepts any token of its vocabulary");
        }
        active.retain(|&e| !episodes[e].status().is_done());
    }
    episodes.into_iter().map(Completion::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use crate::lm::model::ModelSpec;
    use envs::tokens::{Addition, EOS};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn policy(task: &dyn TokenTask, seed: u64) -> TokenPolicy {
        let spec = ModelSpec {
            task: task.id().into(),
            vocab: task.vocab().len(),
            context: 4,
            embed_dim: 3,
            hidden_sizes: vec![8],
            activation: Activation::Relu,
        };
        TokenPolicy::new(spec, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn a_completion_is_described_with_its_verdict_and_reward() {
        let task = Addition::new(2, 0.0).unwrap();
        let v = task.vocab();
        let line = |text: &str| {
            let mut completion = v.encode(text).unwrap();
            completion.push(envs::tokens::EOS);
            Completion {
                prompt: task.prompt(37, 85),
                completion,
                status: Status::Terminated,
            }
            .describe(&task)
        };
        assert_eq!(line("122"), "37+85= -> 122<eos>  [ok] reward 1");
        assert_eq!(line("121"), "37+85= -> 121<eos>  [--] reward 0");
    }

    #[test]
    fn every_episode_ends_within_the_limit_and_keeps_its_prompt() {
        let task = Addition::new(2, 0.0).unwrap();
        let p = policy(&task, 0);
        let prompts = task.held_out_prompts(40, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let out = generate(&p, &task, &prompts, 1.0, &mut rng);
        assert_eq!(out.len(), 40);
        for (c, prompt) in out.iter().zip(&prompts) {
            assert_eq!(&c.prompt, prompt);
            assert!(!c.completion.is_empty());
            assert!(c.completion.len() <= task.max_completion_len());
            match c.status {
                Status::Terminated => assert_eq!(c.completion.last(), Some(&EOS)),
                Status::Truncated => {
                    assert_eq!(c.completion.len(), task.max_completion_len());
                    assert!(!c.completion.contains(&EOS));
                }
                Status::Running => panic!("a returned episode is finished"),
            }
        }
    }

    #[test]
    fn same_seed_same_completions_and_greedy_is_deterministic() {
        let task = Addition::new(2, 0.0).unwrap();
        let p = policy(&task, 1);
        let prompts = task.held_out_prompts(16, 2);
        let run = |seed, t| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            generate(&p, &task, &prompts, t, &mut rng)
        };
        assert_eq!(run(3, 1.0), run(3, 1.0));
        assert_ne!(run(3, 1.0), run(4, 1.0));
        assert_eq!(run(3, 0.0), run(4, 0.0));
        // The batched result equals generating each prompt alone (greedy, so no RNG coupling).
        let together = run(0, 0.0);
        for (i, prompt) in prompts.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let alone = generate(&p, &task, std::slice::from_ref(prompt), 0.0, &mut rng);
            assert_eq!(alone[0], together[i]);
        }
    }
}
