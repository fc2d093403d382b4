//! The diagonal Gaussian distribution, for continuous actions: `a ~ N(μ(s), diag(σ²))` with a
//! state-independent `log σ` (one learned number per action dimension).
//!
//! - log-density: `log π(a|s) = Σ_d [ −(a_d − μ_d)² / (2σ_d²) − log σ_d − ½ log 2π ]`;
//! - entropy: `H = Σ_d [ log σ_d + ½ log(2πe) ]` (independent of the state);
//! - sampling: `a = μ + σ ⊙ ε`, `ε ~ N(0, I)` by the Box–Muller transform.

use autograd::{Float, Var};
use rand::Rng;

/// `½ log 2π`.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `log π(a_i|s_i)` for mean rows `mean` (`[B, D]`), `log_std` (`[D]`) and actions (`[B, D]`,
/// a constant): shape `[B]`.
pub fn log_prob<'t, T: Float>(
    mean: Var<'t, T>,
    log_std: Var<'t, T>,
    actions: Var<'t, T>,
) -> Var<'t, T> {
    // z = (a − μ) / σ = (a − μ) · exp(−log σ)
    let z = (actions - mean) * (-log_std).exp();
    // Σ_d [ −½ z² − log σ_d − ½ log 2π ]
    let per_dim = z.square().affine(T::from_f64(-0.5), T::zero()) - log_std;
    let d = mean.shape()[1];
    per_dim
        .sum_axis(1, false)
        .affine(T::one(), T::from_f64(-HALF_LN_2PI * d as f64))
}

/// The entropy `Σ_d [log σ_d + ½ log(2πe)]` (a scalar: it does not depend on the state).
pub fn entropy<'t, T: Float>(log_std: Var<'t, T>) -> Var<'t, T> {
    let d = log_std.numel();
    log_std
        .sum()
        .affine(T::one(), T::from_f64((HALF_LN_2PI + 0.5) * d as f64))
}

/// One standard normal number (Box–Muller: `√(−2 ln u₁) cos 2πu₂`, with `u₁ ∈ (0, 1]`).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.r#gen::<f64>();
    let u2 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Samples `a = μ + σ ε` into `action` and returns `log π(a)`, computed in f64 from the formula
/// in the module doc.
pub fn sample<R: Rng + ?Sized>(
    mean: &[f32],
    log_std: &[f32],
    rng: &mut R,
    action: &mut [f32],
) -> f32 {
    let mut logp = 0.0f64;
    for d in 0..mean.len() {
        let eps = standard_normal(rng);
        let a = (mean[d] as f64 + (log_std[d] as f64).exp() * eps) as f32;
        action[d] = a;
        let z = (a as f64 - mean[d] as f64) / (log_std[d] as f64).exp();
        logp += -0.5 * z * z - log_std[d] as f64 - HALF_LN_2PI;
    }
    logp as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::gradcheck::{GradcheckConfig, gradcheck};
    use autograd::{Tape, Tensor};
    use rand::SeedableRng;

    fn normal_logpdf(x: f64, mu: f64, sigma: f64) -> f64 {
        let z = (x - mu) / sigma;
        -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }

    #[test]
    fn log_prob_and_entropy_match_closed_forms() {
        let tape = Tape::<f64>::new();
        let mean = tape.constant_from_slice(&[0.5, -1.0, 0.0, 2.0], &[2, 2]);
        let log_std = tape.constant_from_slice(&[0.3, -0.7], &[2]);
        let a = tape.constant_from_slice(&[1.0, -1.5, 0.2, 2.0], &[2, 2]);
        let lp = log_prob(mean, log_std, a).value();
        let (s0, s1) = (0.3f64.exp(), (-0.7f64).exp());
        let e0 = normal_logpdf(1.0, 0.5, s0) + normal_logpdf(-1.5, -1.0, s1);
        let e1 = normal_logpdf(0.2, 0.0, s0) + normal_logpdf(2.0, 2.0, s1);
        assert!((lp.data()[0] - e0).abs() < 1e-12);
        assert!((lp.data()[1] - e1).abs() < 1e-12);
        // Entropy of N(μ, σ²) is ½ ln(2πe σ²).
        let h = entropy(log_std).item();
        let expected = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * s0 * s0).ln()
            + 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * s1 * s1).ln();
        assert!((h - expected).abs() < 1e-12);
    }

    #[test]
    fn gradients_pass_the_finite_difference_check() {
        let mean = Tensor::from_vec(vec![0.5, -1.0, 0.0, 2.0, 0.1, 0.2], &[3, 2]);
        let log_std = Tensor::from_vec(vec![0.3, -0.7], &[2]);
        let actions = [1.0, -1.5, 0.2, 2.0, -0.3, 0.9];
        let cfg = GradcheckConfig::default();
        let r = gradcheck(
            |tape, v| log_prob(v[0], v[1], tape.constant_from_slice(&actions, &[3, 2])),
            &[mean, log_std.clone()],
            &cfg,
        );
        assert!(r.passes(1e-6), "log_prob: {r}");
        let r = gradcheck(|_, v| entropy(v[0]), &[log_std], &cfg);
        assert!(r.passes(1e-6), "entropy: {r}");
    }

    #[test]
    fn samples_have_the_right_moments_and_log_prob() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mean, log_std) = ([1.0f32, -2.0], [0.0f32, (0.5f32).ln()]);
        let n = 20_000;
        let mut a = [0.0f32; 2];
        let (mut s, mut s2) = ([0.0f64; 2], [0.0f64; 2]);
        for _ in 0..n {
            let lp = sample(&mean, &log_std, &mut rng, &mut a);
            let expected =
                normal_logpdf(a[0] as f64, 1.0, 1.0) + normal_logpdf(a[1] as f64, -2.0, 0.5);
            assert!((lp as f64 - expected).abs() < 1e-4);
            for d in 0..2 {
                s[d] += a[d] as f64;
                s2[d] += (a[d] as f64).powi(2);
            }
        }
        for (d, (m, sd)) in [(1.0, 1.0), (-2.0, 0.5)].into_iter().enumerate() {
            let mean_hat = s[d] / n as f64;
            let var_hat = s2[d] / n as f64 - mean_hat * mean_hat;
            assert!((mean_hat - m).abs() < 0.03, "mean {mean_hat}");
            assert!((var_hat.sqrt() - sd).abs() < 0.03, "sd {}", var_hat.sqrt());
        }
    }
}
