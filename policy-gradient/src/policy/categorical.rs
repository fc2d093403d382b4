//! The categorical distribution over logits, for discrete actions: `π(a|s) = softmax(z(s))_a`.
//!
//! - log-probability: `log π(a|s) = z_a − logsumexp(z)` (the stable `log_softmax`, then a gather);
//! - entropy: `H = −Σ_a π_a log π_a`;
//! - sampling: inverse CDF on one uniform number, from the logits as plain numbers (no tape).

use autograd::{Float, Var};
use rand::Rng;

/// `log π(a_i|s_i)` for each row `i` of `logits` (`[B, A]`) and its action `actions[i]`: shape `[B]`.
pub fn log_prob<'t, T: Float>(logits: Var<'t, T>, actions: &[usize]) -> Var<'t, T> {
    logits.log_softmax(1).gather(1, actions)
}

/// Entropy of each row's distribution, `H_i = −Σ_a π_ia log π_ia`: shape `[B]`.
pub fn entropy<'t, T: Float>(logits: Var<'t, T>) -> Var<'t, T> {
    let logp = logits.log_softmax(1);
    -(logp.exp() * logp).sum_axis(1, false)
}

/// Samples one action from one row of logits: the smallest `a` with `u < Σ_{k≤a} π_k`, for
/// `u ~ U[0, 1)`. Also returns `log π(a)`.
pub fn sample<R: Rng + ?Sized>(logits: &[f32], rng: &mut R) -> (usize, f32) {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&z| (z - max).exp()).sum();
    let u: f32 = rng.r#gen::<f32>() * sum;
    let mut acc = 0.0;
    let mut chosen = logits.len() - 1;
    for (a, &z) in logits.iter().enumerate() {
        acc += (z - max).exp();
        if u < acc {
            chosen = a;
            break;
        }
    }
    (chosen, logits[chosen] - max - sum.ln())
}

/// The most probable action (ties go to the lowest index): the deterministic policy used by
/// `pg eval --deterministic`.
pub fn mode(logits: &[f32]) -> usize {
    let mut best = 0;
    for (a, &z) in logits.iter().enumerate() {
        if z > logits[best] {
            best = a;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::gradcheck::{GradcheckConfig, gradcheck};
    use autograd::{Tape, Tensor};
    use rand::SeedableRng;

    fn softmax(z: &[f64]) -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|x| (x - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|x| x / s).collect()
    }

    #[test]
    fn log_prob_and_entropy_match_closed_forms() {
        let z = vec![0.3, -1.2, 2.0, 0.5, 0.5, 0.5];
        let tape = Tape::<f64>::new();
        let logits = tape.constant_from_slice(&z, &[2, 3]);
        let lp = log_prob(logits, &[2, 0]).value();
        let h = entropy(logits).value();
        let p0 = softmax(&z[..3]);
        assert!((lp.data()[0] - p0[2].ln()).abs() < 1e-12);
        assert!((lp.data()[1] - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        let h0: f64 = -p0.iter().map(|p| p * p.ln()).sum::<f64>();
        assert!((h.data()[0] - h0).abs() < 1e-12);
        // The uniform distribution over 3 actions has the maximal entropy ln 3.
        assert!((h.data()[1] - 3f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn gradients_pass_the_finite_difference_check() {
        let z = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.1, 0.7, -0.4, 1.5, 0.0], &[2, 4]);
        let cfg = GradcheckConfig::default();
        let r = gradcheck(
            |_, v| log_prob(v[0], &[3, 1]),
            std::slice::from_ref(&z),
            &cfg,
        );
        assert!(r.passes(1e-6), "log_prob: {r}");
        let r = gradcheck(|_, v| entropy(v[0]), &[z], &cfg);
        assert!(r.passes(1e-6), "entropy: {r}");
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        let logits = [0.0f32, (3.0f32).ln()]; // π = [0.25, 0.75]
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let ones = (0..n).filter(|_| sample(&logits, &mut rng).0 == 1).count();
        let freq = ones as f64 / n as f64;
        assert!((freq - 0.75).abs() < 0.02, "frequency of action 1: {freq}");
        let (a, lp) = sample(&logits, &mut rng);
        let expected = if a == 1 { 0.75f32.ln() } else { 0.25f32.ln() };
        assert!((lp - expected).abs() < 1e-6);
        assert_eq!(mode(&logits), 1);
        assert_eq!(mode(&[1.0, 1.0]), 0);
    }
}
