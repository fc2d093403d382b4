//! The GPT's training step (forward, loss, backward, AdamW), 2 layers, 4 heads, width 64,
//! vocabulary 32, at 32 sequences × 32 tokens and 8 sequences × 16 tokens.
//!
//! criterion reports tokens per second (`Throughput::Elements` = tokens in the batch).
//!
//! Run: `cargo bench -p benches --bench transformer -- --warm-up-time 1 --measurement-time 2`
//!
//! `TRANSFORMER_RATIOS=1 cargo bench -p benches --bench transformer` instead prints interleaved
//! timings: the step, the FLOPs of its matrix products (see [`step_flops`]), and two GEMMs (the
//! packed driver) measured in the same rounds: a square 64×64·64×64 and one of the step's own
//! shapes, `[B·T, 64]·[64, 256]` (the MLP's first layer). Each line is the best of 41 rounds of
//! ≈ 2 ms windows, every contender once per round, so a shared machine's load hits them alike;
//! the whole table is measured in 5 passes and each line's best taken over all of them
//! (`BENCH_PASSES` sets the count; see `benches::best_over_passes`). "FLOP time" is the step's
//! FLOPs at that GEMM's rate; the goal is a step within 1.5× of it at 32×32 and 3× at
//! 8×16, single-threaded. The table is printed for the AVX-512 path and again for the AVX2 path
//! (forced) where the CPU has them, then the 32×32 step on one thread against every core.

use autograd::{Tape, Tensor};
use benches::interleaved;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use dense::optim::{Adam, AdamConfig};
use dense::threads::set_threads;
use dense::{MatMut, MatRef};
use policy_gradient::lm::gpt::train::weighted_nll_gradients;
use policy_gradient::lm::gpt::{Gpt, GptSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const SPEC: GptSpec = GptSpec {
    vocab: 32,
    context: 32,
    width: 64,
    heads: 4,
    layers: 2,
};

/// The two benchmarked batches: (sequences, tokens per sequence).
const SIZES: [(usize, usize); 2] = [(32, 32), (8, 16)];

/// FLOPs of the matrix products of one step on `b` sequences of `t` tokens (2 per multiply-add).
///
/// Per token and block, the four weight products `D·3D + D·D + D·4D + 4D·D = 12·D²`
/// multiply-adds, and the head `D·V`; backward does each twice more (`∂W = xᵀ·ȳ`, `∂x = ȳ·Wᵀ`).
/// Attention, per sequence, block and head: 6 products of `T·T·d` (2 forward, 4 backward: `V̄`,
/// `P̄`, `Q̄`, `K̄`; the probabilities are kept from the forward pass), computed over the full
/// `T×T` square.
fn step_flops(b: usize, t: usize) -> u64 {
    let (d, v, l, h) = (SPEC.width, SPEC.vocab, SPEC.layers, SPEC.heads);
    let weights = 3 * 2 * b * t * (l * 12 * d * d + d * v);
    let attention = 6 * 2 * b * l * h * t * t * SPEC.head_width();
    (weights + attention) as u64
}

/// One step's fixed inputs and reused buffers.
struct Step {
    model: Gpt<f32>,
    adamw: Adam,
    tape: Tape<f32>,
    grads: Vec<Tensor<f32>>,
    tokens: Vec<usize>,
    targets: Vec<usize>,
    weights: Vec<f32>,
    batch: usize,
}

impl Step {
    fn new(batch: usize, len: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let model = Gpt::new(SPEC, &mut rng);
        let n = batch * len;
        let mut draw = || (0..n).map(|_| rng.gen_range(0..SPEC.vocab)).collect();
        let (tokens, targets) = (draw(), draw());
        Step {
            grads: vec![Tensor::empty(); model.params().len()],
            model,
            adamw: Adam::new(AdamConfig::adamw()),
            tape: Tape::new(),
            tokens,
            targets,
            weights: vec![1.0 / n as f32; n],
            batch,
        }
    }

    /// Forward, mean next-token NLL, backward, one AdamW step.
    fn run(&mut self) {
        let loss = weighted_nll_gradients(
            &mut self.model,
            &mut self.tape,
            &self.tokens,
            self.batch,
            &self.targets,
            &self.weights,
            &mut self.grads,
        );
        self.adamw.step(self.model.params_mut(), &self.grads);
        black_box(loss);
    }
}

fn train_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("gpt_L2_H4_D64_V32_step");
    for (batch, len) in SIZES {
        let mut step = Step::new(batch, len);
        g.throughput(Throughput::Elements((batch * len) as u64));
        let id = BenchmarkId::new("tokens", format!("{batch}x{len}"));
        g.bench_with_input(id, &(), |b, _| b.iter(|| step.run()));
    }
    g.finish();
}

