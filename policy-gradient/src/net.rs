//! The multilayer perceptron behind the policy and the value function, in its two modes:
//!
//! - [`Mlp::forward_plain`]: rollouts. Batched, no tape, each layer one fused GEMM from `dense`
//!   (`act(X·W + b)` applied while the result is stored);
//! - [`Mlp::forward`]: updates. The same function recorded on an `autograd` tape
//!   (`x.matmul(W) + b`, then the activation) so the loss can be differentiated.
//!
//! Layer `l` maps `[rows, n_l] → [rows, n_{l+1}]`: `h_{l+1} = act(h_l W_l + b_l)`, with no activation
//! after the last layer. Weights start Glorot-uniform, `W ~ U(−√(6/(n_in+n_out)), +…)`, the last
//! layer scaled by `out_gain` (0.01 for a policy, so that the first policy is near uniform /
//! near its initial mean), biases at 0.

use autograd::{Tape, Tensor, Var};
use dense::{Epilogue, MatMut, MatRef};
use rand::Rng;

pub use dense::Activation;

/// An MLP with f32 parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    activation: Activation,
    /// `[W_0, b_0, W_1, b_1, …]`, `W_l` of shape `[n_l, n_{l+1}]`, `b_l` of shape `[n_{l+1}]`.
    params: Vec<Tensor<f32>>,
}

/// Reusable buffers of [`Mlp::forward_plain`] (so rollouts do not allocate per step).
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Mlp {
    /// A fresh network with layer widths `sizes` (input first, output last).
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries or a zero width.
    pub fn new<R: Rng + ?Sized>(
        sizes: &[usize],
        activation: Activation,
        out_gain: f32,
        rng: &mut R,
    ) -> Self {
        assert!(
            sizes.len() >= 2 && !sizes.contains(&0),
            "Mlp::new: layer sizes {sizes:?} must list at least an input and an output width, none 0"
        );
        let mut params = Vec::new();
        let last = sizes.len() - 2;
        for (l, w) in sizes.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            let bound =
                (6.0 / (n_in + n_out) as f32).sqrt() * if l == last { out_gain } else { 1.0 };
            params.push(Tensor::rand_uniform(&[n_in, n_out], -bound, bound, rng));
            params.push(Tensor::zeros(&[n_out]));
        }
        Self {
            sizes: sizes.to_vec(),
            activation,
            params,
        }
    }

    /// Layer widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        *self.sizes.last().expect("at least two sizes")
    }

    /// The parameters `[W_0, b_0, W_1, b_1, …]`.
    pub fn params(&self) -> &[Tensor<f32>] {
        &self.params
    }

    /// The parameters, mutably (for the optimiser and for loading).
    pub fn params_mut(&mut self) -> &mut [Tensor<f32>] {
        &mut self.params
    }

    /// Evaluates `rows` inputs (`x`: `rows × input_dim`, row-major) without a tape; returns the
    /// `rows × output_dim` outputs, which live in `scratch`.
    pub fn forward_plain<'s>(&self, x: &[f32], rows: usize, scratch: &'s mut Scratch) -> &'s [f32] {
        assert_eq!(
            x.len(),
            rows * self.input_dim(),
            "Mlp::forward_plain: input of {} values, expected {rows} rows × {}",
            x.len(),
            self.input_dim()
        );
        let Scratch { a, b } = scratch;
        a.clear();
        a.extend_from_slice(x);
        let layers = self.sizes.len() - 1;
        for l in 0..layers {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let act = if l + 1 == layers {
                Activation::Identity
            } else {
                self.activation
            };
            b.clear();
            b.resize(rows * n_out, 0.0);
            // h_{l+1} = act(h_l · W_l + b_l), the bias and activation applied as C is stored.
            dense::gemm_fused(
                1.0,
                MatRef::row_major(a, rows, n_in),
                MatRef::row_major(self.params[2 * l].data(), n_in, n_out),
                0.0,
                MatMut::row_major(b, rows, n_out),
                Epilogue::new(Some(self.params[2 * l + 1].data()), act),
            );
            std::mem::swap(a, b);
        }
        &a[..rows * self.output_dim()]
    }

    /// Records the network on `tape`: returns the output `[rows, output_dim]` and the parameter
    /// leaves in [`Self::params`] order (to read their gradients).
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
    ) -> (Var<'t, f32>, Vec<Var<'t, f32>>) {
        let vars: Vec<Var<'t, f32>> = self.params.iter().map(|p| tape.param(p)).collect();
        let layers = self.sizes.len() - 1;
        let mut h = x;
        for l in 0..layers {
            // h_{l+1} = act(h_l W_l + b_l); the bias [n_out] broadcasts over the rows.
            h = h.matmul(vars[2 * l]) + vars[2 * l + 1];
            if l + 1 < layers {
                h = match self.activation {
                    Activation::Tanh => h.tanh(),
                    Activation::Relu => h.relu(),
                    Activation::Identity => h,
                };
            }
        }
        (h, vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plain_and_taped_forward_agree() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for act in [Activation::Tanh, Activation::Relu] {
            let net = Mlp::new(&[4, 16, 8, 3], act, 1.0, &mut rng);
            let x = Tensor::<f32>::randn(&[5, 4], &mut rng);
            let mut s = Scratch::default();
            let plain = net.forward_plain(x.data(), 5, &mut s).to_vec();
            let tape = Tape::new();
            let (y, vars) = net.forward(&tape, tape.constant(&x));
            assert_eq!(vars.len(), 6);
            assert_eq!(y.shape(), vec![5, 3]);
            for (p, t) in plain.iter().zip(y.value().data()) {
                assert!((p - t).abs() < 1e-4, "{p} vs {t}");
            }
        }
    }

    #[test]
    fn output_gain_shrinks_the_last_layer() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let net = Mlp::new(&[4, 64, 2], Activation::Tanh, 0.01, &mut rng);
        let bound = (6.0f32 / 66.0).sqrt() * 0.01;
        assert!(net.params()[2].data().iter().all(|w| w.abs() <= bound));
        assert!(net.params()[3].data().iter().all(|&b| b == 0.0));
    }
}
