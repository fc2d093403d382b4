//! Token-sequence tasks: environments whose actions are tokens and whose episodes are texts.
//!
//! Generating a completion is an episode (see [`Episode`]): the state is the prefix, each action is
//! the next token, the episode terminates at the end token [`EOS`] or is truncated at the task's
//! maximum completion length, and the only reward arrives at the end, computed from the finished
//! text by [`TokenTask::reward`]. A task also supplies
//!
//! - a [`Vocab`] (two special tokens, then characters),
//! - a prompt distribution with a training split and a held-out split ([`Split`]),
//! - a generator of *training text* ([`TokenTask::demonstration`]) for supervised pretraining,
//! - a ground-truth judgement ([`TokenTask::is_success`]) that is what we really want, which the
//!   reward may or may not measure faithfully.
//!
//! Four tasks are registered (see [`make`]):
//!
//! | id | prompt → completion | reward | success |
//! |---|---|---|---|
//! | `addition` | `37+85=` → `122<eos>` | 1 for an exact match, else 0 | exact match |
//! | `reviews` | `the plot` → ` was dull and long<eos>` | positive minus negative words | a well-formed sentence |
//! | `dialogue` | `spell cat` → `c a t<eos>` | a gold judge of correctness, topic and concision | a correct, on-topic, concise reply |
//! | `reverse` | `4821=` → `1284<eos>` | 1 for an exact match, else 0 | exact match (needs tokens beyond a 10-token window) |
//!
//! `addition` is *verifiable*, and its training text is wrong a fixed fraction of the time, so
//! imitation alone leaves the model imperfect and RL on the verifier's reward can fix it.
//! `reviews` is *gameable*: the proxy reward counts words, so a policy free to drift from its
//! pretrained self learns to repeat positive words instead of writing sentences; a KL penalty to
//! the pretrained reference is what keeps it honest. `dialogue` is the one-turn conversation of
//! the RLHF chapter: its gold judge stands in for human raters, and its training text carries a
//! surface feature (a polite filler) that a reward model learned from preferences can mistake for
//! quality.
//!
//! Every task also has a *gold* score ([`TokenTask::gold`]): what a careful human rater would
//! say of a completion. The RLHF pipeline labels preference pairs with it and measures it, but
//! never optimises it.
//!
//! This module knows nothing of policies or gradients (`envs` does not depend on `autograd`).

mod addition;
mod dialogue;
mod episode;
mod reverse;
mod reviews;
mod vocab;

pub use addition::{Addition, DEFAULT_DIGITS, DEFAULT_NOISE, MAX_DIGITS};
pub use dialogue::{
    COLOURS, DEMO_ACCURACY, Dialogue, FILLER, FILLER_IF_RIGHT, FILLER_IF_WRONG, GREETINGS,
    Judgement, MAX_COUNT, SPELL_WORDS, Turn,
};
pub use episode::{Episode, Status, context_window};
pub use reverse::{DEFAULT_REVERSE_DIGITS, DEFAULT_REVERSE_NOISE, MAX_REVERSE_DIGITS, Reverse};
pub use reviews::Reviews;
pub use vocab::{BOS, EOS, Token, Vocab};

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// Which part of the prompt distribution to draw from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Prompts for training text and RL.
    Train,
    /// Prompts never used for training, for measuring generalisation. Disjoint from `Train` when
    /// the task has enough distinct prompts (see each task's docs).
    HeldOut,
}

/// A token-sequence environment: what the episode looks like and how finished text is scored.
pub trait TokenTask: Send + Sync + fmt::Debug {
    /// The registry id (`"addition"`, `"reviews"`).
    fn id(&self) -> &str;

    /// One line on what the task is, for `pg lm tasks` and logs.
    fn describe(&self) -> String;

    /// The vocabulary; `vocab().len()` is the width of the policy's output.
    fn vocab(&self) -> &Vocab;

    /// Maximum number of completion tokens, end token included; an episode that reaches it
    /// without [`EOS`] is truncated.
    fn max_completion_len(&self) -> usize;

    /// Draws a prompt from the split.
    fn sample_prompt(&self, split: Split, rng: &mut dyn RngCore) -> Vec<Token>;

    /// The training text for a prompt: a completion as the (possibly imperfect) demonstrator
    /// writes it, ending with [`EOS`] and no longer than [`TokenTask::max_completion_len`].
    fn demonstration(&self, prompt: &[Token], rng: &mut dyn RngCore) -> Vec<Token>;

    /// The return of the episode: the score of the completion (as generated, ending with [`EOS`]
    /// if it terminated, cut at the maximum length if it was truncated).
    fn reward(&self, prompt: &[Token], completion: &[Token]) -> f64;

    /// Whether the completion is what we really want (see [`TokenTask::success_name`]).
    fn is_success(&self, prompt: &[Token], completion: &[Token]) -> bool;

    /// What [`TokenTask::is_success`] means for this task, e.g. `"exact match"`.
    fn success_name(&self) -> &'static str;

