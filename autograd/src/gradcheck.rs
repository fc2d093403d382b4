//! The public gradient checker: the tape's gradients against central finite differences.
//!
//! For a function `f` of some input tensors, [`gradcheck`] compares, for every element `xⱼ` of
//! every input, the reverse-mode gradient `∂L/∂xⱼ` with the central difference
//!
//! ```text
//! (L(x + h eⱼ) − L(x − h eⱼ)) / 2h,     error O(h² · L''')
//! ```
//!
//! where L is f's output if it has one element, else `Σ cₖ yₖ` with fixed pseudo-random weights
//! `cₖ` (magnitudes in [0.5, 1.5], random signs), so every output element's gradient is exercised
//! and errors in different elements cannot cancel. The step is `h = eps · max(1, |xⱼ|)`; the
//! quotient uses the step actually taken after rounding to `T`. Differences and errors are
//! accumulated in `f64`.
//!
//! For `f32`, [`compare_f32_to_f64`] holds the `f32` tape's gradient to the `f64` tape's gradient
//! of the same function (finite differences of `f32` evaluations are dominated by rounding).
//!
//! The error of one element is `|a − n|` (absolute) and `|a − n| / max(|a|, |n|, abs_floor)`
//! (relative, with an absolute floor so that near-zero gradients are judged by absolute error).

use crate::float::Float;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// Settings of [`gradcheck`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckConfig {
    /// Relative finite-difference step: `h = eps · max(1, |x|)`.
    pub eps: f64,
    /// Denominator floor of the relative error (see the module doc).
    pub abs_floor: f64,
    /// Seed of the output weights used when f's output has more than one element.
    pub seed: u64,
}

impl Default for GradcheckConfig {
    /// Settings for `f64`: `eps = 1e-5` (near the optimum `∛ε_machine` for central differences),
    /// `abs_floor = 1e-3`.
    fn default() -> Self {
        GradcheckConfig {
            eps: 1e-5,
            abs_floor: 1e-3,
            seed: 0x5eed,
        }
    }
}

impl GradcheckConfig {
    /// Settings for `f32` (differences evaluated in `f32` need a larger step): `eps = 4e-3`,
    /// `abs_floor = 1e-2`.
    pub fn for_f32() -> Self {
        GradcheckConfig {
            eps: 4e-3,
            abs_floor: 1e-2,
            ..Self::default()
        }
    }

    /// The default settings for the element type `T`.
    pub fn for_type<T: Float>() -> Self {
        if T::NAME == "f32" {
            Self::for_f32()
        } else {
            Self::default()
        }
    }
}

