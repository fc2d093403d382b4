//! Operator overloading: `a + b`, `a - b`, `a * b`, `a / b`, `-a` on [`Var`]s, and a scalar
//! (`f32` for `Var<f32>`, `f64` for `Var<f64>`) on either side.
//!
//! Var-with-Var operators are the broadcasting ops of [`super::binary`]. A scalar operand does not
//! become a node: `x + c`, `x - c`, `c - x`, `x * c` and `x / c` each record one affine node
//! `a·x + b`, and `c / x` records one `c/x` node.

use crate::float::Float;
use crate::var::Var;
use std::ops::{Add, Div, Mul, Neg, Sub};

impl<'t, T: Float> Add for Var<'t, T> {
    type Output = Var<'t, T>;
    /// Broadcasting a + b (see [`Var::add`]).
    fn add(self, o: Self) -> Self {
        Var::add(self, o)
    }
}

impl<'t, T: Float> Sub for Var<'t, T> {
    type Output = Var<'t, T>;
    /// Broadcasting a − b (see [`Var::sub`]).
    fn sub(self, o: Self) -> Self {
        Var::sub(self, o)
    }
}

impl<'t, T: Float> Mul for Var<'t, T> {
    type Output = Var<'t, T>;
    /// Broadcasting elementwise a · b (see [`Var::mul`]).
    fn mul(self, o: Self) -> Self {
        Var::mul(self, o)
    }
}

impl<'t, T: Float> Div for Var<'t, T> {
    type Output = Var<'t, T>;
    /// Broadcasting elementwise a / b (see [`Var::div`]).
    fn div(self, o: Self) -> Self {
        Var::div(self, o)
    }
}

impl<'t, T: Float> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    /// −a (see [`Var::neg`]).
    fn neg(self) -> Self {
        Var::neg(self)
    }
}

/// Scalar operators for one element type (a generic `impl<T> Add<Var<T>> for T` is not allowed
/// by Rust's coherence rules, so each type gets its own).
macro_rules! scalar_ops {
    ($t:ty) => {
        impl<'t> Add<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            /// x + c; ∂/∂x = 1.
            fn add(self, c: $t) -> Self::Output {
                self.affine(1.0, c)
            }
        }
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// c + x; ∂/∂x = 1.
            fn add(self, x: Var<'t, $t>) -> Self::Output {
                x.affine(1.0, self)
            }
        }
        impl<'t> Sub<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            /// x − c; ∂/∂x = 1.
            fn sub(self, c: $t) -> Self::Output {
                self.affine(1.0, -c)
            }
        }
        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// c − x; ∂/∂x = −1.
            fn sub(self, x: Var<'t, $t>) -> Self::Output {
                x.affine(-1.0, self)
            }
        }
        impl<'t> Mul<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            /// x · c; ∂/∂x = c.
            fn mul(self, c: $t) -> Self::Output {
                self.affine(c, 0.0)
            }
        }
        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// c · x; ∂/∂x = c.
            fn mul(self, x: Var<'t, $t>) -> Self::Output {
                x.affine(self, 0.0)
            }
        }
        impl<'t> Div<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            /// x / c, recorded as x · (1/c); ∂/∂x = 1/c.
            fn div(self, c: $t) -> Self::Output {
                self.affine(1.0 / c, 0.0)
            }
        }
        impl<'t> Div<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// c / x; ∂/∂x = −c/x².
            fn div(self, x: Var<'t, $t>) -> Self::Output {
                x.rdiv_scalar(self)
            }
        }
    };
}

scalar_ops!(f32);
scalar_ops!(f64);
