//! General matrix multiply, `C = act(alpha·A·B + beta·C + bias) + residual`, over strided views.
//!
//! Entry points: [`gemm`] (fastest path, no epilogue), [`gemm_fused`] (with bias and
//! activation applied as C is stored), and their `*_with` twins that force a [`Kernel`].
//! `f32` runs on the selected SIMD path; `f64` always runs the portable packed kernel.
//!
//! Shapes: `A` is `m×k`, `B` is `k×n`, `C` is `m×n`, `bias` has `n` values. A shape mismatch
//! panics with a message naming the shapes (like ndarray). When `beta == 0`, `C` is not read.
//!
//! Routing: an outer product (`k = 1`, the weight gradient at batch 1) is one multiply per
//! element (`rank_one`); problems with at most four rows (one row: acting with one observation) run as one
//! GEMV per row (`crate::gemv`); at most four columns (a policy or value head) run as one GEMV
//! per column of the transposed problem `Cᵀ = Bᵀ·Aᵀ`; small products (an attention head's,
//! `small::fits`) are read in place by `small.rs`, with the same bits as the packed driver;
//! everything else goes through the packed, blocked driver in `driver.rs`.

mod driver;
mod micro;
pub(crate) mod pack;
mod reference;
mod small;

pub use reference::gemm_reference;

use crate::activation::Activation;
use crate::kernel::Kernel;
use crate::scalar::Scalar;
use crate::threads;
use crate::view::{MatMut, MatRef};

/// What happens to each element of C as it is stored: `act(value + bias[j]) + residual[i, j]`,
/// in that order (the residual is added to the rounded `act(value + bias[j])`, as a separate
/// addition after the layer would add it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a, T> {
    /// A value per column of C added before the activation, or `None`.
    pub bias: Option<&'a [T]>,
    /// The activation applied after the bias.
    pub activation: Activation,
    /// A matrix of C's shape added last (a residual stream the product lands on), or `None`.
    pub residual: Option<MatRef<'a, T>>,
}

impl<'a, T: Copy> Epilogue<'a, T> {
    /// No bias, identity activation: a plain GEMM.
    pub fn none() -> Self {
        Epilogue {
            bias: None,
            activation: Activation::Identity,
            residual: None,
        }
    }

    /// Bias then activation.
    pub fn new(bias: Option<&'a [T]>, activation: Activation) -> Self {
        Epilogue {
            bias,
            activation,
            residual: None,
        }
    }

    /// The same epilogue, then `+ residual[i, j]` (a matrix of C's shape).
    pub fn with_residual(self, residual: MatRef<'a, T>) -> Self {
        Epilogue {
            residual: Some(residual),
            ..self
        }
    }

    /// Whether the epilogue changes anything.
    pub fn is_identity(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Identity && self.residual.is_none()
    }

    /// The epilogue of C's rows `r0..r0 + rows` (the residual's matching rows), for a block of
    /// rows computed on its own.
    fn rows(&self, r0: usize, rows: usize) -> Self {
        Epilogue {
            residual: self.residual.map(|r| r.sub(r0, 0, rows, r.cols())),
            ..*self
        }
    }

    /// Without the residual (for a route that adds it itself).
    fn without_residual(&self) -> Self {
        Epilogue {
            residual: None,
            ..*self
        }
    }
}

/// Panics with a message naming the shapes unless `A·B` fits `C` and the bias fits its columns.
#[track_caller]
pub(crate) fn check_shapes<T: Copy>(
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    c: &MatMut<'_, T>,
    epilogue: &Epilogue<'_, T>,
) {
    assert!(
        a.cols() == b.rows() && c.rows() == a.rows() && c.cols() == b.cols(),
        "gemm: A is {}x{}, B is {}x{}, C is {}x{}; expected A m×k, B k×n, C m×n",
        a.rows(),
        a.cols(),
        b.rows(),
        b.cols(),
        c.rows(),
        c.cols()
    );
    if let Some(bias) = epilogue.bias {
        assert!(
            bias.len() == c.cols(),
            "gemm: bias has {} values, expected one per column of C ({})",
            bias.len(),
            c.cols()
        );
    }
    if let Some(r) = epilogue.residual {
        assert!(
            r.rows() == c.rows() && r.cols() == c.cols(),
            "gemm: residual is {}x{}, C is {}x{}; expected the same shape",
            r.rows(),
            r.cols(),
            c.rows(),
            c.cols()
        );
    }
}

