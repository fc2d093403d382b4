//! The element type of every tensor: the [`Float`] trait, implemented for `f32` and `f64`.
//!
//! The tape and every op are generic over `T: Float`. The trait collects the arithmetic and the
//! handful of transcendental functions the ops need, so that op code reads like the math
//! (`x.tanh()`, `y * (T::one() - y)`) for both precisions.

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point element type: `f32` or `f64`.
///
/// Every method has the meaning of the inherent method of the same name on `f32`/`f64`.
pub trait Float:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// The type's name, `"f32"` or `"f64"` (used in `Debug` output and messages).
    const NAME: &'static str;
    /// Machine epsilon: the gap between 1 and the next representable value.
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity (the identity of `max`).
    const NEG_INFINITY: Self;

    /// The additive identity, 0.
    fn zero() -> Self;
    /// The multiplicative identity, 1.
    fn one() -> Self;
    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for both types).
    fn to_f64(self) -> f64;
    /// Converts a count (a length, a number of elements) to a float.
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
    /// e^self.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate for small `self`.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// self raised to a floating-point power.
    fn powf(self, p: Self) -> Self;
    /// The larger of the two (ignores a NaN operand, like `f64::max`).
    fn max(self, o: Self) -> Self;
    /// The smaller of the two (ignores a NaN operand, like `f64::min`).
    fn min(self, o: Self) -> Self;
    /// 1 for positive values (and +0), -1 for negative values (and -0), like `f64::signum`.
    fn signum(self) -> Self;
    /// True unless the value is infinite or NaN.
    fn is_finite(self) -> bool;
}

macro_rules! impl_float {
    ($t:ident) => {
        impl Float for $t {
            const NAME: &'static str = stringify!($t);
            const EPSILON: Self = $t::EPSILON;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            #[inline(always)]
            fn zero() -> Self {
                0.0
            }
            #[inline(always)]
            fn one() -> Self {
                1.0
            }
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn powf(self, p: Self) -> Self {
                $t::powf(self, p)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                $t::max(self, o)
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                $t::min(self, o)
            }
            #[inline(always)]
            fn signum(self) -> Self {
                $t::signum(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}

impl_float!(f32);
impl_float!(f64);

#[cfg(test)]
mod tests {
    use super::Float;

    #[test]
    fn names_and_identities() {
        assert_eq!(<f32 as Float>::NAME, "f32");
        assert_eq!(<f64 as Float>::NAME, "f64");
        assert_eq!(<f64 as Float>::zero() + <f64 as Float>::one(), 1.0);
        assert_eq!(<f32 as Float>::from_usize(7), 7.0f32);
        assert_eq!(Float::to_f64(0.5f32), 0.5);
    }
}
