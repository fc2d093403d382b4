//! [`Element`]: the element types the layers work with, `f32` and `f64` — both a [`Scalar`]
//! (the fast kernels know them) and an [`autograd::Float`] (the tape knows them).

use std::rc::Rc;

use autograd::CustomOp;

use crate::activation::Activation;
use crate::linear::LinearOp;
use crate::residual::ResidualLinearOp;
use crate::scalar::Scalar;

/// `f32` or `f64`: usable by the GEMM kernels and by the autograd tape.
///
/// Both parent traits define conversions such as `from_f64`; inside generic code call them
/// qualified, e.g. `<T as autograd::Float>::from_f64(x)`.
pub trait Element: Scalar + autograd::Float {
    /// The shared [`LinearOp`] for `activation` (one per thread, so recording a layer on the tape
    /// only bumps a reference count instead of allocating).
    #[doc(hidden)]
    fn linear_op(activation: Activation) -> Rc<dyn CustomOp<Self>>;

    /// The shared [`ResidualLinearOp`] (one per thread, as [`Element::linear_op`]).
    #[doc(hidden)]
    fn residual_linear_op() -> Rc<dyn CustomOp<Self>>;

    /// Softmax of one row in place, `e^{xᵢ − max x} / Σⱼ e^{xⱼ − max x}`: the vectorised
    /// [`vmath::softmax_in_place`](crate::vmath::softmax_in_place) for `f32`, the same formula
    /// with the library `exp` for `f64`.
    #[doc(hidden)]
    fn softmax_row(row: &mut [Self]);
}

macro_rules! impl_element {
    ($t:ty, $softmax_row:path) => {
        impl Element for $t {
            fn linear_op(activation: Activation) -> Rc<dyn CustomOp<Self>> {
                thread_local! {
                    static OPS: [Rc<dyn CustomOp<$t>>; 3] = [
                        Rc::new(LinearOp { activation: Activation::Identity }),
                        Rc::new(LinearOp { activation: Activation::Tanh }),
                        Rc::new(LinearOp { activation: Activation::Relu }),
                    ];
                }
                let i = match activation {
                    Activation::Identity => 0,
                    Activation::Tanh => 1,
                    Activation::Relu => 2,
                };
                OPS.with(|ops| ops[i].clone())
            }

            fn residual_linear_op() -> Rc<dyn CustomOp<Self>> {
                thread_local! {
                    static OP: Rc<dyn CustomOp<$t>> = Rc::new(ResidualLinearOp);
                }
                OP.with(Rc::clone)
            }

            fn softmax_row(row: &mut [Self]) {
                $softmax_row(row)
            }
        }
    };
}

/// The f64 row softmax: `e^{xᵢ − max x} / Σⱼ e^{xⱼ − max x}` with the library `exp`.
fn softmax_row_f64(row: &mut [f64]) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    row.iter_mut().for_each(|x| *x /= sum);
}

impl_element!(f32, crate::vmath::softmax_in_place);
impl_element!(f64, softmax_row_f64);
