//! A 4-64-64-2 tanh MLP, the size of a classic-control policy: one training step (forward,
//! loss, backward, gradients out; parameters lent to the tape without copying) at batch 1, 64,
//! 512 and 4096 with `dense`'s fused layers against the same network composed from autograd's
//! reference ops; tape-free inference for acting; and one Adam step over the network's
//! parameters.
//!
//! Throughput counts floating-point operations of the step (see `step_flops`), so `Gelem/s`
//! reads as GFLOP/s and can be set against the GEMM benchmark's rate.
//!
//! Run: `cargo bench -p benches --bench dense_mlp -- --warm-up-time 1 --measurement-time 2`
//!
//! `DENSE_MLP_RATIOS=1 cargo bench -p benches --bench dense_mlp` instead prints interleaved
//! timings: the training step fused and composed from reference ops, inference, one Adam step,
//! and the step's FLOP count divided by the 64×64·64×64 GEMM rate measured in the same rounds
//! (the packed driver's), the yardstick for "overhead, not FLOPs". Each line is the best of 61
//! rounds of ≈ 0.3 ms windows, every contender once per round, so a shared machine's load hits
//! them alike; the whole table is measured in 5 passes and each line's best taken over all of
//! them (`BENCH_PASSES` sets the count; see `benches::best_over_passes`). The table is printed
//! for the AVX-512 path and again for the AVX2 path (forced), where the CPU has them, on one
//! thread; after each, the batch-4096 step on one thread against every core.

use autograd::{Tape, Tensor};
use benches::interleaved;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use dense::optim::{Adam, AdamConfig};
use dense::threads::set_threads;
use dense::{Activation, Init, Mlp};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const SIZES: [usize; 4] = [4, 64, 64, 2];

fn mlp() -> Mlp<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    Mlp::new(
        &SIZES,
        Activation::Tanh,
        Activation::Identity,
        Init::Orthogonal { gain: 2f64.sqrt() },
        Init::Orthogonal { gain: 0.01 },
        &mut rng,
    )
}

/// FLOPs of one forward + backward: forward 2·B·Σ kᵢnᵢ; backward the weight gradients (same
/// again) plus the input gradients of every layer but the first (x needs none).
fn step_flops(batch: usize) -> u64 {
    let kn: Vec<usize> = SIZES.windows(2).map(|w| w[0] * w[1]).collect();
    let fwd: usize = kn.iter().sum();
    let dx: usize = kn[1..].iter().sum();
    (2 * batch * (2 * fwd + dx)) as u64
}

/// One fused training step: parameters lent to the tape (no copy), gradients swapped out into
/// `grads`.
fn fused_step(
    net: &mut Mlp<f32>,
    tape: &mut Tape<f32>,
    x: &Tensor<f32>,
    w: &Tensor<f32>,
    grads: &mut [Tensor<f32>],
) {
    tape.reset();
    let lent = net.lend(tape);
    let y = lent.forward(tape.constant(x));
    let loss = (y * tape.constant(w)).sum();
    lent.backward_to(loss, grads);
}

/// The same step composed from autograd's reference ops (matmul, add, tanh), also with the
/// parameters lent, so the two differ only in the ops.
fn reference_step(
    net: &mut Mlp<f32>,
    tape: &mut Tape<f32>,
    x: &Tensor<f32>,
    w: &Tensor<f32>,
    grads: &mut [Tensor<f32>],
) {
    tape.reset();
    let lent = tape.lend_params(net.params_mut());
    let mut h = tape.constant(x);
    for l in 0..3 {
        h = h.matmul(lent.var(2 * l)) + lent.var(2 * l + 1);
        if l < 2 {
            h = h.tanh();
        }
    }
    let loss = (h * tape.constant(w)).sum();
    loss.backward_to(&lent, grads);
}

fn train_step(c: &mut Criterion) {
    let mut net = mlp();
    let mut g = c.benchmark_group("mlp_4_64_64_2_step");
    for batch in [1usize, 64, 512, 4096] {
        let mut rng = ChaCha8Rng::seed_from_u64(batch as u64);
        let x = Tensor::<f32>::randn(&[batch, 4], &mut rng);
        let w = Tensor::<f32>::randn(&[batch, 2], &mut rng);
        g.throughput(Throughput::Elements(step_flops(batch)));
        let mut tape = Tape::new();
        let mut grads = net.zeros_like_params();
        g.bench_with_input(BenchmarkId::new("dense-fused", batch), &(), |b, _| {
            b.iter(|| {
                fused_step(&mut net, &mut tape, &x, &w, &mut grads);
                black_box(&grads);
            })
        });
        g.bench_with_input(
            BenchmarkId::new("autograd-reference-ops", batch),
            &(),
            |b, _| {
                b.iter(|| {
                    reference_step(&mut net, &mut tape, &x, &w, &mut grads);
                    black_box(&grads);
                })
            },
        );
    }
    g.finish();
}

