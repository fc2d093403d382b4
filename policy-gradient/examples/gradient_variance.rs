//! Chapter 7 of the course (`docs/07-variance.md`): how noisy is each policy-gradient estimator?
//! Measured at one fixed CartPole-v1 policy, on the same episodes for every estimator.
//!
//! A policy gradient is estimated from a batch of episodes, so it is a random vector ĝ. All the
//! unbiased estimators below have the same expectation E[ĝ] = ∇J; they differ in how far a single
//! batch's ĝ strays from it. We measure, over K batches of 4 episodes each,
//!
//!   total variance = (1/(K−1)) Σ_k ‖ĝ_k − ḡ‖²   (the trace of ĝ's covariance matrix),
//!
//! where ḡ is the mean of the K gradients, for the weights Ψ_t each estimator puts on
//! ∇log π(a_t|s_t) in ĝ = ∇_θ (1/E) Σ_t log π_θ(a_t|s_t) Ψ_t, summed over the steps of the batch's
//! E episodes. (Dividing by E, a constant, rather than by the number of steps, which depends on the actions
//! taken, keeps a baseline's term exactly zero in expectation.)
//!
//! | estimator | Ψ_t | library function |
//! |---|---|---|
//! | whole-episode return | R(τ) = Σ_k γ^k r_k, for every step | `returns::episode_returns` |
//! | reward-to-go | G_t = Σ_{k≥t} γ^{k−t} r_k | `returns::reward_to_go` |
//! | constant baseline | G_t − b, b = the mean G_t of separate episodes | |
//! | learned baseline | G_t − V(s_t) | |
//! | GAE(0.95) | Σ_l (γλ)^l δ_{t+l}, δ_t = r_t + γV(s_{t+1}) − V(s_t) | `returns::gae` |
//!
//! The fixed policy is the `pg` CartPole preset after 20,000 env steps of training (part-way to
//! solving it, so episodes vary in length). V is a 4-64-64-1 network fitted to G_t by regression on
//! 100 separate episodes. Every batch is played once and fed to all five estimators (common random
//! numbers), so the differences between rows are not differences of luck.
//!
//! Run: `cargo run --release -p policy-gradient --example gradient_variance` (K = 300 batches;
//! COURSE_QUICK=1 sets K = 30).

use autograd::{Gradients, Tape, Tensor};
use dense::optim::{Adam, AdamConfig};
use dense::{Activation, Init, Mlp};
use envs::{Action, Env};
use policy_gradient::config::Config;
use policy_gradient::policy::categorical;
use policy_gradient::returns::{StepEnd, episode_returns, gae, reward_to_go};
use policy_gradient::trainer::Trainer;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const GAMMA: f32 = 0.99;
const LAMBDA: f32 = 0.95;
const EPISODES_PER_BATCH: usize = 4;
const NAMES: [&str; 5] = [
    "whole-episode return R(τ)",
    "reward-to-go G_t",
    "G_t − b (constant b)",
    "G_t − V(s_t)",
    "GAE(λ = 0.95)",
];

/// One episode of the fixed policy: observations, actions, rewards, how each step ended and the
/// final observation (for bootstrapping a truncated episode).
struct Episode {
    obs: Vec<f32>,
    actions: Vec<usize>,
    rewards: Vec<f32>,
    terminated: bool,
    last_obs: [f32; 4],
}

fn play(env: &mut dyn Env, policy: &Mlp, rng: &mut ChaCha8Rng) -> Episode {
    let mut obs = [0.0f32; 4];
    let mut logits = [0.0f32; 2];
    env.reset(None, &mut obs).expect("reset");
    let mut ep = Episode {
        obs: Vec::new(),
        actions: Vec::new(),
        rewards: Vec::new(),
        terminated: false,
        last_obs: obs,
    };
    loop {
        policy.infer(&obs, &mut logits);
        let (action, _) = categorical::sample(&logits, rng);
        ep.obs.extend_from_slice(&obs);
        ep.actions.push(action);
        let step = env.step(Action::Discrete(action), &mut obs).expect("step");
        ep.rewards.push(step.reward as f32);
        if step.terminated || step.truncated {
            (ep.terminated, ep.last_obs) = (step.terminated, obs);
            return ep;
        }
    }
}

