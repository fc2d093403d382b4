//! KL divergence to the frozen reference model: exact, and the three one-sample estimators.
//!
//! The fine-tuned policy `π` is kept close to the pretrained reference `π_ref` by penalising
//! `KL(π ‖ π_ref) = E_{y~π}[log π(y) - log π_ref(y)]`. For a whole completion the log-probabilities
//! are sums over tokens, so the sequence KL is the sum of per-token terms. With one sampled token
//! and the log-ratio `l = log π(y) - log π_ref(y)` (J. Schulman, "Approximating KL Divergence",
//! 2020, writes `r = π_ref(y)/π(y) = e^{-l}`):
//!
//! | estimator | per sample | unbiased | always ≥ 0 | function |
//! |---|---|---|---|---|
//! | k1 | `l` | yes | no | [`k1`] |
//! | k2 | `l²/2` | no (low bias for small KL) | yes | [`k2`] |
//! | k3 | `(e^{-l} - 1) + l` | yes | yes | [`k3`] |
//!
//! k3 is unbiased because `E_π[e^{-l}] = Σ_y π_ref(y) = 1`; it is non-negative because
//! `e^x ≥ 1 + x`. The trainer offers two ways to use them
//! ([`crate::lm::config::KlMode`], with its coefficient `kl_coef`):
//!
//! - **k1 in the reward** (the InstructGPT/PPO-RLHF form): `r_i ← r_i - β Σ_t l_{i,t}`
//!   ([`kl_penalised_rewards`]), detached, so the penalty reaches the policy through the same
//!   score-function gradient as the reward;
//! - **k3 in the loss** (the GRPO form): `loss += β (1/N) Σ_i Σ_t k3_{i,t}` differentiated through
//!   the tape, whose per-token gradient with respect to `log π` is [`k3_grad_logp`] `= 1 - e^{-l}`.
//!
//! The two are *not* the same regulariser. k1 in the reward gives, through the score function,
//! `E_π[∇log π(y) · (-β l)] = -β ∇ KL(π ‖ π_ref)` exactly: the reverse KL, which punishes the
//! policy for putting mass where the reference puts little. k3 differentiated as a loss gives
//! `E_π[(1 - π_ref/π) ∇log π] = -Σ_y π_ref(y) ∇log π(y) = ∇ KL(π_ref ‖ π)`: the *forward* KL,
//! which only punishes the policy for dropping what the reference does, and barely resists new
//! text the reference would never write. The value of k3 is an unbiased estimate of the reverse
//! KL; its gradient is not the reverse KL's gradient. The `reviews` measurements in the README
//! show the difference: at the same β, k1 keeps the reviews well-formed and k3 lets them drift.
//!
//! [`exact_kl`] sums over the whole vocabulary at one position; the trainer logs its sum along
//! the sampled completions as the KL column (lower variance than summing k1).

/// k1 `= log π(y) - log π_ref(y)`: the log-ratio itself.
pub fn k1(logp: f64, logp_ref: f64) -> f64 {
    logp - logp_ref
}

/// k2 `= (log π(y) - log π_ref(y))² / 2`.
pub fn k2(logp: f64, logp_ref: f64) -> f64 {
    let l = logp - logp_ref;
    0.5 * l * l
}

/// k3 `= (π_ref(y)/π(y) - 1) - log(π_ref(y)/π(y)) = (e^{-l} - 1) + l` with `l = log π - log π_ref`.
///
/// ```
/// use policy_gradient::lm::kl::k3;
/// assert_eq!(k3(-1.0, -1.0), 0.0); // same probability: no divergence
/// assert!(k3(-0.1, -3.0) > 0.0 && k3(-3.0, -0.1) > 0.0);
/// ```
pub fn k3(logp: f64, logp_ref: f64) -> f64 {
    let neg_l = logp_ref - logp;
    neg_l.exp_m1() - neg_l
}

/// `∂ k3 / ∂ log π(y) = 1 - π_ref(y)/π(y) = 1 - e^{-l}`: what the tape must produce per token.
pub fn k3_grad_logp(logp: f64, logp_ref: f64) -> f64 {
    -(logp_ref - logp).exp_m1()
}

