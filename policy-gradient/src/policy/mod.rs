//! Policies: the distributions over actions and the networks that parameterise them.
//!
//! - [`categorical`]: softmax over logits, for discrete action spaces.
//! - [`gaussian`]: diagonal Gaussian with a state-independent log-std, for continuous ones.

pub mod categorical;
pub mod gaussian;
