//! Drawing the next token from logits, with a temperature.
//!
//! `p_a = softmax(z / T)_a = exp((z_a - max z) / T) / Σ_b exp((z_b - max z) / T)`. `T = 1` samples
//! the model's own distribution (what RL must use: the policy gradient is an expectation under
//! `π` itself); `T < 1` sharpens it, `T > 1` flattens it, and `T = 0` is greedy decoding (the
//! arg-max, the first one on ties).

use envs::tokens::Token;
use rand::Rng;

/// Samples a token from `softmax(logits / temperature)`; `temperature = 0` takes the arg-max.
///
/// Uses one uniform draw (inverse-CDF sampling), so the same RNG state gives the same token.
///
/// Panics if `logits` is empty or `temperature` is negative or not finite.
///
/// ```
/// use policy_gradient::lm::sample::sample_token;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// assert_eq!(sample_token(&[0.0, 3.0, 1.0], 0.0, &mut rng), 1);
/// ```
pub fn sample_token<R: Rng + ?Sized>(logits: &[f32], temperature: f32, rng: &mut R) -> Token {
    assert!(!logits.is_empty(), "sample_token: no logits");
    assert!(
        temperature >= 0.0 && temperature.is_finite(),
        "sample_token: temperature must be finite and >= 0, got {temperature}"
    );
    let mut best = 0;
    for (i, &z) in logits.iter().enumerate() {
        if z > logits[best] {
            best = i;
        }
    }
    if temperature == 0.0 {
        return best;
    }
    let max = logits[best] as f64;
    let inv_t = 1.0 / temperature as f64;
    // Unnormalised probabilities exp((z - max)/T): the largest is exactly 1, so the sum is >= 1.
    let total: f64 = logits
        .iter()
        .map(|&z| ((z as f64 - max) * inv_t).exp())
        .sum();
    let u = rng.r#gen::<f64>() * total;
    let mut cumulative = 0.0;
    for (i, &z) in logits.iter().enumerate() {
        cumulative += ((z as f64 - max) * inv_t).exp();
        if u < cumulative {
            return i;
        }
    }
    // Rounding can leave u a hair above the last partial sum: the last non-zero entry.
    logits
        .iter()
        .rposition(|&z| ((z as f64 - max) * inv_t).exp() > 0.0)
        .unwrap_or(best)
}

/// `log softmax(logits / temperature)` into `out` (same length): the log-probabilities
/// [`sample_token`] samples from, for `temperature > 0`.
///
/// Panics if the lengths differ or `temperature` is not positive and finite.
pub fn log_softmax_into(logits: &[f32], temperature: f32, out: &mut [f32]) {
    assert_eq!(
        logits.len(),
        out.len(),
        "log_softmax_into: {} logits but {} outputs",
        logits.len(),
        out.len()
    );
    assert!(
        temperature > 0.0 && temperature.is_finite(),
        "log_softmax_into: temperature must be finite and > 0, got {temperature}"
    );
    let inv_t = 1.0 / temperature as f64;
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z)) as f64;
    // log p_a = (z_a - max)/T - ln Σ_b exp((z_b - max)/T)
    let log_sum = logits
        .iter()
        .map(|&z| ((z as f64 - max) * inv_t).exp())
        .sum::<f64>()
        .ln();
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = ((z as f64 - max) * inv_t - log_sum) as f32;
    }
}

/// Mean per-row entropy of `[rows × v]` log-probabilities (NaN for no rows).
pub fn mean_entropy(log_probs: &[f32], v: usize) -> f64 {
    let rows = log_probs.len() / v;
    if rows == 0 {
        return f64::NAN;
    }
    log_probs.chunks_exact(v).map(entropy).sum::<f64>() / rows as f64
}

/// Entropy `H = -Σ_a p_a log p_a` of a distribution given by its log-probabilities.
pub fn entropy(logp: &[f32]) -> f64 {
    logp.iter()
        .map(|&lp| {
            let lp = lp as f64;
            let p = lp.exp();
            if p == 0.0 { 0.0 } else { -p * lp }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn frequencies(logits: &[f32], t: f32, n: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut counts = vec![0usize; logits.len()];
        for _ in 0..n {
            counts[sample_token(logits, t, &mut rng)] += 1;
        }
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(sample_token(&[1.0, 5.0, 5.0, -2.0], 0.0, &mut rng), 1);
        assert_eq!(sample_token(&[7.0], 0.0, &mut rng), 0);
    }

    #[test]
    fn temperature_one_matches_the_softmax() {
        // logits (0, ln 3): p = (1/4, 3/4). sd of a frequency at n = 40000 is ~0.0022.
        let f = frequencies(&[0.0, 3f32.ln()], 1.0, 40_000);
        assert!((f[0] - 0.25).abs() < 0.011, "{f:?}");
    }

    #[test]
    fn temperature_two_flattens() {
        // logits (0, ln 9) at T = 2 are (0, ln 3)/1: p = (1/4, 3/4) again.
        let f = frequencies(&[0.0, 9f32.ln()], 2.0, 40_000);
        assert!((f[0] - 0.25).abs() < 0.011, "{f:?}");
        // And a tiny temperature is (almost surely) greedy.
        let f = frequencies(&[0.0, 1.0, 0.5], 0.01, 2_000);
        assert_eq!(f[1], 1.0);
    }

    #[test]
    fn impossible_tokens_are_never_drawn() {
        let f = frequencies(
            &[f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY, 0.0],
            1.0,
            5_000,
        );
        assert_eq!(f[0], 0.0);
        assert_eq!(f[2], 0.0);
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits = [0.3, -1.0, 2.0, 0.0];
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|_| sample_token(&logits, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn log_softmax_and_entropy_worked_example() {
        let mut out = [0.0; 2];
        log_softmax_into(&[0.0, 3f32.ln()], 1.0, &mut out);
        assert!((out[0] - 0.25f32.ln()).abs() < 1e-6);
        assert!((out[1] - 0.75f32.ln()).abs() < 1e-6);
        // H(1/4, 3/4) = -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.5623.
        assert!((entropy(&out) - 0.562335).abs() < 1e-5);
        // Uniform over 4: ln 4.
        let mut u = [0.0; 4];
        log_softmax_into(&[2.0; 4], 0.5, &mut u);
        assert!((entropy(&u) - 4f64.ln()).abs() < 1e-6);
    }

    #[test]
    #[should_panic(expected = "temperature must be finite and >= 0, got -1")]
    fn negative_temperature_panics() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        sample_token(&[0.0], -1.0, &mut rng);
    }
}
