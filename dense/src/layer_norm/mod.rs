//! Layer normalisation as one autograd node with vectorised kernels: the transformer's pre-norms
//! and final norm. Autograd's [`Var::layer_norm`] is the reference; this op has its bits.
//!
//! ```text
//! μ = (1/n) Σₗ xₗ        σ² = (1/n) Σₗ (xₗ − μ)²        r = 1 / √(σ² + ε)
//! x̂ₗ = (xₗ − μ) · r      yₗ = γₗ x̂ₗ + βₗ
//!
//! backward, with ĝₗ = ȳₗ γₗ:
//! x̄ₗ (+)= r · (ĝₗ − mean(ĝ) − x̂ₗ · mean(ĝ ⊙ x̂))
//! γ̄ₗ += Σ_rows ȳₗ x̂ₗ        β̄ₗ += Σ_rows ȳₗ
//! ```
//!
//! (the derivation is in autograd's `ops/layer_norm.rs`). Forward saves each row's `(μ, r)` in
//! the node's saved buffer, `[μ₀, r₀, μ₁, r₁, …]`, so backward reads them back.
//!
//! **Why a second implementation.** Each row needs sums over its elements (μ, σ² forward;
//! mean(ĝ) and mean(ĝ ⊙ x̂) backward), and the reference adds each row's elements one after the
//! other, in order. One row's sum is a chain of dependent additions, as slow as the adder's
//! latency however wide the vectors. Vectorising along the row would add in another order and
//! change the bits. So the vector paths give each *row* a lane instead: lane k of a register
//! holds row k's running sum, and step l adds element l of 16 rows (AVX-512) or 8 (AVX2) at
//! once. To get there the kernels load 16 (or 8) consecutive elements of each row and transpose
//! that square in registers, so that vector l holds element l of every row. Every row still adds
//! its elements in order, from zero, with no fused multiply-add: the same roundings, the same
//! bits as the reference on every path. The passes that need no sum (y, x̄, γ̄, β̄ of one row) run
//! along the row, 16 or 8 elements at a time.
//!
//! Large inputs (from [`threads::PARALLEL_MIN_HEAVY_ELEMENTS`]) are cut into blocks of whole rows,
//! one per thread; γ̄ and β̄, which sum over the rows, are then added on the calling thread, rows
//! in order, so the bits do not depend on the thread count either.
//!
//! How we know it is right: `tests/layer_norm.rs` holds value and every gradient to autograd's
//! op bit for bit in `f32` on every kernel path (row counts around the lane width, ragged rows,
//! overwritten and accumulated x̄), and checks the `f64` op with `gradcheck`; `tests/threads.rs`
//! holds the bits at 1, 2 and 3 threads.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use std::rc::Rc;

use autograd::{CustomOp, GradSlot, Store, Tensor, Var};

use crate::element::Element;
use crate::kernel::Kernel;
use crate::threads;

/// The fused layer-norm op, with its ε; keep it in an `Rc` across steps (recording then only
/// bumps a count).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNorm {
    eps: f64,
}

impl LayerNorm {
    /// The op with `ε = eps` (converted to the element type as autograd's `T::from_f64` does),
    /// shared through an `Rc`.
    ///
    /// # Panics
    /// If `eps` is negative or not finite.
    pub fn new(eps: f64) -> Rc<Self> {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "LayerNorm: expected a finite eps >= 0, got {eps}"
        );
        Rc::new(LayerNorm { eps })
    }
}

/// Records `LN(x) = γ ⊙ (x − μ)/√(σ² + ε) + β` over the last axis of `x` as one node; `gain` (γ)
/// and `bias` (β) have the last axis' length. The value and gradients are those of autograd's
/// [`Var::layer_norm`] bit for bit.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use dense::layer_norm::{LayerNorm, layer_norm};
/// let tape = Tape::<f32>::new();
/// let x = tape.param(&Tensor::from_vec(vec![1.0, 3.0, -2.0, 0.5, 4.0, 1.5], &[2, 3]));
/// let gain = tape.param(&Tensor::from_vec(vec![2.0, 1.0, 0.5], &[3]));
/// let bias = tape.param(&Tensor::from_vec(vec![0.1, 0.2, 0.3], &[3]));
/// let fused = layer_norm(x, gain, bias, &LayerNorm::new(1e-5));
/// let reference = x.layer_norm(gain, bias, 1e-5);
/// assert_eq!(fused.value().data(), reference.value().data());
/// ```
pub fn layer_norm<'t, T: Element>(
    x: Var<'t, T>,
    gain: Var<'t, T>,
    bias: Var<'t, T>,
    op: &Rc<LayerNorm>,
) -> Var<'t, T> {
    let op: Rc<dyn CustomOp<T>> = op.clone();
    x.tape().custom(op, &[x, gain, bias])
}

