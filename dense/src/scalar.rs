//! The element types the kernels work on: `f32` (fast, SIMD paths) and `f64` (exact enough for
//! gradient checks; portable path only).
//!
//! [`Scalar`] is sealed: it is implemented for `f32` and `f64` and nothing else, because every
//! kernel behind it is written for exactly those two types.

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

use crate::activation::Activation;
use crate::gemm::Epilogue;
use crate::kernel::Kernel;
use crate::view::{MatMut, MatRef};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type the GEMM and the activations know (`f32` or `f64`).
pub trait Scalar:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// `tanh` from the standard library (the scalar reference).
    fn lib_tanh(self) -> Self;

    /// Runs `C = act(alpha·A·B + beta·C + bias)` with the given kernel path. Called by
    /// [`crate::gemm::gemm_with`]; use that instead.
    #[doc(hidden)]
    fn gemm_dispatch(
        kernel: Kernel,
        alpha: Self,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        beta: Self,
        c: MatMut<'_, Self>,
        epilogue: Epilogue<'_, Self>,
    );

    /// Applies `activation` to every element of `xs` in place with the given kernel path.
    #[doc(hidden)]
    fn activate_with(kernel: Kernel, activation: Activation, xs: &mut [Self]);

    /// `row = act(row + bias)` for `rows` rows of `cols` values, `rs` apart in `data` (the fused
    /// epilogue of one tile).
    #[doc(hidden)]
    fn epilogue_rows(
        kernel: Kernel,
        activation: Activation,
        data: &mut [Self],
        rows: usize,
        cols: usize,
        rs: usize,
        bias: Option<&[Self]>,
    ) {
        for i in 0..rows {
            let row = &mut data[i * rs..i * rs + cols];
            if let Some(b) = bias {
                row.iter_mut().zip(b).for_each(|(x, &b)| *x += b);
            }
            Self::activate_with(kernel, activation, row);
        }
    }

    /// `dz = g ⊙ act'(y)` for an activation with output `y` (the fused layer's backward).
    #[doc(hidden)]
    fn activation_grad(
        kernel: Kernel,
        activation: Activation,
        g: &[Self],
        y: &[Self],
        dz: &mut [Self],
    ) {
        let _ = kernel;
        for ((d, &g), &y) in dz.iter_mut().zip(g).zip(y) {
            *d = g * activation.derivative_from_output(y);
        }
    }

    /// [`Scalar::activation_grad`] on a row-major block of rows `sums.len()` wide, also adding
    /// each column of `dz` into `sums` (rows in order; the bias gradient of the fused layer).
    /// The same bits as the two steps one after the other; the `f32` tanh does both in one pass.
    #[doc(hidden)]
    fn activation_grad_colsum(
        kernel: Kernel,
        activation: Activation,
        g: &[Self],
        y: &[Self],
        dz: &mut [Self],
        sums: &mut [Self],
    ) {
        Self::activation_grad(kernel, activation, g, y, dz);
        add_rows(dz, sums);
    }

    /// Runs `f` with this thread's scratch buffer for this type (kept between calls, so backward
    /// passes do not allocate once warmed up).
    #[doc(hidden)]
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R;
    /// Packs 8 columns of a column-major (transposed) B into a B micro-panel,
    /// `out[p·nr + j + q] = cols[q][p]`, with `kernel`'s vector instructions; `false` when there
    /// are none for this type and kernel, and the caller copies the values one by one. Packing
    /// only moves values, so every path packs the same panel.
    #[doc(hidden)]
    fn pack_columns8(
        _kernel: Kernel,
        _cols: [&[Self]; 8],
        _out: &mut [Self],
        _nr: usize,
        _j: usize,
    ) -> bool {
        false
    }
}

