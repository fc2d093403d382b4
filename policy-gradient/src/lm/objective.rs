//! The two losses, written on the tape: maximum likelihood for pretraining and the policy-gradient
//! surrogate (with the optional k3 KL term) for RL.
//!
//! Both start from the per-token log-probabilities `log π(y_t | s_t)` of a [`TokenBatch`], one
//! forward pass for all rows ([`forward`]).
//!
//! **Pretraining** ([`nll_loss`]) minimises the mean negative log-likelihood of the training
//! text's completion tokens, `L = -(1/T) Σ_t log π(y_t | s_t)`.
//!
//! **RL** ([`pg_loss`]) minimises the REINFORCE surrogate whose gradient is the policy gradient
//! (see [`crate::lm::advantage`]):
//!
//! ```text
//! L = -(1/N) Σ_i A_i Σ_{t ∈ i} log π(y_t | s_t)   [+ β (1/N) Σ_i Σ_{t ∈ i} k3_t]
//!   = -Σ_t w_t log π(y_t | s_t)                    with w_t = A_{seq(t)} / N
//! k3_t = e^{log π_ref(y_t) - log π(y_t)} - (log π_ref(y_t) - log π(y_t)) - 1
//! ```
//!
//! The advantages are constants (no gradient flows through the rewards or the baseline); the k3
//! term is differentiated through `log π`, giving `β/N (1 - π_ref/π)` per token
//! ([`crate::lm::kl::k3_grad_logp`]). With one gradient step per batch of fresh samples the
//! PPO/GRPO probability ratio is exactly 1 and its clipping never acts, which is why GRPO with
//! `update = "pg"` is this surrogate with GRPO's advantages. With `update = "ppo"` the batch
//! serves `update_epochs` steps, and later steps use the clipped ratio ([`clipped_pg_loss`]):
//! GRPO's full objective.

use super::batch::TokenBatch;
use super::model::TokenPolicy;
use crate::ppo::clipped_objective;
use autograd::{Tape, Var};

/// What one recorded forward pass over a batch gives.
#[derive(Clone, Copy)]
pub struct Forward<'t> {
    /// `log π(· | s_t)` for every row: `[rows, V]`.
    pub log_probs: Var<'t, f32>,
    /// `log π(y_t | s_t)` of each row's target token: `[rows]`.
    pub token_logp: Var<'t, f32>,
}

/// Records the policy on every row of `batch`, its parameters copied onto the tape as leaves;
/// returns them (in [`TokenPolicy::param_vars`] order: read their gradients there) and the
/// recording. [`TokenPolicy::gradients_into`] lends them instead, for a training step.
pub fn forward<'t>(
    policy: &TokenPolicy,
    tape: &'t Tape<f32>,
    batch: &TokenBatch,
) -> (Vec<Var<'t, f32>>, Forward<'t>) {
    let params = policy.param_vars(tape);
    let log_probs = policy.logits(&params, batch.contexts()).log_softmax(1);
    let token_logp = log_probs.gather(1, batch.targets());
    (
        params,
        Forward {
            log_probs,
            token_logp,
        },
    )
}

/// `L = -(1/T) Σ_t log π(y_t | s_t)` over the `T` rows (completion tokens) of the batch.
pub fn nll_loss<'t>(token_logp: Var<'t, f32>) -> Var<'t, f32> {
    -token_logp.mean()
}

/// The RL surrogate `-Σ_t w_t log π(y_t | s_t)`, plus `β/N Σ_t k3_t` when `k3` is
/// `Some((log π_ref(y_t) per row, β/N))`.
///
/// Panics if the lengths do not match the rows of `token_logp`.
pub fn pg_loss<'t>(
    token_logp: Var<'t, f32>,
    weights: &[f32],
    k3: Option<(&[f32], f32)>,
) -> Var<'t, f32> {
    let tape = token_logp.tape();
    let rows = token_logp.numel();
    assert_eq!(
        weights.len(),
        rows,
        "pg_loss: {} weights for {rows} rows",
        weights.len()
    );
    let w = tape.constant_from_slice(weights, &[rows]);
    // -Σ_t w_t log π(y_t | s_t)
    let surrogate = -(token_logp * w).sum();
    with_k3(surrogate, token_logp, k3)
}

/// The clipped surrogate of PPO (GRPO's full objective with GRPO's advantages) over the tokens,
/// `-Σ_t min(r_t w_t, clip(r_t, 1 − ε, 1 + ε) w_t)` with `r_t = π(y_t)/π_old(y_t)` and the
/// averaged advantages `w_t` of [`super::batch::TokenBatch::averaged_weights`] (which are the
/// advantage times a positive weight, so the min is taken as PPO takes it), plus the k3 term as in
/// [`pg_loss`]. At `r = 1` its gradient is [`pg_loss`]'s ([`crate::ppo`] shows why).
pub fn clipped_pg_loss<'t>(
    token_logp: Var<'t, f32>,
    old_logp: &[f32],
    weights: &[f32],
    clip_range: Option<f32>,
    k3: Option<(&[f32], f32)>,
) -> Var<'t, f32> {
    let surrogate = -clipped_objective(token_logp, old_logp, weights, clip_range).sum();
    with_k3(surrogate, token_logp, k3)
}

