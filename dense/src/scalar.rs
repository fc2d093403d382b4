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
    /// The type's name, `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// `tanh` from the standard library (the scalar reference).
    fn lib_tanh(self) -> Self;
    /// `sqrt` from the standard library.
    fn lib_sqrt(self) -> Self;

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
}

impl Scalar for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NAME: &'static str = "f32";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn lib_tanh(self) -> Self {
        self.tanh()
    }
    fn lib_sqrt(self) -> Self {
        self.sqrt()
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
}

impl Scalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NAME: &'static str = "f64";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn lib_tanh(self) -> Self {
        self.tanh()
    }
    fn lib_sqrt(self) -> Self {
        self.sqrt()
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
}
