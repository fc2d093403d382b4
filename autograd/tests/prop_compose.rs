//! Random compositions of ops (depth up to 10) checked against finite differences, and the
//! policy-gradient path `mean(log_softmax(x·W + b) gathered at actions · advantages)` on its own.
//!
//! f64: the tape against central differences, ≤ 1e-6. f32: the f32 tape against the f64 tape's
//! gradient of the same function (itself checked against finite differences), ≤ 1e-2: in a deep
//! composition, differences of f32 evaluations would measure f32 rounding rather than the tape.

use autograd::{Float, GradcheckConfig, Tape, Tensor, Var, compare_f32_to_f64, gradcheck};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

mod common;
use common::{cfg, tensor_of};

/// One step of a composition, applied to the running value `x` of shape `[r, c]`.
#[derive(Clone, Copy, Debug)]
enum Step {
    Tanh,
    Sigmoid,
    Softplus,
    ExpTanh,
    SqrtSoftplus,
    Rational,
    Affine(f64, f64),
    /// x ∘ p for a parameter p whose shape is `Shape` (broadcast against x).
    WithParam(Bin, PShape),
    /// x · W with W: [c, c'].
    MatMul(usize),
    Transpose,
    /// Same elements viewed as `[c, r]` (not a transpose).
    Reshape,
    /// `concat([x, tanh(x)], axis)`.
    ConcatSelf(usize),
    LogSoftmax(usize),
    Softmax(usize),
    Center(usize),
    MaxShift(usize),
    LseShift(usize),
    Gelu,
    /// `layer_norm(x, γ, β)` over the rows with parameters γ, β: [c] (ε = 0.1 keeps it well
    /// conditioned when a row is nearly constant).
    LayerNorm,
    /// `causal_softmax(x)` when r ≤ c, else `softmax(x, 1)`.
    CausalSoftmax,
    /// `permute(x, [1, 0])`.
    Permute,
    /// `bmm` of x as `[1, r, c]` with W: [c, c'] as `[1, c, c']`.
    Bmm(usize),
    /// Rows `[r − 1, 0]` of x (as an embedding table): `[2, c]`.
    Embed,
}

#[derive(Clone, Copy, Debug)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug)]
enum PShape {
    Full,
    Row,
    Col,
    Scalar,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Tanh),
        Just(Step::Sigmoid),
        Just(Step::Softplus),
        Just(Step::ExpTanh),
        Just(Step::SqrtSoftplus),
        Just(Step::Rational),
        (-1.5f64..1.5, -1.0f64..1.0).prop_map(|(a, b)| Step::Affine(a, b)),
        (
            prop_oneof![
                Just(Bin::Add),
                Just(Bin::Sub),
                Just(Bin::Mul),
                Just(Bin::Div)
            ],
            prop_oneof![
                Just(PShape::Full),
                Just(PShape::Row),
                Just(PShape::Col),
                Just(PShape::Scalar)
            ]
        )
            .prop_map(|(b, s)| Step::WithParam(b, s)),
        (1usize..=4).prop_map(Step::MatMul),
        Just(Step::Transpose),
        Just(Step::Reshape),
        (0usize..2).prop_map(Step::ConcatSelf),
        (0usize..2).prop_map(Step::LogSoftmax),
        (0usize..2).prop_map(Step::Softmax),
        (0usize..2).prop_map(Step::Center),
        (0usize..2).prop_map(Step::MaxShift),
        (0usize..2).prop_map(Step::LseShift),
        Just(Step::Gelu),
        Just(Step::LayerNorm),
        Just(Step::CausalSoftmax),
        Just(Step::Permute),
        (1usize..=4).prop_map(Step::Bmm),
        Just(Step::Embed),
    ]
}

