//! Chapter 3 of the course (`docs/03-gemm.md`): matrix multiply from a naive triple loop to near
//! the machine's peak, one rung at a time, with the GFLOP/s of each printed beside an estimate of
//! the peak.
//!
//! C = A·B for square n×n row-major f32 matrices does n³ multiply-adds, 2n³ floating-point
//! operations (flops). Each rung computes the same C and is checked against the first:
//!
//! 1. naive (i, j, p): the inner loop walks a column of B, a new cache line for every element;
//! 2. loop-reordered (i, p, j): the inner loop walks rows of B and C, contiguous, so the
//!    compiler vectorises it;
//! 3. blocked: the same loops over KC×NC blocks of B that stay in the L2 cache while every row of
//!    A uses them;
//! 4. packed + register-blocked: blocks of A and B copied into panels read with unit stride, and an
//!    MR×NR tile of C kept in registers for a whole panel (plain Rust, the baseline SSE2 the
//!    compiler may use without target flags);
//! 5. `dense`'s GEMM on each SIMD path this CPU has (the same design with AVX2+FMA or AVX-512
//!    intrinsics and a tuned micro-kernel).
//!
//! The peak is clock × flops per cycle. The clock is measured with a chain of dependent f64
//! additions, one every 4 cycles on Intel cores since Skylake (3 on AMD Zen: there the estimate
//! reads 4/3 too high). Flops per cycle assume two vector FMA units: AVX-512 2 × 16 lanes × 2,
//! AVX2+FMA 2 × 8 × 2; SSE2 has no FMA, so a separate multiply and add: 2 × 4 lanes.
//!
//! Run: `cargo run --release -p dense --example gemm_climb` (n = 512; with COURSE_QUICK=1 set,
//! n = 128 and fewer repetitions).

use dense::{Kernel, MatMut, MatRef, gemm_with};
use std::hint::black_box;
use std::time::Instant;

const MR: usize = 4; // rows of the register tile
const NR: usize = 8; // columns of the register tile: MR × NR accumulators = 8 SSE registers
const KC: usize = 128; // depth of a packed panel
const MC: usize = 64; // rows of A packed at once
const NC: usize = 256; // columns of B per block (rung 3)

/// Rung 1: C[i][j] = Σ_p A[i][p]·B[p][j], inner loop over p (B read down a column).
fn naive(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    for i in 0..n {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..n {
                sum += a[i * n + p] * b[p * n + j];
            }
            c[i * n + j] = sum;
        }
    }
}

/// Rung 2: for each A[i][p], add A[i][p]·(row p of B) to row i of C. Unit stride inside.
fn reordered(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    c.fill(0.0);
    for i in 0..n {
        for p in 0..n {
            let a_ip = a[i * n + p];
            let (b_row, c_row) = (&b[p * n..(p + 1) * n], &mut c[i * n..(i + 1) * n]);
            for (cij, bpj) in c_row.iter_mut().zip(b_row) {
                *cij += a_ip * bpj;
            }
        }
    }
}

/// Rung 3: rung 2 restricted to a KC×NC block of B at a time, so the block is reused from cache.
fn blocked(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    c.fill(0.0);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..n).step_by(KC) {
            let kc = KC.min(n - pc);
            for i in 0..n {
                for p in pc..pc + kc {
                    let a_ip = a[i * n + p];
                    let b_row = &b[p * n + jc..p * n + jc + nc];
                    let c_row = &mut c[i * n + jc..i * n + jc + nc];
                    for (cij, bpj) in c_row.iter_mut().zip(b_row) {
                        *cij += a_ip * bpj;
                    }
                }
            }
        }
    }
}

