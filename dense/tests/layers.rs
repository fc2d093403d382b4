//! The fused `Linear` op and `Mlp` against autograd's reference ops and its finite-difference
//! checker; inference against the tape; save/load; bit-exact resumption of training.

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Gradients, Tape, Tensor, Var};
use dense::optim::{Adam, AdamConfig, LinearSchedule, clip_grad_norm};
use dense::paramfile::{ParamFile, ParamFileError};
use dense::{Activation, Element, Init, Mlp, linear, linear_residual};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const ACTS: [Activation; 3] = [Activation::Identity, Activation::Tanh, Activation::Relu];

/// `act(x·W + b)` from autograd's plain reference ops.
fn reference<'t, T: Element>(
    x: Var<'t, T>,
    w: Var<'t, T>,
    b: Var<'t, T>,
    act: Activation,
) -> Var<'t, T> {
    let z = x.matmul(w) + b;
    match act {
        Activation::Identity => z,
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.relu(),
    }
}

/// Value and gradients (x, W, b) of `Σ c ⊙ f(x, W, b)` for a fused or reference layer.
fn run<T: Element>(
    fused: bool,
    act: Activation,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: &Tensor<T>,
    c: &Tensor<T>,
) -> (Tensor<T>, Vec<Tensor<T>>) {
    let tape = Tape::new();
    let (xv, wv, bv) = (tape.param(x), tape.param(w), tape.param(b));
    let y = if fused {
        linear(xv, wv, bv, act)
    } else {
        reference(xv, wv, bv, act)
    };
    let loss = (y * tape.constant(c)).sum();
    let g = loss.backward();
    (y.value(), vec![g[xv].clone(), g[wv].clone(), g[bv].clone()])
}

fn close<T: Element>(a: &Tensor<T>, b: &Tensor<T>, tol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes");
    for (i, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        let (x, y) = (autograd::Float::to_f64(x), autograd::Float::to_f64(y));
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y} (tol {tol})"
        );
    }
}

