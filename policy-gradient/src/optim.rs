//! Adam and global-norm gradient clipping over a list of parameter tensors.
//!
//! Adam (Kingma & Ba 2015), per parameter element, at step `t` (from 1):
//! `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
//! `θ ← θ − lr · m̂ / (√v̂ + ε)` with `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`.
//! Updates happen in place; the moment buffers are allocated once.

use autograd::Tensor;

/// Adam's state: the two moment estimates per parameter and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// β₁, the decay of the first moment (0.9).
    pub beta1: f32,
    /// β₂, the decay of the second moment (0.999).
    pub beta2: f32,
    /// ε in the denominator (1e-8; PyTorch's default).
    pub eps: f32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
}

impl Adam {
    /// Fresh state for parameters of the given sizes (numbers of elements).
    pub fn new(sizes: &[usize]) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            t: 0,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of every parameter from its gradient, with learning rate `lr`.
    ///
    /// # Panics
    /// If the number or sizes of the parameters differ from those given to [`Adam::new`].
    pub fn step(&mut self, params: &mut [&mut Tensor<f32>], grads: &[Tensor<f32>], lr: f32) {
        assert!(
            params.len() == self.m.len() && grads.len() == self.m.len(),
            "Adam::step: {} parameters and {} gradients, expected {}",
            params.len(),
            grads.len(),
            self.m.len()
        );
        self.t += 1;
        let bc1 = 1.0 - (self.beta1 as f64).powi(self.t as i32);
        let bc2 = 1.0 - (self.beta2 as f64).powi(self.t as i32);
        // Fold the bias corrections into the step size: lr · √(1−β₂ᵗ)/(1−β₁ᵗ).
        let step = (lr as f64 * bc2.sqrt() / bc1) as f32;
        let eps = (self.eps as f64 * bc2.sqrt()) as f32;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            assert_eq!(
                p.numel(),
                m.len(),
                "Adam::step: parameter {i} has {} elements, expected {}",
                p.numel(),
                m.len()
            );
            for (((p, &g), m), v) in p
                .data_mut()
                .iter_mut()
                .zip(g.data())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = self.beta1 * *m + (1.0 - self.beta1) * g;
                *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
                *p -= step * *m / (v.sqrt() + eps);
            }
        }
    }

    /// The state as bit-exact numbers for a checkpoint: `[t, m…, v…]` as `u32` bit patterns
    /// (t split in two halves).
    pub fn to_bits(&self) -> Vec<u32> {
        let mut out = vec![(self.t >> 32) as u32, self.t as u32];
        for x in self.m.iter().chain(&self.v) {
            out.extend(x.iter().map(|f| f.to_bits()));
        }
        out
    }

    /// Restores the state written by [`Adam::to_bits`] for parameters of the given sizes.
    pub fn from_bits(bits: &[u32], sizes: &[usize]) -> Option<Self> {
        let total: usize = sizes.iter().sum();
        if bits.len() != 2 + 2 * total {
            return None;
        }
        let mut a = Adam::new(sizes);
        a.t = ((bits[0] as u64) << 32) | bits[1] as u64;
        let mut it = bits[2..].iter().map(|&b| f32::from_bits(b));
        for x in a.m.iter_mut().chain(a.v.iter_mut()) {
            for e in x.iter_mut() {
                *e = it.next()?;
            }
        }
        Some(a)
    }
}

/// Scales the gradients in place so their global L2 norm `‖g‖ = √(Σ_i Σ_j g_ij²)` is at most
/// `max_norm`; returns the norm before clipping. `max_norm <= 0` only measures.
pub fn clip_grad_norm(grads: &mut [Tensor<f32>], max_norm: f32) -> f32 {
    let norm = grads
        .iter()
        .flat_map(|g| g.data().iter())
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt() as f32;
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            g.data_mut().iter_mut().for_each(|x| *x *= scale);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adam_step_moves_each_weight_by_lr() {
        // With bias correction, the first step is lr · g/|g| (up to ε).
        let mut p = Tensor::from_vec(vec![1.0, -1.0, 0.5], &[3]);
        let g = Tensor::from_vec(vec![0.3, -2.0, 1e-3], &[3]);
        let mut adam = Adam::new(&[3]);
        adam.step(&mut [&mut p], &[g], 0.1);
        let expected = [0.9, -0.9, 0.4];
        for (a, b) in p.data().iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let back = Adam::from_bits(&adam.to_bits(), &[3]).unwrap();
        assert_eq!(back, adam);
        assert!(Adam::from_bits(&adam.to_bits(), &[4]).is_none());
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut p = Tensor::from_vec(vec![3.0f32, -2.0], &[2]);
        let mut adam = Adam::new(&[2]);
        for _ in 0..500 {
            let g = Tensor::from_vec(p.data().iter().map(|x| 2.0 * x).collect(), &[2]);
            adam.step(&mut [&mut p], &[g], 0.05);
        }
        assert!(p.data().iter().all(|x| x.abs() < 1e-2), "{:?}", p.data());
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut g = vec![
            Tensor::from_vec(vec![3.0f32], &[1]),
            Tensor::from_vec(vec![4.0f32], &[1]),
        ];
        assert_eq!(clip_grad_norm(&mut g, 0.0), 5.0);
        assert_eq!(g[0].data(), &[3.0]);
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        let n: f32 = g.iter().map(|t| t.data()[0].powi(2)).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5);
    }
}