/// Exact `KL(p ‖ q) = Σ_a p(a) (log p(a) - log q(a))` between two categorical distributions
/// given as log-probabilities (rows of a log-softmax). Terms with `p(a) = 0` contribute 0.
///
/// Panics if the rows differ in length.
///
/// ```
/// use policy_gradient::lm::kl::exact_kl;
/// let p = [0.5f32.ln(), 0.5f32.ln()];
/// let q = [0.25f32.ln(), 0.75f32.ln()];
/// // 0.5 ln 2 + 0.5 ln(2/3) = 0.1438
/// assert!((exact_kl(&p, &q) - 0.143841).abs() < 1e-5);
/// ```
pub fn exact_kl(logp: &[f32], logq: &[f32]) -> f64 {
    assert_eq!(
        logp.len(),
        logq.len(),
        "exact_kl: {} log-probabilities against {}",
        logp.len(),
        logq.len()
    );
    logp.iter()
        .zip(logq)
        .map(|(&lp, &lq)| {
            let p = (lp as f64).exp();
            if p == 0.0 {
                0.0
            } else {
                p * (lp as f64 - lq as f64)
            }
        })
        .sum()
}

/// The k1 reward penalty: `r_i - β · kl_i` where `kl_i = Σ_t (log π - log π_ref)` is completion
/// `i`'s summed k1 (as returned by summing [`k1`] over its tokens).
///
/// Panics if the slices differ in length.
///
/// ```
/// use policy_gradient::lm::kl::kl_penalised_rewards;
/// assert_eq!(kl_penalised_rewards(&[1.0, 0.0], &[2.0, -1.0], 0.1), vec![0.8, 0.1]);
/// ```
pub fn kl_penalised_rewards(rewards: &[f64], seq_k1: &[f64], beta: f64) -> Vec<f64> {
    let mut out = Vec::new();
    kl_penalised_rewards_into(rewards, seq_k1, beta, &mut out);
    out
}