fn random<T: Element>(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor<T> {
    Tensor::randn(shape, rng)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Fused = reference, in f64 (to rounding) and f32 (to the SIMD tanh's error), every activation.
    #[test]
    fn linear_equals_reference_ops(batch in 1usize..40, fan_in in 1usize..40, fan_out in 1usize..40, a in 0usize..3, seed in any::<u64>()) {
        let act = ACTS[a];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (x, w, b, c): (Tensor<f64>, Tensor<f64>, Tensor<f64>, Tensor<f64>) = (
            random(&[batch, fan_in], &mut rng), random(&[fan_in, fan_out], &mut rng),
            random(&[fan_out], &mut rng), random(&[batch, fan_out], &mut rng));
        let (yf, gf) = run(true, act, &x, &w, &b, &c);
        let (yr, gr) = run(false, act, &x, &w, &b, &c);
        close(&yf, &yr, 1e-12, "f64 value");
        for (i, (p, q)) in gf.iter().zip(&gr).enumerate() {
            close(p, q, 1e-11, &format!("f64 grad {i}"));
        }
        let to32 = |t: &Tensor<f64>| Tensor::from_vec(t.data().iter().map(|&v| v as f32).collect(), t.shape());
        let (yf, gf) = run(true, act, &to32(&x), &to32(&w), &to32(&b), &to32(&c));
        let (yr, gr) = run(false, act, &to32(&x), &to32(&w), &to32(&b), &to32(&c));
        close(&yf, &yr, 2e-5, "f32 value");
        for (i, (p, q)) in gf.iter().zip(&gr).enumerate() {
            close(p, q, 1e-4 * (batch.max(fan_in).max(fan_out) as f64).sqrt(), &format!("f32 grad {i}"));
        }
    }
}

/// Value and gradients (x, W, b, r) of `Σ c ⊙ (r + (x·W + b))`, fused or composed from
/// `linear` and autograd's `+`; with `zero_use`, a later `0 · Σ r` makes the gradient of r a
/// sum already written when the fused op's backward reaches it (`+=` instead of `=`).
fn run_residual(fused: bool, zero_use: bool, [x, w, b, r, c]: [&Tensor<f32>; 5]) -> Vec<Vec<u32>> {
    let tape = Tape::new();
    let (xv, wv, bv, rv) = (tape.param(x), tape.param(w), tape.param(b), tape.param(r));
    let y = if fused {
        linear_residual(xv, wv, bv, rv)
    } else {
        rv + linear(xv, wv, bv, Activation::Identity)
    };
    let mut loss = (y * tape.constant(c)).sum();
    if zero_use {
        loss = loss + rv.sum() * tape.scalar(0.0);
    }
    let g = loss.backward();
    let bits = |t: &Tensor<f32>| t.data().iter().map(|v| v.to_bits()).collect();
    vec![
        bits(&y.value()),
        bits(&g[xv]),
        bits(&g[wv]),
        bits(&g[bv]),
        bits(&g[rv]),
    ]
}

/// The fused residual layer against its composition, bit for bit, on `batch` rows.
fn residual_matches_composition(batch: usize, fan_in: usize, fan_out: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |shape: &[usize]| random::<f32>(shape, &mut rng);
    let (x, w, b) = (
        draw(&[batch, fan_in]),
        draw(&[fan_in, fan_out]),
        draw(&[fan_out]),
    );
    let (r, c) = (draw(&[batch, fan_out]), draw(&[batch, fan_out]));
    for zero_use in [false, true] {
        let fused = run_residual(true, zero_use, [&x, &w, &b, &r, &c]);
        let composed = run_residual(false, zero_use, [&x, &w, &b, &r, &c]);
        for (k, name) in ["y", "x̄", "W̄", "b̄", "r̄"].iter().enumerate() {
            assert_eq!(
                fused[k], composed[k],
                "{name} of [{batch}, {fan_in}]·[{fan_in}, {fan_out}], zero use {zero_use}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// `linear_residual` is `r + linear(x, W, b)` bit for bit in f32, on every GEMM route (one
    /// to four rows or columns: GEMV; more: the packed driver).
    #[test]
    fn linear_residual_equals_the_composition_bit_for_bit(
        batch in 1usize..40, fan_in in 1usize..40, fan_out in 1usize..40, seed in any::<u64>(),
    ) {
        residual_matches_composition(batch, fan_in, fan_out, seed);
    }
}

/// The same at a transformer's size, where the forward GEMM runs in row blocks on the thread
/// pool (each block adding its own rows of the residual).
#[test]
fn linear_residual_equals_the_composition_on_the_thread_pool() {
    residual_matches_composition(1024, 64, 64, 5);
    residual_matches_composition(1000, 256, 64, 6);
}

#[test]
fn linear_residual_passes_gradcheck_in_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let inputs: Vec<Tensor<f64>> = [&[5, 3][..], &[3, 4], &[4], &[5, 4]]
        .iter()
        .map(|s| random(s, &mut rng))
        .collect();
    let report = gradcheck(
        |_, p| linear_residual(p[0], p[1], p[2], p[3]),
        &inputs,
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
}

#[test]
#[should_panic(
    expected = "linear_residual: the residual has shape [2, 3]; expected the layer's output [2, 4]"
)]
fn linear_residual_names_a_residual_of_the_wrong_shape() {
    let tape = Tape::<f64>::new();
    let v = |s: &[usize]| tape.param(&Tensor::zeros(s));
    let _ = linear_residual(v(&[2, 3]), v(&[3, 4]), v(&[4]), v(&[2, 3]));
}

#[test]
fn linear_passes_gradcheck_in_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for act in ACTS {
        let inputs: Vec<Tensor<f64>> = vec![
            random(&[5, 7], &mut rng),
            random(&[7, 3], &mut rng),
            random(&[3], &mut rng),
        ];
        let report = gradcheck(
            |_t, v| linear(v[0], v[1], v[2], act),
            &inputs,
            &GradcheckConfig::default(),
        );
        assert!(report.passes(1e-6), "{act:?}: {report}");
    }
}

fn small_mlp<T: Element>(seed: u64, hidden: Activation) -> Mlp<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mlp::new(
        &[4, 16, 16, 2],
        hidden,
        Activation::Identity,
        Init::Orthogonal { gain: 2f64.sqrt() },
        Init::Orthogonal { gain: 0.5 },
        &mut rng,
    )
}

#[test]
fn mlp_gradients_equal_reference_composition_and_pass_gradcheck() {
    for hidden in [Activation::Tanh, Activation::Relu] {
        let mlp: Mlp<f64> = small_mlp(3, hidden);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x: Tensor<f64> = random(&[9, 4], &mut rng);
        let c: Tensor<f64> = random(&[9, 2], &mut rng);

        let tape = Tape::new();
        let (y, vars) = mlp.forward(&tape, tape.constant(&x));
        let loss = (y * tape.constant(&c)).sum();
        let mut fused = Vec::new();
        vars.grads_into(&loss.backward(), &mut fused);

        let tape = Tape::new();
        let p: Vec<Var<'_, f64>> = mlp.params().iter().map(|t| tape.param(t)).collect();
        let mut h = tape.constant(&x);
        for (l, &act) in mlp.activations().iter().enumerate() {
            h = reference(h, p[2 * l], p[2 * l + 1], act);
        }
        let g = (h * tape.constant(&c)).sum().backward();
        for (i, (f, &v)) in fused.iter().zip(&p).enumerate() {
            close(f, &g[v], 1e-12, &format!("{hidden:?} param {i}"));
        }

        let mut inputs = vec![x.clone()];
        inputs.extend(mlp.params().iter().cloned());
        let report = gradcheck(
            |_t, v| mlp.with_vars(v[1..].to_vec()).forward(v[0]),
            &inputs,
            &GradcheckConfig::default(),
        );
        assert!(report.passes(1e-6), "{hidden:?}: {report}");
    }
}

#[test]
fn infer_gives_the_tape_values_bit_for_bit() {
    let mlp: Mlp<f32> = small_mlp(5, Activation::Tanh);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for batch in [1usize, 7, 64] {
        let x: Tensor<f32> = random(&[batch, 4], &mut rng);
        let tape = Tape::new();
        let (y, _) = mlp.forward(&tape, tape.constant(&x));
        let mut out = vec![0.0f32; batch * 2];
        mlp.infer(x.data(), &mut out);
        let want: Vec<u32> = y.value().data().iter().map(|v| v.to_bits()).collect();
        let got: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "batch {batch}");
    }
}