fn inference(c: &mut Criterion) {
    let net = mlp();
    let mut g = c.benchmark_group("mlp_4_64_64_2_infer");
    for batch in [1usize, 64, 4096] {
        let mut rng = ChaCha8Rng::seed_from_u64(batch as u64);
        let x = Tensor::<f32>::randn(&[batch, 4], &mut rng);
        let mut out = vec![0.0f32; batch * 2];
        g.throughput(Throughput::Elements(
            (2 * batch * (4 * 64 + 64 * 64 + 64 * 2)) as u64,
        ));
        g.bench_with_input(BenchmarkId::new("dense-infer", batch), &(), |b, _| {
            b.iter(|| {
                net.infer(x.data(), &mut out);
                black_box(&out);
            })
        });
        let mut tape = Tape::new();
        g.bench_with_input(BenchmarkId::new("tape-no-grad", batch), &(), |b, _| {
            b.iter(|| {
                tape.reset();
                let y = tape.no_grad(|| net.bind(&tape).forward(tape.constant(&x)).value());
                black_box(y);
            })
        });
    }
    g.finish();
}

fn adam_step(c: &mut Criterion) {
    let mut net = mlp();
    let grads = net.zeros_like_params();
    let mut adam = Adam::new(AdamConfig::default());
    let mut g = c.benchmark_group("adam_step");
    g.throughput(Throughput::Elements(net.num_params() as u64));
    g.bench_function("mlp_4_64_64_2", |b| {
        b.iter(|| {
            adam.step(net.params_mut(), &grads);
            black_box(net.params());
        })
    });
    g.finish();
}

criterion_group!(benches, train_step, inference, adam_step);

/// The interleaved table (see the module doc), once per kernel path this CPU has among AVX-512
/// and AVX2.
fn ratios() {
    benches::on_each_simd_path(|| {
        ratios_on_selected_path();
        thread_speedup();
    });
}

/// The batch-4096 step on 1 thread and on every core, interleaved (the thread count is switched
/// inside each contender).
fn thread_speedup() {
    let all = dense::threads::default_threads();
    let mut rng = ChaCha8Rng::seed_from_u64(4096);
    let x = Tensor::<f32>::randn(&[4096, 4], &mut rng);
    let w = Tensor::<f32>::randn(&[4096, 2], &mut rng);
    let (mut net1, mut net_all) = (mlp(), mlp());
    let (mut tape1, mut tape_all) = (Tape::new(), Tape::new());
    let (mut g1, mut g_all) = (net1.zeros_like_params(), net_all.zeros_like_params());
    let mut one = || {
        set_threads(1);
        fused_step(&mut net1, &mut tape1, &x, &w, &mut g1);
    };
    let mut every = || {
        set_threads(all);
        fused_step(&mut net_all, &mut tape_all, &x, &w, &mut g_all);
    };
    let best = benches::interleaved_in_passes(31, 3e-3, &mut [&mut one, &mut every]);
    set_threads(1);
    println!(
        "batch-4096 step: {:.0} µs on 1 thread, {:.0} µs on {all} threads: {:.2}×",
        best[0] * 1e6,
        best[1] * 1e6,
        best[0] / best[1]
    );
}

/// One line of the table: a batch of inputs and loss weights, and each contender's tape and
/// gradient buffers, kept across the passes.
struct Line {
    batch: usize,
    x: Tensor<f32>,
    w: Tensor<f32>,
    tape: Tape<f32>,
    grads: Vec<Tensor<f32>>,
    tape_ref: Tape<f32>,
    grads_ref: Vec<Tensor<f32>>,
    out: Vec<f32>,
}

impl Line {
    fn new(batch: usize, net: &Mlp<f32>) -> Line {
        let mut rng = ChaCha8Rng::seed_from_u64(batch as u64);
        Line {
            batch,
            x: Tensor::<f32>::randn(&[batch, 4], &mut rng),
            w: Tensor::<f32>::randn(&[batch, 2], &mut rng),
            tape: Tape::new(),
            grads: net.zeros_like_params(),
            tape_ref: Tape::new(),
            grads_ref: net.zeros_like_params(),
            out: vec![0.0f32; batch * 2],
        }
    }
}

