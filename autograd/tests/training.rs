//! End-to-end: a training loop built on the tape learns, deterministically, and handles stay small.

use autograd::{Gradients, Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Fits y = 3x₀ − 2x₁ + 0.5 by gradient descent on the mean squared error; returns the final
/// loss and the parameters.
fn fit_linear(seed: u64, steps: usize) -> (f64, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Tensor::<f64>::rand_uniform(&[32, 2], -1.0, 1.0, &mut rng);
    let y: Vec<f64> = x
        .data()
        .chunks(2)
        .map(|r| 3.0 * r[0] - 2.0 * r[1] + 0.5)
        .collect();
    let y = Tensor::from_vec(y, &[32, 1]);
    let mut w = Tensor::<f64>::randn(&[2, 1], &mut rng);
    let mut b = Tensor::<f64>::zeros(&[1]);
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let mut loss = f64::NAN;
    for _ in 0..steps {
        tape.reset();
        let (wv, bv) = (tape.param(&w), tape.param(&b));
        let pred = tape.constant(&x).matmul(wv) + bv;
        let l = pred.mse(tape.constant(&y));
        l.backward_into(&mut grads);
        loss = l.item();
        for (p, g) in w.data_mut().iter_mut().zip(grads[wv].data()) {
            *p -= 0.3 * g;
        }
        for (p, g) in b.data_mut().iter_mut().zip(grads[bv].data()) {
            *p -= 0.3 * g;
        }
    }
    let mut params = w.into_vec();
    params.extend(b.into_vec());
    (loss, params)
}

#[test]
fn gradient_descent_recovers_a_linear_function() {
    let (loss, p) = fit_linear(1, 400);
    assert!(loss < 1e-10, "final loss {loss}");
    for (got, want) in p.iter().zip([3.0, -2.0, 0.5]) {
        assert!((got - want).abs() < 1e-4, "parameters {p:?}");
    }
}

#[test]
fn training_is_bitwise_deterministic() {
    assert_eq!(fit_linear(7, 50), fit_linear(7, 50));
}

#[test]
fn var_is_a_small_copy_handle() {
    assert_eq!(std::mem::size_of::<Var<'static, f32>>(), 16);
    fn is_copy<T: Copy>() {}
    is_copy::<Var<'static, f64>>();
}

#[test]
fn var_prints_its_value() {
    let tape = Tape::<f32>::new();
    let v = tape.constant(&Tensor::from_vec(vec![1.5, -2.0], &[2]));
    assert_eq!(format!("{v}"), "[1.5, -2]");
    assert_eq!(
        format!("{v:?}"),
        "Var#0(tensor([1.5, -2], shape=[2], dtype=f32))"
    );
}
