//! Extreme inputs and sizes: ±1e4 logits, a million-node chain, shape-mismatch messages, and
//! buffers that stop growing over many reset cycles.

use autograd::{Gradients, Tape, Tensor};

#[test]
fn log_softmax_and_logsumexp_are_exact_for_huge_logits() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec(vec![1e4, -1e4, 0.0, 1e4 - 1.0], &[1, 4]));
    let lse = x.logsumexp(1, false);
    // ln(e^1e4 + e^(1e4 - 1) + tiny) = 1e4 + ln(1 + e^-1)
    let want = 1e4 + (1.0 + (-1.0f64).exp()).ln();
    assert!((lse.item() - want).abs() < 1e-9, "{}", lse.item());
    let ls = x.log_softmax(1).value();
    assert!(ls.data().iter().all(|v| v.is_finite()));
    assert!((ls.data()[0] - (1e4 - want)).abs() < 1e-9);
    assert!((ls.data()[1] - (-1e4 - want)).abs() < 1e-9);
    // Gradients finite too: ∂lse/∂x = softmax(x).
    let g = lse.backward();
    let p1 = 1.0 / (1.0 + (-1.0f64).exp());
    assert!((g[x].data()[0] - p1).abs() < 1e-12);
    assert_eq!(g[x].data()[1], 0.0);
    assert!(g[x].data().iter().all(|v| v.is_finite()));

    let t32 = Tape::<f32>::new();
    let y = t32.param(&Tensor::from_vec(vec![-1e4, 1e4, 3.0], &[3]));
    let ls = y.log_softmax(0);
    assert_eq!(ls.value().data(), &[-2e4, 0.0, 3.0 - 1e4]);
    assert_eq!(y.logsumexp(0, false).item(), 1e4);
    let sm = y.softmax(0).value();
    assert_eq!(sm.data(), &[0.0, 1.0, 0.0]);
    let g = ls.select(0, 1).backward();
    assert!(g[y].data().iter().all(|v| v.is_finite()));
}

#[test]
fn million_node_chain_runs_backward_without_recursion() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::scalar(0.5));
    let mut y = x;
    // y ← y·1 + 0 a million times... then once more ·2: dy/dx = 2.
    for _ in 0..1_000_000 {
        y = y.affine(1.0, 0.0);
    }
    let y = y * 2.0;
    assert_eq!(tape.len(), 1_000_002);
    assert_eq!(y.backward()[x].item(), 2.0);
}

/// A closure expected to panic.
type PanicCase = Box<dyn Fn() + std::panic::UnwindSafe>;

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("expected a panic");
    if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::from("<non-string panic>")
    }
}

