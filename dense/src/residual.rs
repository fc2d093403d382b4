//! `r + (x·W + b)` as one autograd node: a linear layer whose output lands on a residual stream
//! (a transformer block's output projection and MLP down-projection).
//!
//! Shapes: `x` is `[batch, in]`, `W` is `[in, out]`, `b` is `[out]`, the residual `r` and the
//! output `y` are `[batch, out]`.
//!
//! **Forward** is one GEMM whose epilogue adds the bias and then the residual while each block of
//! `y` is in cache ([`crate::gemm::Epilogue::with_residual`]):
//!
//! ```text
//! y = (x·W + b) + r        the bias first, then r: the same two roundings as `r + linear(x, W, b)`
//! ```
//!
//! so `y` is bit for bit the two-node composition `r + linear(x, W, b, Identity)`, without the
//! layer's output written to memory and read back by the addition.
//!
//! **Backward**, from `ȳ = dL/dy`: the residual's share is `ȳ` itself, and the layer's is the
//! identity layer's backward with `z̄ = ȳ` ([`LinearOp`], whose rule this one calls):
//!
//! ```text
//! r̄ (+)= ȳ                 `=` on the first write of r̄ in the pass, else `+=`
//! b̄ += Σ_rows ȳ,   x̄ (+)= ȳ·Wᵀ,   W̄ (+)= xᵀ·ȳ
//! ```
//!
//! The composition copies `ȳ` twice (into r̄ and into the layer's z̄); this node copies it once.
//!
//! How we know it is right: `tests/layers.rs` checks value and gradients against the composition
//! bit for bit in `f32` and the `f64` op with autograd's finite-difference `gradcheck`.

use autograd::{CustomOp, GradSlot, Store, Tensor, Var};

use crate::activation::Activation;
use crate::element::Element;
use crate::linear::LinearOp;

/// The fused `r + (x·W + b)` op; inputs `[x, W, b, r]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResidualLinearOp;

/// The layer part: `x·W + b`, its backward shared with [`crate::linear`].
const AFFINE: LinearOp = LinearOp {
    activation: Activation::Identity,
};

/// Records `r + (x·W + b)` on `x`'s tape as one node; see the module doc.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use dense::{Activation, linear, linear_residual};
/// let tape = Tape::<f32>::new();
/// let x = tape.param(&Tensor::from_vec(vec![1.0, 2.0], &[1, 2]));
/// let w = tape.param(&Tensor::from_vec(vec![0.5, -1.0, 0.25, 3.0], &[2, 2]));
/// let b = tape.param(&Tensor::from_vec(vec![0.1, 0.2], &[2]));
/// let r = tape.param(&Tensor::from_vec(vec![10.0, 20.0], &[1, 2]));
/// let fused = linear_residual(x, w, b, r);
/// let composed = r + linear(x, w, b, Activation::Identity);
/// assert_eq!(fused.value().data(), composed.value().data());
/// ```
pub fn linear_residual<'t, T: Element>(
    x: Var<'t, T>,
    w: Var<'t, T>,
    b: Var<'t, T>,
    r: Var<'t, T>,
) -> Var<'t, T> {
    x.tape().custom(T::residual_linear_op(), &[x, w, b, r])
}

impl<T: Element> CustomOp<T> for ResidualLinearOp {
    fn name(&self) -> &str {
        "linear_residual"
    }

    /// The layer's `[batch, out]` (its shapes checked by [`LinearOp`]), which r must have.
    fn output_shape(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        assert!(
            inputs.len() == 4,
            "linear_residual: expected 4 inputs (x, W, b, r), got {}",
            inputs.len()
        );
        CustomOp::<T>::output_shape(&AFFINE, &inputs[..3], shape);
        assert!(
            inputs[3] == shape.as_slice(),
            "linear_residual: the residual has shape {:?}; expected the layer's output {shape:?}",
            inputs[3]
        );
    }

    /// `y = (x·W + b) + r`: the GEMM's epilogue adds b, then r.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, _saved: &mut Vec<T>) {
        AFFINE.forward_into(&inputs[..3], Some(inputs[3]), out);
    }

    /// `r̄ (+)= ȳ`, then the identity layer's backward on `[x, W, b]` with `z̄ = ȳ`.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        if let Some((gr, store)) = grad_inputs[3].as_mut().map(GradSlot::write) {
            let terms = gr.data_mut().iter_mut().zip(grad_out.data());
            match store {
                Store::Overwrite => terms.for_each(|(d, &g)| *d = g),
                Store::Accumulate => terms.for_each(|(d, &g)| *d += g),
            }
        }
        AFFINE.backward(&inputs[..3], out, saved, grad_out, &mut grad_inputs[..3]);
    }
}
