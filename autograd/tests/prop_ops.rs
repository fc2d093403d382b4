//! A property per differentiable op: on random shapes (broadcasting included) and random values
//! kept away from kinks and domain edges, the f64 tape's gradient matches central finite
//! differences within 1e-6 relative error, and the f32 tape's gradient matches that proven f64
//! gradient within 1e-2 (relative errors with the absolute floors of `GradcheckConfig`).
//! (Finite differences of f32 evaluations would measure f32 rounding more than the tape.)

use autograd::{Float, GradcheckConfig, Tape, Tensor, Var, compare_f32_to_f64, gradcheck};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

mod common;
use common::{cfg, numel, tensor_of};

/// Op parameters drawn alongside the inputs.
#[derive(Clone, Debug, Default)]
struct P {
    axis: usize,
    keepdim: bool,
    indices: Vec<usize>,
    c: f64,
    d: f64,
    shape: Vec<usize>,
}

type Case = (Vec<Tensor<f64>>, P);

fn check_f64(
    inputs: &[Tensor<f64>],
    f: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>,
) -> Result<(), TestCaseError> {
    let report = gradcheck(f, inputs, &GradcheckConfig::default());
    prop_assert!(report.passes(1e-6), "{} on inputs {:?}", report, inputs);
    Ok(())
}

fn check_f32(
    inputs: &[Tensor<f64>],
    f32_fn: impl for<'t> Fn(&'t Tape<f32>, &[Var<'t, f32>]) -> Var<'t, f32>,
    f64_fn: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>,
) -> Result<(), TestCaseError> {
    let report = compare_f32_to_f64(f32_fn, f64_fn, inputs, &GradcheckConfig::for_f32());
    prop_assert!(report.passes(1e-2), "{} on inputs {:?}", report, inputs);
    Ok(())
}

// ---- value and shape strategies ------------------------------------------------------------

fn shape(min_rank: usize, max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, min_rank..=max_rank)
}

/// Uniform in [-r, r].
fn smooth(r: f64) -> impl Strategy<Value = f64> + Clone {
    -r..r
}

/// Uniform in [-2, 2], moved at least 0.1 away from every kink (kinks at least 0.6 apart).
fn away_from(kinks: &'static [f64]) -> impl Strategy<Value = f64> + Clone {
    (-2.0f64..2.0).prop_map(move |x| {
        if kinks.iter().any(|k| (x - k).abs() < 0.1) {
            x + 0.25
        } else {
            x
        }
    })
}

/// Magnitude in [lo, hi], random sign.
fn signed(lo: f64, hi: f64) -> impl Strategy<Value = f64> + Clone {
    (lo..hi, any::<bool>()).prop_map(|(m, s)| if s { m } else { -m })
}

/// One input of any shape up to rank 3.
fn one(val: impl Strategy<Value = f64> + Clone + 'static) -> impl Strategy<Value = Case> {
    shape(0, 3)
        .prop_flat_map(move |s| tensor_of(s, val.clone()))
        .prop_map(|t| (vec![t], P::default()))
}

/// Two shapes that broadcast: start from the output shape, set some axes of each input to 1 and
/// drop some of its leading axes.
fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(0, 3)
        .prop_flat_map(|s| {
            let r = s.len();
            (
                Just(s),
                prop::collection::vec(any::<bool>(), r),
                prop::collection::vec(any::<bool>(), r),
                0..=r,
                0..=r,
            )
        })
        .prop_map(|(s, ones_a, ones_b, drop_a, drop_b)| {
            let make = |ones: &[bool], drop: usize| -> Vec<usize> {
                s.iter()
                    .zip(ones)
                    .skip(drop)
                    .map(|(&d, &one)| if one { 1 } else { d })
                    .collect()
            };
            (make(&ones_a, drop_a), make(&ones_b, drop_b))
        })
}

fn two(
    va: impl Strategy<Value = f64> + Clone + 'static,
    vb: impl Strategy<Value = f64> + Clone + 'static,
) -> impl Strategy<Value = Case> {
    broadcast_shapes()
        .prop_flat_map(move |(sa, sb)| (tensor_of(sa, va.clone()), tensor_of(sb, vb.clone())))
        .prop_map(|(a, b)| (vec![a, b], P::default()))
}

