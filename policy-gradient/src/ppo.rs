//! PPO's clipped surrogate: what changes when one batch of samples serves several gradient steps.
//!
//! REINFORCE takes one step per batch, so the policy that sampled the batch and the policy being
//! differentiated are the same. To take more steps on the same samples, the loss must correct
//! for the samples now coming from an *old* policy `π_old`. Importance sampling does that with the
//! probability ratio
//!
//! ```text
//! r_i(θ) = π_θ(a_i|s_i) / π_old(a_i|s_i) = exp(log π_θ(a_i|s_i) − log π_old(a_i|s_i))
//! ```
//!
//! and `E_old[r_i A_i]` has the policy gradient as its gradient at θ = θ_old. Far from θ_old the
//! ratio's estimate is unreliable, so PPO (Schulman et al. 2017) takes the pessimistic one of the
//! plain and the clipped term, per sample:
//!
//! ```text
//! L^CLIP_i = min( r_i A_i,  clip(r_i, 1 − ε, 1 + ε) A_i )
//! ```
//!
//! Its gradient, case by case ([`clipped_objective`]'s tests work each by hand):
//!
//! | advantage | ratio | smaller term | gradient |
//! |---|---|---|---|
//! | `A > 0` | `r ≤ 1 + ε` | `r A` | `A r ∇log π` |
//! | `A > 0` | `r > 1 + ε` | `(1 + ε) A`, a constant | 0: the action is already made likely enough |
//! | `A < 0` | `r ≥ 1 − ε` | `r A` | `A r ∇log π` |
//! | `A < 0` | `r < 1 − ε` | `(1 − ε) A`, a constant | 0: the action is already made unlikely enough |
//!
//! At the start of an update `π_θ = π_old`, so `r = 1` exactly, and the gradient is
//! `A ∇log π`: the first minibatch step of the first epoch *is* the REINFORCE step. With one epoch
//! and one full-batch minibatch PPO reduces to the vanilla update; a trainer test checks it bit
//! for bit.
//!
//! Two diagnostics come from the ratios ([`RatioStats`]): the fraction of samples whose ratio left
//! `[1 − ε, 1 + ε]` (clip fraction), and `KL(π_old ‖ π_θ)` estimated as the mean of
//! `(r − 1) − log r` (never negative, unbiased, low variance), which an update watches to stop
//! early when the policy has moved far enough (`target_kl`).
//!
//! A value function trained on the same batch several times can be clipped the same way
//! ([`clipped_value_loss`]).

use autograd::{Float, Var};

/// The per-sample clipped objective `L^CLIP_i = min(r_i A_i, clip(r_i, 1 − ε, 1 + ε) A_i)`, a
/// `[B]` vector (with `clip_eps = None`, the unclipped `r_i A_i`). The caller reduces it: control
/// takes `−mean`, a language model `−Σ_t w_t L_t` with its own averaging weights.
///
/// `logp` is `log π_θ(a_i|s_i)` on the tape (`[B]`); `old_logp` and `advantages` are constants.
///
/// At ties (`r` inside the clip range, where both terms are equal) the gradient flows through
/// `r A`, which is why the reduction to REINFORCE at `r = 1` is exact.
///
/// Panics if the lengths differ or `clip_eps` is not in `(0, 1)`.
pub fn clipped_objective<'t, T: Float>(
    logp: Var<'t, T>,
    old_logp: &[T],
    advantages: &[T],
    clip_eps: Option<T>,
) -> Var<'t, T> {
    let rows = logp.numel();
    assert!(
        old_logp.len() == rows && advantages.len() == rows,
        "clipped_objective: {rows} log-probs, {} old log-probs, {} advantages",
        old_logp.len(),
        advantages.len()
    );
    let tape = logp.tape();
    let old = tape.constant_from_slice(old_logp, &[rows]);
    let adv = tape.constant_from_slice(advantages, &[rows]);
    // r_i = exp(log π_θ − log π_old)
    let ratio = (logp - old).exp();
    let plain = ratio * adv;
    match clip_eps {
        None => plain,
        Some(eps) => {
            assert!(
                eps > T::zero() && eps < T::one(),
                "clipped_objective: clip range {eps} outside (0, 1)"
            );
            // min(r A, clip(r, 1 − ε, 1 + ε) A); a tie sends the gradient to r A.
            let clipped = ratio.clamp(T::one() - eps, T::one() + eps) * adv;
            plain.minimum(clipped)
        }
    }
}