/// `C = alpha·A·B + beta·C` on the fastest kernel path.
pub fn gemm<T: Scalar>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    gemm_fused_with(Kernel::selected(), alpha, a, b, beta, c, Epilogue::none());
}

/// `C = alpha·A·B + beta·C` on a forced kernel path (panics if the CPU lacks it).
pub fn gemm_with<T: Scalar>(
    kernel: Kernel,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    gemm_fused_with(kernel, alpha, a, b, beta, c, Epilogue::none());
}

/// `C = act(alpha·A·B + beta·C + bias) + residual` on the fastest kernel path.
pub fn gemm_fused<T: Scalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: Epilogue<'_, T>,
) {
    gemm_fused_with(Kernel::selected(), alpha, a, b, beta, c, epilogue);
}

/// `C = act(alpha·A·B + beta·C + bias) + residual` on a forced kernel path (panics if the CPU
/// lacks it).
#[track_caller]
pub fn gemm_fused_with<T: Scalar>(
    kernel: Kernel,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: Epilogue<'_, T>,
) {
    check_shapes(&a, &b, &c, &epilogue);
    kernel.assert_available();
    T::gemm_dispatch(kernel, alpha, a, b, beta, c, epilogue);
}

/// The degenerate case `k == 0` or `alpha == 0`: `C = act(beta·C + bias)`.
fn scale_only<T: Scalar>(kernel: Kernel, beta: T, mut c: MatMut<'_, T>, epilogue: Epilogue<'_, T>) {
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let v = if beta == T::ZERO {
                T::ZERO
            } else {
                beta * c.get(i, j)
            };
            c.set(i, j, v);
        }
    }
    apply_epilogue_at(kernel, &mut c, 0, 0, &epilogue);
}

/// The whole epilogue on the (sub-)view `c` of C that starts at row `row0`, column `col0`:
/// `act(x + bias[col0 + j])` ([`apply_epilogue`]), then `+ residual[row0 + i, col0 + j]`.
pub(crate) fn apply_epilogue_at<T: Scalar>(
    kernel: Kernel,
    c: &mut MatMut<'_, T>,
    row0: usize,
    col0: usize,
    epilogue: &Epilogue<'_, T>,
) {
    apply_epilogue(kernel, c, col0, epilogue);
    if let Some(r) = epilogue.residual {
        add_residual(c, r.sub(row0, col0, c.rows(), c.cols()));
    }
}

/// `c[i, j] += r[i, j]` (same shape), row by row.
fn add_residual<T: Scalar>(c: &mut MatMut<'_, T>, r: MatRef<'_, T>) {
    for i in 0..c.rows() {
        match (c.row_mut(i), r.row(i)) {
            (Some(row), Some(res)) => row.iter_mut().zip(res).for_each(|(x, &v)| *x += v),
            _ => (0..r.cols()).for_each(|j| {
                let v = c.get(i, j) + r.get(i, j);
                c.set(i, j, v);
            }),
        }
    }
}

/// Applies `act(x + bias[col0 + j])` to every element of the (sub-)view `c`, using the same
/// vectorised activation as the fused path so every route gives the same bits.
pub(crate) fn apply_epilogue<T: Scalar>(
    kernel: Kernel,
    c: &mut MatMut<'_, T>,
    col0: usize,
    epilogue: &Epilogue<'_, T>,
) {
    if epilogue.is_identity() {
        return;
    }
    let cols = c.cols();
    let bias = epilogue.bias.map(|b| &b[col0..col0 + cols]);
    if c.cs() == 1 {
        let (rows, rs) = (c.rows(), c.rs());
        T::epilogue_rows(
            kernel,
            epilogue.activation,
            c.as_mut_slice(),
            rows,
            cols,
            rs,
            bias,
        );
    } else {
        // Strided rows: gather a short run, transform it, scatter it back.
        let mut buf = [T::ZERO; 64];
        for i in 0..c.rows() {
            let mut j0 = 0;
            while j0 < cols {
                let len = (cols - j0).min(buf.len());
                for (j, slot) in buf[..len].iter_mut().enumerate() {
                    *slot = c.get(i, j0 + j) + bias.map_or(T::ZERO, |b| b[j0 + j]);
                }
                T::activate_with(kernel, epilogue.activation, &mut buf[..len]);
                for (j, &v) in buf[..len].iter().enumerate() {
                    c.set(i, j0 + j, v);
                }
                j0 += len;
            }
        }
    }
}

