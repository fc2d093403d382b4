//! What every classic-control env shares besides its physics: the reset generator, the
//! "needs a reset" guard, action and buffer validation, and the common half of snapshots.

use crate::env::EnvSnapshot;
use crate::error::EnvError;
use crate::rng::ResetRng;
use crate::space::Action;

/// `x**2` as Python and NumPy compute it for a float64: the C library's `pow(x, 2.0)`.
///
/// glibc's `pow` is accurate to 0.52 ulp but not always correctly rounded: when the exact square
/// lies very near the midpoint between two doubles it may round the other way than `x * x`.
/// Such bits reach outputs that must be *equal* to Gymnasium's (Pendulum's reward) or chaotic
/// trajectories (Acrobot), so we reproduce `pow` exactly, but cheaply:
///
/// * `p = x·x` is the correctly rounded square; Dekker's exact product gives the rounding error
///   `e = x² − p` without FMA (split `x = hi + lo` into 26-bit halves, then
///   `e = ((hi·hi − p) + 2·hi·lo) + lo·lo`, every operation exact).
/// * If `|e|` is not within 1/32 ulp of half an ulp, the other neighbour of `x²` is more than
///   0.53 ulp away, so `pow` (error ≤ 0.52 ulp) must return `p`.
/// * Otherwise (about one call in sixteen), or outside the range where the split is exact, or at a
///   power of two, we call `pow` itself; `black_box` stops the compiler from rewriting
///   `pow(x, 2)` as `x * x`.
///
/// Bit-exact with Gymnasium on glibc targets; within one ulp of it elsewhere.
#[inline]
pub fn np_square(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const EXPONENT: u64 = 0x7ff << 52;
    let p = x * x;
    let bits = p.to_bits();
    if !(1e-280..1e280).contains(&p) || bits & MANTISSA == 0 {
        return x.powf(std::hint::black_box(2.0));
    }
    // Veltkamp split: hi holds the top 26 bits of x, lo the rest, x = hi + lo exactly.
    let c = 134_217_729.0 * x; // 2^27 + 1
    let hi = c - (c - x);
    let lo = x - hi;
    // Dekker: x² = p + e exactly.
    let e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo;
    // Half an ulp of p: 2^(exponent(p) − 53).
    let half_ulp = f64::from_bits(bits & EXPONENT) * (1.0 / 9_007_199_254_740_992.0);
    if (e.abs() - half_ulp).abs() <= half_ulp / 16.0 {
        x.powf(std::hint::black_box(2.0))
    } else {
        p
    }
}

/// Reset generator plus episode status of one environment.
#[derive(Debug, Clone)]
pub struct EpisodeCore {
    /// The registry id, used in error messages.
    pub id: &'static str,
    /// Draws reset states.
    pub rng: ResetRng,
    /// `true` before the first reset and after termination.
    pub needs_reset: bool,
}

