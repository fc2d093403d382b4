//! Writes an animated SVG of one episode and prints its first and last text frames.
//!
//! ```text
//! cargo run -p envs --example episode_svg -- CartPole-v1 cartpole.svg [seed]
//! ```
//!
//! The policy is a fixed heuristic per env (push the cart under the pole; pump energy into the
//! swing), so the pictures show something happening.

use envs::Action;
use envs::render::EpisodeSvg;

/// A simple hand-written policy for each classic-control env.
fn heuristic(id: &str, obs: &[f32], u: &mut [f32; 1]) -> Option<usize> {
    match id {
        "CartPole-v0" | "CartPole-v1" => Some((obs[2] + 0.5 * obs[3] > 0.0) as usize),
        // Torque in the direction of the first link's angular velocity.
        "Acrobot-v1" => Some(if obs[4] > 0.0 { 2 } else { 0 }),
        // Push in the direction of motion.
        "MountainCar-v0" => Some(if obs[1] >= 0.0 { 2 } else { 0 }),
        "MountainCarContinuous-v0" => {
            u[0] = if obs[1] >= 0.0 { 1.0 } else { -1.0 };
            None
        }
        _ => {
            // Pendulum: pump energy, with the sign of the angular velocity.
            u[0] = if obs[2] >= 0.0 { 2.0 } else { -2.0 };
            None
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: episode_svg <env id> <out.svg> [seed]");
        std::process::exit(2);
    }
    let (id, path) = (&args[1], &args[2]);
    let seed = args
        .get(3)
        .map(|s| s.parse::<u64>())
        .transpose()?
        .unwrap_or(0);
    let mut env = envs::make(id)?;
    let fps = match id.as_str() {
        "CartPole-v0" | "CartPole-v1" => 50.0,
        "Acrobot-v1" => 15.0,
        _ => 30.0,
    };
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(seed), &mut obs)?;
    println!("{}", env.render_text());
    let mut movie = EpisodeSvg::new(fps);
    movie.push(&*env);
    let (mut ret, mut u) = (0.0, [0.0f32]);
    loop {
        let step = match heuristic(id, &obs, &mut u) {
            Some(a) => env.step(Action::Discrete(a), &mut obs)?,
            None => env.step(Action::Continuous(&u), &mut obs)?,
        };
        ret += step.reward;
        movie.push(&*env);
        if step.terminated || step.truncated {
            println!("{}", env.render_text());
            println!(
                "{id}: {} steps, return {ret:.2}, terminated {}, truncated {}",
                movie.len() - 1,
                step.terminated,
                step.truncated
            );
            break;
        }
    }
    std::fs::write(path, movie.finish())?;
    println!("wrote {path}");
    Ok(())
}