/// What [`gradcheck`] found: the worst errors and where.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// Largest `|analytic − numeric|` over all checked elements.
    pub max_abs_err: f64,
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|, abs_floor)`.
    pub max_rel_err: f64,
    /// Which input holds the element with the largest relative error.
    pub worst_input: usize,
    /// Row-major position of that element in its input.
    pub worst_index: usize,
    /// The tape's gradient at that element.
    pub analytic: f64,
    /// The finite-difference gradient at that element.
    pub numeric: f64,
    /// Number of elements checked.
    pub checked: usize,
}

impl GradcheckReport {
    /// True when the worst relative error is at most `rel_tol` (and finite).
    pub fn passes(&self, rel_tol: f64) -> bool {
        self.max_rel_err <= rel_tol
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck over {} elements: max abs err {:.3e}, max rel err {:.3e} (input {}, element {}: analytic {:.9e}, numeric {:.9e})",
            self.checked,
            self.max_abs_err,
            self.max_rel_err,
            self.worst_input,
            self.worst_index,
            self.analytic,
            self.numeric
        )
    }
}

/// Output weights: magnitude in [0.5, 1.5], random sign.
fn output_weights<T: Float>(n: usize, seed: u64) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let m = 0.5 + rng.r#gen::<f64>();
            T::from_f64(if rng.r#gen::<bool>() { m } else { -m })
        })
        .collect()
}

/// The scalar L: f's single output, or Σ cₖ yₖ.
fn scalar_loss<'t, T: Float>(
    tape: &'t Tape<T>,
    y: Var<'t, T>,
    weights: &mut Option<Vec<T>>,
    seed: u64,
) -> Var<'t, T> {
    let (n, shape) = y.with_value(|v| (v.numel(), v.shape().to_vec()));
    if n == 1 {
        return y.sum();
    }
    let w = weights.get_or_insert_with(|| output_weights(n, seed));
    assert!(
        w.len() == n,
        "gradcheck: f's output changed size between evaluations"
    );
    (y * tape.constant_from_slice(w, &shape)).sum()
}

/// The tape's gradient of the scalar L (see the module doc) with respect to every input, in f64.
fn tape_gradients<T, F>(f: &F, inputs: &[Tensor<T>], seed: u64) -> Vec<Vec<f64>>
where
    T: Float,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let mut weights = None;
    let tape = Tape::new();
    let params: Vec<Var<'_, T>> = inputs.iter().map(|t| tape.param(t)).collect();
    let loss = scalar_loss(&tape, f(&tape, &params), &mut weights, seed);
    let grads = loss.backward();
    params
        .iter()
        .map(|&p| grads[p].data().iter().map(|g| g.to_f64()).collect())
        .collect()
}

/// Compares the `f32` tape's gradient of a function with the `f64` tape's gradient of the same
/// function (`f32_fn` and `f64_fn` should be one generic function instantiated twice).
///
/// Finite differences of `f32` evaluations measure `f32` rounding as much as the gradient, so for
/// `f32` this is the sharper check: first prove the `f64` gradient with [`gradcheck`], then hold
/// the `f32` gradient to it. In the report, `numeric` is the `f64` gradient.
///
/// ```
/// use autograd::{Float, Tape, Tensor, Var, gradcheck::{compare_f32_to_f64, GradcheckConfig}};
/// fn f<'t, T: Float>(_t: &'t Tape<T>, v: &[Var<'t, T>]) -> Var<'t, T> { v[0].tanh().exp() }
/// let x = Tensor::from_vec(vec![0.3, -1.0, 2.0], &[3]);
/// let report = compare_f32_to_f64(f::<f32>, f::<f64>, &[x], &GradcheckConfig::for_f32());
/// assert!(report.passes(1e-5), "{report}");
/// ```
pub fn compare_f32_to_f64<F32, F64>(
    f32_fn: F32,
    f64_fn: F64,
    inputs: &[Tensor<f64>],
    config: &GradcheckConfig,
) -> GradcheckReport
where
    F32: for<'t> Fn(&'t Tape<f32>, &[Var<'t, f32>]) -> Var<'t, f32>,
    F64: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>,
{
    let inputs32: Vec<Tensor<f32>> = inputs
        .iter()
        .map(|t| Tensor::from_vec(t.data().iter().map(|&x| x as f32).collect(), t.shape()))
        .collect();
    let g32 = tape_gradients(&f32_fn, &inputs32, config.seed);
    let g64 = tape_gradients(&f64_fn, inputs, config.seed);
    compare(&g32, &g64, config.abs_floor)
}

/// The report of `analytic[k][j]` (the gradient under test) against `reference[k][j]` (the value
/// it must match) for every element `j` of every input `k`: each element's absolute error
/// `|a − r|` and relative error `|a − r| / max(|a|, |r|, floor)`, keeping the worst.
fn compare(analytic: &[Vec<f64>], reference: &[Vec<f64>], floor: f64) -> GradcheckReport {
    let mut report = GradcheckReport {
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        worst_input: 0,
        worst_index: 0,
        analytic: 0.0,
        numeric: 0.0,
        checked: 0,
    };
    let mut worst = f64::NEG_INFINITY;
    for (k, (a_k, r_k)) in analytic.iter().zip(reference).enumerate() {
        for (j, (&a, &r)) in a_k.iter().zip(r_k).enumerate() {
            let abs = (a - r).abs();
            let rel = abs / a.abs().max(r.abs()).max(floor);
            // NaN errors (a NaN gradient) count as the worst possible.
            let rel_key = if rel.is_nan() { f64::INFINITY } else { rel };
            let abs_key = if abs.is_nan() { f64::INFINITY } else { abs };
            report.max_abs_err = report.max_abs_err.max(abs_key);
            if rel_key > worst {
                worst = rel_key;
                report.max_rel_err = rel_key;
                report.worst_input = k;
                report.worst_index = j;
                report.analytic = a;
                report.numeric = r;
            }
            report.checked += 1;
        }
    }
    report
}

/// Checks the tape's gradient of `f` at `inputs` against central finite differences (see the
/// module doc). Every input is a parameter.
///
/// ```
/// use autograd::{Tensor, gradcheck::{gradcheck, GradcheckConfig}};
/// let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]);
/// let w = Tensor::from_vec(vec![0.3, 0.2, -0.1, 0.4, 0.8, -0.6], &[3, 2]);
/// let report = gradcheck(
///     |_tape, v| v[0].reshape(&[1, 3]).matmul(v[1]).tanh().sum(),
///     &[x, w],
///     &GradcheckConfig::default(),
/// );
/// assert!(report.passes(1e-6), "{report}");
/// ```
///
/// # Panics
/// If `f` panics, or its output changes size between evaluations.
pub fn gradcheck<T, F>(f: F, inputs: &[Tensor<T>], config: &GradcheckConfig) -> GradcheckReport
where
    T: Float,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let mut weights: Option<Vec<T>> = None;
    // Reverse mode, once.
    let analytic = tape_gradients(&f, inputs, config.seed);

    // Finite differences: two evaluations per element, without recording.
    let mut tape = Tape::new();
    let mut xs: Vec<Tensor<T>> = inputs.to_vec();
    let mut eval = |xs: &[Tensor<T>], tape: &mut Tape<T>| -> f64 {
        tape.reset();
        let tape = &*tape;
        tape.no_grad(|| {
            let vars: Vec<Var<'_, T>> = xs.iter().map(|t| tape.constant(t)).collect();
            scalar_loss(tape, f(tape, &vars), &mut weights, config.seed)
                .item()
                .to_f64()
        })
    };

    let mut numeric: Vec<Vec<f64>> = Vec::with_capacity(inputs.len());
    for k in 0..inputs.len() {
        let mut numeric_k = Vec::with_capacity(inputs[k].numel());
        for j in 0..inputs[k].numel() {
            let x0 = xs[k].data()[j];
            let h = config.eps * x0.to_f64().abs().max(1.0);
            let (xp, xm) = (T::from_f64(x0.to_f64() + h), T::from_f64(x0.to_f64() - h));
            xs[k].data_mut()[j] = xp;
            let lp = eval(&xs, &mut tape);
            xs[k].data_mut()[j] = xm;
            let lm = eval(&xs, &mut tape);
            xs[k].data_mut()[j] = x0;
            // (L(x + h) − L(x − h)) / 2h, with the step actually taken after rounding to T.
            numeric_k.push((lp - lm) / (xp.to_f64() - xm.to_f64()));
        }
        numeric.push(numeric_k);
    }
    compare(&analytic, &numeric, config.abs_floor)
}

