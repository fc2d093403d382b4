//! The GPT's gradient: a weighted sum of next-token log-probabilities, its parameters lent to
//! the tape and their gradients swapped out (no copy of either).
//!
//! Both losses of the language-model runs are of one form over the rows (token positions) of a
//! batch, `L = −Σ_r w_r log π(y_r | x_{≤r})`: pretraining's mean negative log-likelihood has
//! `w_r = 1/R` on the rows that are scored, and the REINFORCE surrogate has `w_r = A_{seq(r)}/N`
//! (see [`crate::lm::objective`]). A row with `w_r = 0` (a prompt token, or padding after a short
//! sequence) costs its share of the forward pass and adds nothing to the gradient.

use super::Gpt;
use autograd::{Tape, Tensor};
use dense::Element;
use envs::tokens::Token;

/// Records `L = −Σ_r w_r log π(y_r | x_{≤r})` for `batch` equal-length sequences of `tokens`
/// with `targets` and `weights` (one each per row, in the rows' order), writes `∂L/∂θ` into
/// `grads` (one tensor per parameter, in [`super::GptSpec::param_names`] order; their buffers
/// are reused) and returns `L`.
///
/// The parameters are lent to `tape` and back: `model` is unchanged when this returns.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use policy_gradient::lm::gpt::{Gpt, GptSpec, train::weighted_nll_gradients};
/// use rand::SeedableRng;
/// let spec = GptSpec { vocab: 5, context: 4, width: 8, heads: 2, layers: 1 };
/// let mut model = Gpt::<f32>::new(spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let mut grads = vec![Tensor::empty(); model.params().len()];
/// // One sequence `2 3 4`, predicting `3 4 1`; every row weighs 1/3 (the mean NLL).
/// let loss = weighted_nll_gradients(
///     &mut model, &mut Tape::new(), &[2, 3, 4], 1, &[3, 4, 1], &[1.0 / 3.0; 3], &mut grads,
/// );
/// assert!((loss - 5f32.ln()).abs() < 0.05); // a fresh model is nearly uniform over 5 tokens
/// assert_eq!(grads[0].shape(), &[5, 8]);
/// ```
///
/// # Panics
/// As [`super::GptArch::logits`], or if `targets`, `weights` or `grads` have the wrong length.
pub fn weighted_nll_gradients<T: Element>(
    model: &mut Gpt<T>,
    tape: &mut Tape<T>,
    tokens: &[Token],
    batch: usize,
    targets: &[Token],
    weights: &[T],
    grads: &mut [Tensor<T>],
) -> T {
    weighted_nll_gradients_with(model, tape, tokens, batch, targets, weights, grads, |_| {})
}

/// [`weighted_nll_gradients`], also showing `look` the log-probabilities `[rows, V]` of every
/// position (e.g. to measure the policy's entropy without a second forward pass).
#[allow(clippy::too_many_arguments)]
pub fn weighted_nll_gradients_with<T: Element>(
    model: &mut Gpt<T>,
    tape: &mut Tape<T>,
    tokens: &[Token],
    batch: usize,
    targets: &[Token],
    weights: &[T],
    grads: &mut [Tensor<T>],
    look: impl FnOnce(&Tensor<T>),
) -> T {
    let rows = tokens.len();
    assert!(
        targets.len() == rows && weights.len() == rows,
        "weighted_nll_gradients: {rows} rows, {} targets, {} weights",
        targets.len(),
        weights.len()
    );
    tape.reset();
    let (arch, params) = model.split_mut();
    let lent = tape.lend_params(params);
    let logits = arch.logits(|k| lent.var(k), tokens, batch);
    // log π(y_r | x_{≤r}) of each row's target, then −Σ_r w_r log π(y_r | ·).
    let log_probs = logits.log_softmax(1);
    log_probs.with_value(look);
    let token_logp = log_probs.gather(1, targets);
    let w = tape.constant_from_slice(weights, &[rows]);
    let loss = -(token_logp * w).sum();
    let value = loss.item();
    loss.backward_to(&lent, grads);
    value
}