/// `sums[j] += m[i, j]` for every row `i` of the row-major `m` (`sums.len()` wide), in row order.
pub(crate) fn add_rows<T: Scalar>(m: &[T], sums: &mut [T]) {
    for row in m.chunks_exact(sums.len().max(1)) {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
}

thread_local! {
    static SCRATCH_F32: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    static SCRATCH_F64: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Scalar for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn pack_columns8(
        kernel: Kernel,
        cols: [&[Self]; 8],
        out: &mut [Self],
        nr: usize,
        j: usize,
    ) -> bool {
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 | Kernel::Avx2Fma if Kernel::Avx2Fma.is_available() => {
                // SAFETY: this CPU has AVX2 and FMA (checked just above).
                unsafe { crate::gemm::pack::x86::pack_columns8(cols, out, nr, j) };
                true
            }
            _ => false,
        }
    }
    fn lib_tanh(self) -> Self {
        self.tanh()
    }
    fn gemm_dispatch(
        kernel: Kernel,
        alpha: Self,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        beta: Self,
        c: MatMut<'_, Self>,
        epilogue: Epilogue<'_, Self>,
    ) {
        crate::gemm::gemm_f32(kernel, alpha, a, b, beta, c, epilogue);
    }
    fn activate_with(kernel: Kernel, activation: Activation, xs: &mut [Self]) {
        match activation {
            Activation::Identity => {}
            Activation::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => crate::vmath::tanh_in_place_with(kernel, xs),
        }
    }
    fn activation_grad(
        kernel: Kernel,
        activation: Activation,
        g: &[Self],
        y: &[Self],
        dz: &mut [Self],
    ) {
        match activation {
            Activation::Tanh => crate::vmath::tanh_grad_with(kernel, g, y, dz),
            act => {
                for ((d, &g), &y) in dz.iter_mut().zip(g).zip(y) {
                    *d = g * act.derivative_from_output(y);
                }
            }
        }
    }
    fn activation_grad_colsum(
        kernel: Kernel,
        activation: Activation,
        g: &[Self],
        y: &[Self],
        dz: &mut [Self],
        sums: &mut [Self],
    ) {
        if activation == Activation::Tanh {
            crate::vmath::tanh_grad_colsum_with(kernel, g, y, dz, sums);
        } else {
            Self::activation_grad(kernel, activation, g, y, dz);
            add_rows(dz, sums);
        }
    }
    fn epilogue_rows(
        kernel: Kernel,
        activation: Activation,
        data: &mut [Self],
        rows: usize,
        cols: usize,
        rs: usize,
        bias: Option<&[Self]>,
    ) {
        // One call per tile: the bias add (and the tanh) in a single vectorised pass.
        match (activation, bias) {
            (Activation::Tanh, _) => {
                crate::vmath::bias_tanh_rows_with(kernel, data, rows, cols, rs, bias)
            }
            (Activation::Identity, Some(bias)) => {
                crate::vmath::bias_rows_with(kernel, data, rows, cols, rs, bias)
            }
            _ => {
                for i in 0..rows {
                    let row = &mut data[i * rs..i * rs + cols];
                    if let Some(b) = bias {
                        row.iter_mut().zip(b).for_each(|(x, &b)| *x += b);
                    }
                    Self::activate_with(kernel, activation, row);
                }
            }
        }
    }
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
        // Taken out while in use, so a nested call starts from an empty buffer instead of failing.
        let mut buf = SCRATCH_F32.with(|c| std::mem::take(&mut *c.borrow_mut()));
        let r = f(&mut buf);
        SCRATCH_F32.with(|c| *c.borrow_mut() = buf);
        r
    }
}

impl Scalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn lib_tanh(self) -> Self {
        self.tanh()
    }
    fn gemm_dispatch(
        _kernel: Kernel,
        alpha: Self,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        beta: Self,
        c: MatMut<'_, Self>,
        epilogue: Epilogue<'_, Self>,
    ) {
        crate::gemm::gemm_f64(alpha, a, b, beta, c, epilogue);
    }
    fn activate_with(_kernel: Kernel, activation: Activation, xs: &mut [Self]) {
        match activation {
            Activation::Identity => {}
            Activation::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
        }
    }
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
        let mut buf = SCRATCH_F64.with(|c| std::mem::take(&mut *c.borrow_mut()));
        let r = f(&mut buf);
        SCRATCH_F64.with(|c| *c.borrow_mut() = buf);
        r
    }
}
