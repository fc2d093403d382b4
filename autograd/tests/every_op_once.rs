//! Every op's gradient against finite differences at one fixed, seeded input (f64, ≤ 1e-6).
//! The property tests in `prop_ops.rs` repeat this over random shapes and values.

use autograd::{GradcheckConfig, Tape, Tensor, Var, gradcheck};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

type OpFn = for<'t> fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>;

/// Uniform values in [lo, hi], seeded.
fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, lo, hi, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// Values with |x| in [0.2, 2] and random signs (away from kinks at 0).
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut t = uniform(shape, 0.2, 2.0, seed);
    let signs = uniform(shape, -1.0, 1.0, seed + 1000);
    for (x, s) in t.data_mut().iter_mut().zip(signs.data()) {
        if *s < 0.0 {
            *x = -*x;
        }
    }
    t
}

fn check(name: &str, f: OpFn, inputs: &[Tensor<f64>]) {
    let report = gradcheck(f, inputs, &GradcheckConfig::default());
    assert!(report.passes(1e-6), "{name}: {report}");
    assert!(report.checked > 0);
}

#[test]
fn unary_ops() {
    let x = away_from_zero(&[3, 4], 1);
    let pos = uniform(&[3, 4], 0.2, 3.0, 2);
    let cases: [(&str, OpFn, &Tensor<f64>); 14] = [
        ("neg", |_, v| v[0].neg(), &x),
        ("square", |_, v| v[0].square(), &x),
        ("powf", |_, v| v[0].powf(2.5), &pos),
        ("powf negative", |_, v| v[0].powf(-1.5), &pos),
        ("sqrt", |_, v| v[0].sqrt(), &pos),
        ("exp", |_, v| v[0].exp(), &x),
        ("ln", |_, v| v[0].ln(), &pos),
        ("tanh", |_, v| v[0].tanh(), &x),
        ("sigmoid", |_, v| v[0].sigmoid(), &x),
        ("relu", |_, v| v[0].relu(), &x),
        ("softplus", |_, v| v[0].softplus(), &x),
        ("abs", |_, v| v[0].abs(), &x),
        ("clamp", |_, v| v[0].clamp(-0.1, 0.1), &x),
        ("affine", |_, v| v[0].affine(-1.5, 0.25), &x),
    ];
    for (name, f, input) in cases {
        check(name, f, std::slice::from_ref(input));
    }
    check("rdiv_scalar", |_, v| v[0].rdiv_scalar(3.0), &[x]);
}

#[test]
fn binary_ops_with_broadcasting() {
    let shapes: [(&[usize], &[usize]); 5] = [
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[4]),
        (&[3, 1], &[1, 4]),
        (&[], &[2, 3]),
        (&[2, 1, 3], &[4, 1]),
    ];
    for (k, (sa, sb)) in shapes.into_iter().enumerate() {
        let a = away_from_zero(sa, 10 + k as u64);
        let b = away_from_zero(sb, 20 + k as u64);
        check("add", |_, v| v[0] + v[1], &[a.clone(), b.clone()]);
        check("sub", |_, v| v[0] - v[1], &[a.clone(), b.clone()]);
        check("mul", |_, v| v[0] * v[1], &[a.clone(), b.clone()]);
        check("div", |_, v| v[0] / v[1], &[a.clone(), b.clone()]);
    }
    // maximum / minimum: inputs interleaved so no pair is within 0.1.
    let a = Tensor::from_vec(vec![0.0, 1.0, -1.0, 2.0, 0.5, -0.5], &[2, 3]);
    let b = Tensor::from_vec(vec![0.3, 0.7, -0.2], &[3]);
    check(
        "maximum",
        |_, v| v[0].maximum(v[1]),
        &[a.clone(), b.clone()],
    );
    check("minimum", |_, v| v[0].minimum(v[1]), &[a, b]);
}

#[test]
fn scalar_operators() {
    let x = away_from_zero(&[5], 3);
    check("x + c", |_, v| v[0] + 2.0, std::slice::from_ref(&x));
    check("c + x", |_, v| 2.0 + v[0], std::slice::from_ref(&x));
    check("x - c", |_, v| v[0] - 2.0, std::slice::from_ref(&x));
    check("c - x", |_, v| 2.0 - v[0], std::slice::from_ref(&x));
    check("x * c", |_, v| v[0] * 3.0, std::slice::from_ref(&x));
    check("c * x", |_, v| 3.0 * v[0], std::slice::from_ref(&x));
    check("x / c", |_, v| v[0] / 3.0, std::slice::from_ref(&x));
    check("c / x", |_, v| 3.0 / v[0], std::slice::from_ref(&x));
    check("-x", |_, v| -v[0], std::slice::from_ref(&x));
}