    /// The gold score: what a careful human rater would give the completion. It labels the
    /// preference pairs a reward model learns from, and it is measured (never optimised) while a
    /// policy is trained against that learned model. By default it is the task's reward, for
    /// tasks whose reward already says what we want.
    fn gold(&self, prompt: &[Token], completion: &[Token]) -> f64 {
        self.reward(prompt, completion)
    }

    /// A reproducible evaluation set: `n` prompts from the held-out split, drawn with `seed`.
    fn held_out_prompts(&self, n: usize, seed: u64) -> Vec<Vec<Token>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| self.sample_prompt(Split::HeldOut, &mut rng))
            .collect()
    }
}

/// The registered task ids.
pub const TASK_IDS: &[&str] = &["addition", "reviews", "dialogue", "reverse"];

/// Builds a registered task with its default settings.
///
/// ```
/// let task = envs::tokens::make("addition").unwrap();
/// assert_eq!(task.vocab().len(), 14);
/// assert!(envs::tokens::make("poetry").is_err());
/// ```
pub fn make(id: &str) -> Result<Box<dyn TokenTask>, TokenError> {
    match id {
        "addition" => Ok(Box::new(Addition::default())),
        "reviews" => Ok(Box::new(Reviews::new())),
        "dialogue" => Ok(Box::new(Dialogue::new())),
        "reverse" => Ok(Box::new(Reverse::default())),
        _ => Err(TokenError::UnknownId {
            id: id.to_string(),
            known: TASK_IDS.to_vec(),
        }),
    }
}

/// Everything that can go wrong in this module.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenError {
    /// No task has this id.
    UnknownId {
        /// The id asked for.
        id: String,
        /// The ids that exist.
        known: Vec<&'static str>,
    },
    /// A character cannot be used in a vocabulary.
    BadVocabulary {
        /// The offending character.
        ch: char,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// Text holds a character the vocabulary does not have.
    UnknownChar {
        /// The offending character.
        ch: char,
        /// The text being encoded.
        text: String,
    },
    /// A token id outside the vocabulary.
    InvalidToken {
        /// The id given.
        token: Token,
        /// The vocabulary size (valid ids are `0..vocab_len`).
        vocab_len: usize,
    },
    /// `step` was called on an episode that has already terminated or been truncated.
    EpisodeDone,
    /// A task setting outside its valid range.
    BadSetting {
        /// The setting's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::UnknownId { id, known } => {
                write!(
                    f,
                    "unknown token task {id:?}; known tasks: {}",
                    known.join(", ")
                )
            }
            TokenError::BadVocabulary { ch, reason } => {
                write!(f, "cannot put {ch:?} in a vocabulary: {reason}")
            }
            TokenError::UnknownChar { ch, text } => {
                write!(f, "character {ch:?} in {text:?} is not in the vocabulary")
            }
            TokenError::InvalidToken { token, vocab_len } => write!(
                f,
                "token {token} is outside the vocabulary (expected 0..{vocab_len})"
            ),
            TokenError::EpisodeDone => write!(
                f,
                "the episode has already finished; reset it before stepping again"
            ),
            TokenError::BadSetting {
                name,
                value,
                expected,
            } => write!(f, "bad {name} {value}: expected {expected}"),
        }
    }
}

impl std::error::Error for TokenError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_builds_every_id_and_names_the_known_ones() {
        for id in TASK_IDS {
            let task = make(id).unwrap();
            assert_eq!(task.id(), *id);
        }
        let err = make("Addition").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"Addition\"") && msg.contains("addition, reviews, dialogue"),
            "{msg}"
        );
    }

    /// Properties every task must have, checked on many seeded prompts.
    #[test]
    fn every_task_keeps_its_contract() {
        for id in TASK_IDS {
            let task = make(id).unwrap();
            let v = task.vocab().len();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            for split in [Split::Train, Split::HeldOut] {
                for _ in 0..200 {
                    let prompt = task.sample_prompt(split, &mut rng);
                    assert!(!prompt.is_empty());
                    assert!(prompt.iter().all(|&t| t > EOS && t < v), "{id}: {prompt:?}");
                    let demo = task.demonstration(&prompt, &mut rng);
                    assert_eq!(demo.last(), Some(&EOS), "{id}: demonstration must end");
                    assert!(demo.len() <= task.max_completion_len());
                    assert!(demo[..demo.len() - 1].iter().all(|&t| t > EOS && t < v));
                    // The demonstration runs as an episode that terminates exactly at its end.
                    let mut ep = Episode::new(&prompt, task.max_completion_len(), v);
                    for (i, &t) in demo.iter().enumerate() {
                        let status = ep.step(t).unwrap();
                        assert_eq!(status.is_done(), i + 1 == demo.len());
                    }
                    assert_eq!(ep.status(), Status::Terminated);
                    assert!(task.reward(&prompt, &demo).is_finite());
                }
            }
        }
    }

    #[test]
    fn held_out_prompts_are_reproducible() {
        let task = make("addition").unwrap();
        assert_eq!(task.held_out_prompts(20, 3), task.held_out_prompts(20, 3));
        assert_ne!(task.held_out_prompts(20, 3), task.held_out_prompts(20, 4));
    }
}