fn value_of(value: &Mlp, obs: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; obs.len() / 4];
    value.infer(obs, &mut out);
    out
}

/// How each step of `ep` ends, with V(final observation) for a truncation.
fn ends(ep: &Episode, value: &Mlp) -> Vec<StepEnd> {
    let mut ends = vec![StepEnd::Continues; ep.rewards.len()];
    let final_value = value_of(value, &ep.last_obs)[0];
    ends[ep.rewards.len() - 1] = StepEnd::from_flags(ep.terminated, !ep.terminated, final_value);
    ends
}

/// The five weightings Ψ_t of one episode, in the order of `NAMES`.
fn weights(ep: &Episode, value: &Mlp, baseline: f32) -> [Vec<f32>; 5] {
    let n = ep.rewards.len();
    let with_value = ends(ep, value);
    // Without a value function a truncation cannot be bootstrapped: its future counts as 0.
    let no_value: Vec<StepEnd> = with_value
        .iter()
        .map(|e| {
            if e.ends_episode() {
                StepEnd::Terminated
            } else {
                *e
            }
        })
        .collect();
    let (mut whole, mut rtg) = (vec![0.0; n], vec![0.0; n]);
    episode_returns(&ep.rewards, &no_value, 0.0, GAMMA, &mut whole);
    reward_to_go(&ep.rewards, &no_value, 0.0, GAMMA, &mut rtg);
    let v = value_of(value, &ep.obs);
    let mut rtg_v = vec![0.0; n]; // reward-to-go bootstrapped with V at a truncation
    reward_to_go(&ep.rewards, &with_value, 0.0, GAMMA, &mut rtg_v);
    let (mut adv, mut lambda_returns) = (vec![0.0; n], vec![0.0; n]);
    gae(
        &ep.rewards,
        &v,
        &with_value,
        0.0,
        GAMMA,
        LAMBDA,
        &mut adv,
        &mut lambda_returns,
    );
    let minus_b = rtg.iter().map(|g| g - baseline).collect();
    let minus_v = rtg_v.iter().zip(&v).map(|(g, v)| g - v).collect();
    [whole, rtg, minus_b, minus_v, adv]
}

/// ĝ = ∇_θ (1/E) Σ_t log π_θ(a_t|s_t) Ψ_t over a batch of E episodes, as one flat vector.
fn gradient(
    policy: &Mlp,
    obs: &[f32],
    actions: &[usize],
    psi: &[f32],
    tape: &mut Tape<f32>,
) -> Vec<f32> {
    let n = actions.len();
    tape.reset();
    let params = policy.bind(tape);
    let logp = params
        .forward(tape.constant_from_slice(obs, &[n, 4]))
        .log_softmax(1)
        .gather(1, actions);
    let psi = tape.constant(&Tensor::from_vec(psi.to_vec(), &[n]));
    let objective = (logp * psi).sum() * (1.0 / EPISODES_PER_BATCH as f32);
    let mut grads = Gradients::new();
    objective.backward_into(&mut grads);
    let mut bufs = policy.zeros_like_params();
    params.grads_into(&grads, &mut bufs);
    bufs.iter().flat_map(|t| t.data().iter().copied()).collect()
}

/// V fitted to reward-to-go targets of `episodes` by full-batch regression (mean squared error).
fn fit_value(episodes: &[Episode], rng: &mut ChaCha8Rng) -> Mlp {
    let mut value: Mlp = Mlp::new(
        &[4, 64, 64, 1],
        Activation::Tanh,
        Activation::Identity,
        Init::Orthogonal { gain: 2f64.sqrt() },
        Init::Orthogonal { gain: 1.0 },
        rng,
    );
    let obs: Vec<f32> = episodes
        .iter()
        .flat_map(|e| e.obs.iter().copied())
        .collect();
    let mut targets = Vec::new();
    for ep in episodes {
        let mut g = vec![0.0; ep.rewards.len()];
        let mut ends = vec![StepEnd::Continues; g.len()];
        ends[g.len() - 1] = StepEnd::Terminated; // truncations are rare at this policy
        reward_to_go(&ep.rewards, &ends, 0.0, GAMMA, &mut g);
        targets.extend(g);
    }
    let n = targets.len();
    let (x, y) = (
        Tensor::from_vec(obs, &[n, 4]),
        Tensor::from_vec(targets, &[n, 1]),
    );
    let mut adam = Adam::new(AdamConfig {
        lr: 3e-3,
        ..AdamConfig::default()
    });
    let (mut tape, mut grads, mut bufs) =
        (Tape::new(), Gradients::new(), value.zeros_like_params());
    for _ in 0..600 {
        tape.reset();
        let params = value.bind(&tape);
        params
            .forward(tape.constant(&x))
            .mse(tape.constant(&y))
            .backward_into(&mut grads);
        params.grads_into(&grads, &mut bufs);
        adam.step(value.params_mut(), &bufs);
    }
    value
}