#[test]
#[should_panic(expected = "Mlp::infer: 3 rows need an output of 6 values, got 5")]
fn infer_names_a_wrong_output_size() {
    let mlp: Mlp<f32> = small_mlp(5, Activation::Tanh);
    mlp.infer(&[0.0; 12], &mut [0.0; 5]);
}

#[test]
fn save_load_round_trip_and_shape_errors() {
    let a: Mlp<f32> = small_mlp(7, Activation::Tanh);
    let mut b: Mlp<f32> = small_mlp(8, Activation::Tanh);
    assert_ne!(a, b);
    let mut f = ParamFile::new();
    a.save_to(&mut f, "policy.");
    let f = ParamFile::from_bytes(&f.to_bytes()).unwrap();
    b.load_from(&f, "policy.").unwrap();
    assert_eq!(a, b);
    let mut wide: Mlp<f32> = Mlp::new(
        &[4, 32, 2],
        Activation::Tanh,
        Activation::Identity,
        Init::TorchDefault,
        Init::TorchDefault,
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let before = wide.clone();
    let e = wide.load_from(&f, "policy.").unwrap_err();
    assert!(matches!(e, ParamFileError::ShapeMismatch { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "tensor \"policy.layer0.weight\" has shape [4, 16] in the file, the model expects [4, 32]"
    );
    assert_eq!(wide, before, "a failed load changes nothing");
    assert_eq!(a.num_params(), 4 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2);
}

/// One training step: forward, MSE loss, backward, clip, Adam with a scheduled learning rate.
struct Trainer {
    tape: Tape<f32>,
    grads: Gradients<f32>,
    gbuf: Vec<Tensor<f32>>,
}

impl Trainer {
    fn step(
        &mut self,
        mlp: &mut Mlp<f32>,
        adam: &mut Adam,
        sched: &LinearSchedule,
        x: &Tensor<f32>,
        y: &Tensor<f32>,
    ) -> f32 {
        self.tape.reset();
        let (pred, vars) = mlp.forward(&self.tape, self.tape.constant(x));
        let loss = pred.mse(self.tape.constant(y));
        loss.backward_into(&mut self.grads);
        vars.grads_into(&self.grads, &mut self.gbuf);
        let l = loss.item();
        clip_grad_norm(&mut self.gbuf, 1.0);
        adam.set_lr(sched.at(adam.steps()));
        adam.step(mlp.params_mut(), &self.gbuf);
        l
    }
}

fn data() -> (Tensor<f32>, Tensor<f32>) {
    let xs: Vec<f32> = (0..64)
        .flat_map(|i| {
            let t = i as f32 / 10.0;
            [t.sin(), t.cos(), t, 1.0]
        })
        .collect();
    let ys: Vec<f32> = (0..64)
        .flat_map(|i| {
            let t = i as f32 / 10.0;
            [(2.0 * t).sin(), (t * t / 10.0).cos()]
        })
        .collect();
    (
        Tensor::from_vec(xs, &[64, 4]),
        Tensor::from_vec(ys, &[64, 2]),
    )
}

#[test]
fn training_reduces_the_loss_and_resumes_bit_exactly() {
    let (x, y) = data();
    let sched = LinearSchedule::new(1e-2, 1e-3, 300);
    let fresh = || Trainer {
        tape: Tape::new(),
        grads: Gradients::new(),
        gbuf: Vec::new(),
    };

    // Uninterrupted: 200 steps.
    let mut mlp: Mlp<f32> = small_mlp(9, Activation::Tanh);
    let mut adam = Adam::new(AdamConfig::default());
    let mut t = fresh();
    let first = t.step(&mut mlp, &mut adam, &sched, &x, &y);
    let mut checkpoint = ParamFile::new();
    let mut last = first;
    for i in 1..200 {
        if i == 100 {
            mlp.save_to(&mut checkpoint, "net.");
            adam.save_to(&mut checkpoint, "adam.");
        }
        last = t.step(&mut mlp, &mut adam, &sched, &x, &y);
    }
    assert!(last < first / 10.0, "loss went from {first} to {last}");

    // Resumed from the checkpoint at step 100 in fresh objects: same bits at step 200.
    let bytes = checkpoint.to_bytes();
    let file = ParamFile::from_bytes(&bytes).unwrap();
    let mut mlp2: Mlp<f32> = small_mlp(1234, Activation::Tanh);
    let mut adam2 = Adam::new(AdamConfig {
        lr: 0.5,
        ..AdamConfig::default()
    });
    mlp2.load_from(&file, "net.").unwrap();
    adam2.load_from(&file, "adam.").unwrap();
    let mut t2 = fresh();
    let mut last2 = 0.0;
    for _ in 100..200 {
        last2 = t2.step(&mut mlp2, &mut adam2, &sched, &x, &y);
    }
    assert_eq!(last2.to_bits(), last.to_bits());
    for (p, q) in mlp.params().iter().zip(mlp2.params()) {
        assert!(
            p.data()
                .iter()
                .zip(q.data())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
