//! The learning-rate schedule of every run: constant, or decayed linearly to 0 over the budget.
//!
//! `pg train` measures progress in environment steps (`done` of `total_env_steps`), `pg lm` in
//! gradient steps (the steps before the current one, of `steps`); the formula is the same:
//!
//! `lr(done) = base · (1 − min(done / total, 1))`, computed in f64 and rounded once to f32
//! (`dense`'s [`LinearSchedule`]).

use dense::optim::LinearSchedule;
use serde::{Deserialize, Serialize};

/// How the learning rates change over training (config key `lr_schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// Decays linearly from the configured rate to 0 at the end of the budget.
    Linear,
}

impl LrSchedule {
    /// The rate after `done` of `total` units of progress, starting from `base`.
    ///
    /// ```
    /// use policy_gradient::run::schedule::LrSchedule;
    /// assert_eq!(LrSchedule::Linear.rate(1.0, 1, 4), 0.75);
    /// assert_eq!(LrSchedule::Linear.rate(1.0, 9, 4), 0.0);
    /// assert_eq!(LrSchedule::Constant.rate(0.5, 3, 4), 0.5);
    /// ```
    pub fn rate(self, base: f32, done: u64, total: u64) -> f32 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Linear => LinearSchedule::new(base, 0.0, total).at(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_reaches_zero_after_the_last_step() {
        let lrs: Vec<f32> = (0..4).map(|d| LrSchedule::Linear.rate(1.0, d, 4)).collect();
        assert_eq!(lrs, vec![1.0, 0.75, 0.5, 0.25]);
        assert_eq!(LrSchedule::Linear.rate(1.0, 4, 4), 0.0);
    }
}
