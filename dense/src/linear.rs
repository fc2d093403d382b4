//! `Linear`: the fused layer `y = act(x·W + b)` as one autograd node ([`autograd::CustomOp`]).
//!
//! Shapes: `x` is `[batch, in]`, `W` is `[in, out]`, `b` is `[out]`, `y` is `[batch, out]`.
//!
//! Forward is one GEMM whose epilogue adds the bias and applies the activation while each tile
//! of `y` is stored. Backward, from `ȳ = dL/dy` and the *output* `y` (the activation's
//! derivative is written from it, so the node keeps nothing else):
//!
//! ```text
//! z̄ = ȳ ⊙ act'(y)          tanh: 1 − y²;  relu: [y > 0];  identity: 1
//! b̄ += Σ_rows z̄            summed in the same pass, row by row, while each row is in L1
//! x̄ += z̄ · Wᵀ              GEMM on a transposed view of W (no copy)
//! W̄ += xᵀ · z̄              GEMM on a transposed view of x (no copy)
//! ```
//!
//! The two GEMMs compute `C = z̄·Wᵀ + β·C`: with `β = 1` they add into the gradient, and when this
//! rule is the first to write x̄ or W̄ in the pass ([`Store::Overwrite`]) they run with `β = 0`,
//! which writes the product without reading the slot, so the tape skips zero-filling it first.
//! On two or more threads the two run at the same time, one per thread, when both are large
//! (`run_side_by_side`); each still runs the code it runs alone, so the bits do not change.
//!
//! How we know it is right: `tests/layers.rs` checks, for every activation, that value and
//! gradients equal the same network composed from autograd's reference ops
//! (`x.matmul(w) + b`, then `.tanh()` / `.relu()`), and that the `f64` op passes autograd's
//! finite-difference `gradcheck`.

use autograd::{CustomOp, GradSlot, Store, Tensor, Var};

use crate::activation::Activation;
use crate::element::Element;
use crate::gemm::{Epilogue, gemm, gemm_fused};
use crate::kernel::Kernel;
use crate::threads;
use crate::view::{MatMut, MatRef};

/// The fused `act(x·W + b)` op; inputs `[x, W, b]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearOp {
    /// The activation applied last.
    pub activation: Activation,
}

/// Records `act(x·W + b)` on `x`'s tape as one node.
pub fn linear<'t, T: Element>(
    x: Var<'t, T>,
    w: Var<'t, T>,
    b: Var<'t, T>,
    activation: Activation,
) -> Var<'t, T> {
    x.tape().custom(T::linear_op(activation), &[x, w, b])
}

impl LinearOp {
    /// (batch, in, out) from the input shapes, or a panic naming them.
    #[track_caller]
    fn dims(&self, shapes: &[&[usize]]) -> (usize, usize, usize) {
        assert!(
            shapes.len() == 3,
            "linear: expected 3 inputs (x, W, b), got {}",
            shapes.len()
        );
        let (x, w, b) = (shapes[0], shapes[1], shapes[2]);
        assert!(
            x.len() == 2 && w.len() == 2 && b.len() == 1 && x[1] == w[0] && b[0] == w[1],
            "linear: x {x:?}, W {w:?}, b {b:?}; expected x [batch, in], W [in, out], b [out]"
        );
        (x[0], w[0], w[1])
    }

    /// `out = act(x·W + b)` for inputs `[x, W, b]`, then `+ r` when a residual `r` (the output's
    /// shape) is given, added last in the GEMM's epilogue: this op's forward, and
    /// [`crate::residual`]'s.
    pub(crate) fn forward_into<T: Element>(
        &self,
        inputs: &[&Tensor<T>],
        residual: Option<&Tensor<T>>,
        out: &mut Tensor<T>,
    ) {
        let (batch, fan_in, fan_out) =
            self.dims(&[inputs[0].shape(), inputs[1].shape(), inputs[2].shape()]);
        let mut epilogue = Epilogue::new(Some(inputs[2].data()), self.activation);
        if let Some(r) = residual {
            epilogue = epilogue.with_residual(MatRef::row_major(r.data(), batch, fan_out));
        }
        gemm_fused(
            <T as crate::Scalar>::ONE,
            MatRef::row_major(inputs[0].data(), batch, fan_in),
            MatRef::row_major(inputs[1].data(), fan_in, fan_out),
            <T as crate::Scalar>::ZERO,
            MatMut::row_major(out.data_mut(), batch, fan_out),
            epilogue,
        );
    }
}

