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
//! Run: `cargo bench -p benches --bench training -- --warm-up-time 1 --measurement-time 5`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envs::VecEnv;
use policy_gradient::config::Config;
use policy_gradient::episodes::EpisodeTracker;
use policy_gradient::rollout::{Rollout, collect};
use policy_gradient::trainer::Trainer;
use rand::SeedableRng;

fn bench_training(c: &mut Criterion) {
    let preset = Config::preset("CartPole-v1").expect("CartPole-v1 has a preset");
    let per_epoch = preset.steps_per_epoch();
    let mut g = c.benchmark_group("training/cartpole_preset");
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
criterion_main!(benches);
