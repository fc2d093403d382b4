//! Results are bit-identical for 1, 2 and 3 threads: GEMMs on shapes around the parallel thresholds
//! (the packed driver's and the GEMV routes') and every block boundary (register tile rows, the
//! cache blocks MC, KC and NC) on every kernel path, a whole fused-MLP training step (forward, the
//! fused activation/bias backward, every GEMM) at a batch large enough to use the pool, and the
//! fused layer norm and GELU on both sides of their threshold.
//!
//! The thread count is process-wide, so the tests of this file take turns through a lock.

use std::sync::Mutex;

use autograd::{Tape, Tensor};
use dense::gelu::{Gelu, gelu};
use dense::layer_norm::{LayerNorm, layer_norm};
use dense::threads::{
    PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_GEMV_MACS, PARALLEL_MIN_HEAVY_ELEMENTS, PARALLEL_MIN_MACS,
    set_threads,
};
use dense::{Activation, Epilogue, Init, Kernel, MatMut, MatRef, Mlp, gemm_fused_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

static THREAD_SETTING: Mutex<()> = Mutex::new(());

const THREAD_COUNTS: [usize; 3] = [1, 2, 3];

fn random(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// `C = tanh(alpha·A·B + beta·C + bias)` (or no epilogue) with A transposed when asked and C's
/// rows padded, run at each thread count; returns the bits of C for each.
#[allow(clippy::too_many_arguments)]
fn gemm_bits(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    a_transposed: bool,
    beta: f32,
    fused: bool,
    seed: u64,
) -> Vec<Vec<u32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = random(m * k, &mut rng);
    let b = random(k * n, &mut rng);
    let bias = random(n, &mut rng);
    let pad = 3;
    let c0 = random(m * (n + pad), &mut rng);
    THREAD_COUNTS
        .iter()
        .map(|&t| {
            set_threads(t);
            let av = if a_transposed {
                MatRef::row_major(&a, k, m).t()
            } else {
                MatRef::row_major(&a, m, k)
            };
            let mut c = c0.clone();
            let epilogue = if fused {
                Epilogue::new(Some(&bias), Activation::Tanh)
            } else {
                Epilogue::none()
            };
            gemm_fused_with(
                kernel,
                0.75,
                av,
                MatRef::row_major(&b, k, n),
                beta,
                MatMut::new(&mut c, m, n, n + pad, 1),
                epilogue,
            );
            c.iter().map(|x| x.to_bits()).collect()
        })
        .collect()
}

#[test]
fn gemm_bits_do_not_depend_on_the_thread_count() {
    let _turn = THREAD_SETTING.lock().unwrap_or_else(|e| e.into_inner());
    // m·64·64 crosses PARALLEL_MIN_MACS at m = 512.
    let at_threshold = PARALLEL_MIN_MACS / (64 * 64);
    let mut shapes = vec![
        (at_threshold - 1, 64, 64),
        (at_threshold, 64, 64),
        (at_threshold + 1, 64, 64),
        (64, 64, 4096), // a weight gradient: long k, few rows
        (4096, 4, 64),  // the first layer's input gradient shape family
        (300, 300, 300),
        (700, 33, 255),            // ragged NR edge, k just under KC
        (700, 32, 257),            // k just over KC (two KC slices: beta applies once)
        (250, 4097, 3),            // n just over NC (two NC blocks)
        (481, 64, 512),            // rows just over 2·MC (AVX-512 MC = 240)
        (241, 96, 512),            // rows just over MC
        (12 * 2 * 40 + 1, 64, 70), // one row past a whole number of tiles per part
        (6 * 3 * 60 - 1, 64, 70),  // one row short (AVX2 MR = 6, three parts)
    ];
    shapes.retain(|&(m, n, k)| m * n * k >= PARALLEL_MIN_MACS / 2);
    // At most four rows or columns: the GEMV routes, split by rows of C from
    // PARALLEL_MIN_GEMV_MACS on (A transposed turns the dot form into the axpy form).
    let gemv_k = PARALLEL_MIN_GEMV_MACS / (4 * 64);
    shapes.extend([
        (4, 64, gemv_k - 1), // just under the threshold
        (4, 64, gemv_k),     // a first layer's weight gradient at the threshold
        (3, 100, 2000),      // three rows for three threads, ragged columns
        (4099, 2, 64),       // a two-output head at a batch of 4099
        (2000, 3, 131),      // ragged k
        (1000, 4, 131),
    ]);
    for kernel in Kernel::available() {
        for (i, &(m, n, k)) in shapes.iter().enumerate() {
            for (a_t, beta, fused) in [(false, 0.0, true), (true, 1.0, false), (false, 0.3, true)] {
                let bits = gemm_bits(kernel, m, n, k, a_t, beta, fused, i as u64);
                for (t, b) in THREAD_COUNTS.iter().zip(&bits).skip(1) {
                    assert!(
                        *b == bits[0],
                        "{kernel:?} {m}x{k}·{k}x{n} (Aᵀ {a_t}, beta {beta}, fused {fused}): \
                         {t} threads differ from 1 thread"
                    );
                }
            }
        }
    }
    set_threads(0);
}

/// The loss and gradient bits of one fused training step of a `sizes` tanh MLP at each thread
/// count, on the selected kernel path.
fn step_bits(sizes: &[usize]) -> Vec<(u32, Vec<Vec<u32>>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let net: Mlp<f32> = Mlp::new(
        sizes,
        Activation::Tanh,
        Activation::Identity,
        Init::Orthogonal { gain: 2f64.sqrt() },
        Init::Orthogonal { gain: 0.01 },
        &mut rng,
    );
    let batch = 4099; // large enough for the parallel GEMMs, and not a multiple of any tile
    let x = Tensor::<f32>::randn(&[batch, sizes[0]], &mut rng);
    let w = Tensor::<f32>::randn(&[batch, sizes[sizes.len() - 1]], &mut rng);
    let mut results = Vec::new();
    for t in THREAD_COUNTS {
        set_threads(t);
        let mut net = net.clone();
        let mut grads = net.zeros_like_params();
        let mut tape = Tape::new();
        tape.reset();
        let lent = net.lend(&tape);
        let y = lent.forward(tape.constant(&x));
        let loss = (y * tape.constant(&w)).sum();
        let loss_bits = loss.item().to_bits();
        lent.backward_to(loss, &mut grads);
        drop(lent);
        let bits: Vec<Vec<u32>> = grads
            .iter()
            .map(|g| g.data().iter().map(|v| v.to_bits()).collect())
            .collect();
        results.push((loss_bits, bits));
    }
    set_threads(0);
    results
}

#[test]
fn a_training_step_has_the_same_bits_on_any_thread_count() {
    let _turn = THREAD_SETTING.lock().unwrap_or_else(|e| e.into_inner());
    // The classic-control size, and a first layer wide enough (4099 × 260 outputs) for the
    // element-wise backward pass to run on the pool too, on every kernel path.
    const { assert!(4099 * 260 >= PARALLEL_MIN_ELEMENTS) };
    for kernel in Kernel::available() {
        Kernel::force(Some(kernel));
        for sizes in [&[4, 64, 64, 2][..], &[4, 260, 37, 2]] {
            let results = step_bits(sizes);
            for (t, r) in THREAD_COUNTS.iter().zip(&results).skip(1) {
                assert!(
                    *r == results[0],
                    "{kernel:?} {sizes:?}, {t} threads: loss or gradients differ from 1 thread"
                );
            }
        }
    }
    Kernel::force(None);
}

/// Value and every gradient of `Σ w ⊙ gelu(LN(x)) + Σ x` on an `[rows, n]` input (`Σ x`
/// recorded last, so its rule writes x̄ first and LN's adds to it), with the fused layer norm
/// and GELU, at each thread count: their bits.
fn norm_gelu_bits(rows: usize, n: usize) -> Vec<Vec<Vec<u32>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(rows as u64 * 31 + n as u64);
    let x = Tensor::from_vec(random(rows * n, &mut rng), &[rows, n]);
    let gain = Tensor::from_vec(random(n, &mut rng), &[n]);
    let bias = Tensor::from_vec(random(n, &mut rng), &[n]);
    let w = Tensor::from_vec(random(rows * n, &mut rng), &[rows, n]);
    let (norm, act) = (LayerNorm::new(1e-5), Gelu::new());
    THREAD_COUNTS
        .iter()
        .map(|&threads| {
            set_threads(threads);
            let tape = Tape::<f32>::new();
            let [xv, gv, bv] = [&x, &gain, &bias].map(|t| tape.param(t));
            let y = gelu(layer_norm(xv, gv, bv, &norm), &act);
            let g = ((y * tape.constant(&w)).sum() + xv.sum()).backward();
            let bits = |t: &Tensor<f32>| t.data().iter().map(|v| v.to_bits()).collect();
            vec![bits(&y.value()), bits(&g[xv]), bits(&g[gv]), bits(&g[bv])]
        })
        .collect()
}

#[test]
fn layer_norm_and_gelu_have_the_same_bits_on_any_thread_count() {
    let _turn = THREAD_SETTING.lock().unwrap_or_else(|e| e.into_inner());
    for kernel in Kernel::available() {
        Kernel::force(Some(kernel));
        // Below the threshold, at it (the transformer's [1024, 64]), and ragged rows and blocks
        // above it.
        for (rows, n) in [(100, 64), (1024, 64), (1037, 67), (3001, 33)] {
            let split = rows * n >= PARALLEL_MIN_HEAVY_ELEMENTS;
            assert_eq!(split, rows >= 1024, "{rows}×{n} is on the intended side");
            let results = norm_gelu_bits(rows, n);
            for (t, r) in THREAD_COUNTS.iter().zip(&results).skip(1) {
                assert!(
                    *r == results[0],
                    "{kernel:?} {rows}×{n}, {t} threads: value or gradients differ from 1 thread"
                );
            }
        }
    }
    Kernel::force(None);
    set_threads(0);
}
