//! Fit a small function with a tiny neural network, micrograd-style, using nothing but the tape.
//!
//! The target is y = sin(x) on [-3, 3]. The model is a 1-16-16-1 multilayer perceptron with tanh
//! activations, `ŷ = tanh(tanh(x·W1 + b1)·W2 + b2)·W3 + b3`, trained by full-batch gradient descent
//! with momentum on the mean squared error. Every step is the whole reverse-mode story: record
//! the forward pass on the tape, call `backward`, move each parameter against its gradient, reset.
//!
//! Run: `cargo run -p autograd --example fit --release`

use autograd::{Gradients, Tape, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);

    // Training data: 64 evenly spaced points.
    let n = 64;
    let xs: Vec<f64> = (0..n)
        .map(|i| -3.0 + 6.0 * i as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs.iter().map(|x| x.sin()).collect();
    let x_data = Tensor::from_vec(xs.clone(), &[n, 1]);
    let y_data = Tensor::from_vec(ys, &[n, 1]);

    // Parameters: W ~ N(0, 1/fan_in) (keeps tanh out of saturation at the start), b = 0.
    let sizes = [1, 16, 16, 1];
    let mut params: Vec<Tensor<f64>> = Vec::new();
    for w in sizes.windows(2) {
        let mut weight = Tensor::randn(&[w[0], w[1]], &mut rng);
        let scale = 1.0 / (w[0] as f64).sqrt();
        weight.data_mut().iter_mut().for_each(|v| *v *= scale);
        params.push(weight);
        params.push(Tensor::zeros(&[w[1]]));
    }
    let mut velocity: Vec<Tensor<f64>> = params.iter().map(|p| Tensor::zeros(p.shape())).collect();

    let (lr, momentum) = (0.05, 0.9);
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    for step in 0..=3000 {
        tape.reset();
        // Forward: record the model and the loss.
        let p: Vec<_> = params.iter().map(|t| tape.param(t)).collect();
        let mut h = tape.constant(&x_data);
        for layer in 0..3 {
            h = h.matmul(p[2 * layer]) + p[2 * layer + 1];
            if layer < 2 {
                h = h.tanh();
            }
        }
        let loss = h.mse(tape.constant(&y_data));

        // Backward: dloss/dparam for every parameter, in one reverse sweep.
        loss.backward_into(&mut grads);

        // Update: v ← μ v − lr · g;  θ ← θ + v  (gradient descent with momentum).
        for ((theta, v), var) in params.iter_mut().zip(&mut velocity).zip(&p) {
            let g = &grads[*var];
            for ((t, vi), gi) in theta.data_mut().iter_mut().zip(v.data_mut()).zip(g.data()) {
                *vi = momentum * *vi - lr * gi;
                *t += *vi;
            }
        }
        if step % 500 == 0 {
            println!("step {step:5}  mse {:.6}", loss.item());
        }
    }

    // Evaluate without recording.
    tape.reset();
    let probe = [-2.5, -1.0, 0.0, 0.5, 2.0];
    let pred = tape.no_grad(|| {
        let mut h = tape.constant_from_slice(&probe, &[probe.len(), 1]);
        for layer in 0..3 {
            h = h.matmul(tape.constant(&params[2 * layer])) + tape.constant(&params[2 * layer + 1]);
            if layer < 2 {
                h = h.tanh();
            }
        }
        h.value()
    });
    println!("\n     x   sin(x)   model");
    for (x, y) in probe.iter().zip(pred.data()) {
        println!("{x:6.2}  {:7.4}  {y:7.4}", x.sin());
    }
}