/// Values on a 0.4 grid with small jitter; `offset` 0.2 interleaves a second set, so any two values
/// of different sets differ by at least 0.1.
fn grid(offset: f64) -> impl Strategy<Value = f64> + Clone {
    (-5i32..5, -0.05f64..0.05).prop_map(move |(k, j)| k as f64 * 0.4 + offset + j)
}

/// One input of rank 1..=3 with an axis and keepdim.
fn with_axis(val: impl Strategy<Value = f64> + Clone + 'static) -> impl Strategy<Value = Case> {
    shape(1, 3)
        .prop_flat_map(move |s| {
            let r = s.len();
            (tensor_of(s, val.clone()), 0..r, any::<bool>())
        })
        .prop_map(|(t, axis, keepdim)| {
            (
                vec![t],
                P {
                    axis,
                    keepdim,
                    ..P::default()
                },
            )
        })
}

/// Distinct values (at least 4/n apart) in random order: for max, whose gradient picks a winner.
fn distinct_with_axis() -> impl Strategy<Value = Case> {
    shape(1, 3)
        .prop_flat_map(|s| {
            let n = numel(&s);
            let r = s.len();
            (
                Just(s),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                0..r,
                any::<bool>(),
            )
        })
        .prop_map(|(s, perm, axis, keepdim)| {
            let n = perm.len() as f64;
            let data = perm
                .iter()
                .map(|&k| -2.0 + 4.0 * (k as f64 + 0.5) / n)
                .collect();
            (
                vec![Tensor::from_vec(data, &s)],
                P {
                    axis,
                    keepdim,
                    ..P::default()
                },
            )
        })
}

// ---- the properties ------------------------------------------------------------------------

