//! Layer normalisation over the last axis, with a learned gain γ and bias β.
//!
//! Each row `x` (the last axis, length n) is centred and scaled to unit variance, then mapped by
//! a per-feature affine map:
//!
//! ```text
//! μ = (1/n) Σₗ xₗ        σ² = (1/n) Σₗ (xₗ − μ)²   (the biased variance, as PyTorch)
//! r = 1 / √(σ² + ε)      x̂ₗ = (xₗ − μ) · r          yₗ = γₗ x̂ₗ + βₗ
//! ```
//!
//! ε keeps r finite for a constant row; the caller states it (1e-5 is PyTorch's default).
//!
//! Backward. With ĝₗ = ȳₗ γₗ (the gradient reaching x̂), and since
//! `∂x̂ₖ/∂xₗ = r (δₖₗ − 1/n − x̂ₖ x̂ₗ / n)` (μ and σ both move with every xₗ):
//!
//! ```text
//! x̄ₗ += r · (ĝₗ − mean(ĝ) − x̂ₗ · mean(ĝ ⊙ x̂))
//! γ̄ₗ += Σ_rows ȳₗ x̂ₗ          β̄ₗ += Σ_rows ȳₗ
//! ```
//!
//! **Saved for backward: each row's (μ, r).** Both gradients need x̂, so backward needs every
//! row's μ and r. Recomputing them costs two passes over the input (the sum, then the squared
//! deviations), as many as the backward's own work on the row; keeping them costs two numbers
//! per row. So the forward pass saves them in the node's saved buffer on the tape (`[μ₀, r₀, μ₁,
//! r₁, …]`, reused every step) and backward reads them back: the same bits, no recomputation.
//!
//! x̄ is written with `=` when this rule is the first to reach x's gradient slot in the pass
//! (skipping the slot's zero fill; see `sink.rs`), and added otherwise.

use crate::custom::Store;
use crate::float::Float;
use crate::node::Op;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// (μ, r) of one row: its mean and `1 / √(σ² + ε)`.
fn row_stats<T: Float>(row: &[T], eps: T) -> (T, T) {
    let n = T::from_usize(row.len());
    let mean = row.iter().fold(T::zero(), |s, &x| s + x) / n;
    let var = row
        .iter()
        .fold(T::zero(), |s, &x| s + (x - mean) * (x - mean))
        / n;
    (mean, T::one() / (var + eps).sqrt())
}

/// Rows whose (μ, r) [`for_each_row_stats`] computes together.
const LOCKSTEP_ROWS: usize = 8;

/// Calls `f(i, μᵢ, rᵢ)` for every row i (of length n) of `x`, in order: the values of
/// [`row_stats`], bit for bit.
///
/// Each row's two sums are chains of dependent additions, one after the other. Here the rows are
/// summed [`LOCKSTEP_ROWS`] at a time, element l of each row in turn, so the CPU works on that
/// many independent chains at once; each row's own sums still add its elements in their order,
/// from zero, so the results are the same bits.
fn for_each_row_stats<T: Float>(x: &[T], n: usize, eps: T, mut f: impl FnMut(usize, T, T)) {
    let (rows, len) = (x.len() / n, T::from_usize(n));
    let mut blocks = x.chunks_exact(LOCKSTEP_ROWS * n);
    for (b, block) in blocks.by_ref().enumerate() {
        let mut sum = [T::zero(); LOCKSTEP_ROWS];
        for l in 0..n {
            for (k, s) in sum.iter_mut().enumerate() {
                *s += block[k * n + l];
            }
        }
        let mean = sum.map(|s| s / len);
        let mut squares = [T::zero(); LOCKSTEP_ROWS];
        for l in 0..n {
            for (k, s) in squares.iter_mut().enumerate() {
                let d = block[k * n + l] - mean[k];
                *s += d * d;
            }
        }
        for k in 0..LOCKSTEP_ROWS {
            let r = T::one() / (squares[k] / len + eps).sqrt();
            f(b * LOCKSTEP_ROWS + k, mean[k], r);
        }
    }
    let done = rows - blocks.remainder().len() / n;
    for (i, row) in blocks.remainder().chunks_exact(n).enumerate() {
        let (mean, r) = row_stats(row, eps);
        f(done + i, mean, r);
    }
}

/// Numbers saved per row: μ and r.
const SAVED_PER_ROW: usize = 2;

/// y = γ ⊙ x̂ + β for every row of length n; each row's (μ, r) into `stats` (`[μ₀, r₀, μ₁, …]`).
fn forward<T: Float>(x: &[T], gain: &[T], bias: &[T], y: &mut [T], stats: &mut Vec<T>, eps: T) {
    let n = gain.len();
    if n == 0 {
        stats.clear();
        return; // rows of no features: nothing to normalise
    }
    stats.resize(x.len() / n * SAVED_PER_ROW, T::zero());
    for_each_row_stats(x, n, eps, |i, mean, r| {
        (stats[SAVED_PER_ROW * i], stats[SAVED_PER_ROW * i + 1]) = (mean, r);
        let (xr, yr) = (&x[i * n..(i + 1) * n], &mut y[i * n..(i + 1) * n]);
        for l in 0..n {
            yr[l] = gain[l] * ((xr[l] - mean) * r) + bias[l];
        }
    });
}

