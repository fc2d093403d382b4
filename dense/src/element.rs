//! [`Element`]: the element types the layers work with, `f32` and `f64` — both a [`Scalar`]
//! (the fast kernels know them) and an [`autograd::Float`] (the tape knows them).

use crate::scalar::Scalar;

/// `f32` or `f64`: usable by the GEMM kernels and by the autograd tape.
///
/// Both parent traits define conversions such as `from_f64`; inside generic code call them
/// qualified, e.g. `<T as autograd::Float>::from_f64(x)`.
pub trait Element: Scalar + autograd::Float {}
impl Element for f32 {}
impl Element for f64 {}
