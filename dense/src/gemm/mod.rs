//! General matrix multiply, `C = act(alpha·A·B + beta·C + bias)`, over strided views.
//!
//! Entry points: [`gemm`] (fastest path, no epilogue), [`gemm_fused`] (with bias and
//! activation applied as C is stored), and their `*_with` twins that force a [`Kernel`].
//! `f32` runs on the selected SIMD path; `f64` always runs the portable packed kernel.
//!
//! Shapes: `A` is `m×k`, `B` is `k×n`, `C` is `m×n`, `bias` has `n` values. A shape mismatch
//! panics with a message naming the shapes (like ndarray). When `beta == 0`, `C` is not read.
//!
//! Routing: one-row problems (`m == 1`, acting with one observation) go to the GEMV path of
//! [`crate::gemv`]; one-column problems are the same thing transposed; everything else goes
//! through the packed, blocked driver in `driver.rs`.

mod driver;
mod micro;
pub(crate) mod pack;
mod reference;

pub use reference::gemm_reference;

use crate::activation::Activation;
use crate::kernel::Kernel;
use crate::scalar::Scalar;
use crate::view::{MatMut, MatRef};

/// What happens to each element of C as it is stored: `act(value + bias[j])`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a, T> {
    /// A value per column of C added before the activation, or `None`.
    pub bias: Option<&'a [T]>,
    /// The activation applied last.
    pub activation: Activation,
}

impl<'a, T> Epilogue<'a, T> {
    /// No bias, identity activation: a plain GEMM.
    pub fn none() -> Self {
        Epilogue {
            bias: None,
            activation: Activation::Identity,
        }
    }

    /// Bias then activation.
    pub fn new(bias: Option<&'a [T]>, activation: Activation) -> Self {
        Epilogue { bias, activation }
    }

    /// Whether the epilogue changes anything.
    pub fn is_identity(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Identity
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

/// `C = act(alpha·A·B + beta·C + bias)` on the fastest kernel path.
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

/// `C = act(alpha·A·B + beta·C + bias)` on a forced kernel path (panics if the CPU lacks it).
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
    apply_epilogue(kernel, &mut c, 0, &epilogue);
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
        for i in 0..c.rows() {
            let row = c.row_mut(i).expect("unit column stride");
            if let Some(bias) = bias {
                row.iter_mut().zip(bias).for_each(|(x, &b)| *x += b);
            }
            T::activate_with(kernel, epilogue.activation, row);
        }
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
    if m == 1 && crate::gemv::gemv_f32(kernel, alpha, a, b, beta, c.rb(), epilogue) {
        return;
    }
    if n == 1 && m > 1 {
        // C (m×1) = A·b is the one-row problem Cᵀ = bᵀ·Aᵀ; the epilogue adds bias[0] to all.
        let done = crate::gemv::gemv_f32(
            kernel,
            alpha,
            b.t(),
            a.t(),
            beta,
            c.rb().t(),
            Epilogue::none(),
        );
        if done {
            apply_epilogue(kernel, &mut c, 0, &epilogue);
            return;
        }
    }
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