/// The `f32` router: degenerate cases, GEMV for one row or one column, else the packed driver.
pub(crate) fn gemm_f32(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: Epilogue<'_, f32>,
) {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        scale_only(kernel, beta, c, epilogue);
        return;
    }
    if k == 1 && (beta == 0.0 || beta == 1.0) {
        rank_one(kernel, alpha, a, b, beta, &mut c);
        apply_epilogue_at(kernel, &mut c, 0, 0, &epilogue);
        return;
    }
    if m <= SMALL && gemv_rows(kernel, alpha, a, b, beta, &mut c, epilogue) {
        return;
    }
    if n <= SMALL && gemv_cols(kernel, alpha, a, b, beta, &mut c) {
        apply_epilogue_at(kernel, &mut c, 0, 0, &epilogue);
        return;
    }
    let mk = micro::for_f32(kernel);
    // Work in multiply-adds: a tanh epilogue costs about as much per element as 16 of them, and
    // storing an element of C about 8, so a shallow product that mostly writes C (the
    // batch-4096 `z̄·Wᵀ` of a 2-output head, k = 2) splits too.
    let epilogue_work = if epilogue.activation == Activation::Tanh {
        16
    } else {
        0
    };
    let work = m * n * (k + epilogue_work + 8);
    let parts = threads::parts_for(work, threads::PARALLEL_MIN_MACS, m.div_ceil(mk.mr));
    if parts <= 1 && small::fits(kernel, mk, &b, &c) {
        small::gemm_small(kernel, mk, alpha, a, b, beta, c, &epilogue);
        return;
    }
    packed_in_row_blocks(kernel, mk, alpha, a, b, beta, c, &epilogue, parts);
}

/// The packed driver on `parts` blocks of C's rows at once (`crate::threads`), each a whole
/// number of register tiles (`mr` rows). Every element of C is computed by exactly the code and
/// order the single-threaded call would use (the driver's choices of packing do not change any
/// arithmetic, and rows never share a tile), so the result is bit-identical for any `parts`.
/// Views whose rows interleave in memory (column-major C) run on one thread.
#[allow(clippy::too_many_arguments)]
fn packed_in_row_blocks(
    kernel: Kernel,
    mk: &'static driver::MicroKernel<f32>,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
    parts: usize,
) {
    let k = a.cols();
    for_each_row_block(c, a.rows(), mk.mr, parts, |r0, c_block| {
        let a_block = a.sub(r0, 0, c_block.rows(), k);
        let epilogue = epilogue.rows(r0, c_block.rows());
        driver::gemm_packed(kernel, mk, alpha, a_block, b, beta, c_block, &epilogue);
    });
}

/// `C = alpha·a·b + beta·C` for `k = 1` (an outer product: a weight gradient at batch 1) with
/// `beta` 0 or 1, one multiply per element and no packing. Each element is rounded exactly as the
/// micro-kernels and GEMVs round it, `c + alpha·(a_i·b_j)` (or without `c` when `beta = 0`), so
/// every route gives the same bits.
fn rank_one(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: &mut MatMut<'_, f32>,
) {
    let (m, n) = (c.rows(), c.cols());
    if c.cs() != 1 {
        for i in 0..m {
            for j in 0..n {
                let term = alpha * (a.get(i, 0) * b.get(0, j));
                let v = if beta == 0.0 {
                    term
                } else {
                    c.get(i, j) + term
                };
                c.set(i, j, v);
            }
        }
        return;
    }
    let rs = c.rs();
    if a.rs() == 1 && b.cs() == 1 {
        // Both vectors are already contiguous (the usual case: xᵀ·z̄ at batch 1): one call.
        let (a_col, b_row) = (&a.as_slice()[..m], &b.as_slice()[..n]);
        rank_one_block(kernel, alpha, a_col, b_row, beta, c.as_mut_slice(), rs);
        return;
    }
    // Else blocks of 64×64: a's column and b's row gathered once into unit-stride buffers.
    const BLOCK: usize = 64;
    let (mut a_col, mut b_row) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for j0 in (0..n).step_by(BLOCK) {
        let cols = BLOCK.min(n - j0);
        for (j, slot) in b_row[..cols].iter_mut().enumerate() {
            *slot = b.get(0, j0 + j);
        }
        for i0 in (0..m).step_by(BLOCK) {
            let rows = BLOCK.min(m - i0);
            for (i, slot) in a_col[..rows].iter_mut().enumerate() {
                *slot = a.get(i0 + i, 0);
            }
            let mut block = c.sub(i0, j0, rows, cols);
            let data = block.as_mut_slice();
            rank_one_block(
                kernel,
                alpha,
                &a_col[..rows],
                &b_row[..cols],
                beta,
                data,
                rs,
            );
        }
    }
}

