//! The extension point: [`CustomOp`], an op with a hand-written forward and backward.
//!
//! A custom op is one node on the tape however much work it does, so a fused kernel (the `dense`
//! crate's `x·W + b` with its activation, say) costs one node instead of three and can use its own
//! fast code in both directions. The tape calls `output_shape`, then `forward` into a reused
//! buffer; backward calls `backward` with the output's gradient.

use crate::float::Float;
use crate::tensor::Tensor;

/// An op with a hand-written backward rule, recorded with [`Tape::custom`](crate::Tape::custom).
///
/// Write the derivative in `backward` and check it with [`gradcheck`](crate::gradcheck()):
///
/// ```
/// use autograd::{CustomOp, Tape, Tensor, gradcheck::{gradcheck, GradcheckConfig}};
/// use std::rc::Rc;
///
/// /// y = a · x³ elementwise; dy/dx = 3 a x².
/// struct ScaledCube { a: f64 }
///
/// impl CustomOp<f64> for ScaledCube {
///     fn name(&self) -> &str { "scaled_cube" }
///     fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
///         assert_eq!(inputs.len(), 1, "scaled_cube: expected 1 input, got {}", inputs.len());
///         inputs[0].to_vec()
///     }
///     fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>) {
///         for (y, &x) in out.data_mut().iter_mut().zip(inputs[0].data()) {
///             *y = self.a * x * x * x;
///         }
///     }
///     fn backward(&self, inputs: &[&Tensor<f64>], _out: &Tensor<f64>, grad_out: &Tensor<f64>,
///                 grad_inputs: &mut [Option<&mut Tensor<f64>>]) {
///         if let Some(gx) = grad_inputs[0].as_deref_mut() {
///             for ((d, &x), &g) in gx.data_mut().iter_mut().zip(inputs[0].data()).zip(grad_out.data()) {
///                 *d += g * 3.0 * self.a * x * x; // ADD into the gradient
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

    /// The output shape for these input shapes.
    ///
    /// Panics with a message naming the op and the shapes when they do not fit.
    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize>;

    /// Writes the output shape into `out` (cleared first), reusing its buffer. The tape calls
    /// this one; the default forwards to [`output_shape`](CustomOp::output_shape), which
    /// allocates a `Vec` per call. Override it in an op recorded every training step, so a warm
    /// step allocates nothing.
    fn output_shape_into(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
        let shape = self.output_shape(inputs);
        out.clear();
        out.extend_from_slice(&shape);
    }

    /// Writes the result into `out`, which already has the shape from
    /// [`output_shape`](CustomOp::output_shape) (its contents are unspecified: overwrite them).
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>);

    /// ADDS dL/d(input i) into `grad_inputs[i]` when that entry is `Some` (the input needs a
    /// gradient). `grad_out` is dL/d(output); `out` is the value `forward` produced.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<&mut Tensor<T>>],
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