impl EpisodeCore {
    /// A core that needs a reset, with the generator seeded by [`crate::rng::DEFAULT_SEED`].
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            rng: ResetRng::default(),
            needs_reset: true,
        }
    }

    /// Reseed if a seed is given (Gymnasium's `super().reset(seed=seed)`), check the buffer, and
    /// mark the episode as running.
    pub fn begin_reset(
        &mut self,
        seed: Option<u64>,
        obs: &[f32],
        obs_dim: usize,
    ) -> Result<(), EnvError> {
        self.check_obs(obs, obs_dim)?;
        if let Some(s) = seed {
            self.rng = ResetRng::from_seed(s);
        }
        self.needs_reset = false;
        Ok(())
    }

    /// Fail unless an episode is running and `obs` has the right length.
    pub fn begin_step(&self, obs: &[f32], obs_dim: usize) -> Result<(), EnvError> {
        self.check_obs(obs, obs_dim)?;
        if self.needs_reset {
            return Err(EnvError::NeedsReset {
                env: self.id,
                reason: "before reset or after the episode terminated",
            });
        }
        Ok(())
    }

    fn check_obs(&self, obs: &[f32], obs_dim: usize) -> Result<(), EnvError> {
        if obs.len() != obs_dim {
            return Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "observation",
                got: obs.len(),
                expected: obs_dim,
            });
        }
        Ok(())
    }

    /// The index of a discrete action in `0..n`, or an error naming the action and the range.
    pub fn discrete(&self, action: Action<'_>, n: usize) -> Result<usize, EnvError> {
        match action {
            Action::Discrete(a) if a < n => Ok(a),
            Action::Discrete(a) => Err(EnvError::InvalidAction {
                env: self.id,
                action: a.to_string(),
                expected: format!("a discrete action in 0..{n}"),
            }),
            Action::Continuous(v) => Err(EnvError::InvalidAction {
                env: self.id,
                action: format!("Continuous({v:?})"),
                expected: format!("Action::Discrete(a) with a in 0..{n}"),
            }),
        }
    }

    /// The single component of a continuous action, unclipped; NaN and wrong lengths are errors.
    pub fn scalar(&self, action: Action<'_>, low: f32, high: f32) -> Result<f32, EnvError> {
        match action {
            Action::Continuous(&[u]) if !u.is_nan() => Ok(u),
            Action::Continuous(&[u]) => Err(EnvError::InvalidAction {
                env: self.id,
                action: u.to_string(),
                expected: format!("a number (clipped to [{low}, {high}])"),
            }),
            Action::Continuous(v) => Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "action",
                got: v.len(),
                expected: 1,
            }),
            Action::Discrete(a) => Err(EnvError::InvalidAction {
                env: self.id,
                action: format!("Discrete({a})"),
                expected: format!("Action::Continuous(&[u]) with u in [{low}, {high}]"),
            }),
        }
    }

    /// Check a state's length and that every component is finite.
    pub fn check_state(&self, state: &[f64], dim: usize) -> Result<(), EnvError> {
        if state.len() != dim {
            return Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "state",
                got: state.len(),
                expected: dim,
            });
        }
        if let Some((index, &value)) = state.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(EnvError::InvalidState {
                env: self.id,
                index,
                value,
                expected: "a finite number",
            });
        }
        Ok(())
    }

    /// A snapshot holding this core's part plus the env's physics (`state`, `aux`).
    pub fn snapshot(&self, state: &[f64], aux: Vec<u64>) -> EnvSnapshot {
        EnvSnapshot {
            id: self.id.to_string(),
            state: state.to_vec(),
            aux,
            needs_reset: self.needs_reset,
            elapsed_steps: None,
            rng: self.rng.state(),
        }
    }

    /// Check a snapshot's id, state length and aux length, then restore generator and status.
    pub fn restore(
        &mut self,
        s: &EnvSnapshot,
        state_dim: usize,
        aux_len: usize,
    ) -> Result<(), EnvError> {
        if s.id != self.id {
            return Err(EnvError::BadSnapshot {
                reason: format!("snapshot of {:?} cannot be restored into {}", s.id, self.id),
            });
        }
        self.check_state(&s.state, state_dim)?;
        if s.aux.len() != aux_len {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "{}: aux has {} words; expected {aux_len}",
                    self.id,
                    s.aux.len()
                ),
            });
        }
        self.rng = ResetRng::from_state(&s.rng);
        self.needs_reset = s.needs_reset;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::np_square;
    use crate::rng::ResetRng;

    fn libm_square(x: f64) -> f64 {
        x.powf(std::hint::black_box(2.0))
    }

    #[test]
    fn np_square_is_the_c_librarys_pow() {
        let mut r = ResetRng::from_seed(5);
        let mut slow_path = 0;
        for i in 0..200_000 {
            // Magnitudes from 1e-150 to 1e150, both signs, plus the small numbers physics sees.
            let x = if i % 2 == 0 {
                r.uniform(-10.0, 10.0)
            } else {
                let m = r.uniform(1.0, 2.0);
                let sign = if r.next_f64() < 0.5 { -1.0 } else { 1.0 };
                sign * m * 10f64.powi((r.next_f64() * 300.0) as i32 - 150)
            };
            let ours = np_square(x);
            assert_eq!(ours.to_bits(), libm_square(x).to_bits(), "x = {x:e}");
            slow_path += (ours != x * x) as usize;
        }
        for x in [
            0.0,
            -0.0,
            1.0,
            2.0,
            0.5,
            1e-300,
            1e300,
            3e200,
            f64::INFINITY,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(
                np_square(x).to_bits(),
                libm_square(x).to_bits(),
                "x = {x:e}"
            );
        }
        assert!(np_square(f64::NAN).is_nan());
        // pow and x*x differ in about one case in a thousand: the slow path is needed, and rare.
        eprintln!("{slow_path} of 200000 squares differ from x*x");
        assert!(
            slow_path > 0 && slow_path < 2_000,
            "{slow_path} squares differ from x*x"
        );
    }
}
