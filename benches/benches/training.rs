//! Whole-training throughput of `pg train CartPole-v1` (the preset), in environment steps per
//! second: collection with the batched tape-free policy plus the updates (one policy step and the
//! value steps per epoch), with the run's other costs (metrics) included.
//!
//! - `training/cartpole_preset/from_scratch_20k`: a fresh trainer (networks, envs) and its first
//!   10 epochs (20,000 env steps);
//! - `training/cartpole_preset/epoch`: one epoch (2,000 steps) of a trainer that is already
//!   learning, so episodes are long as in the middle of a real run;
//! - `training/cartpole_preset/collect`: the collection part of an epoch alone, to read the
//!   share of the updates as a ratio from the same run.
//!
//!
//! Each is measured on the AVX-512 path and again on the AVX2 path (forced with
//! `dense::Kernel::force`), where the CPU has them, with the ids suffixed `/avx512`, `/avx2fma`.
//!
//! Run: `cargo bench -p benches --bench training -- --warm-up-time 1 --measurement-time 5`.
//!
//! `TRAINING_RATIOS=1 cargo bench -p benches --bench training` instead times the whole preset
//! run (`pg train CartPole-v1`'s training: a fresh trainer until it is finished) on each kernel
//! path at 1 thread and at every core (`dense::threads::set_threads`), the four contenders
//! interleaved, best of 3 rounds, and prints env steps per second and the thread speed-up.

use benches::interleaved;
use criterion::{Criterion, Throughput, criterion_group};
use dense::Kernel;
use dense::threads::{default_threads, set_threads};
use envs::VecEnv;
use policy_gradient::config::Config;
use policy_gradient::episodes::EpisodeTracker;
use policy_gradient::rollout::{Rollout, collect};
use policy_gradient::trainer::Trainer;
use rand::SeedableRng;

/// The kernel paths measured: AVX-512 and AVX2, where this CPU has them.
fn paths() -> Vec<Kernel> {
    [Kernel::Avx512, Kernel::Avx2Fma]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

fn bench_training(c: &mut Criterion) {
    for kernel in paths() {
        Kernel::force(Some(kernel));
        bench_training_on(c, kernel.name());
    }
    Kernel::force(None);
}

fn bench_training_on(c: &mut Criterion, path: &str) {
    let preset = Config::preset("CartPole-v1").expect("CartPole-v1 has a preset");
    let per_epoch = preset.steps_per_epoch();
    let mut g = c.benchmark_group(format!("training/cartpole_preset/{path}"));
    g.sample_size(10);

    g.throughput(Throughput::Elements(10 * per_epoch));
    g.bench_function("from_scratch_20k", |b| {
        b.iter(|| {
            let mut t = Trainer::new(preset.clone()).expect("the preset is valid");
            for _ in 0..10 {
                t.epoch().expect("training stays finite");
            }
            t.env_steps()
        })
    });

    // A trainer 30 epochs in: the policy balances for a while, as mid-run.
    let mut warm = Trainer::new(preset.clone()).expect("the preset is valid");
    for _ in 0..30 {
        warm.epoch().expect("training stays finite");
    }
    g.throughput(Throughput::Elements(per_epoch));
    g.bench_function("epoch", |b| {
        b.iter(|| warm.epoch().expect("training stays finite").env_steps)
    });

    let policy = warm.policy().clone();
    let mut env = VecEnv::new("CartPole-v1", preset.num_envs).expect("registered");
    env.reset(0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut tracker = EpisodeTracker::new(preset.num_envs, preset.solved_window);
    let mut buf = Rollout::new(
        &policy,
        preset.num_envs,
        preset.steps_per_env,
        env.obs_dim(),
    );
    let mut scratch = Vec::new();
    g.bench_function("collect", |b| {
        b.iter(|| {
            collect(
                &mut env,
                &policy,
                None,
                &mut rng,
                &mut tracker,
                &mut buf,
                &mut scratch,
                1.0,
            )
            .expect("valid actions");
            buf.rows()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_training);

/// A whole preset run: a fresh trainer, epochs until it is finished; returns its env steps.
fn whole_run(preset: &Config) -> u64 {
    let mut t = Trainer::new(preset.clone()).expect("the preset is valid");
    while !t.finished() {
        t.epoch().expect("training stays finite");
    }
    t.env_steps()
}

/// The whole-run table (see the module doc).
fn ratios() {
    let preset = Config::preset("CartPole-v1").expect("CartPole-v1 has a preset");
    let all = default_threads();
    let steps = whole_run(&preset) as f64;
    let mut contenders: Vec<(Kernel, usize)> = Vec::new();
    for kernel in paths() {
        contenders.push((kernel, 1));
        if all > 1 {
            contenders.push((kernel, all));
        }
    }
    let mut runs: Vec<Box<dyn FnMut()>> = contenders
        .iter()
        .map(|&(kernel, threads)| {
            let preset = preset.clone();
            Box::new(move || {
                Kernel::force(Some(kernel));
                set_threads(threads);
                std::hint::black_box(whole_run(&preset));
            }) as Box<dyn FnMut()>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut()> = runs.iter_mut().map(|f| &mut **f as _).collect();
    let best = interleaved(3, 0.1, &mut refs);
    Kernel::force(None);
    set_threads(0);
    println!("whole CartPole-v1 preset run ({steps} env steps), best of 3 interleaved rounds:");
    println!(
        "{:>10} {:>8} {:>10} {:>14}",
        "path", "threads", "seconds", "env steps/s"
    );
    for (&(kernel, threads), &t) in contenders.iter().zip(&best) {
        println!(
            "{:>10} {threads:>8} {t:>10.3} {:>14.0}",
            kernel.name(),
            steps / t
        );
    }
    for (i, &(kernel, threads)) in contenders.iter().enumerate() {
        if threads > 1 {
            println!(
                "{}: {threads} threads are {:.2}× as fast as 1",
                kernel.name(),
                best[i - 1] / best[i]
            );
        }
    }
}

fn main() {
    if std::env::var_os("TRAINING_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
