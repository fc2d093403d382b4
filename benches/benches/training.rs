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
//! - `training/whole_run/PATH/Nt/cartpole_preset` and `…/cartpole_ppo`: the whole `pg train
//!   CartPole-v1` run (default preset, 300,000 steps) and `pg train CartPole-v1 --preset ppo`
//!   (100,000 steps), as the command runs it (`run::train_new_with`: run directory, metrics.csv,
//!   episodes.csv, checkpoints, the curve), at 1 thread and at every core (`1t`, `2t`, …).
//! - `training/bookkeeping/PATH/…`: the whole default-preset run three ways, to read what the
//!   callback hook and the run's records cost as ratios: `bare` (a `Trainer` and its epochs, no
//!   hook), `noop_callback` (`callback::train` with a callback that does nothing) and
//!   `managed_run` (the `pg train` run above).
//!
//! Each is measured on the AVX-512 path and again on the AVX2 path (forced with
//! `dense::Kernel::force`), where the CPU has them, with the ids suffixed `/avx512`, `/avx2fma`.
//!
//! Run: `cargo bench -p benches --bench training -- --warm-up-time 1 --measurement-time 5`.
//!
//! `TRAINING_RATIOS=1 cargo bench -p benches --bench training` instead times the whole preset
//! run (`pg train CartPole-v1`'s training: a fresh trainer until it is finished) on each kernel
//! path at 1 thread and at every core (`dense::threads::set_threads`), the four contenders
//! interleaved, best of 3 rounds, and prints env steps per second and the thread speed-up; then
//! the time to solve (the same run with `stop_when_solved = true`, seed 0: it stops when the
//! last 100 episodes average 475) on each path at 1 thread and at every core, best of 3
//! interleaved; then
//! the bookkeeping ratios (no-op callback / bare loop, managed run / bare loop) on the first
//! 50,000 steps, interleaved, best of 11 rounds, on the selected path at every core.

use benches::interleaved;
use criterion::{Criterion, Throughput, criterion_group};
use dense::Kernel;
use dense::threads::{default_threads, set_threads};
use envs::VecEnv;
use policy_gradient::callback::{self, Control};
use policy_gradient::config::Config;
use policy_gradient::episodes::EpisodeTracker;
use policy_gradient::rollout::{Rollout, collect};
use policy_gradient::run::config::RunConfig;
use policy_gradient::run::{QUIET, RunOptions, train_new_with};
use policy_gradient::trainer::Trainer;
use rand::SeedableRng;
use std::path::PathBuf;

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
        for threads in thread_counts() {
            set_threads(threads);
            bench_whole_runs(c, kernel.name(), threads);
        }
        set_threads(0);
        bench_bookkeeping(c, kernel.name());
    }
    Kernel::force(None);
}

/// 1 and every core (just 1 on a one-core machine).
fn thread_counts() -> Vec<usize> {
    let all = default_threads();
    if all > 1 { vec![1, all] } else { vec![1] }
}

/// The `ppo` preset of CartPole-v1 (`pg train CartPole-v1 --preset ppo`).
fn ppo_preset() -> Config {
    <Config as RunConfig>::preset_named("CartPole-v1", "ppo").expect("CartPole-v1 has a ppo preset")
}

/// A scratch run directory for the managed runs, removed by [`managed_run`]'s caller at the end.
fn run_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pg-bench-training-{}", std::process::id()))
}

/// The whole `pg train` run of `config` into `dir` (overwritten), quiet; returns its env steps.
fn managed_run(config: &Config, dir: &std::path::Path) -> u64 {
    let opts = RunOptions {
        force: true,
        ..QUIET
    };
    train_new_with(config.clone(), dir, &opts, &mut ())
        .expect("the preset trains")
        .env_steps
}