/// `surrogate + β/N Σ_t k3_t` when `k3` is `Some((log π_ref(y_t) per row, β/N))`.
fn with_k3<'t>(
    surrogate: Var<'t, f32>,
    token_logp: Var<'t, f32>,
    k3: Option<(&[f32], f32)>,
) -> Var<'t, f32> {
    let rows = token_logp.numel();
    match k3 {
        None => surrogate,
        Some((ref_logp, beta_over_n)) => {
            assert_eq!(
                ref_logp.len(),
                rows,
                "pg_loss: {} reference log-probs for {rows} rows",
                ref_logp.len()
            );
            let lr = token_logp.tape().constant_from_slice(ref_logp, &[rows]);
            // k3 = e^{d} - d - 1 with d = log π_ref - log π
            let d = lr - token_logp;
            let k3 = d.exp() - d - 1.0;
            surrogate + k3.sum() * beta_over_n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::kl::{k3, k3_grad_logp};
    use autograd::Tensor;

    #[test]
    fn nll_is_the_mean_negative_log_likelihood() {
        let tape = Tape::<f32>::new();
        let lp = tape.param(&Tensor::from_vec(vec![-1.0, -3.0], &[2]));
        let loss = nll_loss(lp);
        assert_eq!(loss.item(), 2.0);
        assert_eq!(loss.backward()[lp].data(), &[-0.5, -0.5]);
    }

    #[test]
    fn surrogate_value_and_gradient_by_hand() {
        // Two rows with weights (0.5, -0.25): L = -(0.5·(-1) + (-0.25)·(-2)) = 0.
        let tape = Tape::<f32>::new();
        let lp = tape.param(&Tensor::from_vec(vec![-1.0, -2.0], &[2]));
        let loss = pg_loss(lp, &[0.5, -0.25], None);
        assert_eq!(loss.item(), 0.0);
        // ∂L/∂log π_t = -w_t
        assert_eq!(loss.backward()[lp].data(), &[-0.5, 0.25]);
    }

    #[test]
    fn k3_term_adds_its_value_and_its_gradient() {
        let (lp, lr) = ([-1.0f32, -0.2], [-0.5f32, -2.0]);
        let w = [0.5f32, -0.25];
        let beta_over_n = 0.3f32;
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(lp.to_vec(), &[2]));
        let loss = pg_loss(v, &w, Some((&lr, beta_over_n)));
        let k3_sum: f64 = (0..2).map(|t| k3(lp[t] as f64, lr[t] as f64)).sum();
        let want = -(w[0] * lp[0] + w[1] * lp[1]) as f64 + beta_over_n as f64 * k3_sum;
        assert!((loss.item() as f64 - want).abs() < 1e-6);
        let g = loss.backward();
        for t in 0..2 {
            let want = -w[t] as f64 + beta_over_n as f64 * k3_grad_logp(lp[t] as f64, lr[t] as f64);
            assert!((g[v].data()[t] as f64 - want).abs() < 1e-6, "row {t}");
        }
    }

    #[test]
    fn the_clipped_loss_at_ratio_one_has_the_surrogate_gradient() {
        let (lp, w, lr) = (
            [-1.0f32, -0.2, -3.0],
            [0.5f32, -0.25, 0.125],
            [-0.5f32, -2.0, -1.0],
        );
        let grads = |clipped: bool| {
            let tape = Tape::<f32>::new();
            let v = tape.param(&autograd::Tensor::from_vec(lp.to_vec(), &[3]));
            let loss = if clipped {
                clipped_pg_loss(v, &lp, &w, Some(0.2), Some((&lr, 0.3)))
            } else {
                pg_loss(v, &w, Some((&lr, 0.3)))
            };
            loss.backward()[v].data().to_vec()
        };
        assert_eq!(grads(true), grads(false));
    }

    #[test]
    fn the_clipped_loss_stops_a_token_that_moved_past_the_clip() {
        // log r = 0.5 > log 1.2 with a positive weight: no gradient; the other token keeps −w.
        let tape = Tape::<f32>::new();
        let v = tape.param(&autograd::Tensor::from_vec(vec![0.5, -1.0], &[2]));
        let loss = clipped_pg_loss(v, &[0.0, -1.0], &[1.0, 2.0], Some(0.2), None);
        assert_eq!(loss.backward()[v].data(), &[0.0, -2.0]);
    }

    #[test]
    #[should_panic(expected = "pg_loss: 1 weights for 2 rows")]
    fn weights_must_cover_every_row() {
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![-1.0, -2.0], &[2]));
        let _ = pg_loss(v, &[1.0], None);
    }
}
