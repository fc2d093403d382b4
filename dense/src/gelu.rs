//! GELU (tanh form) as one autograd node on the vectorised `tanh`: the transformer MLP's
//! activation, whose library-`tanh` form in autograd's reference op dominated the GPT's training
//! step.
//!
//! ```text
//! gelu(x)  = ½ x (1 + t),  t = tanh u,  u = √(2/π) (x + 0.044715 x³)
//! gelu'(x) = ½ (1 + t) + ½ x (1 − t²) √(2/π) (1 + 3·0.044715 x²)
//! ```
//!
//! **Saved for backward: `t`.** The derivative needs `t = tanh u` again, and a `tanh` is the
//! most expensive step of the op (a vectorised polynomial and a division per number); keeping
//! it costs one number per element, in the node's saved buffer on the tape (reused every step).
//! So forward computes `t` into that buffer, and backward reads it back instead of calling
//! `tanh` a second time. Backward writes `x̄` with `=` when it is the first rule to reach x's
//! gradient slot in the pass ([`autograd::Store::Overwrite`]: no zero fill), else adds.
//!
//! Slices of at least [`crate::threads::PARALLEL_MIN_HEAVY_ELEMENTS`] are cut into one part per
//! thread, each element computed by one thread with the same instructions, so the bits do not
//! depend on the thread count.
//!
//! For `f32`, `tanh` is [`crate::vmath`]'s approximation (its documented error); for `f64` the
//! library's. The test holds value and gradient to autograd's [`Var::gelu`] (the reference) and
//! checks the `f64` op with `gradcheck`.

use std::rc::Rc;

use autograd::{CustomOp, GradSlot, Store, Tensor, Var};

use crate::activation::Activation;
use crate::element::Element;
use crate::kernel::Kernel;
use crate::threads;

/// √(2/π).
pub(crate) const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh form.
pub(crate) const CUBIC: f64 = 0.044_715;

/// The fused GELU op; keep it in an `Rc` across steps (recording then only bumps a count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gelu;

impl Gelu {
    /// The op, shared through an `Rc`.
    pub fn new() -> Rc<Self> {
        Rc::new(Gelu)
    }
}

/// Records `gelu(x)` (tanh form, elementwise, any shape) as one node; see the module doc.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use dense::gelu::{Gelu, gelu};
/// let tape = Tape::<f64>::new();
/// let x = tape.param(&Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
/// let (fused, reference) = (gelu(x, &Gelu::new()), x.gelu());
/// for (a, b) in fused.value().data().iter().zip(reference.value().data()) {
///     assert!((a - b).abs() < 1e-15);
/// }
/// ```
pub fn gelu<'t, T: Element>(x: Var<'t, T>, op: &Rc<Gelu>) -> Var<'t, T> {
    let op: Rc<dyn CustomOp<T>> = op.clone();
    x.tape().custom(op, &[x])
}

impl<T: Element> CustomOp<T> for Gelu {
    fn name(&self) -> &str {
        "gelu"
    }

    fn output_shape(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        assert!(
            inputs.len() == 1,
            "gelu: expected 1 input, got {}",
            inputs.len()
        );
        shape.extend_from_slice(inputs[0]);
    }

    /// `t = tanh u` into `saved`, then `y = ½ x (1 + t)`.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, saved: &mut Vec<T>) {
        let x = inputs[0].data();
        // Only grown, never zero-filled: the forward overwrites every number.
        saved.resize(x.len(), T::zero());
        let (kernel, chunk) = (Kernel::selected(), parallel_chunk(x.len()));
        let parts = x.chunks(chunk).zip(saved.chunks_mut(chunk));
        let parts = parts.zip(out.data_mut().chunks_mut(chunk));
        threads::for_each_part(parts, |_, ((x, t), y)| T::gelu_forward(kernel, x, t, y));
    }

    /// `x̄ = ȳ · gelu'(x)`, with the `t` the forward saved.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let Some((gx, store)) = grad_inputs[0].as_mut().map(GradSlot::write) else {
            return;
        };
        let (kernel, chunk) = (Kernel::selected(), parallel_chunk(gx.data().len()));
        let inputs = grad_out
            .data()
            .chunks(chunk)
            .zip(inputs[0].data().chunks(chunk));
        let parts = inputs.zip(saved.chunks(chunk).zip(gx.data_mut().chunks_mut(chunk)));
        threads::for_each_part(parts, |_, ((g, x), (t, gx))| {
            T::gelu_backward(kernel, g, x, t, gx, store)
        });
    }
}

/// The slice length each thread takes in a pass over `len` elements (whole vectors but the
/// last): all of it below [`threads::PARALLEL_MIN_HEAVY_ELEMENTS`]. Each element is computed by
/// one thread with the same instructions, so the bits do not depend on the thread count.
fn parallel_chunk(len: usize) -> usize {
    threads::part_len(len, 64, len, threads::PARALLEL_MIN_HEAVY_ELEMENTS)
}

