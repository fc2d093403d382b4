//! Per-op overhead of the `autograd` tape on 1-element tensors: what one recorded op costs when
//! the arithmetic is negligible. Each iteration resets the tape and records a chain of 1000 ops
//! on `f32` scalars (forward), or records it and runs backward (forward+backward). Throughput is
//! in ops, so criterion's `elem/s` reads as ops per second; ns/op = 1e9 / (elem/s).
//!
//! Run: `cargo bench -p benches --bench autograd_ops -- --warm-up-time 1 --measurement-time 2`

use autograd::{Gradients, Tape, Tensor, Var};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Ops per chain.
const CHAIN: usize = 1000;

type Step = for<'t> fn(Var<'t, f32>, Var<'t, f32>) -> Var<'t, f32>;

/// The ops measured: each maps (running value, a second parameter) to the next value. All but one
/// keep the value bounded. `exp` cannot (x ← eˣ grows without limit from any start): its chain
/// reaches +∞ after four steps and stays there, so its row is the tape's overhead plus the C
/// library's fast path for `exp(+∞)`, not the cost of a typical `exp`.
fn ops() -> Vec<(&'static str, Step)> {
    vec![
        ("add", |x, p| x + p),
        ("mul", |x, p| x * p),
        ("scalar_mul", |x, _| x * 0.999),
        ("tanh", |x, _| x.tanh()),
        ("exp", |x, _| x.exp()),
        ("matmul_1x1", |x, p| x.matmul(p)),
        ("sum", |x, _| x.sum_axis(0, true)),
        ("log_softmax", |x, _| x.log_softmax(0)),
    ]
}

fn bench_ops(c: &mut Criterion) {
    let x0 = Tensor::<f32>::full(&[1, 1], 0.5);
    let p0 = Tensor::<f32>::full(&[1, 1], 0.999);
    let mut group = c.benchmark_group("autograd_op_1elem");
    group.throughput(Throughput::Elements(CHAIN as u64));
    for (name, step) in ops() {
        let mut tape = Tape::<f32>::new();
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| {
                tape.reset();
                let p = tape.param(&p0);
                let mut x = tape.param(&x0);
                for _ in 0..CHAIN {
                    x = step(x, p);
                }
                black_box(x.index());
            })
        });
        let mut tape = Tape::<f32>::new();
        let mut grads = Gradients::new();
        group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
            b.iter(|| {
                tape.reset();
                let p = tape.param(&p0);
                let mut x = tape.param(&x0);
                for _ in 0..CHAIN {
                    x = step(x, p);
                }
                x.sum().backward_into(&mut grads);
                black_box(grads.len());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ops);
criterion_main!(benches);