criterion_group!(benches, train_step);

/// A GEMM `[m, k]·[k, n]` on fixed operands through the packed driver (whose rate no choice of
/// route can move: on AVX2 a 64×64·64×64 product may take the unpacked small-product path), and
/// its FLOPs.
fn gemm_of(m: usize, k: usize, n: usize) -> (impl FnMut(), f64) {
    let (a, b) = (vec![0.5f32; m * k], vec![0.25f32; k * n]);
    let mut c = vec![0.0f32; m * n];
    let f = move || {
        dense::gemm::gemm_packed_f32(
            dense::Kernel::selected(),
            1.0,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, k, n),
            0.0,
            MatMut::row_major(&mut c, m, n),
            dense::Epilogue::none(),
        );
        black_box(&c);
    };
    (f, (2 * m * k * n) as f64)
}

/// One line of the table: the step at one size, and the two yardstick GEMMs with their FLOPs.
struct Line {
    step: Step,
    len: usize,
    square: (Box<dyn FnMut()>, f64),
    own: (Box<dyn FnMut()>, f64),
}

fn ratios_on_selected_path() {
    let mut lines: Vec<Line> = SIZES
        .into_iter()
        .map(|(batch, len)| {
            let (square, square_flops) = gemm_of(64, 64, 64);
            let (own, own_flops) = gemm_of(batch * len, SPEC.width, SPEC.mlp_width());
            Line {
                step: Step::new(batch, len),
                len,
                square: (Box::new(square), square_flops),
                own: (Box::new(own), own_flops),
            }
        })
        .collect();
    let passes = benches::passes();
    let best = benches::best_over_passes(lines.len(), passes, |i| {
        let line = &mut lines[i];
        let mut run = || line.step.run();
        interleaved(
            41,
            2e-3,
            &mut [&mut run, &mut line.square.0, &mut line.own.0],
        )
    });
    println!("(best over {passes} passes of the table)");
    println!(
        "{:>6} {:>9} {:>10} {:>10} {:>10} {:>12} {:>10} {:>12} {:>10}",
        "batch",
        "step µs",
        "tokens/s",
        "MFLOP",
        "GFLOP/s",
        "64³ GFLOP/s",
        "step/that",
        "own GFLOP/s",
        "step/that"
    );
    for (line, best) in lines.iter().zip(&best) {
        let (batch, len) = (line.step.batch, line.len);
        let flops = step_flops(batch, len) as f64;
        let (square_rate, own_rate) = (line.square.1 / best[1], line.own.1 / best[2]);
        println!(
            "{:>6} {:>9.1} {:>10.0} {:>10.1} {:>10.1} {:>12.1} {:>10.2} {:>12.1} {:>10.2}",
            format!("{batch}x{len}"),
            best[0] * 1e6,
            (batch * len) as f64 / best[0],
            flops / 1e6,
            flops / best[0] / 1e9,
            square_rate / 1e9,
            best[0] / (flops / square_rate),
            own_rate / 1e9,
            best[0] / (flops / own_rate),
        );
    }
}

/// The 32×32 step on 1 thread and on every core, interleaved.
fn thread_speedup() {
    let all = dense::threads::default_threads();
    let (mut one, mut every) = (Step::new(32, 32), Step::new(32, 32));
    let mut on_one = || {
        set_threads(1);
        one.run();
    };
    let mut on_all = || {
        set_threads(all);
        every.run();
    };
    let best = benches::interleaved_in_passes(21, 5e-3, &mut [&mut on_one, &mut on_all]);
    set_threads(1);
    println!(
        "32x32 step: {:.0} µs on 1 thread, {:.0} µs on {all} threads: {:.2}×",
        best[0] * 1e6,
        best[1] * 1e6,
        best[0] / best[1]
    );
}

/// The interleaved table (see the module doc), once per kernel path this CPU has among AVX-512
/// and AVX2.
fn ratios() {
    benches::on_each_simd_path(|| {
        ratios_on_selected_path();
        thread_speedup();
    });
}

fn main() {
    if std::env::var_os("TRANSFORMER_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