/// Numbers saved per row: μ and r.
const SAVED_PER_ROW: usize = 2;

impl<T: Element> CustomOp<T> for LayerNorm {
    fn name(&self) -> &str {
        "layer_norm"
    }

    /// x's shape; γ and β must be `[n]`, n the last axis of x.
    fn output_shape(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        assert!(
            inputs.len() == 3,
            "layer_norm: expected 3 inputs (x, gain, bias), got {}",
            inputs.len()
        );
        let (x, gain, bias) = (inputs[0], inputs[1], inputs[2]);
        let n = x.last().copied().unwrap_or(0);
        assert!(
            !x.is_empty() && gain == [n] && bias == [n],
            "layer_norm: x {x:?}, gain {gain:?}, bias {bias:?}; expected x [.., n], gain [n], bias [n]"
        );
        shape.extend_from_slice(x);
    }

    /// `y = γ ⊙ x̂ + β`, each row's `(μ, r)` into `saved`.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, saved: &mut Vec<T>) {
        let (x, gain, bias) = (inputs[0].data(), inputs[1].data(), inputs[2].data());
        let rows = x.len().checked_div(gain.len()).unwrap_or(0);
        // Only grown, never zero-filled: the forward writes every number.
        saved.resize(rows * SAVED_PER_ROW, T::zero());
        let (eps, kernel) = (
            <T as autograd::Float>::from_f64(self.eps),
            Kernel::selected(),
        );
        // Blocks of whole rows, one per thread: x, its stats and y cut at the same rows.
        let n = gain.len().max(1);
        let block = parallel_rows(x.len(), n);
        let inputs = x
            .chunks(block * n)
            .zip(saved.chunks_mut(block * SAVED_PER_ROW));
        let parts = inputs.zip(out.data_mut().chunks_mut(block * n));
        threads::for_each_part(parts, |_, ((x, stats), y)| {
            T::layer_norm_forward(kernel, Rows { x, gain, stats }, bias, eps, y)
        });
    }

    /// x̄ (written or added), γ̄ and β̄ (added), from the saved `(μ, r)`.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let [dx, dgain, dbias] = grad_inputs else {
            unreachable!("layer_norm has 3 inputs");
        };
        let (x, gain, g) = (inputs[0].data(), inputs[1].data(), grad_out.data());
        let (kernel, n) = (Kernel::selected(), gain.len().max(1));
        let mut dx = dx.as_mut().map(|s| {
            let (buf, store) = s.write();
            (buf.data_mut(), store)
        });
        let block = parallel_rows(x.len(), n);
        if block * n < x.len()
            && let Some((dx, store)) = dx.take()
        {
            // On the pool: x̄ in blocks of whole rows, one per thread; γ̄ and β̄ below, on this
            // thread, each column summed over the rows in order as on one thread.
            let inputs = x.chunks(block * n).zip(g.chunks(block * n));
            let rows = inputs.zip(saved.chunks(block * SAVED_PER_ROW));
            let parts = rows.zip(dx.chunks_mut(block * n));
            threads::for_each_part(parts, |_, (((x, g), stats), dx)| {
                let grads = Grads {
                    x: Some((dx, store)),
                    gain: None,
                    bias: None,
                };
                T::layer_norm_backward(kernel, Rows { x, gain, stats }, g, grads)
            });
        }
        let grads = Grads {
            x: dx,
            gain: dgain.as_mut().map(|s| s.add_into().data_mut()),
            bias: dbias.as_mut().map(|s| s.add_into().data_mut()),
        };
        let rows = Rows {
            x,
            gain,
            stats: saved,
        };
        T::layer_norm_backward(kernel, rows, g, grads);
    }
}

/// Rows each thread takes of `len` numbers in rows of n (a multiple of 16, the widest kernel's
/// block of rows): all of them below [`threads::PARALLEL_MIN_HEAVY_ELEMENTS`]. Each row's
/// numbers are computed by one thread with the same instructions, so the bits do not depend on
/// the thread count.
fn parallel_rows(len: usize, n: usize) -> usize {
    threads::part_len(len / n, 16, len, threads::PARALLEL_MIN_HEAVY_ELEMENTS)
}