/// Replaces each `ConcatSelf` that would grow the value past 24 elements by `Tanh`, so that
/// finite differences (two evaluations per element) stay cheap.
fn cap_growth(start: [usize; 2], mut steps: Vec<Step>) -> Vec<Step> {
    let [mut r, mut c] = start;
    for s in steps.iter_mut() {
        match *s {
            Step::ConcatSelf(_) if r * c * 2 > 24 => *s = Step::Tanh,
            Step::ConcatSelf(0) => r *= 2,
            Step::ConcatSelf(_) => c *= 2,
            Step::Transpose | Step::Reshape | Step::Permute => std::mem::swap(&mut r, &mut c),
            Step::MatMul(n) | Step::Bmm(n) => c = n,
            Step::Embed => r = 2,
            _ => {}
        }
    }
    steps
}

/// The parameter shapes the steps need, given the starting shape.
fn param_shapes(start: [usize; 2], steps: &[Step]) -> Vec<(Vec<usize>, bool)> {
    let [mut r, mut c] = start;
    let mut out = Vec::new();
    for s in steps {
        match *s {
            Step::WithParam(b, ps) => {
                let shape = match ps {
                    PShape::Full => vec![r, c],
                    PShape::Row => vec![c],
                    PShape::Col => vec![r, 1],
                    PShape::Scalar => vec![],
                };
                out.push((shape, matches!(b, Bin::Div)));
            }
            Step::MatMul(n) | Step::Bmm(n) => {
                out.push((vec![c, n], false));
                c = n;
            }
            Step::LayerNorm => {
                out.push((vec![c], false));
                out.push((vec![c], false));
            }
            Step::Embed => r = 2,
            Step::Transpose | Step::Reshape | Step::Permute => std::mem::swap(&mut r, &mut c),
            Step::ConcatSelf(0) => r *= 2,
            Step::ConcatSelf(_) => c *= 2,
            _ => {}
        }
    }
    out
}

/// Applies the steps; `v[0]` is the start, `v[1..]` the parameters in order.
fn compose<'t, T: Float>(steps: &[Step], v: &[Var<'t, T>]) -> Var<'t, T> {
    let f = T::from_f64;
    let mut x = v[0];
    let mut params = v[1..].iter();
    for s in steps {
        x = match *s {
            Step::Tanh => x.tanh(),
            Step::Sigmoid => x.sigmoid(),
            Step::Softplus => x.softplus(),
            Step::ExpTanh => x.tanh().exp(),
            Step::SqrtSoftplus => x.softplus().affine(f(1.0), f(0.1)).sqrt(),
            // x / (1 + x²): smooth and bounded
            Step::Rational => x / x.square().affine(f(1.0), f(1.0)),
            Step::Affine(a, b) => x.affine(f(a), f(b)),
            Step::WithParam(b, _) => {
                let p = *params.next().expect("a parameter per step");
                match b {
                    Bin::Add => x + p,
                    Bin::Sub => x - p,
                    Bin::Mul => x * p,
                    Bin::Div => x / p,
                }
            }
            Step::MatMul(_) => x.matmul(*params.next().expect("a parameter per step")),
            Step::Transpose => x.transpose(),
            Step::Reshape => {
                let s = x.shape();
                x.reshape(&[s[1], s[0]])
            }
            Step::ConcatSelf(a) => x.tape().concat(&[x, x.tanh()], a),
            Step::LogSoftmax(a) => x.log_softmax(a),
            Step::Softmax(a) => x.softmax(a),
            Step::Center(a) => x - x.mean_axis(a, true),
            Step::MaxShift(a) => x - x.max_axis(a, true),
            Step::LseShift(a) => x - x.logsumexp(a, true),
            Step::Gelu => x.gelu(),
            Step::LayerNorm => {
                let gain = *params.next().expect("a parameter per step");
                let bias = *params.next().expect("a parameter per step");
                x.layer_norm(gain, bias, f(0.1))
            }
            Step::CausalSoftmax => {
                let s = x.shape();
                if s[0] <= s[1] {
                    x.causal_softmax()
                } else {
                    x.softmax(1)
                }
            }
            Step::Permute => x.permute(&[1, 0]),
            Step::Bmm(n) => {
                let (s, w) = (x.shape(), *params.next().expect("a parameter per step"));
                let wb = w.reshape(&[1, s[1], n]);
                x.reshape(&[1, s[0], s[1]]).bmm(wb).reshape(&[s[0], n])
            }
            Step::Embed => {
                let r = x.shape()[0];
                x.embed(&[r - 1, 0])
            }
        };
    }
    x
}