/// The forward over a slice, one element at a time: `t = tanh u` with
/// `u = √(2/π)·(x + 0.044715·x·x·x)`, then `y = ½·x·(1 + t)`. This is the `f64` op, and the
/// definition of the `f32` bits: the vectorised paths ([`crate::vmath`]) evaluate the same
/// products and sums in the same order, each rounded once (no fused multiply-add), so they agree
/// bit for bit with it on the same `tanh`.
pub(crate) fn forward_with<T: Element>(kernel: Kernel, x: &[T], t: &mut [T], y: &mut [T]) {
    let (c, a) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(CUBIC));
    for (u, &x) in t.iter_mut().zip(x) {
        *u = c * (x + a * x * x * x);
    }
    T::activate_with(kernel, Activation::Tanh, t);
    let half = T::from_f64(0.5);
    for ((y, &x), &t) in y.iter_mut().zip(x).zip(t.iter()) {
        *y = half * x * (T::one() + t);
    }
}

/// The backward over a slice, one element at a time: `x̄ = ȳ · gelu'(x)` from the saved `t`,
/// written (`Store::Overwrite`) or added; the definition of the bits as [`forward_with`].
pub(crate) fn backward_with<T: Element>(g: &[T], x: &[T], t: &[T], gx: &mut [T], store: Store) {
    let (half, c, a3) = (
        T::from_f64(0.5),
        T::from_f64(SQRT_2_OVER_PI),
        T::from_f64(3.0 * CUBIC),
    );
    // gelu'(x) = ½ (1 + t) + ½ x (1 − t²) √(2/π) (1 + 3·0.044715 x²)
    let derivative = |x: T, t: T| {
        half * (T::one() + t) + half * x * (T::one() - t * t) * c * (T::one() + a3 * x * x)
    };
    let rows = gx.iter_mut().zip(g).zip(x.iter().zip(t));
    match store {
        Store::Overwrite => rows.for_each(|((gx, &g), (&x, &t))| *gx = g * derivative(x, t)),
        Store::Accumulate => rows.for_each(|((gx, &g), (&x, &t))| *gx += g * derivative(x, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::gradcheck::{GradcheckConfig, gradcheck};
    use autograd::{Float, Tape};
    use rand::SeedableRng;

    fn inputs<T: Float>() -> Tensor<T> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x = Tensor::<f64>::randn(&[7, 13], &mut rng);
        Tensor::from_vec(
            x.data().iter().map(|&v| T::from_f64(3.0 * v)).collect(),
            &[7, 13],
        )
    }

    /// Value and gradient (of `Σ wᵢ gelu(xᵢ)`) with the fused op and with the reference.
    fn both<T: Element>() -> [(Vec<T>, Vec<T>); 2] {
        let x = inputs::<T>();
        let w = Tensor::from_vec(
            (0..91)
                .map(|i| T::from_f64((i as f64 * 0.37).sin()))
                .collect(),
            &[7, 13],
        );
        [true, false].map(|fused| {
            let tape = Tape::<T>::new();
            let xv = tape.param(&x);
            let y = if fused {
                gelu(xv, &Gelu::new())
            } else {
                xv.gelu()
            };
            let g = (y * tape.constant(&w)).sum().backward();
            (y.value().into_vec(), g[xv].data().to_vec())
        })
    }

    #[test]
    fn equals_the_reference_op() {
        let [(y, g), (y_ref, g_ref)] = both::<f64>();
        for (a, b) in y.iter().zip(&y_ref).chain(g.iter().zip(&g_ref)) {
            assert!((a - b).abs() < 1e-12, "f64: {a} vs {b}");
        }
        // f32: the vectorised tanh's error, a few units in the last place.
        let [(y, g), (y_ref, g_ref)] = both::<f32>();
        for (a, b) in y.iter().zip(&y_ref).chain(g.iter().zip(&g_ref)) {
            assert!((a - b).abs() < 1e-5, "f32: {a} vs {b}");
        }
    }

    #[test]
    fn passes_gradcheck() {
        let op = Gelu::new();
        let report = gradcheck(
            |_, p| gelu(p[0], &op),
            &[inputs::<f64>()],
            &GradcheckConfig::default(),
        );
        assert!(report.passes(1e-6), "{report}");
    }

    #[test]
    fn vector_paths_have_the_bits_of_the_element_by_element_code() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for kernel in Kernel::available() {
            for n in (0..=40).chain([1000]) {
                // Values from -12 to 12 (past tanh's saturation), and a few exact ones.
                let mut x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.77).sin() * 12.0).collect();
                for (k, v) in [0.0, -0.0, 1e-30, -3.5].into_iter().enumerate() {
                    if k < n {
                        x[(7 * k) % n] = v;
                    }
                }
                let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.31).cos()).collect();
                let start: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.2).collect();
                let (mut t, mut y) = (vec![0.0f32; n], vec![0.0f32; n]);
                let (mut t_want, mut y_want) = (vec![0.0f32; n], vec![0.0f32; n]);
                crate::vmath::gelu_forward_with(kernel, &x, &mut t, &mut y);
                forward_with(kernel, &x, &mut t_want, &mut y_want);
                assert_eq!(bits(&t), bits(&t_want), "{kernel:?} n={n}: t");
                assert_eq!(bits(&y), bits(&y_want), "{kernel:?} n={n}: y");
                for store in [Store::Overwrite, Store::Accumulate] {
                    let (mut gx, mut gx_want) = (start.clone(), start.clone());
                    crate::vmath::gelu_backward_with(kernel, &g, &x, &t, &mut gx, store);
                    backward_with(&g, &x, &t, &mut gx_want, store);
                    assert_eq!(bits(&gx), bits(&gx_want), "{kernel:?} n={n} {store:?}");
                }
            }
        }
    }
}