impl<T: Element> CustomOp<T> for LinearOp {
    fn name(&self) -> &str {
        "linear"
    }

    fn output_shape(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let (batch, _, out) = self.dims(inputs);
        shape.extend_from_slice(&[batch, out]);
    }

    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, _saved: &mut Vec<T>) {
        self.forward_into(inputs, None, out);
    }

    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        _saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let (batch, fan_in, fan_out) =
            self.dims(&[inputs[0].shape(), inputs[1].shape(), inputs[2].shape()]);
        T::with_scratch(|dz| {
            let gb = grad_inputs[2]
                .as_mut()
                .map(|slot| slot.add_into().data_mut());
            // z̄ = ȳ ⊙ act'(y) and b̄ += Σ_rows z̄; for the identity z̄ is ȳ itself (no copy).
            let dz: &[T] = if self.activation == Activation::Identity {
                if let Some(gb) = gb {
                    add_column_sums(grad_out.data(), fan_out, gb);
                }
                grad_out.data()
            } else {
                // Every element is written below, so only a too-short buffer is extended.
                let n = grad_out.numel();
                if dz.len() < n {
                    dz.resize(n, <T as crate::Scalar>::ZERO);
                }
                dz.truncate(n);
                activation_backward(
                    self.activation,
                    grad_out.data(),
                    out.data(),
                    dz,
                    fan_out,
                    gb,
                );
                dz
            };
            let dz_view = MatRef::row_major(dz, batch, fan_out);
            let (gx, rest) = grad_inputs.split_at_mut(1);
            let gx = gx[0].as_mut().map(GradSlot::write);
            let gw = rest[0].as_mut().map(GradSlot::write);
            // x̄ (+)= z̄·Wᵀ: Wᵀ is W's memory read with swapped strides.
            let wt = MatRef::row_major(inputs[1].data(), fan_in, fan_out).t();
            let input_grad = gx.map(|slot| Product::into_slot(dz_view, wt, slot, batch, fan_in));
            // W̄ (+)= xᵀ·z̄.
            let xt = MatRef::row_major(inputs[0].data(), batch, fan_in).t();
            let weight_grad = gw.map(|slot| Product::into_slot(xt, dz_view, slot, fan_in, fan_out));
            run_side_by_side(input_grad, weight_grad);
        });
    }
}

/// One product `C = A·B + β·C` to run.
struct Product<'a, T> {
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    beta: T,
    c: MatMut<'a, T>,
}

impl<'a, T: Element> Product<'a, T> {
    /// `A·B` into a gradient slot of `rows × cols`: written (`β = 0`) or added, as the slot says.
    fn into_slot(
        a: MatRef<'a, T>,
        b: MatRef<'a, T>,
        (grad, store): (&'a mut Tensor<T>, Store),
        rows: usize,
        cols: usize,
    ) -> Self {
        Product {
            a,
            b,
            beta: beta(store),
            c: MatMut::row_major(grad.data_mut(), rows, cols),
        }
    }

    /// `C = A·B + β·C`, split over the threads as the GEMM decides.
    fn run(self) {
        gemm(<T as crate::Scalar>::ONE, self.a, self.b, self.beta, self.c);
    }

    /// `m·k·n`: the product's size in multiply-adds.
    fn multiply_adds(&self) -> usize {
        self.a.rows() * self.a.cols() * self.b.cols()
    }
}

/// Runs the backward's two products, `x̄` and `W̄`. They read the same `z̄` and write different
/// buffers, so when both are wanted, several threads are allowed and each is large enough to
/// split ([`threads::PARALLEL_MIN_MACS`]), they run at the same time, one per thread: each
/// product whole on one thread reads `z̄` where the other would have split it by rows, and the
/// two threads meet once instead of once per product. Each product runs the code it runs alone
/// (a product inside a pool job runs its row blocks on its own thread, in order), so the bits
/// are those of one thread. Otherwise they run one after the other, each split by rows.
fn run_side_by_side<T: Element>(first: Option<Product<'_, T>>, second: Option<Product<'_, T>>) {
    // Whether a product would split over the threads on its own (the GEMM's rule).
    let would_split = |p: &Option<Product<'_, T>>| {
        p.as_ref().is_some_and(|p| {
            threads::parts_for(p.multiply_adds(), threads::PARALLEL_MIN_MACS, 2) > 1
        })
    };
    if would_split(&first) && would_split(&second) {
        threads::for_each_part([first, second].into_iter().flatten(), |_, p| p.run());
    } else {
        first.into_iter().chain(second).for_each(Product::run);
    }
}