#[test]
fn shape_mismatches_name_the_op_and_both_shapes() {
    let cases: Vec<(&str, PanicCase)> = vec![
        (
            "add: shapes [2, 3] and [2] cannot be broadcast together (axis 1 of the result: 3 vs 2)",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3])) + t.constant(&Tensor::zeros(&[2]));
            }),
        ),
        (
            "mul: shapes [4, 1, 3] and [2, 2] cannot be broadcast together (axis 2 of the result: 3 vs 2)",
            Box::new(|| {
                let t = Tape::<f32>::new();
                let _ =
                    t.constant(&Tensor::zeros(&[4, 1, 3])) * t.constant(&Tensor::zeros(&[2, 2]));
            }),
        ),
        (
            "maximum: shapes [3] and [2, 2] cannot be broadcast together (axis 1 of the result: 3 vs 2)",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t
                    .constant(&Tensor::zeros(&[3]))
                    .maximum(t.constant(&Tensor::zeros(&[2, 2])));
            }),
        ),
        (
            "div: shapes [5, 1] and [1, 3, 2] cannot be broadcast together (axis 1 of the result: 5 vs 3)",
            Box::new(|| {
                let t = Tape::<f32>::new();
                let _ =
                    t.constant(&Tensor::zeros(&[5, 1])) / t.constant(&Tensor::zeros(&[1, 3, 2]));
            }),
        ),
        (
            "matmul: shapes [2, 3] and [2, 3] do not fit (expected [m, k] and [k, n])",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let a = t.constant(&Tensor::zeros(&[2, 3]));
                let _ = a.matmul(a);
            }),
        ),
        (
            "reshape: cannot reshape [2, 3] (6 elements) into [4] (4 elements)",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3])).reshape(&[4]);
            }),
        ),
        (
            "transpose: expected a 2-d value, got shape [2, 3, 4]",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3, 4])).transpose();
            }),
        ),
        (
            "concat: shapes [2, 3] and [3, 3] differ off axis 1",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let a = t.constant(&Tensor::zeros(&[2, 3]));
                let b = t.constant(&Tensor::zeros(&[3, 3]));
                let _ = t.concat(&[a, b], 1);
            }),
        ),
        (
            "gather: expected 2 indices (one per position of shape [2, 3] without axis 1), got 3",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3])).gather(1, &[0, 1, 2]);
            }),
        ),
        (
            "gather: index 3 is out of range for axis 1 of length 3 (shape [2, 3])",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3])).gather(1, &[0, 3]);
            }),
        ),
        (
            "log_softmax: axis 2 is out of range for shape [2, 3] (2 axes)",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.constant(&Tensor::zeros(&[2, 3])).log_softmax(2);
            }),
        ),
        (
            "mse: prediction shape [3] and target shape [3, 1] differ",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t
                    .constant(&Tensor::zeros(&[3]))
                    .mse(t.constant(&Tensor::zeros(&[3, 1])));
            }),
        ),
        (
            "Tape::param_from_slice: data of length 5 does not fit shape [2, 3], which holds 6 elements",
            Box::new(|| {
                let t = Tape::<f64>::new();
                let _ = t.param_from_slice(&[0.0; 5], &[2, 3]);
            }),
        ),
    ];
    for (want, f) in cases {
        let got = panic_message(f);
        assert_eq!(got, want);
    }
}

/// One training step of a small MLP, as a user would write it.
fn step(
    tape: &Tape<f32>,
    w1: &Tensor<f32>,
    w2: &Tensor<f32>,
    x: &Tensor<f32>,
    actions: &[usize],
    grads: &mut Gradients<f32>,
) -> f32 {
    let w1v = tape.param(w1);
    let w2v = tape.param(w2);
    let h = tape.constant(x).matmul(w1v).tanh();
    let logp = h.matmul(w2v).log_softmax(1).gather(1, actions);
    let loss = -logp.mean();
    loss.backward_into(grads);
    loss.item()
}

#[test]
fn memory_stays_flat_over_many_reset_cycles() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let w1 = Tensor::<f32>::randn(&[4, 16], &mut rng);
    let w2 = Tensor::<f32>::randn(&[16, 2], &mut rng);
    let x = Tensor::<f32>::randn(&[8, 4], &mut rng);
    let actions = [0, 1, 0, 0, 1, 1, 0, 1];
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let mut first_loss = 0.0;
    let mut cap_after_warmup = 0;
    for i in 0..2000 {
        tape.reset();
        let loss = step(&tape, &w1, &w2, &x, &actions, &mut grads);
        if i == 0 {
            first_loss = loss;
        }
        assert_eq!(loss, first_loss, "same inputs, same bits");
        if i == 1 {
            cap_after_warmup = tape.capacity_bytes();
        }
        if i > 1 {
            assert_eq!(
                tape.capacity_bytes(),
                cap_after_warmup,
                "buffers grew at step {i}"
            );
        }
    }
    assert!(cap_after_warmup > 0);
}

#[test]
fn a_million_reset_cycles_keep_memory_flat() {
    let w = Tensor::<f32>::from_vec(vec![0.5, -0.25], &[2]);
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let mut capacity = 0;
    for i in 0..1_000_000 {
        tape.reset();
        let wv = tape.param(&w);
        (wv.tanh() * wv).sum().backward_into(&mut grads);
        if i == 0 {
            capacity = tape.capacity_bytes();
        } else if i % 1000 == 0 {
            assert_eq!(tape.capacity_bytes(), capacity, "buffers grew by step {i}");
        }
    }
    assert_eq!(tape.capacity_bytes(), capacity);
}
