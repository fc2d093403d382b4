//! Running observation normalisation: keeps a running mean and variance of every observation
//! coordinate and maps `x ↦ clip((x − μ) / sqrt(σ² + ε), −c, c)`.
//!
//! The statistics are merged batch by batch with the parallel form of Welford's algorithm
//! (Chan et al. 1979), in f64:
//!
//! `δ = μ_B − μ_A`, `n = n_A + n_B`, `μ = μ_A + δ · n_B / n`,
//! `M2 = M2_A + M2_B + δ² · n_A n_B / n`, `σ² = M2 / n`.

/// Running per-coordinate mean and variance, and the normalising map built from them.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningNorm {
    count: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    clip: f32,
}

impl RunningNorm {
    /// ε added to the variance before the square root.
    pub const EPSILON: f64 = 1e-8;

    /// Fresh statistics for `dim` coordinates; normalised values are clipped to `[-clip, clip]`.
    pub fn new(dim: usize, clip: f32) -> Self {
        Self {
            count: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
            clip,
        }
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Number of observations merged so far.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// The running mean of each coordinate.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The running (population) variance of coordinate `j`, `M2_j / n` (1 before any data).
    pub fn variance_of(&self, j: usize) -> f64 {
        if self.count > 0.0 {
            self.m2[j] / self.count
        } else {
            1.0
        }
    }

    /// The running (population) variance of each coordinate.
    pub fn variance(&self) -> Vec<f64> {
        self.m2
            .iter()
            .map(|&m| {
                if self.count > 0.0 {
                    m / self.count
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// Merges a batch of observations, `rows × dim` row-major.
    ///
    /// # Panics
    /// If `batch.len()` is not a multiple of [`Self::dim`].
    pub fn update(&mut self, batch: &[f32]) {
        let d = self.dim();
        assert!(
            d > 0 && batch.len().is_multiple_of(d),
            "RunningNorm::update: batch of {} values is not a whole number of rows of {d}",
            batch.len()
        );
        let nb = (batch.len() / d) as f64;
        for j in 0..d {
            let col = batch.iter().skip(j).step_by(d).map(|&x| x as f64);
            let mean_b = col.clone().sum::<f64>() / nb;
            let m2_b: f64 = col.map(|x| (x - mean_b).powi(2)).sum();
            let n = self.count + nb;
            let delta = mean_b - self.mean[j];
            // μ = μ_A + δ · n_B / n ;  M2 = M2_A + M2_B + δ² n_A n_B / n
            self.mean[j] += delta * nb / n;
            self.m2[j] += m2_b + delta * delta * self.count * nb / n;
        }
        self.count += nb;
    }

    /// Normalises `rows × dim` observations from `src` into `dst`.
    pub fn normalize(&self, src: &[f32], dst: &mut [f32]) {
        let d = self.dim();
        assert_eq!(
            src.len(),
            dst.len(),
            "RunningNorm::normalize: src and dst lengths differ"
        );
        // No allocation: this runs at every environment step.
        for (i, (x, y)) in src.iter().zip(dst.iter_mut()).enumerate() {
            let j = i % d;
            let z = (*x as f64 - self.mean[j]) / (self.variance_of(j) + Self::EPSILON).sqrt();
            *y = (z as f32).clamp(-self.clip, self.clip);
        }
    }

    /// The state as plain numbers (count, clip, means, M2s) for checkpoints.
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = vec![self.count, self.clip as f64];
        v.extend_from_slice(&self.mean);
        v.extend_from_slice(&self.m2);
        v
    }

    /// Inverse of [`Self::to_vec`]; `None` unless `v` holds `2 + 2·dim` numbers.
    pub fn from_vec(v: &[f64], dim: usize) -> Option<Self> {
        if v.len() != 2 + 2 * dim {
            return None;
        }
        Some(Self {
            count: v[0],
            clip: v[1] as f32,
            mean: v[2..2 + dim].to_vec(),
            m2: v[2 + dim..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Merging in chunks gives the same statistics as one pass over everything.
        #[test]
        fn chunked_updates_match_one_pass(xs in proptest::collection::vec(-50.0f32..50.0, 2..60), split in 1usize..30) {
            let rows: Vec<f32> = xs.iter().flat_map(|&x| [x, 2.0 * x + 1.0]).collect();
            let mut whole = RunningNorm::new(2, 10.0);
            whole.update(&rows);
            let mut parts = RunningNorm::new(2, 10.0);
            let cut = (split.min(xs.len() - 1)) * 2;
            parts.update(&rows[..cut]);
            parts.update(&rows[cut..]);
            let n = xs.len() as f64;
            let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
            let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
            for s in [&whole, &parts] {
                prop_assert!((s.mean()[0] - mean).abs() < 1e-6 * (1.0 + mean.abs()));
                prop_assert!((s.variance()[0] - var).abs() < 1e-6 * (1.0 + var));
                prop_assert!((s.variance()[1] - 4.0 * var).abs() < 1e-5 * (1.0 + var));
            }
        }
    }

    #[test]
    fn normalises_and_clips() {
        let mut n = RunningNorm::new(1, 1.5);
        n.update(&[0.0, 2.0]);
        let mut out = [0.0; 3];
        n.normalize(&[1.0, 2.0, 100.0], &mut out);
        assert!(out[0].abs() < 1e-6);
        assert!((out[1] - 1.0).abs() < 1e-6);
        assert_eq!(out[2], 1.5);
        let back = RunningNorm::from_vec(&n.to_vec(), 1).unwrap();
        assert_eq!(back, n);
        assert!(RunningNorm::from_vec(&[1.0], 1).is_none());
    }
}