/// `C[i, j] = alpha·(a[i]·b[j]) (+ C[i, j] when beta = 1)` on a block whose row `i` is
/// `data[i·rs ..][.. b.len()]`, compiled for the kernel's vector width (plain Rust that the
/// compiler vectorises; it never fuses a multiply and an add, so the bits do not depend on the
/// width).
fn rank_one_block(
    kernel: Kernel,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    data: &mut [f32],
    rs: usize,
) {
    /// One row, `row[j] (+)= alpha·(ai·b[j])`.
    #[inline(always)]
    fn row_update(alpha: f32, ai: f32, b: &[f32], beta: f32, row: &mut [f32]) {
        if beta == 0.0 {
            row.iter_mut()
                .zip(b)
                .for_each(|(x, &bj)| *x = alpha * (ai * bj));
        } else {
            row.iter_mut()
                .zip(b)
                .for_each(|(x, &bj)| *x += alpha * (ai * bj));
        }
    }
    /// Rows `W` wide: `W` a constant, so each row is `W` straight-line updates where a width
    /// known only at run time cost a loop, with its checks, for each row (a policy's 2 logits).
    #[inline(always)]
    fn narrow_rows<const W: usize>(
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        data: &mut [f32],
        rs: usize,
    ) {
        let b: &[f32; W] = b.try_into().expect("W columns");
        for (i, &ai) in a.iter().enumerate() {
            let row: &mut [f32; W] = (&mut data[i * rs..i * rs + W])
                .try_into()
                .expect("W columns");
            row_update(alpha, ai, b, beta, row);
        }
    }
    #[inline(always)]
    fn body(alpha: f32, a: &[f32], b: &[f32], beta: f32, data: &mut [f32], rs: usize) {
        match b.len() {
            1 => narrow_rows::<1>(alpha, a, b, beta, data, rs),
            2 => narrow_rows::<2>(alpha, a, b, beta, data, rs),
            3 => narrow_rows::<3>(alpha, a, b, beta, data, rs),
            4 => narrow_rows::<4>(alpha, a, b, beta, data, rs),
            n => {
                for (i, &ai) in a.iter().enumerate() {
                    row_update(alpha, ai, b, beta, &mut data[i * rs..i * rs + n]);
                }
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn wide(alpha: f32, a: &[f32], b: &[f32], beta: f32, data: &mut [f32], rs: usize) {
        body(alpha, a, b, beta, data, rs)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn narrow(alpha: f32, a: &[f32], b: &[f32], beta: f32, data: &mut [f32], rs: usize) {
        body(alpha, a, b, beta, data, rs)
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU has AVX-512F.
        Kernel::Avx512 => unsafe { wide(alpha, a, b, beta, data, rs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU has AVX2.
        Kernel::Avx2Fma => unsafe { narrow(alpha, a, b, beta, data, rs) },
        _ => body(alpha, a, b, beta, data, rs),
    }
}

/// Problems with at most this many rows (or columns) run as that many GEMVs: a register tile
/// of 12×32 would mostly hold padding, and packing would cost more than the product.
const SMALL: usize = crate::gemv::MAX_ROWS;

/// Row `i` of C is the one-row product `A[i, :]·B` (all rows in one GEMV call, which reads B
/// once for them), then the residual's row `i` is added; false (nothing done) if B's strides do
/// not suit the GEMV kernels. Large problems (at least [`threads::PARALLEL_MIN_GEMV_MACS`]) hand
/// C's rows to the thread pool, one block of rows per thread; each element is computed as on
/// one thread, so the bits do not depend on the thread count.
fn gemv_rows(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: &mut MatMut<'_, f32>,
    epilogue: Epilogue<'_, f32>,
) -> bool {
    if b.cs() != 1 && b.rs() != 1 {
        return false;
    }
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    let parts = threads::parts_for(m * n * k, threads::PARALLEL_MIN_GEMV_MACS, m);
    for_each_row_block(c.rb(), m, 1, parts, |r0, block| {
        let rows = block.rows();
        let x = a.sub(r0, 0, rows, k);
        let done = crate::gemv::gemv_f32(
            kernel,
            alpha,
            x,
            b,
            beta,
            block,
            epilogue.without_residual(),
        );
        debug_assert!(done);
    });
    if let Some(r) = epilogue.residual {
        add_residual(c, r);
    }
    true
}

/// Column `j` of C is `A·B[:, j]`, i.e. the one-row product `(B[:, j])ᵀ·Aᵀ` written into the
/// transposed column (all columns in one GEMV call: `Cᵀ = Bᵀ·Aᵀ`); false (nothing done) if A's
/// strides do not suit the GEMV kernels. The caller applies the epilogue afterwards. Large
/// problems hand blocks of C's rows (of A's rows, so of each GEMV's outputs) to the thread pool;
/// every output is still computed by the same kernel in the same order, so the bits do not
/// depend on the thread count.
fn gemv_cols(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: &mut MatMut<'_, f32>,
) -> bool {
    if a.cs() != 1 && a.rs() != 1 {
        return false;
    }
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    // The dot form (A row-major) computes each output alone. The axpy form (A column-major)
    // keeps 8 or 16 outputs per vector and sums the last `m % 8` in scalar code on AVX2 (a
    // multiply and an add instead of one fused step), so its blocks start at multiples of 16:
    // every output then lands in the same kind of lane as on one thread.
    let align = if a.cs() == 1 { 1 } else { 16 };
    let parts = threads::parts_for(
        m * n * k,
        threads::PARALLEL_MIN_GEMV_MACS,
        m.div_ceil(align),
    );
    for_each_row_block(c.rb(), m, align, parts, |r0, block| {
        let rows = block.rows();
        let a_block = a.sub(r0, 0, rows, k);
        let (x, b_t, y) = (b.t(), a_block.t(), block.t());
        let done = crate::gemv::gemv_f32(kernel, alpha, x, b_t, beta, y, Epilogue::none());
        debug_assert!(done);
    });
    true
}

/// Calls `f(first_row, block)` for `parts` blocks of C's `m` rows (whole groups of `align`
/// rows), on the thread pool when `parts > 1` and the rows can be cut apart in memory, else for
/// all of C on this thread.
fn for_each_row_block(
    c: MatMut<'_, f32>,
    m: usize,
    align: usize,
    parts: usize,
    f: impl Fn(usize, MatMut<'_, f32>) + Sync,
) {
    if parts <= 1 || c.rows_interleave() {
        f(0, c);
        return;
    }
    let mut rest = Some(c);
    let mut part = 0;
    let blocks = std::iter::from_fn(|| {
        let c = rest.take()?;
        let (r0, r1) = threads::part_range(m, align, parts, part);
        part += 1;
        if part == parts {
            return Some((r0, c));
        }
        let (top, bottom) = c.split_rows(r1 - r0).ok()?;
        rest = Some(bottom);
        Some((r0, top))
    });
    threads::for_each_part(blocks, |_, (r0, block)| f(r0, block));
}

/// The `f64` router: degenerate cases, else the portable packed driver.
pub(crate) fn gemm_f64(
    alpha: f64,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    beta: f64,
    c: MatMut<'_, f64>,
    epilogue: Epilogue<'_, f64>,
) {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        scale_only(Kernel::Portable, beta, c, epilogue);
        return;
    }
    driver::gemm_packed(
        Kernel::Portable,
        micro::for_f64(),
        alpha,
        a,
        b,
        beta,
        c,
        &epilogue,
    );
}

/// The packed driver alone for `f32`, whatever the shape (none of the routes above): what the
/// other routes are tested against for bit-identity. Panics as [`gemm_fused_with`] does.
#[doc(hidden)]
#[track_caller]
pub fn gemm_packed_f32(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c: MatMut<'_, f32>,
    epilogue: Epilogue<'_, f32>,
) {
    check_shapes(&a, &b, &c, &epilogue);
    kernel.assert_available();
    if c.rows() > 0 && c.cols() > 0 && a.cols() > 0 {
        driver::gemm_packed(
            kernel,
            micro::for_f32(kernel),
            alpha,
            a,
            b,
            beta,
            c,
            &epilogue,
        );
    }
}

/// The packed driver alone for `f64` (portable), as [`gemm_packed_f32`].
#[doc(hidden)]
#[track_caller]
pub fn gemm_packed_f64(
    alpha: f64,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    beta: f64,
    c: MatMut<'_, f64>,
    epilogue: Epilogue<'_, f64>,
) {
    check_shapes(&a, &b, &c, &epilogue);
    if c.rows() > 0 && c.cols() > 0 && a.cols() > 0 {
        let mk = micro::for_f64();
        driver::gemm_packed(Kernel::Portable, mk, alpha, a, b, beta, c, &epilogue);
    }
}
