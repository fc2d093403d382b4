//! Gymnasium-faithful classic-control environments.
#![warn(missing_docs)]

/// Token-sequence tasks for language-model policy gradients: vocabulary, prompts, end token, reward.
pub mod tokens;
