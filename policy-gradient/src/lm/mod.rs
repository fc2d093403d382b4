//! Policy gradients for a tiny language model: the control-task REINFORCE applied to text.
//!
//! # From CartPole to text
//!
//! | control task | text generation | where |
//! |---|---|---|
//! | state `s_t` | the prefix: prompt and tokens so far (the model reads its last `C` tokens) | [`envs::tokens::Episode::context_into`] |
//! | action `a_t ~ π(· ∣ s_t)` | the next token, sampled from `softmax(logits / T)` | [`sample::sample_token`] |
//! | policy network | embeddings of the last `C` tokens, concatenated, through an MLP; or a transformer reading the whole prefix (`model = "transformer"`) | [`model::TokenPolicy::logits`], [`gpt::GptArch::logits`] |
//! | episode ends | the end token (terminated) or the maximum length (truncated) | [`envs::tokens::Episode::step`] |
//! | reward | 0 at every token, the task's score of the finished text at the end | [`envs::tokens::TokenTask::reward`] |
//! | return `R(τ)` | the sequence reward `r` (no discount: every token shares it) | [`rl::rl`] |
//! | `log π(τ)` | `Σ_t log π(y_t ∣ s_t)`, one batched forward over all tokens | [`objective::forward`] |
//!
//! With the whole reward at the end and `γ = 1`, reward-to-go equals the return for every token,
//! so REINFORCE's gradient is `E[A · Σ_t ∇log π(y_t|s_t)]` with one advantage `A` per completion
//! ([`objective::pg_loss`]). What is left to choose is the baseline in `A = r - b`
//! ([`advantage`]).
//!
//! # Why group baselines instead of a value network
//!
//! In the control tasks a learned `V(s)` is the baseline, and it is worth its cost because rewards
//! arrive at every step and states recur. Here the reward arrives once, at the end, and depends
//! mostly on the prompt: a good baseline is "how well does the policy usually do on *this*
//! prompt". Sampling `k` completions of the same prompt measures exactly that, without a second
//! network, its training, or its errors: RLOO uses the mean of the other `k - 1` rewards
//! (unbiased, [`advantage::rloo_advantages`]), GRPO the group mean and standard deviation
//! ([`advantage::grpo_advantages`]). A value network would have to predict, from the prompt
//! alone, a number the group gives for the price of a few extra samples; for large language
//! models it is also a second copy of the model to keep in memory. The batch-mean baseline
//! ([`advantage::batch_mean_advantages`]) ignores the prompt and so removes less variance.
//!
//! # Keeping the policy near the reference
//!
//! RL is only as good as its reward. On the gameable `reviews` task, maximising the word-counting
//! reward alone turns sentences into `fun fun fun fun`. The cure is a penalty on the divergence
//! from the pretrained reference, estimated from the sampled tokens ([`kl`]): k1 subtracted from
//! the reward, or k3 added to the loss, each with its coefficient β.
//!
//! - [`advantage`]: the sequence-level advantage estimators (REINFORCE with and without a
//!   batch-mean baseline, RLOO, GRPO), each a pure function with its formula beside it.
//! - [`kl`]: the KL divergence to the frozen reference and its k1/k2/k3 estimators.
//! - [`sample`]: drawing a token from logits with a temperature.
//! - [`config`]: the typed configurations of `pg lm pretrain` and `pg lm rl`.
//! - [`model`]: the token policy (embeddings of the last C tokens, concatenated, through an MLP).
//! - [`gpt`]: the transformer policy (a small GPT) and sampling it with a key-value cache.
//! - [`policy`]: either of the two, as the runs use them (`model = "mlp" | "transformer"`).
//! - [`gradvar`]: the measured gradient variance of each estimator at a fixed policy.
//! - [`generate`]: sampling completions for many prompts in lock-step.
//! - [`pretrain`]: `pg lm pretrain`, maximum likelihood on the training text.
//! - [`rl`]: `pg lm rl`, fine-tuning with REINFORCE, RLOO or GRPO and the KL penalty, on the
//!   task's reward or a learned one.
//! - [`reward`]: `pg lm reward`, a reward model learned from preferences (RLHF's first half).
//! - [`cli`]: the `pg lm` subcommands.
//! - [`checkpoint`]: the one-file checkpoint: the model, and the counters, RNG streams and
//!   optimiser state an exact resume needs.
//! - [`run`]: the task and RNG streams, starting or resuming a run, progress display and curves
//!   (on top of the run machinery in [`crate::run`], shared with `pg train`).
//! - [`objective`]: the pretraining and RL losses on the tape.
//! - [`eval`]: held-out accuracy (sampled and greedy), reward and length.
//! - [`metrics`]: the columns of an `pg lm` run's `metrics.csv`.
//! - [`batch`]: laying out completions as one row per token for teacher forcing.

pub mod advantage;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod eval;
pub mod generate;
pub mod gpt;
pub mod gradvar;
pub mod kl;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod policy;
pub mod pretrain;
pub mod reward;
pub mod rl;
pub mod run;
pub mod sample;