/// Calls `f(i, μᵢ, rᵢ)` for every row i, from the statistics the forward pass saved.
fn for_each_saved_row<T: Float>(stats: &[T], mut f: impl FnMut(usize, T, T)) {
    for (i, s) in stats.chunks_exact(SAVED_PER_ROW).enumerate() {
        f(i, s[0], s[1]);
    }
}

pub(crate) struct LayerNormInputs {
    pub(crate) x: u32,
    pub(crate) gain: u32,
    pub(crate) bias: u32,
}

pub(crate) fn backward<T: Float>(
    values: &[Tensor<T>],
    stats: &[T],
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    LayerNormInputs { x, gain, bias }: LayerNormInputs,
) {
    let (xv, gamma) = (&values[x as usize].data, &values[gain as usize].data);
    let n = gamma.len();
    if n == 0 {
        return;
    }
    // γ̄'s buffer is taken out of the sink, so that one pass over the rows adds into x̄ and γ̄
    // together while the row is in cache. (When x is γ itself, γ̄ is added by a second pass
    // afterwards, in the order of two separate passes.)
    let mut dgain = match gain != x {
        true => sink
            .grad(gain)
            .map(|buf| std::mem::replace(buf, Tensor::placeholder())),
        false => None,
    };
    let mut dx = sink.grad_slot(x);
    if dx.is_some() || dgain.is_some() {
        for_each_saved_row(stats, |i, mean, r| {
            let (xr, gr) = (&xv[i * n..(i + 1) * n], &g.data[i * n..(i + 1) * n]);
            if let Some((dx, store)) = dx.as_mut() {
                let dxr = &mut dx.data[i * n..(i + 1) * n];
                store_row_input_grad(xr, gr, gamma, mean, r, dxr, *store);
            }
            if let Some(dgain) = dgain.as_mut() {
                add_row_gain_grad(xr, gr, mean, r, &mut dgain.data);
            }
        });
    }
    if let Some(buf) = dgain {
        sink.grads[gain as usize] = buf;
    }
    if gain == x
        && let Some(dgain) = sink.grad(gain)
    {
        for_each_saved_row(stats, |i, mean, r| {
            let (xr, gr) = (&xv[i * n..(i + 1) * n], &g.data[i * n..(i + 1) * n]);
            add_row_gain_grad(xr, gr, mean, r, &mut dgain.data);
        });
    }
    if let Some(dbias) = sink.grad(bias) {
        for gr in g.data.chunks_exact(n) {
            for (d, &gl) in dbias.data.iter_mut().zip(gr) {
                *d += gl;
            }
        }
    }
}

/// `x̄ = r · (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂))` for one row, written (`=`) or added (`+=`) as
/// `store` says, with `ĝ = ȳ ⊙ γ` and `x̂ = (x − μ) · r` from the row's `(μ, r)`.
fn store_row_input_grad<T: Float>(
    xr: &[T],
    gr: &[T],
    gamma: &[T],
    mean: T,
    r: T,
    dxr: &mut [T],
    store: Store,
) {
    let n = gamma.len();
    let inv_n = T::one() / T::from_usize(n);
    // mean(ĝ) and mean(ĝ ⊙ x̂).
    let (mut mean_g, mut mean_gx) = (T::zero(), T::zero());
    for l in 0..n {
        let gh = gr[l] * gamma[l];
        mean_g += gh;
        mean_gx += gh * (xr[l] - mean) * r;
    }
    mean_g *= inv_n;
    mean_gx *= inv_n;
    let x_bar = |l: usize| {
        let xh = (xr[l] - mean) * r;
        r * (gr[l] * gamma[l] - mean_g - xh * mean_gx)
    };
    match store {
        Store::Overwrite => dxr.iter_mut().enumerate().for_each(|(l, d)| *d = x_bar(l)),
        Store::Accumulate => dxr.iter_mut().enumerate().for_each(|(l, d)| *d += x_bar(l)),
    }
}

