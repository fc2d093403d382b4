//! The upper bound of every size a user can give, checked before anything is allocated by it.
//!
//! A size from a config key, a flag or a file decides how much memory a run allocates; an absurd
//! one (`steps_per_env = 1000000000000`) would abort the process in the allocator. Each size is
//! therefore checked against its bound here first, and exceeding it is a one-line error naming
//! the key and the bound. The bounds are far above every preset and every experiment in the
//! README, and low enough that the largest allowed run still fits in a few GB.
//!
//! | key | bound | what it sizes |
//! |---|---|---|
//! | `num_envs` | [`NUM_ENVS`] | the vector env, one row of each forward pass per env |
//! | `steps_per_env` | [`STEPS_PER_ENV`] | the rollout buffers |
//! | `num_envs × steps_per_env` | [`BATCH_STEPS`] | the rollout buffers and the tape |
//! | `batch_episodes`: `⌈batch_episodes / num_envs⌉ ×` the env's time limit, per env and `× num_envs` | [`STEPS_PER_ENV`], [`BATCH_STEPS`] | the rollout buffers of a batch of whole episodes, which grow as the episodes need |
//! | `solved_window` | [`SOLVED_WINDOW`] | the window of recent returns |
//! | `hidden_sizes` (each) | [`HIDDEN_WIDTH`] | the MLP's layers |
//! | `hidden_sizes` (count) | [`HIDDEN_LAYERS`] | the MLP's layers |
//! | all parameters of a network | [`PARAMETERS`] | the networks, their gradients and Adam moments |
//! | `context` (LM) | [`CONTEXT`] | the model's input and every batch's context rows |
//! | `embed_dim` (LM) | [`EMBED_DIM`] | the embedding table and the MLP input |
//! | `batch_size` (LM pretraining) | [`SEQUENCES_PER_STEP`] | the batch of texts per step |
//! | `prompts_per_step × samples_per_prompt` (LM RL, `gradvar`) | [`SEQUENCES_PER_STEP`] | the completions sampled per step |
//! | `eval_prompts` (LM) | [`EVAL_PROMPTS`] | the held-out prompt set |
//! | `pg lm sample -n` (times the prompts given) | [`SAMPLES`] | the completions sampled at once |
//! | `pg lm gradvar --batches` | [`GRADVAR_BATCHES`] | the batches drawn |
//! | `pg eval --episodes` | [`EVAL_EPISODES`] | the returns kept |
//! | `update_epochs` (PPO) | [`UPDATE_EPOCHS`] | the passes over each batch (time, not memory) |

/// Most environment copies stepped together.
pub const NUM_ENVS: u64 = 4096;
/// Most steps per environment per epoch.
pub const STEPS_PER_ENV: u64 = 1_000_000;
/// Most environment steps in one epoch's batch (`num_envs × steps_per_env`).
pub const BATCH_STEPS: u64 = 1_000_000;
/// Most episodes in the moving average.
pub const SOLVED_WINDOW: u64 = 1_000_000;
/// Widest hidden layer.
pub const HIDDEN_WIDTH: u64 = 4096;
/// Most hidden layers.
pub const HIDDEN_LAYERS: u64 = 16;
/// Most scalar parameters of one network.
pub const PARAMETERS: u64 = 50_000_000;
/// Longest LM context window.
pub const CONTEXT: u64 = 256;
/// Widest LM token embedding.
pub const EMBED_DIM: u64 = 1024;
/// Most sequences (texts or completions) in one LM step.
pub const SEQUENCES_PER_STEP: u64 = 16_384;
/// Most held-out prompts in an LM evaluation.
pub const EVAL_PROMPTS: u64 = 100_000;
/// Most completions `pg lm sample` draws.
pub const SAMPLES: u64 = 100_000;
/// Most batches `pg lm gradvar` draws.
pub const GRADVAR_BATCHES: u64 = 100_000;
/// Most episodes `pg eval` plays.
pub const EVAL_EPISODES: u64 = 10_000_000;
/// Most passes of a PPO update over one batch.
pub const UPDATE_EPOCHS: u64 = 1_000;

use crate::error::Result;
use crate::run::config::check_size;

/// Checks a list of hidden widths: each in `1..=HIDDEN_WIDTH`, at most [`HIDDEN_LAYERS`] of them.
pub fn check_hidden(key: &str, sizes: &[usize], origin: &str) -> Result<()> {
    check_size(
        &format!("{key} (number of layers)"),
        sizes.len() as u64,
        0,
        HIDDEN_LAYERS,
        origin,
    )?;
    for &w in sizes {
        check_size(key, w as u64, 1, HIDDEN_WIDTH, origin)?;
    }
    Ok(())
}

/// Checks the sizes of a token model: `context` and `embed_dim` within [`CONTEXT`] and
/// [`EMBED_DIM`], the hidden widths as [`check_hidden`] does.
pub fn check_token_model(
    context: usize,
    embed_dim: usize,
    hidden: &[usize],
    origin: &str,
) -> Result<()> {
    check_size("context", context as u64, 1, CONTEXT, origin)?;
    check_size("embed_dim", embed_dim as u64, 1, EMBED_DIM, origin)?;
    check_hidden("hidden_sizes", hidden, origin)
}

/// The number of scalar parameters of an MLP with layer widths `sizes` (weights and biases),
/// saturating instead of overflowing.
pub fn mlp_parameters(sizes: &[u64]) -> u64 {
    sizes
        .windows(2)
        .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
        .fold(0u64, u64::saturating_add)
}

/// Checks a parameter count against [`PARAMETERS`].
pub fn check_parameters(key: &str, count: u64, origin: &str) -> Result<()> {
    check_size(
        &format!("{key} (parameters in total)"),
        count,
        0,
        PARAMETERS,
        origin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_saturate() {
        assert_eq!(mlp_parameters(&[4, 8, 2]), 4 * 8 + 8 + 8 * 2 + 2);
        assert_eq!(mlp_parameters(&[u64::MAX, u64::MAX]), u64::MAX);
        let e = check_hidden("hidden_sizes", &[64, 5000], "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`hidden_sizes`") && e.contains("4096"), "{e}");
        assert!(check_hidden("hidden_sizes", &[0], "f").is_err());
        assert!(check_hidden("hidden_sizes", &[8; 17], "f").is_err());
    }
}
