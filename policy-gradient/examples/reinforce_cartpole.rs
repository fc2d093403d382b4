//! REINFORCE on CartPole-v1 in one file, to read from top to bottom (chapter 6 of the course,
//! `docs/06-reinforce.md`). No config system, no vector env, no value network: one environment,
//! a softmax policy, whole episodes, discounted returns, one gradient step per batch of episodes.
//!
//! The policy π_θ(a|s) is a 4-64-64-2 MLP with tanh hidden layers whose two outputs are logits z;
//! `π(a|s) = softmax(z)_a`. After each batch of episodes the parameters θ take one Adam step on
//!
//!   L(θ) = −(1/N) Σ_i log π_θ(a_i|s_i) · G_i,   G_t = r_t + γ r_{t+1} + γ² r_{t+2} + …
//!
//! whose gradient is minus the REINFORCE estimate of ∇J(θ) (the policy-gradient theorem). G is
//! standardised over the batch (minus its mean, divided by its standard deviation): the mean is a
//! constant baseline and the scale a per-batch step size, so the expected direction is unchanged.
//! Training stops when the last 100 episodes average at least 475 (Gymnasium's threshold).
//!
//! Run: `cargo run --release -p policy-gradient --example reinforce_cartpole -- [--seed N]
//! [--max-episodes N]` (default 3000 episodes at most; a solving run takes under a second).

use autograd::{Gradients, Tape, Tensor};
use dense::optim::{Adam, AdamConfig};
use dense::{Activation, Init, Mlp};
use envs::{Action, Env};
use policy_gradient::{policy::categorical, returns};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

const GAMMA: f32 = 0.99; // discount γ: a reward k steps ahead counts γ^k
const LEARNING_RATE: f32 = 0.01;
const EPISODES_PER_UPDATE: usize = 4;
const SOLVED_AT: f32 = 475.0; // CartPole-v1's reward threshold, over the last 100 episodes

/// What one batch of episodes leaves behind: every step's observation, action and return G_t.
#[derive(Default)]
struct Batch {
    observations: Vec<f32>, // rows of 4: cart position and velocity, pole angle and its rate
    actions: Vec<usize>,    // 0 = push left, 1 = push right
    returns: Vec<f32>,      // G_t for each step
}

/// Plays an episode with actions sampled from π_θ into `batch`; returns its total reward.
fn play_episode(env: &mut dyn Env, policy: &Mlp, rng: &mut ChaCha8Rng, batch: &mut Batch) -> f32 {
    let mut obs = [0.0f32; 4];
    let mut logits = [0.0f32; 2];
    let mut rewards = Vec::new();
    env.reset(None, &mut obs).expect("reset");
    loop {
        policy.infer(&obs, &mut logits); // no tape: acting needs no gradients
        let (action, _log_prob) = categorical::sample(&logits, rng); // a ~ softmax(z)
        batch.observations.extend_from_slice(&obs);
        batch.actions.push(action);
        let step = env.step(Action::Discrete(action), &mut obs).expect("step");
        rewards.push(step.reward as f32);
        // Terminated (the pole fell) or truncated (500 steps): the episode is over. Without a value
        // function to estimate what truncation cut off, plain REINFORCE counts it as 0.
        if step.terminated || step.truncated {
            break;
        }
    }
    // Discounted returns, backwards: G_t = r_t + γ G_{t+1}, with G_T = 0 after the last step.
    // (The library's general version, with truncation handled, is `returns::reward_to_go`.)
    let mut returns = vec![0.0f32; rewards.len()];
    let mut g = 0.0;
    for t in (0..rewards.len()).rev() {
        g = rewards[t] + GAMMA * g;
        returns[t] = g;
    }
    batch.returns.extend_from_slice(&returns);
    rewards.iter().sum()
}

/// One gradient step on L(θ) = −mean(log π_θ(a|s) · G). Returns the loss.
fn update(policy: &mut Mlp, adam: &mut Adam, batch: &Batch, tape: &mut Tape<f32>) -> f32 {
    let n = batch.actions.len();
    tape.reset();
    let params = policy.bind(tape); // θ enters the tape; everything after it is recorded
    let obs = tape.constant_from_slice(&batch.observations, &[n, 4]);
    let log_probs = params.forward(obs).log_softmax(1).gather(1, &batch.actions); // log π(a_i|s_i)
    let weights = tape.constant(&Tensor::from_vec(batch.returns.clone(), &[n])); // G_i, fixed
    let loss = -(log_probs * weights).mean();
    let mut grads = Gradients::new();
    loss.backward_into(&mut grads); // reverse sweep: dL/dθ for every parameter
    let mut grad_bufs = policy.zeros_like_params();
    params.grads_into(&grads, &mut grad_bufs);
    let value = loss.item();
    adam.step(policy.params_mut(), &grad_bufs); // θ ← θ − Adam(dL/dθ): down L is up J
    value
}

fn main() {
    let (seed, max_episodes) = parse_args();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut env = envs::make("CartPole-v1").expect("CartPole-v1 is registered");
    env.reset(Some(seed), &mut [0.0; 4]).expect("reset"); // seeds the env's reset stream once
    let mut policy: Mlp = Mlp::new(
        &[4, 64, 64, 2],
        Activation::Tanh,
        Activation::Identity,
        Init::Orthogonal { gain: 2f64.sqrt() },
        Init::Orthogonal { gain: 0.01 }, // near-zero logits: start from a uniform policy
        &mut rng,
    );
    let mut adam = Adam::new(AdamConfig::default());
    adam.set_lr(LEARNING_RATE);
    let mut tape = Tape::new();
    let (mut episodes, mut steps) = (0usize, 0usize);
    let mut totals: Vec<f32> = Vec::new(); // each episode's undiscounted total reward
    let started = Instant::now();
    println!("seed {seed}: {EPISODES_PER_UPDATE} episodes an update, Adam lr {LEARNING_RATE}");
    while episodes < max_episodes {
        let mut batch = Batch::default();
        for _ in 0..EPISODES_PER_UPDATE {
            totals.push(play_episode(env.as_mut(), &policy, &mut rng, &mut batch));
        }
        episodes += EPISODES_PER_UPDATE;
        steps += batch.actions.len();
        returns::normalize(&mut batch.returns); // G ← (G − mean(G)) / std(G)
        let loss = update(&mut policy, &mut adam, &batch, &mut tape);
        let last_100 = &totals[totals.len().saturating_sub(100)..];
        let average = last_100.iter().sum::<f32>() / last_100.len() as f32;
        if episodes % 40 == 0 {
            println!(
                "episode {episodes:5}  steps {steps:7}  avg100 {average:6.1}  loss {loss:+.4}"
            );
        }
        if last_100.len() == 100 && average >= SOLVED_AT {
            let secs = started.elapsed().as_secs_f64();
            let at = format!("{episodes} episodes, {steps} steps, {secs:.1} s");
            println!("solved: last-100 average {average:.1} after {at}");
            return;
        }
    }
    println!("not solved within {max_episodes} episodes ({steps} steps)");
}

/// `--seed N` (default 0) and `--max-episodes N` (default 3000).
fn parse_args() -> (u64, usize) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut seed, mut max_episodes) = (0, 3000);
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1).and_then(|v| v.parse().ok())) {
            ("--seed", Some(v)) => seed = v,
            ("--max-episodes", Some(v)) => max_episodes = v as usize,
            _ => {
                eprintln!("usage: reinforce_cartpole [--seed N] [--max-episodes N], got {args:?}");
                std::process::exit(2)
            }
        }
    }
    (seed, max_episodes)
}
