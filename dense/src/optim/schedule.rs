//! A linear learning-rate schedule.

/// `lr(t) = start + (end - start) · min(t / steps, 1)`: a straight line from `start` at step 0
/// to `end` at step `steps`, then flat. CleanRL's "anneal lr" is `LinearSchedule::new(lr, 0, n)`
/// evaluated at update `t = 0..n`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearSchedule {
    /// Rate at step 0.
    pub start: f32,
    /// Rate at step `steps` and after.
    pub end: f32,
    /// Length of the ramp in steps (0 means `end` from the start).
    pub steps: u64,
}

impl LinearSchedule {
    /// A ramp from `start` to `end` over `steps` steps.
    pub fn new(start: f32, end: f32, steps: u64) -> Self {
        LinearSchedule { start, end, steps }
    }

    /// The rate at step `t` (computed in `f64`, rounded once).
    pub fn at(&self, t: u64) -> f32 {
        if self.steps == 0 {
            return self.end;
        }
        let frac = (t as f64 / self.steps as f64).min(1.0);
        (self.start as f64 + (self.end as f64 - self.start as f64) * frac) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_then_stays() {
        let s = LinearSchedule::new(1.0, 0.0, 4);
        let v: Vec<f32> = (0..6).map(|t| s.at(t)).collect();
        assert_eq!(v, [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]);
        assert_eq!(LinearSchedule::new(1.0, 0.5, 0).at(0), 0.5);
    }
}
