//! Policy gradients for a tiny language model: the control-task REINFORCE applied to text.
//!
//! Sampling a completion is an episode: the state is the prefix, the action is the next token,
//! and the return is the reward of the finished text (tasks live in [`envs::tokens`]).
//!
//! - [`advantage`]: the sequence-level advantage estimators (REINFORCE with and without a
//!   batch-mean baseline, RLOO, GRPO), each a pure function with its formula beside it.
//! - [`kl`]: the KL divergence to the frozen reference and its k1/k2/k3 estimators.
//! - [`sample`]: drawing a token from logits with a temperature.
//! - [`config`]: the typed configurations of `pg lm pretrain` and `pg lm rl`.
//! - [`model`]: the token policy (embeddings of the last C tokens, concatenated, through an MLP).
//! - [`generate`]: sampling completions for many prompts in lock-step.
//! - [`pretrain`]: `pg lm pretrain`, maximum likelihood on the training text.
//! - [`rl`]: `pg lm rl`, fine-tuning with REINFORCE, RLOO or GRPO and the KL penalty.
//! - [`cli`]: the `pg lm` subcommands.
//! - [`checkpoint`]: saving and loading a token policy.
//! - [`run`]: run directories, progress display and curves.
//! - [`objective`]: the pretraining and RL losses on the tape.
//! - [`eval`]: held-out accuracy (sampled and greedy), reward and length.
//! - [`embedding`]: the token-embedding lookup as a custom tape op.
//! - [`metrics`]: the columns of an `pg lm` run's `metrics.csv`.
//! - [`batch`]: laying out completions as one row per token for teacher forcing.

pub mod advantage;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod embedding;
pub mod eval;
pub mod generate;
pub mod kl;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod pretrain;
pub mod rl;
pub mod run;
pub mod sample;