/// The value loss of PPO with value clipping, `(1/B) Σ_i max((V_i − Ŷ_i)², (V_i^clip − Ŷ_i)²)`
/// where `V_i^clip = V_old,i + clip(V_i − V_old,i, −ε, ε)`: the new prediction may not move more
/// than ε from the one made when the batch was collected without paying for it. With
/// `clip_eps = None`, the plain `(1/B) Σ_i (V_i − Ŷ_i)²`.
///
/// `values` is `V_φ(s_i)` on the tape, `[B, 1]` or `[B]`; `old_values` and `targets` are
/// constants of `B` elements. Panics if the lengths differ.
pub fn clipped_value_loss<'t, T: Float>(
    values: Var<'t, T>,
    old_values: &[T],
    targets: &[T],
    clip_eps: Option<T>,
) -> Var<'t, T> {
    let rows = values.numel();
    assert!(
        old_values.len() == rows && targets.len() == rows,
        "clipped_value_loss: {rows} values, {} old values, {} targets",
        old_values.len(),
        targets.len()
    );
    let tape = values.tape();
    let v = values.reshape(&[rows]);
    let y = tape.constant_from_slice(targets, &[rows]);
    let plain = (v - y).square();
    match clip_eps {
        None => plain.mean(),
        Some(eps) => {
            let old = tape.constant_from_slice(old_values, &[rows]);
            let v_clip = old + (v - old).clamp(-eps, eps);
            plain.maximum((v_clip - y).square()).mean()
        }
    }
}

/// What the ratios of one minibatch say about how far the policy has moved.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RatioStats {
    /// Fraction of samples with `|r − 1| > ε` (0 without clipping).
    pub clip_fraction: f64,
    /// `KL(π_old ‖ π_θ) ≈ (1/B) Σ_i ((r_i − 1) − log r_i)`.
    pub approx_kl: f64,
}