/// The GEMM's `β` for storing a product into a gradient slot: 0 overwrites (the slot's first
/// write in the pass; its stale numbers are not read), 1 adds to the sum so far.
pub(crate) fn beta<T: Element>(store: Store) -> T {
    match store {
        Store::Overwrite => <T as crate::Scalar>::ZERO,
        Store::Accumulate => <T as crate::Scalar>::ONE,
    }
}

/// `z̄ = ȳ ⊙ act'(y)` row by row, adding each row of z̄ into `b̄` (when given) while it is still in
/// L1: one pass over the layer's output instead of two. Large batches run on the thread pool:
/// rows of z̄ in blocks, then b̄ in blocks of columns (each column summed over the rows in order
/// by one thread, so the bits do not depend on the thread count).
fn activation_backward<T: Element>(
    act: Activation,
    g: &[T],
    y: &[T],
    dz: &mut [T],
    cols: usize,
    gb: Option<&mut [T]>,
) {
    let kernel = Kernel::selected();
    let cols = cols.max(1);
    let parts = threads::parts_for(dz.len(), threads::PARALLEL_MIN_ELEMENTS, dz.len() / cols);
    if parts > 1 {
        let chunk = (dz.len() / cols).div_ceil(parts) * cols;
        let blocks = dz
            .chunks_mut(chunk)
            .zip(g.chunks(chunk).zip(y.chunks(chunk)));
        threads::for_each_part(blocks, |_, (d, (g, y))| {
            T::activation_grad(kernel, act, g, y, d)
        });
        if let Some(gb) = gb {
            add_column_sums(dz, cols, gb);
        }
        return;
    }
    let Some(gb) = gb else {
        T::activation_grad(kernel, act, g, y, dz);
        return;
    };
    // Blocks of rows small enough to stay in L1 (about 8 KB of z̄) between the two steps (one
    // pass for tanh in f32).
    let block = (2048 / cols).max(1) * cols;
    for (d, (g, y)) in dz
        .chunks_mut(block)
        .zip(g.chunks(block).zip(y.chunks(block)))
    {
        T::activation_grad_colsum(kernel, act, g, y, d, gb);
    }
}

/// `sums[j] += Σ_i m[i, j]` over the rows of the row-major `m` (`cols` wide), rows in order; on
/// the thread pool in blocks of columns when `m` is large.
fn add_column_sums<T: Element>(m: &[T], cols: usize, sums: &mut [T]) {
    let cols = cols.max(1);
    let kernel = Kernel::selected();
    let parts = threads::parts_for(m.len(), threads::PARALLEL_MIN_ELEMENTS, cols.div_ceil(16));
    if parts > 1 {
        let width = cols.div_ceil(parts).next_multiple_of(16);
        threads::for_each_part(sums.chunks_mut(width), |p, block| {
            column_sums_window(kernel, m, cols, p * width, block)
        });
    } else {
        column_sums_window(kernel, m, cols, 0, sums);
    }
}