/// The whole runs of the default and the ppo preset, in env steps per second.
fn bench_whole_runs(c: &mut Criterion, path: &str, threads: usize) {
    let dir = run_dir();
    let mut g = c.benchmark_group(format!("training/whole_run/{path}/{threads}t"));
    g.sample_size(10);
    for (name, config) in [
        (
            "cartpole_preset",
            Config::preset("CartPole-v1").expect("preset"),
        ),
        ("cartpole_ppo", ppo_preset()),
    ] {
        g.throughput(Throughput::Elements(config.total_env_steps));
        g.bench_function(name, |b| b.iter(|| managed_run(&config, &dir)));
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

/// A bare training loop: a fresh trainer's epochs until it is finished; returns its env steps.
fn whole_run(preset: &Config) -> u64 {
    let mut t = Trainer::new(preset.clone()).expect("the preset is valid");
    while !t.finished() {
        t.epoch().expect("training stays finite");
    }
    t.env_steps()
}

/// The same run through `callback::train` with a callback that does nothing (but is not `()`,
/// so the call is a real one through a closure).
fn whole_run_noop_callback(preset: &Config) -> u64 {
    let mut t = Trainer::new(preset.clone()).expect("the preset is valid");
    let mut calls = 0u64;
    callback::train(&mut t, &mut |_: &Trainer, _: &_| {
        calls += 1;
        Ok(Control::Continue)
    })
    .expect("training stays finite");
    std::hint::black_box(calls);
    t.env_steps()
}

/// The default preset's run bare, with a no-op callback and as a managed `pg train` run.
fn bench_bookkeeping(c: &mut Criterion, path: &str) {
    let preset = Config::preset("CartPole-v1").expect("preset");
    let dir = run_dir();
    let mut g = c.benchmark_group(format!("training/bookkeeping/{path}"));
    g.sample_size(10);
    g.throughput(Throughput::Elements(preset.total_env_steps));
    g.bench_function("bare", |b| b.iter(|| whole_run(&preset)));
    g.bench_function("noop_callback", |b| {
        b.iter(|| whole_run_noop_callback(&preset))
    });
    g.bench_function("managed_run", |b| b.iter(|| managed_run(&preset, &dir)));
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
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
    let best = best_whole_runs(&preset, &contenders);
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
    time_to_solve(&preset, &contenders);
    bookkeeping_ratios(&preset);
}

/// Seconds of the whole run of `config` on each (kernel path, thread count) of `contenders`,
/// interleaved, best of 3 rounds; then gives the kernel choice and every core back.
fn best_whole_runs(config: &Config, contenders: &[(Kernel, usize)]) -> Vec<f64> {
    let mut runs: Vec<Box<dyn FnMut()>> = contenders
        .iter()
        .map(|&(kernel, threads)| {
            let config = config.clone();
            Box::new(move || {
                Kernel::force(Some(kernel));
                set_threads(threads);
                std::hint::black_box(whole_run(&config));
            }) as Box<dyn FnMut()>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut()> = runs.iter_mut().map(|f| &mut **f as _).collect();
    let best = interleaved(3, 0.1, &mut refs);
    Kernel::force(None);
    set_threads(0);
    best
}

/// The preset run with `stop_when_solved = true` on each (kernel path, thread count) of
/// `contenders`: seconds until the last 100 episodes average the solved return, and the env
/// steps that took (the same for any thread count: the run's bits do not depend on it).
fn time_to_solve(preset: &Config, contenders: &[(Kernel, usize)]) {
    let config = Config {
        stop_when_solved: true,
        ..preset.clone()
    };
    // The paths round differently, so each may solve at its own step count.
    let steps: Vec<u64> = contenders
        .iter()
        .map(|&(kernel, threads)| {
            Kernel::force(Some(kernel));
            set_threads(threads);
            whole_run(&config)
        })
        .collect();
    let best = best_whole_runs(&config, contenders);
    println!(
        "time to solve (stop_when_solved, seed {}), best of 3 interleaved rounds:",
        config.seed
    );
    for ((&(kernel, threads), t), n) in contenders.iter().zip(&best).zip(&steps) {
        println!(
            "{:>10} {threads:>8} {t:>10.3} s, solved at {n} env steps",
            kernel.name()
        );
    }
}

/// The cost of the callback hook and of a managed run's records, as time ratios to the bare
/// loop: the first 50,000 steps of the preset (25 epochs; short runs, so a loaded machine's
/// swings hit fewer of them), the three runs interleaved, best of 11 rounds, on the selected
/// path at every core. The managed run's fixed costs (run directory, config, final checkpoint
/// and curve) weigh more here than in a whole 300k-step run.
fn bookkeeping_ratios(preset: &Config) {
    let preset = &Config {
        total_env_steps: 50_000,
        ..preset.clone()
    };
    let dir = run_dir();
    let mut bare = || {
        std::hint::black_box(whole_run(preset));
    };
    let mut noop = || {
        std::hint::black_box(whole_run_noop_callback(preset));
    };
    let mut managed = || {
        std::hint::black_box(managed_run(preset, &dir));
    };
    let best = interleaved(11, 0.1, &mut [&mut bare, &mut noop, &mut managed]);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}, {} threads: no-op callback / bare loop = {:.3}; managed pg train run / bare loop = {:.3}",
        Kernel::selected().name(),
        default_threads(),
        best[1] / best[0],
        best[2] / best[0]
    );
}

fn main() {
    if std::env::var_os("TRAINING_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