/// What both directions read: the input rows (`x`, row-major, rows of `gain.len()`), γ, and
/// each row's `(μ, r)` (`[μ₀, r₀, μ₁, …]`: written forward, read backward).
pub struct Rows<'a, T, S> {
    /// The input, `rows · n` numbers.
    pub x: &'a [T],
    /// γ, n numbers: its length is the row length.
    pub gain: &'a [T],
    /// `(μ, r)` of every row.
    pub stats: S,
}

/// The gradients backward fills: x̄ with how to store it, γ̄ and β̄ added into (each `None` when
/// that input needs none).
pub struct Grads<'a, T> {
    /// x̄ and whether to write (`=`) or add (`+=`).
    pub x: Option<(&'a mut [T], Store)>,
    /// γ̄, added into.
    pub gain: Option<&'a mut [T]>,
    /// β̄, added into.
    pub bias: Option<&'a mut [T]>,
}

/// The forward on `kernel`'s path: the vector kernels for `f32` on AVX-512 and AVX2, else
/// [`forward_rows`] (the bits of every path).
pub(crate) fn forward_f32(
    kernel: Kernel,
    rows: Rows<'_, f32, &mut [f32]>,
    bias: &[f32],
    eps: f32,
    y: &mut [f32],
) {
    kernel.assert_available();
    check_forward(&rows, bias, y);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted; the lengths were checked.
        Kernel::Avx512 => unsafe { avx512::forward(rows, bias, eps, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted; the lengths were checked.
        Kernel::Avx2Fma => unsafe { avx2::forward(rows, bias, eps, y) },
        _ => forward_rows(rows, bias, eps, y),
    }
}

/// The backward on `kernel`'s path, as [`forward_f32`].
pub(crate) fn backward_f32(
    kernel: Kernel,
    rows: Rows<'_, f32, &[f32]>,
    g: &[f32],
    grads: Grads<'_, f32>,
) {
    kernel.assert_available();
    check_backward(&rows, g, &grads);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted; the lengths were checked.
        Kernel::Avx512 => unsafe { avx512::backward(rows, g, grads) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted; the lengths were checked.
        Kernel::Avx2Fma => unsafe { avx2::backward(rows, g, grads) },
        _ => backward_rows(rows, g, grads),
    }
}

/// Panics unless x is whole rows of γ's length and bias, y and the stats fit them.
fn check_forward<T>(rows: &Rows<'_, T, &mut [T]>, bias: &[T], y: &[T]) {
    let n = rows.gain.len();
    let count = rows.x.len().checked_div(n).unwrap_or(0);
    assert!(
        bias.len() == n
            && y.len() == rows.x.len()
            && count * n == rows.x.len()
            && rows.stats.len() == count * SAVED_PER_ROW,
        "layer_norm forward: {} inputs, gain {n}, bias {}, output {}, stats {}",
        rows.x.len(),
        bias.len(),
        y.len(),
        rows.stats.len()
    );
}

/// Panics unless ȳ and every gradient fit the rows.
fn check_backward<T>(rows: &Rows<'_, T, &[T]>, g: &[T], grads: &Grads<'_, T>) {
    let n = rows.gain.len();
    let count = rows.x.len().checked_div(n).unwrap_or(0);
    let fits = |len: Option<usize>, want: usize| len.is_none_or(|l| l == want);
    assert!(
        g.len() == rows.x.len()
            && count * n == rows.x.len()
            && rows.stats.len() == count * SAVED_PER_ROW
            && fits(grads.x.as_ref().map(|(d, _)| d.len()), rows.x.len())
            && fits(grads.gain.as_ref().map(|d| d.len()), n)
            && fits(grads.bias.as_ref().map(|d| d.len()), n),
        "layer_norm backward: the gradients' lengths do not fit {count} rows of {n}"
    );
}

/// `stats[SAVED_PER_ROW·(i0 + k) + which]` at k (μ for `which` = 0, r for 1) for the `present`
/// rows of a block of `L` rows from row `i0`, 0 past them: one vector's lanes.
#[cfg(target_arch = "x86_64")]
fn saved<const L: usize>(stats: &[f32], i0: usize, present: usize, which: usize) -> [f32; L] {
    std::array::from_fn(|k| match k < present {
        true => stats[SAVED_PER_ROW * (i0 + k) + which],
        false => 0.0,
    })
}

/// n as an `f32`, rounded as autograd's `from_usize` rounds it (through `f64`).
#[cfg(target_arch = "x86_64")]
fn length(n: usize) -> f32 {
    n as f64 as f32
}

/// `(μ, r)` of one row: its elements added in order from zero, divided by n; then the squared
/// deviations the same way; `r = 1 / √(σ² + ε)`.
fn row_stats<T: Element>(row: &[T], eps: T) -> (T, T) {
    let n = <T as autograd::Float>::from_usize(row.len());
    let mean = row.iter().fold(T::zero(), |s, &x| s + x) / n;
    let var = row
        .iter()
        .fold(T::zero(), |s, &x| s + (x - mean) * (x - mean))
        / n;
    (mean, T::one() / (var + eps).sqrt())
}

/// The forward, one row at a time: the `f64` op, the portable `f32` path and the definition of
/// every path's bits.
pub(crate) fn forward_rows<T: Element>(
    rows: Rows<'_, T, &mut [T]>,
    bias: &[T],
    eps: T,
    y: &mut [T],
) {
    let Rows { x, gain, stats } = rows;
    let n = gain.len();
    if n == 0 {
        return; // rows of no features: nothing to normalise
    }
    let rows = x.chunks_exact(n).zip(y.chunks_exact_mut(n));
    for ((xr, yr), s) in rows.zip(stats.chunks_exact_mut(SAVED_PER_ROW)) {
        let (mean, r) = row_stats(xr, eps);
        (s[0], s[1]) = (mean, r);
        for l in 0..n {
            yr[l] = gain[l] * ((xr[l] - mean) * r) + bias[l];
        }
    }
}

/// The backward, one row at a time (the definition of the bits, as [`forward_rows`]).
pub(crate) fn backward_rows<T: Element>(rows: Rows<'_, T, &[T]>, g: &[T], grads: Grads<'_, T>) {
    let Rows { x, gain, stats } = rows;
    let Grads {
        x: mut dx,
        gain: mut dgain,
        bias: mut dbias,
    } = grads;
    let n = gain.len();
    if n == 0 {
        return;
    }
    let inv_n = T::one() / <T as autograd::Float>::from_usize(n);
    for (i, s) in stats.chunks_exact(SAVED_PER_ROW).enumerate() {
        let (mean, r) = (s[0], s[1]);
        let (xr, gr) = (&x[i * n..(i + 1) * n], &g[i * n..(i + 1) * n]);
        if let Some((dx, store)) = dx.as_mut() {
            // mean(ĝ) = (Σ ĝ)·(1/n), mean(ĝ ⊙ x̂) = (Σ (ĝ·(x − μ))·r)·(1/n), each sum in order.
            let (mut sum_g, mut sum_gx) = (T::zero(), T::zero());
            for l in 0..n {
                let gh = gr[l] * gain[l];
                sum_g += gh;
                sum_gx += gh * (xr[l] - mean) * r;
            }
            let means = (sum_g * inv_n, sum_gx * inv_n);
            store_input_grad(
                xr,
                gr,
                gain,
                (mean, r),
                means,
                &mut dx[i * n..(i + 1) * n],
                *store,
            );
        }
        if let Some(dgain) = dgain.as_deref_mut() {
            // γ̄ += ȳ ⊙ x̂, as (ȳ·(x − μ))·r
            for l in 0..n {
                dgain[l] += gr[l] * (xr[l] - mean) * r;
            }
        }
        if let Some(dbias) = dbias.as_deref_mut() {
            // β̄ += ȳ
            for (d, &gl) in dbias.iter_mut().zip(gr) {
                *d += gl;
            }
        }
    }
}

/// `x̄ = r · (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂))` for one row, written or added as `store` says.
fn store_input_grad<T: Element>(
    xr: &[T],
    gr: &[T],
    gain: &[T],
    (mean, r): (T, T),
    (mean_g, mean_gx): (T, T),
    dxr: &mut [T],
    store: Store,
) {
    let x_bar = |l: usize| {
        let xh = (xr[l] - mean) * r;
        r * (gr[l] * gain[l] - mean_g - xh * mean_gx)
    };
    match store {
        Store::Overwrite => dxr.iter_mut().enumerate().for_each(|(l, d)| *d = x_bar(l)),
        Store::Accumulate => dxr.iter_mut().enumerate().for_each(|(l, d)| *d += x_bar(l)),
    }
}
