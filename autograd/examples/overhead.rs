//! Per-op overhead of the tape, measured without criterion: records chains of 1000 ops on
//! 1-element `f32` tensors, 20,000 times, optionally with backward, and prints wall-clock ns/op.
//!
//! On a shared machine wall-clock time includes waiting for a core; CPU time does not. Divide the
//! `task-clock` of `perf stat` by the 2e7 ops to get CPU ns/op:
//!
//! ```text
//! cargo build -p autograd --example overhead --release
//! perf stat -e task-clock target/release/examples/overhead add backward
//! ```
//!
//! The criterion benchmark `benches/benches/autograd_ops.rs` measures the same chains.
//!
//! `overhead mlp <batch>` instead runs training steps (forward+backward) of the 4-64-64-2 tanh MLP
//! of `benches/benches/autograd_mlp.rs` and prints wall-clock µs per step; with `perf stat`,
//! divide the task-clock by the number of steps it prints.
//!
//! Usage: `overhead [add|mul|affine|tanh|matmul|log_softmax] [backward]` or `overhead mlp <batch>`

use autograd::{Gradients, Tape, Tensor};
use std::time::Instant;

/// Training steps of a 4-64-64-2 tanh MLP with the REINFORCE loss, as in the criterion benchmark.
fn mlp(batch: usize) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let sizes = [4, 64, 64, 2];
    let params: Vec<(Tensor<f32>, Tensor<f32>)> = sizes
        .windows(2)
        .map(|w| {
            (
                Tensor::randn(&[w[0], w[1]], &mut rng),
                Tensor::zeros(&[w[1]]),
            )
        })
        .collect();
    let obs = Tensor::<f32>::randn(&[batch, 4], &mut rng);
    let adv = Tensor::<f32>::randn(&[batch], &mut rng);
    let actions: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..2)).collect();
    let steps = (400_000 / batch).clamp(20, 20_000);
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let start = Instant::now();
    for _ in 0..steps {
        tape.reset();
        let mut h = tape.constant(&obs);
        for (i, (w, b)) in params.iter().enumerate() {
            let z = h.matmul(tape.param(w)) + tape.param(b);
            h = if i < 2 { z.tanh() } else { z };
        }
        let logp = h.log_softmax(1).gather(1, &actions);
        (-(logp * tape.constant(&adv)).mean()).backward_into(&mut grads);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / steps as f64;
    println!("mlp batch {batch}: {steps} steps, {us:.1} µs/step wall-clock");
}

fn main() {
    let op = std::env::args().nth(1).unwrap_or_else(|| "add".to_string());
    if op == "mlp" {
        let batch = std::env::args()
            .nth(2)
            .and_then(|b| b.parse().ok())
            .unwrap_or(64);
        return mlp(batch);
    }
    let backward = std::env::args().nth(2).as_deref() == Some("backward");
    let known = ["add", "mul", "affine", "tanh", "matmul", "log_softmax"];
    if !known.contains(&op.as_str()) {
        eprintln!("unknown op {op:?}; expected one of {known:?}");
        std::process::exit(2);
    }
    let x0 = Tensor::<f32>::full(&[1, 1], 0.5);
    let p0 = Tensor::<f32>::full(&[1, 1], 0.999);
    let mut tape = Tape::<f32>::new();
    let mut grads = Gradients::new();
    let (reps, chain) = (20_000, 1000);
    let start = Instant::now();
    for _ in 0..reps {
        tape.reset();
        let p = tape.param(&p0);
        let mut x = tape.param(&x0);
        for _ in 0..chain {
            x = match op.as_str() {
                "add" => x + p,
                "mul" => x * p,
                "affine" => x * 0.999,
                "tanh" => x.tanh(),
                "matmul" => x.matmul(p),
                _ => x.log_softmax(0),
            };
        }
        if backward {
            x.sum().backward_into(&mut grads);
        }
        std::hint::black_box(x.index());
    }
    let ns = start.elapsed().as_nanos() as f64 / (reps * chain) as f64;
    println!("{op} (backward: {backward}): {ns:.1} ns/op wall-clock");
}
