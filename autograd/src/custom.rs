//! The extension point: [`CustomOp`], an op with a hand-written forward and backward.
//!
//! A custom op is one node on the tape however much work it does, so a fused kernel (the `dense`
//! crate's `x·W + b` with its activation, say) costs one node instead of three and can use its own
//! fast code in both directions. The tape calls `output_shape`, then `forward` into a reused
//! buffer; backward calls `backward` with the output's gradient.
//!
//! Three things make a custom op cheap in a training loop, all owned by the tape and reused every
//! step:
//!
//! - **The output's shape and value.** `output_shape` writes the shape into the node's shape
//!   buffer and `forward` writes the value into its value buffer, both kept from step to step.
//! - **Saved values.** `forward` may keep numbers it computed for `backward` (GELU keeps its
//!   `tanh`, so backward computes none) in the node's `saved` buffer; `backward` reads them back.
//!   The buffer belongs to the node's slot on the tape, like its value, so a loop that records the
//!   same graph every step stops allocating for it after the first step.
//! - **First writes.** A gradient slot reaches the op as a [`GradSlot`]. The op either adds into it
//!   ([`GradSlot::add_into`], zero-filled first if no earlier rule wrote it) or asks how to store
//!   ([`GradSlot::write`]): on the slot's first write in the pass the answer is
//!   [`Store::Overwrite`] and the op writes its contribution with `=`, skipping the zero fill (a
//!   GEMM then runs with `beta = 0` instead of `1`).
use crate::float::Float;
use crate::tensor::Tensor;

/// How a backward rule stores its contribution into an input's gradient slot.
///
/// The gradient of a node used in several places is the sum of one contribution per use
/// (`x̄ = Σ_uses ∂L/∂x` through that use). The reverse pass visits the uses one by one, so the
/// first rule to reach a slot finds stale numbers in it (the tape reuses slots across steps) and
/// every later rule finds the sum so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The first contribution: the slot holds stale numbers; write every element with `=`.
    Overwrite,
    /// A later contribution: the slot holds the sum of the earlier ones; add with `+=`.
    Accumulate,
}

/// One input's gradient buffer lent to a [`CustomOp::backward`], with whether an earlier rule
/// has written it yet in this pass.
///
/// Use [`add_into`](GradSlot::add_into) to add, like any rule (the slot is zero-filled first if
/// it is fresh), or [`write`](GradSlot::write) to learn whether to overwrite or add, and skip the
/// zero fill on the first write. A slot the op does not touch at all is zero-filled afterwards.
pub struct GradSlot<'a, T: Float> {
    grad: &'a mut Tensor<T>,
    /// True until someone wrote the slot in this pass: its numbers are stale.
    fresh: bool,
}

impl<'a, T: Float> GradSlot<'a, T> {
    /// A slot over `grad` (already at the input's shape); `store` says whether it holds stale
    /// numbers ([`Store::Overwrite`]) or a partial sum ([`Store::Accumulate`]).
    pub(crate) fn new(grad: &'a mut Tensor<T>, store: Store) -> Self {
        let fresh = store == Store::Overwrite;
        GradSlot { grad, fresh }
    }

    /// The gradient buffer to ADD into (`+=`), at the input's shape; zero-filled first when no
    /// rule has written it yet.
    pub fn add_into(&mut self) -> &mut Tensor<T> {
        if self.fresh {
            self.grad.fill(T::zero());
            self.fresh = false;
        }
        self.grad
    }

    /// The gradient buffer and how to store into it: [`Store::Overwrite`] on the slot's first
    /// write in this pass (then every element must be written with `=`: the buffer holds stale
    /// numbers), [`Store::Accumulate`] after. From this call on, the slot counts as written.
    pub fn write(&mut self) -> (&mut Tensor<T>, Store) {
        let store = match std::mem::replace(&mut self.fresh, false) {
            true => Store::Overwrite,
            false => Store::Accumulate,
        };
        (self.grad, store)
    }

    /// Zero-fills the slot if nobody wrote it: the op left this input's gradient alone, so its
    /// contribution is zero.
    pub(crate) fn finish(self) {
        if self.fresh {
            self.grad.fill(T::zero());
        }
    }
}

