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
//! Usage: `overhead [add|mul|affine|tanh|matmul|log_softmax] [backward]`

use autograd::{Gradients, Tape, Tensor};
use std::time::Instant;

fn main() {
    let op = std::env::args().nth(1).unwrap_or_else(|| "add".to_string());
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