impl RatioStats {
    /// The statistics of `r_i = exp(logp_i − old_logp_i)`. Panics if the lengths differ; an
    /// empty batch gives zeros.
    pub fn of(logp: &[f32], old_logp: &[f32], clip_eps: Option<f32>) -> Self {
        assert_eq!(
            logp.len(),
            old_logp.len(),
            "RatioStats::of: {} log-probs, {} old log-probs",
            logp.len(),
            old_logp.len()
        );
        if logp.is_empty() {
            return Self::default();
        }
        let (mut clipped, mut kl) = (0usize, 0.0f64);
        for (&new, &old) in logp.iter().zip(old_logp) {
            let log_r = new as f64 - old as f64;
            let r = log_r.exp();
            // (r − 1) − log r ≥ 0, with equality only at r = 1.
            kl += (r - 1.0) - log_r;
            if clip_eps.is_some_and(|eps| (r - 1.0).abs() > eps as f64) {
                clipped += 1;
            }
        }
        let n = logp.len() as f64;
        RatioStats {
            clip_fraction: clipped as f64 / n,
            approx_kl: kl / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::{GradcheckConfig, Tape, Tensor, gradcheck};

    /// Gradients of `loss` for `vars`, cloned out of one backward pass.
    fn grads_of<T: Float>(loss: Var<'_, T>, vars: &[Var<'_, T>]) -> Vec<Tensor<T>> {
        let g = loss.backward();
        vars.iter().map(|&v| g[v].clone()).collect()
    }

    const EPS: f32 = 0.2;

    /// `(loss, dloss/dlogp)` of `−mean(L^CLIP)` for one sample with `log r = log_r`, advantage `a`.
    fn one_sample(log_r: f32, a: f32, clip: Option<f32>) -> (f32, f32) {
        let tape = Tape::<f32>::new();
        let old = -1.0f32;
        let logp = tape.param(&Tensor::from_vec(vec![old + log_r], &[1]));
        let loss = -clipped_objective(logp, &[old], &[a], clip).mean();
        (loss.item(), grads_of(loss, &[logp])[0].data()[0])
    }

    #[test]
    fn inside_the_trust_region_the_gradient_is_a_times_r() {
        // r = e^0.1 ≈ 1.105 < 1.2, A = 2: L = −r A, dL/dlog π = −A r.
        let r = 0.1f32.exp();
        let (l, g) = one_sample(0.1, 2.0, Some(EPS));
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
        // A < 0 and r = e^-0.1 ≈ 0.905 > 0.8: still the plain term.
        let r = (-0.1f32).exp();
        let (l, g) = one_sample(-0.1, -3.0, Some(EPS));
        assert!(
            (l - 3.0 * r).abs() < 1e-6 && (g - 3.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
    }

    #[test]
    fn clipping_zeroes_the_gradient_outside_the_trust_region() {
        // A > 0, r = e^0.5 ≈ 1.65 > 1.2: L = −1.2 A, gradient 0.
        let (l, g) = one_sample(0.5, 2.0, Some(EPS));
        assert!((l + 1.2 * 2.0).abs() < 1e-6, "{l}");
        assert_eq!(g, 0.0);
        // A < 0, r = e^-0.5 ≈ 0.61 < 0.8: L = −0.8 A, gradient 0.
        let (l, g) = one_sample(-0.5, -3.0, Some(EPS));
        assert!((l - 0.8 * 3.0).abs() < 1e-6, "{l}");
        assert_eq!(g, 0.0);
    }

    #[test]
    fn the_pessimistic_side_is_never_clipped() {
        // A > 0 with r = e^-0.5 < 0.8: r A is the smaller term, so the gradient A r stays, pulling
        // the probability of a good action back up however far it fell.
        let r = (-0.5f32).exp();
        let (l, g) = one_sample(-0.5, 2.0, Some(EPS));
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
        // A < 0 with r = e^0.5 > 1.2: likewise.
        let r = 0.5f32.exp();
        let (l, g) = one_sample(0.5, -3.0, Some(EPS));
        assert!(
            (l - 3.0 * r).abs() < 1e-6 && (g - 3.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
    }

    #[test]
    fn without_clipping_the_ratio_term_is_never_cut() {
        let r = 0.5f32.exp();
        let (l, g) = one_sample(0.5, 2.0, None);
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-5,
            "{l} {g}"
        );
    }

    #[test]
    fn at_ratio_one_the_gradient_is_the_reinforce_gradient_bit_for_bit() {
        let logp = [-0.3f32, -1.7, -0.01, -2.5];
        let adv = [1.5f32, -0.7, 0.0, 2.25];
        let reinforce = {
            let tape = Tape::<f32>::new();
            let lp = tape.param(&Tensor::from_vec(logp.to_vec(), &[4]));
            let psi = tape.constant_from_slice(&adv, &[4]);
            grads_of(-(lp * psi).mean(), &[lp])
        };
        for clip in [None, Some(EPS)] {
            let tape = Tape::<f32>::new();
            let lp = tape.param(&Tensor::from_vec(logp.to_vec(), &[4]));
            let loss = -clipped_objective(lp, &logp, &adv, clip).mean();
            assert_eq!(grads_of(loss, &[lp]), reinforce, "clip {clip:?}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let old = [-0.4f64, -1.2, -0.9, -2.0, -0.1];
        let adv = [1.0f64, -2.0, 0.5, -0.3, 3.0];
        // Ratios chosen away from the clip edges (where the objective has kinks).
        let logp = Tensor::from_vec(vec![-0.3, -1.5, -0.5, -2.05, -0.12], &[5]);
        for clip in [None, Some(0.2)] {
            let report = gradcheck(
                |_, x| clipped_objective(x[0], &old, &adv, clip),
                std::slice::from_ref(&logp),
                &GradcheckConfig::default(),
            );
            assert!(report.passes(1e-6), "clip {clip:?}: {report}");
        }
    }

    #[test]
    fn value_clipping_by_hand() {
        // V_old = 1, target 3, ε = 0.5. A new V = 2 moved 1 > ε: V_clip = 1.5,
        // max((2 − 3)², (1.5 − 3)²) = 2.25 on the clipped side, which has no gradient in V.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![2.0], &[1, 1]));
        let loss = clipped_value_loss(v, &[1.0], &[3.0], Some(0.5));
        assert_eq!(loss.item(), 2.25);
        assert_eq!(grads_of(loss, &[v])[0].data(), &[0.0]);
        // New V = 1.2 moved 0.2 < ε: both terms are (1.2 − 3)², gradient 2 (V − Ŷ) = −3.6.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![1.2], &[1, 1]));
        let loss = clipped_value_loss(v, &[1.0], &[3.0], Some(0.5));
        assert!((loss.item() - 3.24).abs() < 1e-5);
        assert!((grads_of(loss, &[v])[0].data()[0] + 3.6).abs() < 1e-5);
        // Without clipping, the plain mean squared error.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![2.0, 0.0], &[2]));
        let loss = clipped_value_loss(v, &[1.0, 1.0], &[3.0, 1.0], None);
        assert_eq!(loss.item(), 1.0);
    }

    #[test]
    fn ratio_stats_by_hand() {
        // log r = 0, ln 1.5, ln 0.5: r = 1, 1.5, 0.5. With ε = 0.2 two of three are outside.
        let old = [0.0f32, 0.0, 0.0];
        let new = [0.0f32, 1.5f32.ln(), 0.5f32.ln()];
        let s = RatioStats::of(&new, &old, Some(0.2));
        assert!((s.clip_fraction - 2.0 / 3.0).abs() < 1e-12);
        let want = ((0.5 - 1.5f64.ln()) + (-0.5 - 0.5f64.ln())) / 3.0;
        assert!((s.approx_kl - want).abs() < 1e-6, "{}", s.approx_kl);
        assert_eq!(RatioStats::of(&new, &old, None).clip_fraction, 0.0);
        assert_eq!(RatioStats::of(&old, &old, Some(0.2)), RatioStats::default());
    }
}