fn main() {
    let batches = if std::env::var_os("COURSE_QUICK").is_some() {
        30
    } else {
        300
    };
    let mut config = Config::preset("CartPole-v1").expect("CartPole-v1 has a preset");
    config.total_env_steps = 20_000;
    let mut trainer = Trainer::new(config).expect("a valid preset");
    while !trainer.finished() {
        trainer.epoch().expect("training epoch");
    }
    let policy = trainer.policy().net().clone();

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut env = envs::make("CartPole-v1").expect("registered");
    env.reset(Some(7), &mut [0.0; 4]).expect("reset");
    let fit: Vec<Episode> = (0..100)
        .map(|_| play(env.as_mut(), &policy, &mut rng))
        .collect();
    let value = fit_value(&fit, &mut rng);
    let fit_returns: Vec<f32> = fit
        .iter()
        .flat_map(|ep| weights(ep, &value, 0.0)[1].clone())
        .collect();
    let baseline = fit_returns.iter().sum::<f32>() / fit_returns.len() as f32;
    let mean_len = fit.iter().map(|e| e.rewards.len()).sum::<usize>() as f32 / fit.len() as f32;
    println!(
        "fixed policy: the CartPole preset after 20,000 steps; mean episode length {mean_len:.1}; b = {baseline:.2}"
    );

    let mut tape = Tape::new();
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut sq = [0.0f64; 5];
    for _ in 0..batches {
        let eps: Vec<Episode> = (0..EPISODES_PER_BATCH)
            .map(|_| play(env.as_mut(), &policy, &mut rng))
            .collect();
        let obs: Vec<f32> = eps.iter().flat_map(|e| e.obs.iter().copied()).collect();
        let actions: Vec<usize> = eps.iter().flat_map(|e| e.actions.iter().copied()).collect();
        let per_episode: Vec<[Vec<f32>; 5]> =
            eps.iter().map(|e| weights(e, &value, baseline)).collect();
        for k in 0..5 {
            let psi: Vec<f32> = per_episode
                .iter()
                .flat_map(|w| w[k].iter().copied())
                .collect();
            let g = gradient(&policy, &obs, &actions, &psi, &mut tape);
            sums[k].resize(g.len(), 0.0);
            sums[k]
                .iter_mut()
                .zip(&g)
                .for_each(|(s, &x)| *s += x as f64);
            sq[k] += g.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        }
    }
    let k = batches as f64;
    let means: Vec<Vec<f64>> = sums
        .iter()
        .map(|s| s.iter().map(|x| x / k).collect())
        .collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let variance: Vec<f64> = (0..5)
        .map(|i| (sq[i] - k * norm(&means[i]).powi(2)) / (k - 1.0))
        .collect();
    let reference = &means[3]; // the mean gradient of G_t − V(s_t)
    println!(
        "{batches} batches of {EPISODES_PER_BATCH} episodes; total variance of one batch's gradient:\n"
    );
    println!(
        "| estimator | total variance | relative to R(τ) | ‖mean gradient‖ | cosine to mean of G_t − V |"
    );
    println!("|---|---:|---:|---:|---:|");
    for i in 0..5 {
        let cosine = means[i]
            .iter()
            .zip(reference)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / (norm(&means[i]) * norm(reference));
        println!(
            "| {} | {:.3e} | {:.4} | {:.3e} | {cosine:.3} |",
            NAMES[i],
            variance[i],
            variance[i] / variance[0],
            norm(&means[i])
        );
    }
}
