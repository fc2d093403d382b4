//! Chapter 8 of the course (`docs/08-continuous-actions.md`): the Gaussian policy for continuous
//! actions, its log σ parameter, and what clipping an action does, on Pendulum-v1.
//!
//! A continuous action is drawn as a = μ + σ·ε with ε ~ N(0, 1): μ comes from the network, σ > 0 is
//! stored as log σ (any real number is a valid log σ, and a gradient step on it scales σ by a
//! factor instead of pushing it through zero). The log-density, whose gradient REINFORCE needs, is
//!
//!   log π(a|s) = −(a − μ)²/(2σ²) − log σ − ½ log 2π,
//!   ∂/∂μ = (a − μ)/σ²,   ∂/∂log σ = (a − μ)²/σ² − 1.
//!
//! Pendulum-v1 accepts torques in [−2, 2] and clips anything outside. The policy's log-probability
//! is of the sampled, unclipped a: the clipping is part of the environment.
//!
//! Run: `cargo run --release -p policy-gradient --example gaussian_policy`

use autograd::{Tape, Tensor};
use envs::{Action, Env};
use policy_gradient::policy::gaussian;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let (mu, log_std) = (1.5f32, -0.5f32);
    let sigma = log_std.exp();
    let mut rng = ChaCha8Rng::seed_from_u64(0);

    // 1. Sampling: the sample mean and spread approach μ and σ.
    let n = 100_000;
    let mut samples = Vec::with_capacity(n);
    let mut action = [0.0f32];
    for _ in 0..n {
        gaussian::sample(&[mu], &[log_std], &mut rng, &mut action);
        samples.push(action[0] as f64);
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    let sd = (samples.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    println!(
        "1. {n} samples of N(μ = {mu}, σ = exp({log_std}) = {sigma:.4}): mean {mean:.4}, sd {sd:.4}"
    );

    // 2. The log-density and its gradients: the tape against the formulas in the module doc.
    let a = 2.3f32;
    let tape = Tape::<f32>::new();
    let mu_var = tape.param(&Tensor::from_vec(vec![mu], &[1, 1]));
    let log_std_var = tape.param(&Tensor::from_vec(vec![log_std], &[1]));
    let a_var = tape.constant(&Tensor::from_vec(vec![a], &[1, 1]));
    let logp = gaussian::log_prob(mu_var, log_std_var, a_var).sum();
    let grads = logp.backward();
    let z = (a - mu) / sigma;
    let formula = -0.5 * z * z - log_std - gaussian::HALF_LN_2PI as f32;
    println!(
        "2. at a = {a}: log π = {:.6} (formula {formula:.6})",
        logp.item()
    );
    println!(
        "   ∂log π/∂μ     = {:.6} (formula (a − μ)/σ² = {:.6})",
        grads[mu_var].item(),
        (a - mu) / (sigma * sigma)
    );
    println!(
        "   ∂log π/∂log σ = {:.6} (formula z² − 1 = {:.6})",
        grads[log_std_var].item(),
        z * z - 1.0
    );

    // 3. Clipping: how often the sample leaves [−2, 2], and that the env treats 2.3 like 2.0.
    let clipped = samples.iter().filter(|a| a.abs() > 2.0).count();
    println!(
        "3. {:.1}% of the samples lie outside Pendulum's torque range [−2, 2]",
        100.0 * clipped as f64 / n as f64
    );
    let mut env = envs::make("Pendulum-v1").expect("registered");
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(0), &mut obs).expect("reset");
    let before = env.snapshot();
    for torque in [2.3f32, 2.0, 1.7] {
        env.restore(&before).expect("restore");
        let step = env
            .step(Action::Continuous(&[torque]), &mut obs)
            .expect("step");
        println!(
            "   torque {torque}: reward {:.6}, next observation {obs:?}",
            step.reward
        );
    }
}
