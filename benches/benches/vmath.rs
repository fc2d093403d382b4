//! The vectorised `tanh` and `exp` of `dense::vmath` (the tanh layers' activation, every
//! softmax's exponentials) on each kernel path, against the standard library's scalar `f32::tanh`
//! and `f32::exp` (libm) on the same values.
//!
//! The input is a batch-4096 hidden layer's worth of values, 4096 × 64, spread like
//! pre-activations (standard normal × 1.5; for `exp`, shifted to ≤ 0 as softmax does). Each call
//! first copies the input into the buffer it overwrites, so every contender pays the same copy.
//! criterion reports elements per second.
//!
//! Run: `cargo bench -p benches --bench vmath -- --warm-up-time 1 --measurement-time 2`
//!
//! `VMATH_RATIOS=1 cargo bench -p benches --bench vmath` instead prints interleaved timings (best
//! of 61 rounds of ≈ 0.5 ms windows, every contender once per round): nanoseconds per element
//! with the copy's time subtracted, and each path's speed-up over libm.

use benches::interleaved;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use dense::Kernel;
use dense::vmath::{exp_in_place_with, tanh_in_place_with};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

/// Values per call: a 4096 × 64 hidden layer.
const N: usize = 4096 * 64;

/// The function measured.
#[derive(Clone, Copy)]
enum Function {
    Tanh,
    Exp,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::Tanh => "tanh",
            Function::Exp => "exp",
        }
    }

    /// The inputs: pre-activation-like values; for `exp`, minus their maximum, as in softmax.
    fn inputs(self) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x: Vec<f32> = autograd::Tensor::<f32>::randn(&[N], &mut rng)
            .data()
            .iter()
            .map(|v| 1.5 * v)
            .collect();
        match self {
            Function::Tanh => x,
            Function::Exp => {
                let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                x.iter().map(|v| v - max).collect()
            }
        }
    }

    /// Overwrites `xs` with the function of its values on `kernel`'s path.
    fn on(self, kernel: Kernel, xs: &mut [f32]) {
        match self {
            Function::Tanh => tanh_in_place_with(kernel, xs),
            Function::Exp => exp_in_place_with(kernel, xs),
        }
    }

    /// The standard library's scalar version.
    fn libm(self, xs: &mut [f32]) {
        match self {
            Function::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
            Function::Exp => xs.iter_mut().for_each(|x| *x = x.exp()),
        }
    }
}

fn vmath(c: &mut Criterion) {
    for function in [Function::Tanh, Function::Exp] {
        let input = function.inputs();
        let mut buf = input.clone();
        let mut g = c.benchmark_group(format!("vmath_{}", function.name()));
        g.throughput(Throughput::Elements(N as u64));
        for kernel in Kernel::available() {
            g.bench_with_input(BenchmarkId::new(kernel.name(), N), &(), |b, _| {
                b.iter(|| {
                    buf.copy_from_slice(&input);
                    function.on(kernel, &mut buf);
                    black_box(&buf);
                })
            });
        }
        g.bench_with_input(BenchmarkId::new("libm", N), &(), |b, _| {
            b.iter(|| {
                buf.copy_from_slice(&input);
                function.libm(&mut buf);
                black_box(&buf);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, vmath);

/// The interleaved table: per function, every available path, libm and the bare copy.
fn ratios() {
    let kernels = Kernel::available();
    for function in [Function::Tanh, Function::Exp] {
        let input = function.inputs();
        let mut bufs = vec![input.clone(); kernels.len() + 2];
        let (paths, rest) = bufs.split_at_mut(kernels.len());
        let (libm_buf, copy_buf) = rest.split_at_mut(1);
        let mut contenders: Vec<Box<dyn FnMut() + '_>> = Vec::new();
        for (&kernel, buf) in kernels.iter().zip(paths.iter_mut()) {
            let input = &input;
            contenders.push(Box::new(move || {
                buf.copy_from_slice(input);
                function.on(kernel, buf);
                black_box(&buf);
            }));
        }
        let input = &input;
        contenders.push(Box::new(|| {
            libm_buf[0].copy_from_slice(input);
            function.libm(&mut libm_buf[0]);
            black_box(&libm_buf[0]);
        }));
        contenders.push(Box::new(|| {
            copy_buf[0].copy_from_slice(input);
            black_box(&copy_buf[0]);
        }));
        let mut refs: Vec<&mut dyn FnMut()> = contenders
            .iter_mut()
            .map(|f| f.as_mut() as &mut dyn FnMut())
            .collect();
        let best = interleaved(61, 0.5e-3, &mut refs);
        let copy = best[best.len() - 1];
        let per_element = |t: f64| (t - copy) / N as f64 * 1e9;
        let libm = per_element(best[kernels.len()]);
        println!(
            "{} over {N} values (ns per element, copy subtracted):",
            function.name()
        );
        println!("  libm          {libm:7.3}");
        for (k, kernel) in kernels.iter().enumerate() {
            let ns = per_element(best[k]);
            println!("  {:<13} {ns:7.3}  ({:.1}× libm)", kernel.name(), libm / ns);
        }
    }
}

fn main() {
    if std::env::var_os("VMATH_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