macro_rules! prop_op {
    ($name:ident, $inputs:expr, |$t:ident, $v:ident, $p:ident| $body:expr) => {
        mod $name {
            use super::*;
            #[allow(unused_variables)]
            fn op<'t, T: Float>($t: &'t Tape<T>, $v: &[Var<'t, T>], $p: &P) -> Var<'t, T> {
                $body
            }
            proptest! {
                #![proptest_config(cfg())]
                #[test]
                fn f64_within_1e_6((inputs, p) in $inputs) {
                    check_f64(&inputs, |t, v| op(t, v, &p))?;
                }
                #[test]
                fn f32_within_1e_2((inputs, p) in $inputs) {
                    check_f32(&inputs, |t, v| op(t, v, &p), |t, v| op(t, v, &p))?;
                }
            }
        }
    };
}

// Unary.
prop_op!(neg, one(smooth(2.0)), |t, v, p| v[0].neg());
prop_op!(square, one(smooth(2.0)), |t, v, p| v[0].square());
prop_op!(sqrt, one(0.2f64..3.0), |t, v, p| v[0].sqrt());
prop_op!(exp, one(smooth(2.0)), |t, v, p| v[0].exp());
prop_op!(ln, one(0.2f64..3.0), |t, v, p| v[0].ln());
prop_op!(tanh, one(smooth(3.0)), |t, v, p| v[0].tanh());
prop_op!(sigmoid, one(smooth(4.0)), |t, v, p| v[0].sigmoid());
prop_op!(softplus, one(smooth(4.0)), |t, v, p| v[0].softplus());
prop_op!(relu, one(away_from(&[0.0])), |t, v, p| v[0].relu());
prop_op!(abs, one(away_from(&[0.0])), |t, v, p| v[0].abs());
prop_op!(clamp, one(away_from(&[-0.5, 0.7])), |t, v, p| v[0]
    .clamp(T::from_f64(-0.5), T::from_f64(0.7)));
prop_op!(
    powf,
    (one(0.3f64..2.5), -2.0f64..3.0).prop_map(|((x, _), c)| (x, P { c, ..P::default() })),
    |t, v, p| v[0].powf(T::from_f64(p.c))
);
prop_op!(
    affine,
    (one(smooth(2.0)), signed(0.1, 3.0), smooth(2.0)).prop_map(|((x, _), c, d)| (
        x,
        P {
            c,
            d,
            ..P::default()
        }
    )),
    |t, v, p| v[0].affine(T::from_f64(p.c), T::from_f64(p.d))
);
prop_op!(
    rdiv_scalar,
    (one(signed(0.3, 2.0)), signed(0.1, 3.0)).prop_map(|((x, _), c)| (x, P { c, ..P::default() })),
    |t, v, p| v[0].rdiv_scalar(T::from_f64(p.c))
);

// Binary, broadcasting.
prop_op!(add, two(smooth(2.0), smooth(2.0)), |t, v, p| v[0] + v[1]);
prop_op!(sub, two(smooth(2.0), smooth(2.0)), |t, v, p| v[0] - v[1]);
prop_op!(mul, two(smooth(2.0), smooth(2.0)), |t, v, p| v[0] * v[1]);
prop_op!(div, two(smooth(2.0), signed(0.5, 2.0)), |t, v, p| v[0]
    / v[1]);
prop_op!(maximum, two(grid(0.0), grid(0.2)), |t, v, p| v[0]
    .maximum(v[1]));
prop_op!(minimum, two(grid(0.0), grid(0.2)), |t, v, p| v[0]
    .minimum(v[1]));

// Matrix and shape ops.
prop_op!(
    matmul,
    (1usize..=5, 1usize..=5, 1usize..=5).prop_flat_map(|(m, k, n)| {
        (
            tensor_of(vec![m, k], smooth(1.0)),
            tensor_of(vec![k, n], smooth(1.0)),
        )
            .prop_map(|(a, b)| (vec![a, b], P::default()))
    }),
    |t, v, p| v[0].matmul(v[1])
);
prop_op!(
    transpose,
    shape(2, 2)
        .prop_flat_map(|s| tensor_of(s, smooth(2.0)))
        .prop_map(|x| (vec![x], P::default())),
    |t, v, p| v[0].transpose()
);
prop_op!(
    reshape,
    (one(smooth(2.0)), 0usize..3).prop_map(|((x, _), how)| {
        let n = x[0].numel();
        let mut rev: Vec<usize> = x[0].shape().to_vec();
        rev.reverse();
        let shape = match how {
            0 => vec![n],
            1 => vec![1, n, 1],
            _ => rev,
        };
        (
            x,
            P {
                shape,
                ..P::default()
            },
        )
    }),
    |t, v, p| v[0].reshape(&p.shape)
);
prop_op!(
    concat,
    (shape(1, 3), 1usize..=3)
        .prop_flat_map(|(s, k)| {
            let r = s.len();
            (Just(s), 0..r, prop::collection::vec(1usize..=3, k))
        })
        .prop_flat_map(|(s, axis, lens)| {
            let shapes: Vec<Vec<usize>> = lens
                .iter()
                .map(|&l| {
                    let mut t = s.clone();
                    t[axis] = l;
                    t
                })
                .collect();
            let tensors: Vec<_> = shapes
                .into_iter()
                .map(|sh| tensor_of(sh, smooth(2.0)))
                .collect();
            (tensors, Just(axis))
        })
        .prop_map(|(xs, axis)| (
            xs,
            P {
                axis,
                ..P::default()
            }
        )),
    |t, v, p| t.concat(v, p.axis)
);

// Reductions and the softmax family.
prop_op!(sum, one(smooth(2.0)), |t, v, p| v[0].sum());
prop_op!(mean, one(smooth(2.0)), |t, v, p| v[0].mean());
prop_op!(sum_axis, with_axis(smooth(2.0)), |t, v, p| v[0]
    .sum_axis(p.axis, p.keepdim));
prop_op!(mean_axis, with_axis(smooth(2.0)), |t, v, p| v[0]
    .mean_axis(p.axis, p.keepdim));
prop_op!(max_axis, distinct_with_axis(), |t, v, p| v[0]
    .max_axis(p.axis, p.keepdim));
prop_op!(logsumexp, with_axis(smooth(3.0)), |t, v, p| v[0]
    .logsumexp(p.axis, p.keepdim));
prop_op!(softmax, with_axis(smooth(3.0)), |t, v, p| v[0]
    .softmax(p.axis));
prop_op!(log_softmax, with_axis(smooth(3.0)), |t, v, p| v[0]
    .log_softmax(p.axis));

// Indexing and losses.
prop_op!(
    gather,
    with_axis(smooth(2.0))
        .prop_flat_map(|(xs, p)| {
            let s = xs[0].shape().to_vec();
            let count = numel(&s) / s[p.axis];
            let len = s[p.axis];
            (Just(xs), Just(p), prop::collection::vec(0..len, count))
        })
        .prop_map(|(xs, p, indices)| (xs, P { indices, ..p })),
    |t, v, p| v[0].gather(p.axis, &p.indices)
);
prop_op!(
    select,
    with_axis(smooth(2.0))
        .prop_flat_map(|(xs, p)| {
            let len = xs[0].shape()[p.axis];
            (Just(xs), Just(p), 0..len)
        })
        .prop_map(|(xs, p, i)| (
            xs,
            P {
                indices: vec![i],
                ..p
            }
        )),
    |t, v, p| v[0].select(p.axis, p.indices[0])
);
prop_op!(
    mse,
    shape(0, 3)
        .prop_flat_map(|s| (tensor_of(s.clone(), smooth(2.0)), tensor_of(s, smooth(2.0))))
        .prop_map(|(a, b)| (vec![a, b], P::default())),
    |t, v, p| v[0].mse(v[1])
);

// Transformer ops.
prop_op!(
    bmm,
    (1usize..=3, 1usize..=4, 1usize..=4, 1usize..=4).prop_flat_map(|(b, m, k, n)| {
        (
            tensor_of(vec![b, m, k], smooth(1.0)),
            tensor_of(vec![b, k, n], smooth(1.0)),
        )
            .prop_map(|(a, b)| (vec![a, b], P::default()))
    }),
    |t, v, p| v[0].bmm(v[1])
);
prop_op!(
    permute,
    shape(0, 4)
        .prop_flat_map(|s| {
            let r = s.len();
            (
                tensor_of(s, smooth(2.0)),
                Just((0..r).collect::<Vec<usize>>()).prop_shuffle(),
            )
        })
        .prop_map(|(x, shape)| (
            vec![x],
            P {
                shape,
                ..P::default()
            }
        )),
    |t, v, p| v[0].permute(&p.shape)
);
prop_op!(
    layer_norm,
    (shape(0, 2), 1usize..=5, 0.01f64..0.5)
        .prop_flat_map(|(mut s, n, eps)| {
            s.push(n);
            (
                tensor_of(s, smooth(2.0)),
                tensor_of(vec![n], smooth(2.0)),
                tensor_of(vec![n], smooth(2.0)),
                Just(eps),
            )
        })
        .prop_map(|(x, gain, bias, c)| (vec![x, gain, bias], P { c, ..P::default() })),
    |t, v, p| v[0].layer_norm(v[1], v[2], T::from_f64(p.c))
);
prop_op!(gelu, one(smooth(4.0)), |t, v, p| v[0].gelu());
prop_op!(
    causal_softmax,
    (shape(0, 2), 1usize..=4)
        .prop_flat_map(|(s, tk)| (Just(s), 1..=tk, Just(tk)))
        .prop_flat_map(|(mut s, tq, tk)| {
            s.extend([tq, tk]);
            tensor_of(s, smooth(3.0))
        })
        .prop_map(|x| (vec![x], P::default())),
    |t, v, p| v[0].causal_softmax()
);
prop_op!(
    embed,
    (1usize..=4, 1usize..=4)
        .prop_flat_map(|(v, d)| {
            (
                tensor_of(vec![v, d], smooth(2.0)),
                prop::collection::vec(0..v, 1..=6),
            )
        })
        .prop_map(|(table, indices)| (
            vec![table],
            P {
                indices,
                ..P::default()
            }
        )),
    |t, v, p| v[0].embed(&p.indices)
);
