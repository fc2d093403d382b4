//! GEMM throughput of every `dense` kernel path against the `matrixmultiply` crate (the peer
//! baseline) and the scalar reference, in the same run. Throughput is reported in elements/s
//! where one element is one floating-point operation, so `Gelem/s` reads as GFLOP/s.
//!
//! Run: `cargo bench -p benches --bench gemm -- --warm-up-time 1 --measurement-time 2`
//!
//! On a machine shared with other work, timings that criterion takes one benchmark after another
//! drift with the load. `DENSE_GEMM_RATIOS=1 cargo bench -p benches --bench gemm` instead prints
//! interleaved ratios: each round times every contender once, back to back, and the best of 61
//! short rounds is kept per contender, so slow phases of the machine hit all of them alike; the
//! whole table is measured in 5 passes and each line's best taken over all of them
//! (`BENCH_PASSES` sets the count; see `benches::best_over_passes`).
//! Every contender runs on one thread (`dense::threads::set_threads(1)`), except the last three
//! columns: the selected path on every core, its speed-up over one thread, and that speed-up
//! again with the pool awake (a second interleaved pass of the two, each window preceded by an
//! untimed call, as in a loop of products; in the first pass the first call of each window wakes
//! the sleeping workers). The criterion benchmarks run on one thread.