/// An op with a hand-written backward rule, recorded with [`Tape::custom`](crate::Tape::custom).
///
/// Write the derivative in `backward` and check it with [`gradcheck`](crate::gradcheck()). This
/// one keeps `x²`, which its forward computes anyway, so that backward multiplies instead of
/// squaring again:
///
/// ```
/// use autograd::{CustomOp, GradSlot, Tape, Tensor, gradcheck::{gradcheck, GradcheckConfig}};
/// use std::rc::Rc;
///
/// /// y = a · x³ elementwise; dy/dx = 3 a x².
/// struct ScaledCube { a: f64 }
///
/// impl CustomOp<f64> for ScaledCube {
///     fn name(&self) -> &str { "scaled_cube" }
///     fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
///         assert_eq!(inputs.len(), 1, "scaled_cube: expected 1 input, got {}", inputs.len());
///         out.extend_from_slice(inputs[0]);
///     }
///     fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, saved: &mut Vec<f64>) {
///         saved.clear();
///         for (y, &x) in out.data_mut().iter_mut().zip(inputs[0].data()) {
///             saved.push(x * x); // kept for backward: dy/dx = 3 a x²
///             *y = self.a * x * x * x;
///         }
///     }
///     fn backward(&self, _inputs: &[&Tensor<f64>], _out: &Tensor<f64>, saved: &[f64],
///                 grad_out: &Tensor<f64>, grad_inputs: &mut [Option<GradSlot<'_, f64>>]) {
///         if let Some(gx) = grad_inputs[0].as_mut().map(GradSlot::add_into) {
///             for ((d, &x2), &g) in gx.data_mut().iter_mut().zip(saved).zip(grad_out.data()) {
///                 *d += g * 3.0 * self.a * x2; // ADD into the gradient
///             }
///         }
///     }
/// }
///
/// let op: Rc<dyn CustomOp<f64>> = Rc::new(ScaledCube { a: 0.5 });
/// let tape = Tape::new();
/// let x = tape.param(&Tensor::from_vec(vec![1.0, -2.0], &[2]));
/// let y = tape.custom(op.clone(), &[x]).sum();
/// assert_eq!(y.backward()[x].data(), &[1.5, 6.0]);
///
/// let inputs = [Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3])];
/// let report = gradcheck(|tape, xs| tape.custom(op.clone(), xs), &inputs, &GradcheckConfig::default());
/// assert!(report.max_rel_err < 1e-6, "{report}");
/// ```
pub trait CustomOp<T: Float> {
    /// A short name, used in panic messages.
    fn name(&self) -> &str;

    /// Writes the output shape for these input shapes into `out`, which arrives empty (the
    /// node's shape buffer, whose capacity the tape keeps: a warm step allocates nothing).
    ///
    /// Panics with a message naming the op and the shapes when they do not fit.
    fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>);

    /// Writes the result into `out`, which already has the shape from
    /// [`output_shape`](CustomOp::output_shape) (its contents are unspecified: overwrite them).
    ///
    /// `saved` is this node's own buffer for values that backward needs and would otherwise
    /// recompute; [`backward`](CustomOp::backward) gets it back as is. It holds whatever the
    /// node recorded in this tape slot last step (resize it; growing it is the only allocation,
    /// and only until it reaches its working size). Leave it alone if backward needs nothing.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, saved: &mut Vec<T>);

    /// Gives each input that needs a gradient (`grad_inputs[i]` is `Some`) its share of dL/d(input
    /// i): through [`GradSlot::add_into`] (add, `+=`) or [`GradSlot::write`] (overwrite on the
    /// slot's first write, else add). `grad_out` is dL/d(output); `out` is the value `forward`
    /// produced and `saved` what it kept.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    );
}

/// Inputs of a custom op handled with stack arrays (their values, shapes and gradient buffers);
/// more fall back to heap `Vec`s.
pub(crate) const STACK_INPUTS: usize = 4;

/// Calls `f` with references to `values[i]` for each index, without allocating for up to four.
pub(crate) fn with_inputs<T: Float, R>(
    values: &[Tensor<T>],
    indices: impl ExactSizeIterator<Item = usize> + Clone,
    f: impl FnOnce(&[&Tensor<T>]) -> R,
) -> R {
    let n = indices.len();
    if n == 0 {
        return f(&[]);
    }
    if n <= STACK_INPUTS {
        let first = indices.clone().next().expect("n > 0");
        let mut refs = [&values[first]; STACK_INPUTS];
        for (r, i) in refs.iter_mut().zip(indices) {
            *r = &values[i];
        }
        f(&refs[..n])
    } else {
        let refs: Vec<&Tensor<T>> = indices.map(|i| &values[i]).collect();
        f(&refs)
    }
}

/// Calls `f` with the shapes of `inputs`, without allocating for up to four.
pub(crate) fn with_shapes<T: Float, R>(
    inputs: &[&Tensor<T>],
    f: impl FnOnce(&[&[usize]]) -> R,
) -> R {
    let n = inputs.len();
    if n <= STACK_INPUTS {
        let mut shapes: [&[usize]; STACK_INPUTS] = [&[]; STACK_INPUTS];
        for (s, t) in shapes.iter_mut().zip(inputs) {
            *s = t.shape();
        }
        f(&shapes[..n])
    } else {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        f(&shapes)
    }
}