/// [`kl_penalised_rewards`] into `out` (replaced; its buffer reused).
pub fn kl_penalised_rewards_into(rewards: &[f64], seq_k1: &[f64], beta: f64, out: &mut Vec<f64>) {
    assert_eq!(
        rewards.len(),
        seq_k1.len(),
        "kl_penalised_rewards: {} rewards but {} KL values",
        rewards.len(),
        seq_k1.len()
    );
    out.clear();
    out.extend(rewards.iter().zip(seq_k1).map(|(r, kl)| r - beta * kl));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p = (1/2, 1/2) is the policy, q = (1/4, 3/4) the reference.
    const P: [f64; 2] = [0.5, 0.5];
    const Q: [f64; 2] = [0.25, 0.75];
    /// KL(p ‖ q) = 0.5 ln 2 + 0.5 ln(2/3).
    fn kl_pq() -> f64 {
        0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln()
    }

    /// E_{a~p}[f(log p(a), log q(a))], computed exactly.
    fn expect(f: fn(f64, f64) -> f64) -> f64 {
        P.iter().zip(&Q).map(|(p, q)| p * f(p.ln(), q.ln())).sum()
    }

    #[test]
    fn hand_worked_values() {
        // Token 0: l = ln(0.5/0.25) = ln 2.
        let (lp, lq) = (P[0].ln(), Q[0].ln());
        let l = 2f64.ln();
        assert!((k1(lp, lq) - l).abs() < 1e-15);
        assert!((k2(lp, lq) - 0.5 * l * l).abs() < 1e-15);
        // k3 = q/p - 1 - ln(q/p) = 0.5 - 1 + ln 2.
        assert!((k3(lp, lq) - (-0.5 + l)).abs() < 1e-15);
        // Token 1: q/p = 1.5, k3 = 0.5 - ln 1.5.
        assert!((k3(P[1].ln(), Q[1].ln()) - (0.5 - 1.5f64.ln())).abs() < 1e-15);
    }

    #[test]
    fn k1_and_k3_are_unbiased_and_k2_is_not() {
        let kl = kl_pq();
        assert!((expect(k1) - kl).abs() < 1e-15);
        assert!((expect(k3) - kl).abs() < 1e-15);
        // E[k2] = 0.5 (0.5 ln²2 + 0.5 ln²(2/3)) = 0.1612, close to but above 0.1438.
        let e2 = 0.25 * (2f64.ln().powi(2) + (2.0f64 / 3.0).ln().powi(2));
        assert!((expect(k2) - e2).abs() < 1e-15);
        assert!(expect(k2) - kl > 0.01);
    }

    #[test]
    fn k3_is_non_negative_where_k1_is_not() {
        // Token 1 is less likely under the policy than under the reference: l < 0.
        assert!(k1(P[1].ln(), Q[1].ln()) < 0.0);
        for lp in [-5.0, -1.0, -0.01, 0.0] {
            for lq in [-7.0, -1.0, -0.5, 0.0] {
                assert!(k3(lp, lq) >= 0.0, "k3({lp}, {lq})");
            }
        }
    }

    #[test]
    fn k3_gradient_matches_central_differences() {
        for (lp, lq) in [(-0.7, -1.9), (-2.0, -0.1), (-1.0, -1.0)] {
            let h = 1e-6;
            let numeric = (k3(lp + h, lq) - k3(lp - h, lq)) / (2.0 * h);
            assert!((k3_grad_logp(lp, lq) - numeric).abs() < 1e-8);
        }
        // At equal probabilities k3 is at its minimum: zero gradient.
        assert_eq!(k3_grad_logp(-1.0, -1.0), 0.0);
    }

    #[test]
    fn exact_kl_worked_example_and_properties() {
        let p = [0.5f32.ln(), 0.5f32.ln()];
        let q = [0.25f32.ln(), 0.75f32.ln()];
        assert!((exact_kl(&p, &q) - kl_pq()).abs() < 1e-6);
        assert_eq!(exact_kl(&p, &p), 0.0);
        // A zero-probability action under p contributes nothing even if q gives it -inf.
        let sure = [0.0f32, f32::NEG_INFINITY];
        assert!((exact_kl(&sure, &q) - (-(0.25f64).ln())).abs() < 1e-6);
    }

    /// The claim of the module docs, on a 3-token softmax policy `p = softmax(θ)` and a fixed
    /// reference `q`: the expected gradient of k3 used as a loss is ∇ KL(q ‖ p) (forward), while
    /// the score-function gradient of the k1 penalty is ∇ KL(p ‖ q) (reverse). Each expectation
    /// is computed exactly and compared with central differences of the two divergences.
    #[test]
    fn k3_loss_follows_the_forward_kl_and_k1_reward_the_reverse_kl() {
        let theta = [0.3f64, -1.2, 0.8];
        let q = [0.5f64, 0.3, 0.2];
        let softmax = |t: &[f64; 3]| {
            let z: f64 = t.iter().map(|x| x.exp()).sum();
            [t[0].exp() / z, t[1].exp() / z, t[2].exp() / z]
        };
        let kl =
            |a: &[f64; 3], b: &[f64; 3]| (0..3).map(|i| a[i] * (a[i] / b[i]).ln()).sum::<f64>();
        let p = softmax(&theta);
        // ∇_θ log p(y) = e_y - p for a softmax.
        let grad_logp = |y: usize, j: usize| (y == j) as u8 as f64 - p[j];
        for j in 0..3 {
            // E_{y~p}[∂k3/∂θ_j] with ∂k3/∂log p = k3_grad_logp.
            let k3_grad: f64 = (0..3)
                .map(|y| p[y] * k3_grad_logp(p[y].ln(), q[y].ln()) * grad_logp(y, j))
                .sum();
            // E_{y~p}[∇log p(y) · k1(y)]: the score-function gradient of the k1 reward penalty.
            let k1_grad: f64 = (0..3)
                .map(|y| p[y] * grad_logp(y, j) * k1(p[y].ln(), q[y].ln()))
                .sum();
            let h = 1e-6;
            let (mut up, mut down) = (theta, theta);
            up[j] += h;
            down[j] -= h;
            let (pu, pd) = (softmax(&up), softmax(&down));
            let forward = (kl(&q, &pu) - kl(&q, &pd)) / (2.0 * h);
            let reverse = (kl(&pu, &q) - kl(&pd, &q)) / (2.0 * h);
            assert!(
                (k3_grad - forward).abs() < 1e-8,
                "θ_{j}: {k3_grad} vs {forward}"
            );
            assert!(
                (k1_grad - reverse).abs() < 1e-8,
                "θ_{j}: {k1_grad} vs {reverse}"
            );
            assert!(
                (forward - reverse).abs() > 1e-3,
                "θ_{j}: the two gradients differ"
            );
        }
    }

    #[test]
    #[should_panic(expected = "2 rewards but 1 KL values")]
    fn penalty_lengths_must_match() {
        kl_penalised_rewards(&[0.0, 1.0], &[0.0], 0.1);
    }
}