use benches::{interleaved, interleaved_warm};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use dense::threads::{default_threads, set_threads};
use dense::{Kernel, MatMut, MatRef, gemm_reference, gemm_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn random(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// `C = A·B` through `matrixmultiply::sgemm` on general strides.
#[allow(clippy::too_many_arguments)]
fn mm_sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (isize, isize),
    b: &[f32],
    (rsb, csb): (isize, isize),
    c: &mut [f32],
) {
    // SAFETY: the strides describe m×k, k×n and m×n matrices inside the three slices.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// One benchmark group over (m, k, n) shapes with A possibly read transposed.
fn shapes(
    c: &mut Criterion,
    group: &str,
    cases: &[(String, usize, usize, usize, bool)],
    with_reference: bool,
) {
    let mut g = c.benchmark_group(group);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (label, m, k, n, a_transposed) in cases {
        let (m, k, n) = (*m, *k, *n);
        let a = random(m * k, &mut rng);
        let b = random(k * n, &mut rng);
        let mut out = vec![0.0f32; m * n];
        // A stored row-major m×k, or stored k×m and read through a transposed view.
        let a_view = || {
            if *a_transposed {
                MatRef::row_major(&a, k, m).t()
            } else {
                MatRef::row_major(&a, m, k)
            }
        };
        let a_strides = if *a_transposed {
            (1, m as isize)
        } else {
            (k as isize, 1)
        };
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        for kernel in Kernel::available() {
            g.bench_with_input(
                BenchmarkId::new(format!("dense-{}", kernel.name()), label),
                &(),
                |bch, _| {
                    bch.iter(|| {
                        gemm_with(
                            kernel,
                            1.0,
                            a_view(),
                            MatRef::row_major(&b, k, n),
                            0.0,
                            MatMut::row_major(&mut out, m, n),
                        );
                        black_box(&out);
                    })
                },
            );
        }
        g.bench_with_input(BenchmarkId::new("matrixmultiply", label), &(), |bch, _| {
            bch.iter(|| {
                mm_sgemm(m, k, n, &a, a_strides, &b, (n as isize, 1), &mut out);
                black_box(&out);
            })
        });
        if with_reference && m * n * k <= 128 * 128 * 128 {
            g.bench_with_input(BenchmarkId::new("reference", label), &(), |bch, _| {
                bch.iter(|| {
                    gemm_reference(
                        1.0,
                        a_view(),
                        MatRef::row_major(&b, k, n),
                        0.0,
                        MatMut::row_major(&mut out, m, n),
                        dense::Epilogue::none(),
                    );
                    black_box(&out);
                })
            });
        }
    }
    g.finish();
}

fn square(c: &mut Criterion) {
    let cases: Vec<_> = [32usize, 64, 128, 256, 512]
        .iter()
        .map(|&n| (format!("n={n}"), n, n, n, false))
        .collect();
    shapes(c, "gemm_square", &cases, true);
}

fn mlp_shapes(c: &mut Criterion) {
    let mut cases = Vec::new();
    for batch in [64usize, 512, 4096] {
        // Forward of the first layer, forward of a hidden layer, and the weight gradient Xᵀ·dY.
        cases.push((format!("{batch}x4*4x64"), batch, 4, 64, false));
        cases.push((format!("{batch}x64*64x64"), batch, 64, 64, false));
        cases.push((format!("64x{batch}*{batch}x64(At)"), 64, batch, 64, true));
    }
    shapes(c, "gemm_mlp_shapes", &cases, false);
}

fn one_row(c: &mut Criterion) {
    let cases = vec![("1x256*256x256".to_string(), 1, 256, 256, false)];
    shapes(c, "gemv", &cases, true);
}

criterion_group!(benches, square, mlp_shapes, one_row);

/// The interleaved ratio table (see the module doc).
fn ratios() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut cases: Vec<(String, usize, usize, usize, bool)> = [32usize, 64, 128, 256, 512]
        .iter()
        .map(|&n| (format!("{n}x{n}*{n}x{n}"), n, n, n, false))
        .collect();
    for batch in [64usize, 512, 4096] {
        cases.push((format!("{batch}x4*4x64"), batch, 4, 64, false));
        cases.push((format!("{batch}x64*64x64"), batch, 64, 64, false));
        cases.push((format!("64x{batch}*{batch}x64(At)"), 64, batch, 64, true));
    }
    cases.push(("1x256*256x256".to_string(), 1, 256, 256, false));
    let kernels = Kernel::available();
    print!("{:<24}", "shape (GFLOP/s)");
    for k in &kernels {
        print!("{:>12}", k.name());
    }
    let all = default_threads();
    println!(
        "{:>16}{:>22}{:>14}{:>12}{:>10}",
        "matrixmultiply",
        "selected/mm speed",
        format!("{all} threads"),
        "speed-up",
        "awake"
    );
    let data: Vec<(Vec<f32>, Vec<f32>)> = cases
        .iter()
        .map(|&(_, m, k, n, _)| (random(m * k, &mut rng), random(k * n, &mut rng)))
        .collect();
    let passes = benches::passes();
    let best = benches::best_over_passes(cases.len(), passes, |i| {
        let (_, m, k, n, at) = cases[i];
        let (a, b) = (&data[i].0, &data[i].1);
        time_case(&kernels, all, (m, k, n, at), a, b)
    });
    for ((label, m, k, n, _), best) in cases.iter().zip(&best) {
        let flops = (2 * m * n * k) as f64;
        let (t_mm, t_all) = (best[kernels.len()], best[kernels.len() + 1]);
        let awake = &best[kernels.len() + 2..];
        print!("{label:<24}");
        for t in &best[..=kernels.len()] {
            print!("{:>12.1}", flops / t / 1e9);
        }
        println!(
            "{:>22.2}{:>14.1}{:>12.2}{:>10.2}",
            t_mm / best[0],
            flops / t_all / 1e9,
            best[0] / t_all,
            awake[0] / awake[1]
        );
    }
    println!("(best over {passes} passes of the table)");
    set_threads(0);
}

/// One line of the table: each kernel path on one thread, `matrixmultiply`, and the selected path
/// on `all` threads, interleaved; then the selected path on one thread and on `all` with the pool
/// awake (see the module doc). Best seconds per product, in that order.
fn time_case(
    kernels: &[Kernel],
    all: usize,
    (m, k, n, at): (usize, usize, usize, bool),
    a: &[f32],
    b: &[f32],
) -> Vec<f64> {
    let a_view = || {
        if at {
            MatRef::row_major(a, k, m).t()
        } else {
            MatRef::row_major(a, m, k)
        }
    };
    let a_strides = if at { (1, m as isize) } else { (k as isize, 1) };
    let mut dense_fns: Vec<Box<dyn FnMut() + '_>> = kernels
        .iter()
        .map(|&kernel| {
            let mut out = vec![0.0f32; m * n];
            Box::new(move || {
                set_threads(1);
                let c = MatMut::row_major(&mut out, m, n);
                gemm_with(kernel, 1.0, a_view(), MatRef::row_major(b, k, n), 0.0, c);
                black_box(&out);
            }) as Box<dyn FnMut() + '_>
        })
        .collect();
    let mut out2 = vec![0.0f32; m * n];
    let mut mm = || {
        mm_sgemm(m, k, n, a, a_strides, b, (n as isize, 1), &mut out2);
        black_box(&out2);
    };
    // The selected path again, on every core.
    let mut out3 = vec![0.0f32; m * n];
    let mut threaded = || {
        set_threads(all);
        let c = MatMut::row_major(&mut out3, m, n);
        gemm_with(
            kernels[0],
            1.0,
            a_view(),
            MatRef::row_major(b, k, n),
            0.0,
            c,
        );
        black_box(&out3);
    };
    let mut contenders: Vec<&mut dyn FnMut()> = dense_fns
        .iter_mut()
        .map(|f| f.as_mut() as &mut dyn FnMut())
        .collect();
    contenders.push(&mut mm);
    contenders.push(&mut threaded);
    let mut best = interleaved(61, 0.3e-3, &mut contenders);
    drop(contenders);
    best.extend(interleaved_warm(
        61,
        0.3e-3,
        &mut [&mut *dense_fns[0], &mut threaded],
    ));
    best
}

fn main() {
    if std::env::var_os("DENSE_GEMM_RATIOS").is_some() {
        ratios();
        return;
    }
    set_threads(1);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
