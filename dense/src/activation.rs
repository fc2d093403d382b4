//! Element-wise activations used by the fused GEMM epilogue and the layers, each with its
//! derivative written from the activation's *output* (so backward keeps `y`, not `x`).

use crate::kernel::Kernel;
use crate::scalar::Scalar;

/// The non-linearity applied after a layer's affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    /// `y = x`; dy/dx = 1.
    #[default]
    Identity,
    /// `y = tanh(x)`; dy/dx = 1 - y².
    Tanh,
    /// `y = max(x, 0)`; dy/dx = 1 if y > 0 else 0 (0 at x = 0, as PyTorch).
    Relu,
}

impl Activation {
    /// The activation applied to one value (scalar reference: `f32::tanh`, not the SIMD one).
    pub fn apply<T: Scalar>(self, x: T) -> T {
        match self {
            Activation::Identity => x,
            Activation::Tanh => x.lib_tanh(),
            Activation::Relu => {
                if x > T::ZERO {
                    x
                } else {
                    T::ZERO
                }
            }
        }
    }

    /// dy/dx expressed through the output `y` (see each variant).
    pub fn derivative_from_output<T: Scalar>(self, y: T) -> T {
        match self {
            Activation::Identity => T::ONE,
            Activation::Tanh => T::ONE - y * y,
            Activation::Relu => {
                if y > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }

    /// Applies the activation to every element in place, with the fastest kernel path.
    pub fn apply_in_place<T: Scalar>(self, xs: &mut [T]) {
        T::activate_with(Kernel::selected(), self, xs);
    }

    /// The lower-case name (`"identity"`, `"tanh"`, `"relu"`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}