fn composition() -> impl Strategy<Value = (Vec<Step>, Vec<Tensor<f64>>)> {
    (
        1usize..=3,
        1usize..=3,
        prop::collection::vec(step(), 1..=10),
    )
        .prop_flat_map(|(r, c, steps)| {
            let steps = cap_growth([r, c], steps);
            let mut tensors = vec![tensor_of(vec![r, c], -1.5f64..1.5).boxed()];
            for (shape, positive) in param_shapes([r, c], &steps) {
                let t = if positive {
                    // divisors in [0.5, 2]
                    tensor_of(shape, 0.5f64..2.0).boxed()
                } else {
                    tensor_of(shape, -1.0f64..1.0).boxed()
                };
                tensors.push(t);
            }
            (Just(steps), tensors)
        })
}

fn convert<T: Float>(t: &Tensor<f64>) -> Tensor<T> {
    let data: Vec<T> = t.data().iter().map(|&x| T::from_f64(x)).collect();
    Tensor::from_vec(data, t.shape())
}

/// The f64 gradient against finite differences (≤ 1e-6), then the f32 gradient against the f64
/// one (≤ 1e-2).
fn check_both(
    inputs: &[Tensor<f64>],
    f64_fn: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64> + Copy,
    f32_fn: impl for<'t> Fn(&'t Tape<f32>, &[Var<'t, f32>]) -> Var<'t, f32>,
) -> Result<(), TestCaseError> {
    let report = gradcheck(f64_fn, inputs, &GradcheckConfig::default());
    prop_assert!(report.passes(1e-6), "f64: {}", report);
    let report = compare_f32_to_f64(f32_fn, f64_fn, inputs, &GradcheckConfig::for_f32());
    prop_assert!(report.passes(1e-2), "f32: {}", report);
    Ok(())
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn random_compositions_up_to_depth_10((steps, inputs) in composition()) {
        check_both(
            &inputs,
            |_, v| compose::<f64>(&steps, v),
            |_, v| compose::<f32>(&steps, v),
        )?;
    }

    #[test]
    fn policy_gradient_path(
        (b, d, a) in (1usize..=6, 1usize..=4, 2usize..=4),
        seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x = Tensor::<f64>::rand_uniform(&[b, d], -2.0, 2.0, &mut rng);
        let w = Tensor::<f64>::rand_uniform(&[d, a], -1.0, 1.0, &mut rng);
        let bias = Tensor::<f64>::rand_uniform(&[a], -1.0, 1.0, &mut rng);
        let adv = Tensor::<f64>::randn(&[b], &mut rng);
        let actions: Vec<usize> = (0..b).map(|_| rng.gen_range(0..a)).collect();
        // mean(log_softmax(x·W + b)[i, aᵢ] · advᵢ); the observations x are checked too.
        fn loss<'t, T: Float>(t: &'t Tape<T>, v: &[Var<'t, T>], actions: &[usize], adv: &Tensor<T>) -> Var<'t, T> {
            let logp = (v[0].matmul(v[1]) + v[2]).log_softmax(1).gather(1, actions);
            (logp * t.constant(adv)).mean()
        }
        let adv32 = convert::<f32>(&adv);
        check_both(
            &[x, w, bias],
            |t, v| loss(t, v, &actions, &adv),
            |t, v| loss(t, v, &actions, &adv32),
        )?;
    }
}