/// The register tile: C[0..MR][0..NR] += A panel (kc × MR, column by column) · B panel (kc × NR).
fn micro_kernel(kc: usize, a_panel: &[f32], b_panel: &[f32], c: &mut [f32], ldc: usize) {
    let mut acc = [[0.0f32; NR]; MR];
    for p in 0..kc {
        let b_row = &b_panel[p * NR..(p + 1) * NR];
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let a_ip = a_panel[p * MR + i];
            for (acc_ij, b_pj) in acc_row.iter_mut().zip(b_row) {
                *acc_ij += a_ip * b_pj;
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        for (cij, v) in c[i * ldc..i * ldc + NR].iter_mut().zip(acc_row) {
            *cij += v;
        }
    }
}

/// Rung 4: pack a KC-deep slice of B into NR-wide panels and an MC×KC block of A into MR-tall
/// panels, then run the micro-kernel over every (MR, NR) tile. Needs n to be a multiple of MC,
/// KC, MR and NR (n = 128 and 512 are).
fn packed(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    assert!(
        n.is_multiple_of(MC) && n.is_multiple_of(KC),
        "packed: n = {n} must be a multiple of {MC} and {KC}"
    );
    c.fill(0.0);
    let mut b_pack = vec![0.0f32; KC * n];
    let mut a_pack = vec![0.0f32; MC * KC];
    for pc in (0..n).step_by(KC) {
        for (jp, panel) in b_pack.chunks_mut(KC * NR).enumerate() {
            for p in 0..KC {
                let src = (pc + p) * n + jp * NR;
                panel[p * NR..(p + 1) * NR].copy_from_slice(&b[src..src + NR]);
            }
        }
        for ic in (0..n).step_by(MC) {
            for (ip, panel) in a_pack.chunks_mut(KC * MR).enumerate() {
                for p in 0..KC {
                    for i in 0..MR {
                        panel[p * MR + i] = a[(ic + ip * MR + i) * n + pc + p];
                    }
                }
            }
            for (jp, b_panel) in b_pack.chunks(KC * NR).enumerate() {
                for (ip, a_panel) in a_pack.chunks(KC * MR).enumerate() {
                    let offset = (ic + ip * MR) * n + jp * NR;
                    micro_kernel(KC, a_panel, b_panel, &mut c[offset..], n);
                }
            }
        }
    }
}

/// Best-of-`reps` seconds of one call: the fastest run is the one the load disturbed least.
fn best_time(reps: usize, mut run: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Clock estimate in GHz: dependent f64 additions, 4 cycles each (see the module doc). The best of
/// 10 short chains, since a chain interrupted by another process reads slow.
fn clock_ghz(additions: u64) -> f64 {
    let seconds = best_time(10, || {
        let step = black_box(1e-9f64);
        let mut x = 0.0f64;
        for _ in 0..additions {
            x += step;
        }
        black_box(x);
    });
    4.0 * additions as f64 / seconds / 1e9
}

fn main() {
    let quick = std::env::var_os("COURSE_QUICK").is_some();
    let (n, reps) = if quick { (128, 2) } else { (512, 5) };
    let a: Vec<f32> = (0..n * n)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
        .collect();
    let b: Vec<f32> = (0..n * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let flops = 2.0 * (n as f64).powi(3);

    let ghz = clock_ghz(20_000_000);
    let peak = |flops_per_cycle: f64| ghz * flops_per_cycle;
    println!(
        "n = {n}: C = A·B is {:.0} Mflop. Clock estimate {ghz:.2} GHz, so the peak of one core is",
        flops / 1e6
    );
    println!(
        "  SSE2 (mul + add, 4 lanes) {:.0}, AVX2+FMA {:.0}, AVX-512 {:.0} GFLOP/s\n",
        peak(8.0),
        peak(32.0),
        peak(64.0)
    );

    let mut reference = vec![0.0f32; n * n];
    naive(&a, &b, &mut reference, n);
    let mut c = vec![0.0f32; n * n];
    let report = |name: &str, seconds: f64, c: &[f32], peak_gflops: f64| {
        let gflops = flops / seconds / 1e9;
        let err = c
            .iter()
            .zip(&reference)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{name:<34} {gflops:7.2} GFLOP/s  {:5.1}% of {peak_gflops:4.0}   max |C − C_naive| {err:.1e}",
            100.0 * gflops / peak_gflops
        );
    };
    let naive_reps = if quick { reps } else { 1 };
    let sse = peak(8.0);
    report(
        "1 naive (i, j, p)",
        best_time(naive_reps, || naive(&a, &b, &mut c, n)),
        &c,
        sse,
    );
    report(
        "2 loop-reordered (i, p, j)",
        best_time(reps, || reordered(&a, &b, &mut c, n)),
        &c,
        sse,
    );
    report(
        "3 blocked (KC×NC blocks of B)",
        best_time(reps, || blocked(&a, &b, &mut c, n)),
        &c,
        sse,
    );
    report(
        "4 packed, 4×8 register tile",
        best_time(reps, || packed(&a, &b, &mut c, n)),
        &c,
        sse,
    );
    for kernel in Kernel::available().into_iter().rev() {
        let (name, fpc) = match kernel {
            Kernel::Portable => ("5 dense::gemm, portable path", 8.0),
            Kernel::Avx2Fma => ("5 dense::gemm, AVX2+FMA 6×16 tile", 32.0),
            Kernel::Avx512 => ("5 dense::gemm, AVX-512 12×32 tile", 64.0),
        };
        let seconds = best_time(reps * 4, || {
            let (ar, br) = (MatRef::row_major(&a, n, n), MatRef::row_major(&b, n, n));
            gemm_with(kernel, 1.0, ar, br, 0.0, MatMut::row_major(&mut c, n, n));
        });
        report(name, seconds, &c, peak(fpc));
    }
}