#[cfg(test)]
mod tests {
    //! The checker itself must fail on wrong gradients: if it always reported zero error, every
    //! property test in `tests/` would pass whatever the backward rules did.

    use super::*;
    use crate::{CustomOp, GradSlot};
    use std::rc::Rc;

    /// y = x² elementwise, with a backward rule that is wrong at one element: there it returns
    /// 2x + 0.01 instead of 2x.
    struct SquareWrongAt(usize);

    impl CustomOp<f64> for SquareWrongAt {
        fn name(&self) -> &str {
            "square_wrong_at"
        }
        fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
            out.extend_from_slice(inputs[0]);
        }
        fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, _saved: &mut Vec<f64>) {
            for (y, &x) in out.data_mut().iter_mut().zip(inputs[0].data()) {
                *y = x * x;
            }
        }
        fn backward(
            &self,
            inputs: &[&Tensor<f64>],
            _out: &Tensor<f64>,
            _saved: &[f64],
            grad_out: &Tensor<f64>,
            grad_inputs: &mut [Option<GradSlot<'_, f64>>],
        ) {
            if let Some(gx) = grad_inputs[0].as_mut().map(GradSlot::add_into) {
                let xs = inputs[0].data();
                for (j, (d, &g)) in gx.data_mut().iter_mut().zip(grad_out.data()).enumerate() {
                    let bug = if j == self.0 { 0.01 } else { 0.0 };
                    *d += g * (2.0 * xs[j] + bug);
                }
            }
        }
    }

    #[test]
    fn a_wrong_backward_rule_is_caught_and_located() {
        let op: Rc<dyn CustomOp<f64>> = Rc::new(SquareWrongAt(2));
        let inputs = [
            Tensor::from_vec(vec![0.5, -1.0], &[2]),
            Tensor::from_vec(vec![0.3, -0.7, 1.1, 0.9], &[4]),
        ];
        // L = Σ tanh(a) + Σ custom(b): input 0 is differentiated correctly, input 1 is not.
        let report = gradcheck(
            |t, v| v[0].tanh().sum() + t.custom(op.clone(), &[v[1]]).sum(),
            &inputs,
            &GradcheckConfig::default(),
        );
        assert!(!report.passes(1e-6), "{report}");
        assert_eq!((report.worst_input, report.worst_index), (1, 2), "{report}");
        assert_eq!(report.checked, 6);
        // dL/db₂ = 2 · 1.1 = 2.2; the rule says 2.21.
        assert!((report.analytic - 2.21).abs() < 1e-12, "{report}");
        assert!((report.numeric - 2.2).abs() < 1e-8, "{report}");
        assert!((report.max_abs_err - 0.01).abs() < 1e-8, "{report}");
        assert!((report.max_rel_err - 0.01 / 2.21).abs() < 1e-8, "{report}");
    }

    #[test]
    fn a_nan_gradient_is_the_worst_error() {
        let report = compare(&[vec![1.0, f64::NAN, 3.0]], &[vec![1.0, 2.0, 3.5]], 1e-3);
        assert_eq!(report.max_rel_err, f64::INFINITY);
        assert_eq!(report.max_abs_err, f64::INFINITY);
        assert_eq!(report.worst_index, 1);
        assert!(!report.passes(1e9));
    }

    #[test]
    fn near_zero_gradients_are_judged_against_the_absolute_floor() {
        // |1e-9 − 0| / max(1e-9, 0, 1e-3) = 1e-6, not 1 (the relative error without a floor).
        let report = compare(&[vec![1e-9]], &[vec![0.0]], 1e-3);
        assert!((report.max_rel_err - 1e-6).abs() < 1e-18, "{report}");
        assert_eq!(report.max_abs_err, 1e-9);
    }

    #[test]
    fn the_f32_settings_make_f32_finite_differences_usable() {
        // Central differences evaluated in f32 with eps = 4e-3, on a small smooth function.
        let x = Tensor::<f32>::from_vec(vec![0.3, -1.2, 0.8], &[3]);
        let w = Tensor::<f32>::from_vec(vec![0.5, -0.25, 1.5, 0.7, -0.9, 0.2], &[3, 2]);
        let report = gradcheck(
            |_, v| v[0].reshape(&[1, 3]).matmul(v[1]).tanh(),
            &[x, w],
            &GradcheckConfig::for_type::<f32>(),
        );
        assert_eq!(
            GradcheckConfig::for_type::<f32>(),
            GradcheckConfig::for_f32()
        );
        assert!(report.passes(1e-2), "{report}");
        assert_eq!(report.checked, 9);
    }

    #[test]
    fn compare_f32_to_f64_catches_a_gradient_that_differs() {
        let x = [Tensor::from_vec(vec![0.3, -1.2], &[2])];
        // Same function in both precisions: passes.
        let same = compare_f32_to_f64(
            |_, v| v[0].tanh(),
            |_, v| v[0].tanh(),
            &x,
            &GradcheckConfig::for_f32(),
        );
        assert!(same.passes(1e-5), "{same}");
        // The f32 side off by 10 %: fails, with the f64 gradient as the reference.
        let off = compare_f32_to_f64(
            |_, v| v[0].tanh() * 1.1,
            |_, v| v[0].tanh(),
            &x,
            &GradcheckConfig::for_f32(),
        );
        assert!(!off.passes(1e-2), "{off}");
        assert!((off.max_rel_err - 0.1 / 1.1).abs() < 1e-6, "{off}");
    }
}
