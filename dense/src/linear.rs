//! `Linear`: the fused layer `y = act(x·W + b)` as one autograd node ([`autograd::CustomOp`]).
//!
//! Shapes: `x` is `[batch, in]`, `W` is `[in, out]`, `b` is `[out]`, `y` is `[batch, out]`.
//!
//! Forward is one GEMM whose epilogue adds the bias and applies the activation while each tile
//! of `y` is stored. Backward, from `ȳ = dL/dy` and the *output* `y` (the activation's
//! derivative is written from it, so the node keeps nothing else):
//!
//! ```text
//! z̄ = ȳ ⊙ act'(y)          tanh: 1 − y²;  relu: [y > 0];  identity: 1
//! x̄ += z̄ · Wᵀ              GEMM on a transposed view of W (no copy)
//! W̄ += xᵀ · z̄              GEMM on a transposed view of x (no copy)
//! b̄ += Σ_rows z̄
//! ```
//!
//! How we know it is right: `tests/layers.rs` checks, for every activation, that value and
//! gradients equal the same network composed from autograd's reference ops
//! (`x.matmul(w) + b`, then `.tanh()` / `.relu()`), and that the `f64` op passes autograd's
//! finite-difference `gradcheck`.

use autograd::{CustomOp, Tensor, Var};

use crate::activation::Activation;
use crate::element::Element;
use crate::gemm::{Epilogue, gemm, gemm_fused};
use crate::kernel::Kernel;
use crate::view::{MatMut, MatRef};

/// The fused `act(x·W + b)` op; inputs `[x, W, b]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearOp {
    /// The activation applied last.
    pub activation: Activation,
}

/// Records `act(x·W + b)` on `x`'s tape as one node.
pub fn linear<'t, T: Element>(
    x: Var<'t, T>,
    w: Var<'t, T>,
    b: Var<'t, T>,
    activation: Activation,
) -> Var<'t, T> {
    x.tape().custom(T::linear_op(activation), &[x, w, b])
}

impl LinearOp {
    /// (batch, in, out) from the input shapes, or a panic naming them.
    #[track_caller]
    fn dims(&self, shapes: &[&[usize]]) -> (usize, usize, usize) {
        assert!(
            shapes.len() == 3,
            "linear: expected 3 inputs (x, W, b), got {}",
            shapes.len()
        );
        let (x, w, b) = (shapes[0], shapes[1], shapes[2]);
        assert!(
            x.len() == 2 && w.len() == 2 && b.len() == 1 && x[1] == w[0] && b[0] == w[1],
            "linear: x {x:?}, W {w:?}, b {b:?}; expected x [batch, in], W [in, out], b [out]"
        );
        (x[0], w[0], w[1])
    }
}

impl<T: Element> CustomOp<T> for LinearOp {
    fn name(&self) -> &str {
        "linear"
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
        let (batch, _, out) = self.dims(inputs);
        vec![batch, out]
    }

    fn output_shape_into(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let (batch, _, out) = self.dims(inputs);
        shape.clear();
        shape.extend_from_slice(&[batch, out]);
    }

    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>) {
        let (batch, fan_in, fan_out) =
            self.dims(&[inputs[0].shape(), inputs[1].shape(), inputs[2].shape()]);
        gemm_fused(
            <T as crate::Scalar>::ONE,
            MatRef::row_major(inputs[0].data(), batch, fan_in),
            MatRef::row_major(inputs[1].data(), fan_in, fan_out),
            <T as crate::Scalar>::ZERO,
            MatMut::row_major(out.data_mut(), batch, fan_out),
            Epilogue::new(Some(inputs[2].data()), self.activation),
        );
    }

    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<&mut Tensor<T>>],
    ) {
        let (batch, fan_in, fan_out) =
            self.dims(&[inputs[0].shape(), inputs[1].shape(), inputs[2].shape()]);
        let one = <T as crate::Scalar>::ONE;
        T::with_scratch(|dz| {
            // z̄ = ȳ ⊙ act'(y); for the identity z̄ is ȳ itself and no copy is made.
            let dz: &[T] = if self.activation == Activation::Identity {
                grad_out.data()
            } else {
                dz.clear();
                dz.resize(grad_out.numel(), <T as crate::Scalar>::ZERO);
                T::activation_grad(
                    Kernel::selected(),
                    self.activation,
                    grad_out.data(),
                    out.data(),
                    dz,
                );
                dz
            };
            let dz_view = MatRef::row_major(dz, batch, fan_out);
            if let Some(gx) = grad_inputs[0].as_deref_mut() {
                // x̄ += z̄·Wᵀ: Wᵀ is W's memory read with swapped strides.
                let wt = MatRef::row_major(inputs[1].data(), fan_in, fan_out).t();
                gemm(
                    one,
                    dz_view,
                    wt,
                    one,
                    MatMut::row_major(gx.data_mut(), batch, fan_in),
                );
            }
            if let Some(gw) = grad_inputs[1].as_deref_mut() {
                // W̄ += xᵀ·z̄.
                let xt = MatRef::row_major(inputs[0].data(), batch, fan_in).t();
                gemm(
                    one,
                    xt,
                    dz_view,
                    one,
                    MatMut::row_major(gw.data_mut(), fan_in, fan_out),
                );
            }
            if let Some(gb) = grad_inputs[2].as_deref_mut() {
                // b̄ += Σ_rows z̄.
                let gb = gb.data_mut();
                for row in dz.chunks_exact(fan_out.max(1)).take(batch) {
                    gb.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
                }
            }
        });
    }
}