/// `γ̄ += ȳ ⊙ x̂` for one row, `x̂ = (x − μ) · r` from the row's `(μ, r)`.
fn add_row_gain_grad<T: Float>(xr: &[T], gr: &[T], mean: T, r: T, dgain: &mut [T]) {
    for l in 0..dgain.len() {
        dgain[l] += gr[l] * (xr[l] - mean) * r;
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Layer normalisation over the last axis: `y = γ ⊙ (x − μ)/√(σ² + ε) + β` per row, with μ
    /// and σ² the row's mean and biased variance; `gain` (γ) and `bias` (β) have the length of
    /// the last axis. `x̄ = r (ĝ − mean ĝ − x̂ mean(ĝ x̂))` with `ĝ = ȳ γ`, `r = 1/√(σ² + ε)`;
    /// `γ̄ = Σ_rows ȳ x̂`, `β̄ = Σ_rows ȳ` (derivation in the module doc).
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0, 3.0], &[1, 2]));
    /// let gain = tape.constant(&Tensor::from_vec(vec![2.0, 2.0], &[2]));
    /// let bias = tape.constant(&Tensor::from_vec(vec![0.5, 0.5], &[2]));
    /// // μ = 2, σ² = 1: x̂ = [−1, 1], y = 2·x̂ + 0.5 (ε = 0 here only to keep the numbers round).
    /// assert_eq!(x.layer_norm(gain, bias, 0.0).value().data(), &[-1.5, 2.5]);
    /// ```
    ///
    /// # Panics
    /// If `x` is a scalar, `gain` or `bias` is not 1-d of the last axis' length, or `eps < 0`;
    /// the message names the shapes.
    pub fn layer_norm(self, gain: Self, bias: Self, eps: T) -> Self {
        let (x, g, b) = (self.index, gain.index, bias.index);
        assert!(eps >= T::zero(), "layer_norm: expected eps >= 0, got {eps}");
        self.tape.record_saving(
            "layer_norm",
            &[self, gain, bias],
            |v, out, stats| {
                let (xv, gv, bv) = (&v[x as usize], &v[g as usize], &v[b as usize]);
                let n = xv.shape.last().copied().unwrap_or(0);
                assert!(
                    xv.ndim() >= 1 && gv.shape == [n] && bv.shape == [n],
                    "layer_norm: x {:?}, gain {:?}, bias {:?}; expected x [.., n], gain [n], bias [n]",
                    xv.shape,
                    gv.shape,
                    bv.shape
                );
                out.resize(&xv.shape);
                forward(&xv.data, &gv.data, &bv.data, &mut out.data, stats, eps);
            },
            |_, _| Op::LayerNorm {
                x,
                gain: g,
                bias: b,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{LOCKSTEP_ROWS, for_each_row_stats, row_stats};
    use crate::gradcheck::{GradcheckConfig, gradcheck};
    use crate::tensor::Tensor;

    /// The rows summed in lockstep give the bits of one row at a time, for every row count
    /// around the lockstep block (full blocks, a remainder, none).
    #[test]
    fn lockstep_row_stats_are_the_bits_of_one_row_at_a_time() {
        let n = 13;
        for rows in [
            0,
            1,
            LOCKSTEP_ROWS - 1,
            LOCKSTEP_ROWS,
            2 * LOCKSTEP_ROWS + 3,
        ] {
            let x: Vec<f32> = (0..rows * n)
                .map(|i| (i as f32 * 0.37).sin() * 3.0 + 0.1)
                .collect();
            let mut seen = Vec::new();
            for_each_row_stats(&x, n, 1e-5, |i, mean, r| seen.push((i, mean, r)));
            let one_by_one: Vec<_> = x
                .chunks_exact(n)
                .enumerate()
                .map(|(i, row)| {
                    let (mean, r) = row_stats(row, 1e-5);
                    (i, mean, r)
                })
                .collect();
            let bits = |v: &[(usize, f32, f32)]| -> Vec<(usize, u32, u32)> {
                v.iter()
                    .map(|&(i, m, r)| (i, m.to_bits(), r.to_bits()))
                    .collect()
            };
            assert_eq!(bits(&seen), bits(&one_by_one), "{rows} rows");
        }
    }

    /// Backward takes γ̄'s buffer out of the tape to fill it with x̄ in one pass; when one node is
    /// x and γ, or γ and β, at once, both uses must still add their share.
    #[test]
    fn a_node_used_as_two_inputs_gets_both_gradients() {
        let x = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.7], &[4]);
        let b = Tensor::from_vec(vec![0.1, 0.2, -0.3, 0.4], &[4]);
        let w = Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0], &[4]);
        let config = GradcheckConfig::default();
        let x_is_gain = gradcheck(
            |t, v| (v[0].layer_norm(v[0], v[1], 0.1) * t.constant(&w)).sum(),
            &[x.clone(), b.clone()],
            &config,
        );
        assert!(x_is_gain.passes(1e-6), "{x_is_gain}");
        let gain_is_bias = gradcheck(
            |t, v| (v[0].layer_norm(v[1], v[1], 0.1) * t.constant(&w)).sum(),
            &[x, b],
            &config,
        );
        assert!(gain_is_bias.passes(1e-6), "{gain_is_bias}");
    }
}