fn ratios_on_selected_path() {
    let mut net = mlp();
    let mut net_ref = mlp();
    let infer_net = mlp();
    let gemm_a = vec![0.5f32; 64 * 64];
    let mut gemm_c = vec![0.0f32; 64 * 64];
    let mut lines: Vec<Line> = [1usize, 64, 512, 4096]
        .into_iter()
        .map(|batch| Line::new(batch, &net))
        .collect();
    let passes = benches::passes();
    let best = benches::best_over_passes(lines.len(), passes, |i| {
        let line = &mut lines[i];
        let mut fused = || {
            fused_step(&mut net, &mut line.tape, &line.x, &line.w, &mut line.grads);
            black_box(&line.grads);
        };
        let mut reference = || {
            let (x, w) = (&line.x, &line.w);
            reference_step(&mut net_ref, &mut line.tape_ref, x, w, &mut line.grads_ref);
            black_box(&line.grads_ref);
        };
        let mut infer = || {
            infer_net.infer(line.x.data(), &mut line.out);
            black_box(&line.out);
        };
        // The yardstick is the packed driver's rate, which no choice of route can move (on AVX2
        // a 64×64·64×64 product may take the unpacked small-product path).
        let mut gemm = || {
            dense::gemm::gemm_packed_f32(
                dense::Kernel::selected(),
                1.0,
                dense::MatRef::row_major(&gemm_a, 64, 64),
                dense::MatRef::row_major(&gemm_a, 64, 64),
                0.0,
                dense::MatMut::row_major(&mut gemm_c, 64, 64),
                dense::Epilogue::none(),
            );
            black_box(&gemm_c);
        };
        interleaved(
            61,
            0.3e-3,
            &mut [&mut fused, &mut reference, &mut infer, &mut gemm],
        )
    });
    println!("(best over {passes} passes of the table)");
    println!(
        "{:>6} {:>14} {:>14} {:>10} {:>12} {:>12} {:>14} {:>10}",
        "batch",
        "fused step µs",
        "ref-ops step µs",
        "speed-up",
        "infer µs",
        "step MFLOP",
        "FLOPs@GEMM µs",
        "step/that"
    );
    for (line, best) in lines.iter().zip(&best) {
        let batch = line.batch;
        let gemm_rate = 2.0 * 64f64.powi(3) / best[3];
        let flops = step_flops(batch) as f64;
        let at_gemm_rate = flops / gemm_rate;
        println!(
            "{batch:>6} {:>14.2} {:>14.2} {:>10.1} {:>12.2} {:>12.3} {:>14.2} {:>10.2}",
            best[0] * 1e6,
            best[1] * 1e6,
            best[1] / best[0],
            best[2] * 1e6,
            flops / 1e6,
            at_gemm_rate * 1e6,
            best[0] / at_gemm_rate
        );
        if batch == 4096 {
            println!(
                "(64x64*64x64 GEMM rate in these rounds: {:.1} GFLOP/s)",
                gemm_rate / 1e9
            );
        }
    }
    let grads = net.zeros_like_params();
    let mut adam = Adam::new(AdamConfig::default());
    let mut step = || {
        adam.step(net.params_mut(), &grads);
    };
    // tanh over a batch-4096 hidden layer's pre-activations (values spread like them).
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pre: Vec<f32> = Tensor::<f32>::randn(&[4096, 64], &mut rng)
        .data()
        .iter()
        .map(|x| 1.5 * x)
        .collect();
    let (mut buf, mut buf2) = (pre.clone(), pre.clone());
    let mut tanh = || {
        buf.copy_from_slice(&pre);
        dense::vmath::tanh_in_place(&mut buf);
        black_box(&buf);
    };
    let mut copy = || {
        buf2.copy_from_slice(&pre);
        black_box(&buf2);
    };
    let best = benches::interleaved_in_passes(61, 0.3e-3, &mut [&mut step, &mut tanh, &mut copy]);
    println!(
        "Adam step over {} parameters: {:.2} µs; vectorised tanh: {:.3} ns per element",
        mlp().num_params(),
        best[0] * 1e6,
        (best[1] - best[2]) / pre.len() as f64 * 1e9
    );
}

fn main() {
    if std::env::var_os("DENSE_MLP_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
