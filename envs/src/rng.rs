//! The random number generator behind resets: ChaCha8, seeded explicitly, with a state that can be
//! saved and restored exactly.
//!
//! Gymnasium draws its reset states from NumPy's PCG64. We cannot reproduce those numbers, so we use
//! the same *distributions* on a ChaCha8 stream: resets are distributed like Gymnasium's but are
//! not the same numbers for the same seed. Uniform draws use NumPy's recipe: a 53-bit mantissa
//! `u = (next_u64 >> 11) * 2^-53` in `[0, 1)`, then `low + (high - low) * u`.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The seed an environment uses when `reset(None)` is called before any seed was given.
/// Gymnasium would draw one from the operating system; we keep runs reproducible instead.
pub const DEFAULT_SEED: u64 = 0;

/// The complete state of a [`ResetRng`]: enough to continue the stream exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngState {
    /// The 32-byte ChaCha key.
    pub seed: [u8; 32],
    /// The ChaCha stream number.
    pub stream: u64,
    /// How many 32-bit words of the stream have been consumed.
    pub word_pos: u128,
}

/// A seeded ChaCha8 generator with NumPy-style uniform draws.
#[derive(Debug, Clone)]
pub struct ResetRng {
    rng: ChaCha8Rng,
}

impl Default for ResetRng {
    fn default() -> Self {
        Self::from_seed(DEFAULT_SEED)
    }
}

impl ResetRng {
    /// A generator seeded from a `u64` (expanded to a ChaCha key by `SeedableRng::seed_from_u64`).
    pub fn from_seed(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A uniform `f64` in `[0, 1)` from the top 53 bits of one `u64`, as NumPy's `random()` does.
    pub fn next_f64(&mut self) -> f64 {
        // 2^-53: the spacing of doubles in [0.5, 1).
        (self.rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform `f64` in `[low, high)`: `low + (high - low) * u`, NumPy's `uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// The generator's full state.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.rng.get_seed(),
            stream: self.rng.get_stream(),
            word_pos: self.rng.get_word_pos(),
        }
    }

    /// A generator continuing exactly where `state` was taken.
    pub fn from_state(state: &RngState) -> Self {
        let mut rng = ChaCha8Rng::from_seed(state.seed);
        rng.set_stream(state.stream);
        rng.set_word_pos(state.word_pos);
        Self { rng }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_range_and_same_seed_gives_same_numbers() {
        let mut a = ResetRng::from_seed(7);
        let mut b = ResetRng::from_seed(7);
        for _ in 0..1000 {
            let x = a.uniform(-0.05, 0.05);
            assert!((-0.05..0.05).contains(&x), "{x} outside [-0.05, 0.05)");
            assert_eq!(x.to_bits(), b.uniform(-0.05, 0.05).to_bits());
        }
        let mut c = ResetRng::from_seed(8);
        assert_ne!(a.next_f64(), c.next_f64());
    }

    #[test]
    fn state_round_trip_continues_the_stream() {
        let mut a = ResetRng::from_seed(3);
        for _ in 0..5 {
            a.next_f64();
        }
        let mut b = ResetRng::from_state(&a.state());
        for _ in 0..10 {
            assert_eq!(a.next_f64().to_bits(), b.next_f64().to_bits());
        }
    }

    #[test]
    fn uniform_mean_is_the_midpoint() {
        let mut r = ResetRng::from_seed(11);
        let n = 20_000;
        let mean = (0..n).map(|_| r.uniform(-0.6, -0.4)).sum::<f64>() / n as f64;
        // Standard error of the mean: 0.2 / sqrt(12 n) ~ 4e-4; allow 5 of them.
        assert!((mean + 0.5).abs() < 2e-3, "mean {mean}");
    }
}