/// `sums[j] += Σ_i m[i, j0 + j]` for the columns `j0 .. j0 + sums.len()`, rows in order: 64
/// columns at a time, then 16, then fewer, their sums held in a local array that the compiler
/// keeps in vector registers (compiled for the kernel's vector width) while the rows go by. A
/// column's sum is a chain of dependent additions, so a strip of 64 (four AVX-512 vectors, eight
/// AVX2 ones) keeps several chains going where a strip of one vector waits for each addition; and
/// a narrow layer's few columns (a policy's 2 logits) are summed in registers instead of in
/// memory, row after row. Plain additions, so the bits are the scalar loop's on every path. The
/// `wide` / `narrow` wrappers are the pattern of `gemm::rank_one_block`: `body` must be called by
/// name inside the `#[target_feature]` functions to be compiled there (a closure handed to a
/// shared helper was compiled once, for the baseline instruction set, when tried).
fn column_sums_window<T: Element>(kernel: Kernel, m: &[T], cols: usize, j0: usize, sums: &mut [T]) {
    /// Columns `c .. c + W` of every row added into `strip` (their sums so far).
    #[inline(always)]
    fn strip<T: Element, const W: usize>(m: &[T], cols: usize, c: usize, strip: &mut [T]) {
        let mut acc: [T; W] = strip.try_into().expect("W columns");
        for row in m.chunks_exact(cols) {
            acc.iter_mut()
                .zip(&row[c..c + W])
                .for_each(|(a, &v)| *a += v);
        }
        strip.copy_from_slice(&acc);
    }
    #[inline(always)]
    fn body<T: Element>(m: &[T], cols: usize, j0: usize, mut sums: &mut [T]) {
        // Strips of 64 while 64 columns are left, then of 16, then the last 8, 4, 2 and 1: every
        // strip's sums stay in registers for the whole walk down the rows.
        let mut c = j0;
        for w in [64, 16, 8, 4, 2, 1] {
            while sums.len() >= w {
                let (block, rest) = std::mem::take(&mut sums).split_at_mut(w);
                match w {
                    64 => strip::<T, 64>(m, cols, c, block),
                    16 => strip::<T, 16>(m, cols, c, block),
                    8 => strip::<T, 8>(m, cols, c, block),
                    4 => strip::<T, 4>(m, cols, c, block),
                    2 => strip::<T, 2>(m, cols, c, block),
                    _ => strip::<T, 1>(m, cols, c, block),
                }
                (sums, c) = (rest, c + w);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn wide<T: Element>(m: &[T], cols: usize, j0: usize, sums: &mut [T]) {
        body(m, cols, j0, sums)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn narrow<T: Element>(m: &[T], cols: usize, j0: usize, sums: &mut [T]) {
        body(m, cols, j0, sums)
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the selected kernel is one the CPU has (AVX-512F).
        Kernel::Avx512 => unsafe { wide(m, cols, j0, sums) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the selected kernel is one the CPU has (AVX2).
        Kernel::Avx2Fma => unsafe { narrow(m, cols, j0, sums) },
        _ => body(m, cols, j0, sums),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every strip width (64, 16, the last few columns) and every window start gives the sums of
    /// the plain loop, rows in order, bit for bit, on every path.
    #[test]
    fn column_sums_have_the_bits_of_the_row_by_row_loop() {
        for kernel in Kernel::available() {
            for (rows, cols, j0, width) in [
                (7, 85, 0, 85),
                (33, 150, 0, 150),
                (5, 200, 64, 136),
                (9, 2, 0, 2),
                (4, 15, 0, 15),
            ] {
                let m: Vec<f32> = (0..rows * cols)
                    .map(|k| ((k as f32) * 0.37).sin() * (1.0 + (k % 7) as f32))
                    .collect();
                let start: Vec<f32> = (0..width).map(|j| j as f32 * 0.01 - 0.5).collect();
                let mut want = start.clone();
                for row in m.chunks_exact(cols) {
                    for (s, &v) in want.iter_mut().zip(&row[j0..j0 + width]) {
                        *s += v;
                    }
                }
                let mut got = start.clone();
                column_sums_window(kernel, &m, cols, j0, &mut got);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{kernel:?} {rows}×{cols} from {j0}"
                );
            }
        }
    }
}