#[test]
fn matrix_and_shape_ops() {
    let a = uniform(&[3, 4], -1.0, 1.0, 4);
    let b = uniform(&[4, 2], -1.0, 1.0, 5);
    check("matmul", |_, v| v[0].matmul(v[1]), &[a.clone(), b]);
    check(
        "transpose",
        |_, v| v[0].transpose(),
        std::slice::from_ref(&a),
    );
    check(
        "reshape",
        |_, v| v[0].reshape(&[2, 3, 2]),
        std::slice::from_ref(&a),
    );
    let c = uniform(&[3, 2], -1.0, 1.0, 6);
    check(
        "concat axis 1",
        |t, v| t.concat(&[v[0], v[1]], 1),
        &[a.clone(), c],
    );
    let d = uniform(&[1, 4], -1.0, 1.0, 7);
    check(
        "concat axis 0",
        |t, v| t.concat(&[v[0], v[1], v[0]], 0),
        &[a, d],
    );
}

#[test]
fn reductions() {
    let x = uniform(&[2, 3, 4], -2.0, 2.0, 8);
    let cases: [(&str, OpFn); 12] = [
        ("sum", |_, v| v[0].sum()),
        ("mean", |_, v| v[0].mean()),
        ("sum_axis 0", |_, v| v[0].sum_axis(0, false)),
        ("sum_axis 1 keepdim", |_, v| v[0].sum_axis(1, true)),
        ("mean_axis 2", |_, v| v[0].mean_axis(2, false)),
        ("max_axis 1", |_, v| v[0].max_axis(1, false)),
        ("max_axis 2 keepdim", |_, v| v[0].max_axis(2, true)),
        ("logsumexp 0", |_, v| v[0].logsumexp(0, false)),
        ("logsumexp 2 keepdim", |_, v| v[0].logsumexp(2, true)),
        ("softmax 1", |_, v| v[0].softmax(1)),
        ("log_softmax 2", |_, v| v[0].log_softmax(2)),
        ("log_softmax 0", |_, v| v[0].log_softmax(0)),
    ];
    for (name, f) in cases {
        check(name, f, std::slice::from_ref(&x));
    }
}

#[test]
fn gather_select_mse() {
    let x = uniform(&[4, 3], -2.0, 2.0, 9);
    check(
        "gather 1",
        |_, v| v[0].gather(1, &[2, 0, 1, 2]),
        std::slice::from_ref(&x),
    );
    check(
        "gather 0",
        |_, v| v[0].gather(0, &[3, 3, 0]),
        std::slice::from_ref(&x),
    );
    check("select", |_, v| v[0].select(1, 1), std::slice::from_ref(&x));
    let y = uniform(&[4, 3], -2.0, 2.0, 10);
    check("mse", |_, v| v[0].mse(v[1]), &[x, y]);
}

#[test]
fn transformer_ops() {
    let a = uniform(&[2, 3, 4], -1.0, 1.0, 11);
    let b = uniform(&[2, 4, 2], -1.0, 1.0, 12);
    check("bmm", |_, v| v[0].bmm(v[1]), &[a.clone(), b]);
    check(
        "permute",
        |_, v| v[0].permute(&[2, 0, 1]),
        std::slice::from_ref(&a),
    );
    let (gain, bias) = (uniform(&[4], 0.5, 1.5, 13), uniform(&[4], -1.0, 1.0, 14));
    check(
        "layer_norm",
        |_, v| v[0].layer_norm(v[1], v[2], 1e-5),
        &[a.clone(), gain, bias],
    );
    check("gelu", |_, v| v[0].gelu(), std::slice::from_ref(&a));
    let scores = uniform(&[2, 3, 4], -2.0, 2.0, 15);
    check(
        "causal_softmax",
        |_, v| v[0].causal_softmax(),
        std::slice::from_ref(&scores),
    );
    let table = uniform(&[5, 3], -1.0, 1.0, 16);
    check(
        "embed",
        |_, v| v[0].embed(&[4, 0, 4, 2]),
        std::slice::from_ref(&table),
    );
}
