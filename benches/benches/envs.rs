//! Nanoseconds per environment step: every registered env (CartPole-v0 is CartPole-v1 with a
//! shorter limit, so it is left out), alone through `make` (time limit and dynamic dispatch
//! included) and as a `VecEnv` of N = 1, 8 and 64 copies.
//!
//! Actions are random but generated before timing (a ring of 4096 per copy), so the RNG is not
//! measured. Episode ends are part of the workload: the single-env loop resets on `done` and the
//! vector resets finished copies itself, so the figures include the amortised reset cost.
//! The vector benches report throughput in env-steps: criterion's "elem/s" is steps per second,
//! and time per iteration divided by N is nanoseconds per env-step.
//!
//! `envs/square` measures the price of fidelity: `x**2` as NumPy computes it (`pow`), our exact
//! shortcut `envs::numpy::square`, and a plain multiplication, over the same 1024 values.
//!
//! **Time is this thread's CPU time** (Linux `/proc/thread-self/schedstat`, falling back to wall
//! time elsewhere): the build machine is shared, and wall time would count the time the
//! benchmark waits for a core. Samples are flat (equal iteration counts, about 60 ms each) so the
//! scheduler-tick granularity of the counter averages out over the samples.
//!
//! Run briefly: `cargo bench -p benches --bench envs -- --warm-up-time 1 --measurement-time 2`.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use envs::{Action, Space, VecAction, VecEnv};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds this thread has run on a CPU, or wall-clock nanoseconds where the kernel does
/// not say.
fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64)
}

/// A criterion measurement of thread CPU time, in nanoseconds.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        now_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanos
    }
}

/// Formats nanoseconds as ns, µs or ms, and throughputs as elements per second.
struct Nanos;

impl ValueFormatter for Nanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e3, "µs")
        } else {
            (1e6, "ms")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        // ns per iteration -> millions of elements per second.
        values.iter_mut().for_each(|v| *v = per * 1e3 / *v);
        "Melem/s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

const IDS: [&str; 5] = [
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
];
const RING: usize = 4096;

/// `len` random actions for `space`: indices for a discrete space, values in the box otherwise.
fn random_actions(space: &Space, len: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<f32>) {
    match space {
        Space::Discrete { n } => ((0..len).map(|_| rng.gen_range(0..*n)).collect(), Vec::new()),
        Space::Box { low, high } => (
            Vec::new(),
            (0..len).map(|_| rng.gen_range(low[0]..=high[0])).collect(),
        ),
    }
}

fn single(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("envs/single");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for id in IDS {
        let mut env = envs::make(id).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (disc, cont) = random_actions(&env.action_space(), RING, &mut rng);
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(0), &mut obs).unwrap();
        let mut t = 0usize;
        group.bench_function(id, |b| {
            b.iter(|| {
                t = (t + 1) % RING;
                let a = if disc.is_empty() {
                    Action::Continuous(&cont[t..t + 1])
                } else {
                    Action::Discrete(disc[t])
                };
                let s = env.step(a, &mut obs).unwrap();
                if s.terminated || s.truncated {
                    env.reset(None, &mut obs).unwrap();
                }
                black_box(s.reward)
            })
        });
    }
    group.finish();
}

fn vectorised(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("envs/vec");
    group.sampling_mode(SamplingMode::Flat);
    for id in IDS {
        for n in [1usize, 8, 64] {
            let mut v = VecEnv::new(id, n).unwrap();
            v.reset(0);
            let space = envs::make(id).unwrap().action_space();
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let (disc, cont) = random_actions(&space, RING * n, &mut rng);
            let mut t = 0usize;
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(id, n), &n, |b, &n| {
                b.iter(|| {
                    t = (t + 1) % RING;
                    let r = t * n..(t + 1) * n;
                    if disc.is_empty() {
                        v.step(VecAction::Continuous(&cont[r])).unwrap();
                    } else {
                        v.step(VecAction::Discrete(&disc[r])).unwrap();
                    }
                    black_box(v.rewards()[0])
                })
            });
        }
    }
    group.finish();
}

fn square(c: &mut Criterion<CpuTime>) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let xs: Vec<f64> = (0..1024).map(|_| rng.gen_range(-10.0..10.0)).collect();
    let mut group = c.benchmark_group("envs/square");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(xs.len() as u64));
    group.bench_function("libm_pow", |b| {
        b.iter(|| xs.iter().map(|&x| x.powf(black_box(2.0))).sum::<f64>())
    });
    group.bench_function("numpy_square", |b| {
        b.iter(|| xs.iter().map(|&x| envs::numpy::square(x)).sum::<f64>())
    });
    group.bench_function("mul", |b| {
        b.iter(|| xs.iter().map(|&x| black_box(x) * x).sum::<f64>())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime).sample_size(30);
    targets = single, vectorised, square
}
criterion_main!(benches);
