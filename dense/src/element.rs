//! [`Element`]: the element types the layers work with, `f32` and `f64` — both a [`Scalar`]
//! (the fast kernels know them) and an [`autograd::Float`] (the tape knows them).

use std::rc::Rc;

use autograd::{CustomOp, Store};

use crate::activation::Activation;
use crate::kernel::Kernel;
use crate::layer_norm::{Grads, Rows};
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

    /// The causal softmax of a row-major `[t, t]` block of attention scores in place: row i is
    /// [`Element::softmax_row`] of its first `i + 1` entries, and its other entries become 0
    /// (for `f32`, [`vmath::causal_softmax_rows`](crate::vmath::causal_softmax_rows), several
    /// rows side by side).
    #[doc(hidden)]
    fn causal_softmax_rows(s: &mut [Self], t: usize);

    /// [`Gelu`](crate::gelu::Gelu)'s forward over a slice: `t = tanh u`, `y = ½x(1 + t)`; one
    /// vectorised pass for `f32` ([`vmath`](crate::vmath)), element by element for `f64`.
    #[doc(hidden)]
    fn gelu_forward(kernel: Kernel, x: &[Self], t: &mut [Self], y: &mut [Self]);

    /// [`Gelu`](crate::gelu::Gelu)'s backward over a slice: `x̄ = ȳ·gelu'(x)` from the saved `t`,
    /// written or added as `store` says.
    #[doc(hidden)]
    fn gelu_backward(
        kernel: Kernel,
        g: &[Self],
        x: &[Self],
        t: &[Self],
        gx: &mut [Self],
        store: Store,
    );

    /// [`LayerNorm`](crate::layer_norm::LayerNorm)'s forward: `y = γ ⊙ x̂ + β` and each row's
    /// `(μ, r)`; the vector kernels for `f32`, one row at a time for `f64`.
    #[doc(hidden)]
    fn layer_norm_forward(
        kernel: Kernel,
        rows: Rows<'_, Self, &mut [Self]>,
        bias: &[Self],
        eps: Self,
        y: &mut [Self],
    );

    /// [`LayerNorm`](crate::layer_norm::LayerNorm)'s backward: x̄, γ̄ and β̄ from ȳ and the saved
    /// `(μ, r)`.
    #[doc(hidden)]
    fn layer_norm_backward(
        kernel: Kernel,
        rows: Rows<'_, Self, &[Self]>,
        g: &[Self],
        grads: Grads<'_, Self>,
    );
}

macro_rules! impl_element {
    (
        $t:ty,
        $softmax_row:path,
        $causal_softmax_rows:path,
        $gelu_forward:path,
        $gelu_backward:path,
        $layer_norm_forward:path,
        $layer_norm_backward:path
    ) => {
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

            fn causal_softmax_rows(s: &mut [Self], t: usize) {
                $causal_softmax_rows(s, t)
            }

            fn gelu_forward(kernel: Kernel, x: &[Self], t: &mut [Self], y: &mut [Self]) {
                $gelu_forward(kernel, x, t, y)
            }

            fn gelu_backward(
                kernel: Kernel,
                g: &[Self],
                x: &[Self],
                t: &[Self],
                gx: &mut [Self],
                store: Store,
            ) {
                $gelu_backward(kernel, g, x, t, gx, store)
            }

            fn layer_norm_forward(
                kernel: Kernel,
                rows: Rows<'_, Self, &mut [Self]>,
                bias: &[Self],
                eps: Self,
                y: &mut [Self],
            ) {
                $layer_norm_forward(kernel, rows, bias, eps, y)
            }

            fn layer_norm_backward(
                kernel: Kernel,
                rows: Rows<'_, Self, &[Self]>,
                g: &[Self],
                grads: Grads<'_, Self>,
            ) {
                $layer_norm_backward(kernel, rows, g, grads)
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

/// The `f64` causal softmax: [`softmax_row_f64`] on each row's visible entries, one row at a
/// time, and zeros after them.
fn causal_softmax_rows_f64(s: &mut [f64], t: usize) {
    for (i, row) in s.chunks_exact_mut(t).enumerate() {
        let (seen, masked) = row.split_at_mut(i + 1);
        softmax_row_f64(seen);
        masked.fill(0.0);
    }
}

/// The `f64` GELU backward: element by element (the kernel path only matters for `f32`).
fn gelu_backward_f64(_: Kernel, g: &[f64], x: &[f64], t: &[f64], gx: &mut [f64], store: Store) {
    crate::gelu::backward_with(g, x, t, gx, store)
}

/// The `f64` layer-norm forward: one row at a time (the kernel path only matters for `f32`).
fn layer_norm_forward_f64(
    _: Kernel,
    rows: Rows<'_, f64, &mut [f64]>,
    bias: &[f64],
    eps: f64,
    y: &mut [f64],
) {
    crate::layer_norm::forward_rows(rows, bias, eps, y)
}

/// The `f64` layer-norm backward: one row at a time.
fn layer_norm_backward_f64(
    _: Kernel,
    rows: Rows<'_, f64, &[f64]>,
    g: &[f64],
    grads: Grads<'_, f64>,
) {
    crate::layer_norm::backward_rows(rows, g, grads)
}

impl_element!(
    f32,
    crate::vmath::softmax_in_place,
    crate::vmath::causal_softmax_rows,
    crate::vmath::gelu_forward_with,
    crate::vmath::gelu_backward_with,
    crate::layer_norm::forward_f32,
    crate::layer_norm::backward_f32
);
impl_element!(
    f64,
    softmax_row_f64,
    causal_softmax_rows_f64,
    crate::gelu::forward_with::<f64>,
    gelu_backward_f64,
    layer_norm_forward_f64,
    layer_norm_backward_f64
);
