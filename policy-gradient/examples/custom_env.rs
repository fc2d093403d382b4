//! Train on an environment of your own: a corridor of `LENGTH` cells, start at the left end,
//! step left or right, −1 per step until the right end (the best return is −LENGTH).
//!
//! ```text
//! cargo run --release -p policy-gradient --example custom_env
//! ```
//!
//! Three steps: implement [`envs::Env`], register a constructor (so configs, checkpoints and
//! evaluation can name the env by its id), and train with a [`Config`] naming that id.

use envs::rng::RngState;
use envs::{Action, Env, EnvError, EnvSnapshot, Space, Step, TimeLimit};
use policy_gradient::config::Config;
use policy_gradient::custom_env::register_env;
use policy_gradient::error::Result;
use policy_gradient::trainer::Trainer;

/// Cells from the start to the goal.
const LENGTH: usize = 6;

/// The corridor: where the agent stands.
#[derive(Default)]
struct Corridor {
    position: usize,
}

impl Env for Corridor {
    fn id(&self) -> &'static str {
        "Corridor-v0"
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![0.0],
            high: vec![1.0],
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 2 }
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) -> std::result::Result<(), EnvError> {
        self.position = 0;
        obs[0] = 0.0;
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> std::result::Result<Step, EnvError> {
        // Action 1 steps right, 0 steps left (the left wall stops it).
        self.position = match action {
            Action::Discrete(1) => self.position + 1,
            _ => self.position.saturating_sub(1),
        };
        obs[0] = self.position as f32 / LENGTH as f32;
        Ok(Step {
            reward: -1.0,
            terminated: self.position == LENGTH,
            truncated: false,
        })
    }
    fn render_text(&self) -> String {
        (0..=LENGTH)
            .map(|i| if i == self.position { 'A' } else { '.' })
            .collect()
    }
    fn snapshot(&self) -> EnvSnapshot {
        EnvSnapshot {
            id: self.id().into(),
            state: vec![self.position as f64],
            aux: Vec::new(),
            needs_reset: false,
            elapsed_steps: None,
            rng: RngState {
                seed: [0; 32],
                stream: 0,
                word_pos: 0,
            },
        }
    }
    fn restore(&mut self, snapshot: &EnvSnapshot) -> std::result::Result<(), EnvError> {
        self.position = snapshot.state.first().map_or(0, |&p| p as usize);
        Ok(())
    }
}

/// Registers the corridor (at most 50 steps an episode) and trains on it until the average
/// return of the last 20 episodes is at least −8; returns `(env steps, average return)` per epoch.
fn train_corridor() -> Result<Vec<(u64, f64)>> {
    let id = register_env(|| Box::new(TimeLimit::new(Corridor::default(), 50)))?;
    let config = Config {
        env_id: id.into(),
        num_envs: 4,
        steps_per_env: 64,
        total_env_steps: 50_000,
        hidden_sizes: vec![16],
        lr: 0.01,
        stop_when_solved: true,
        solved_return: -8.0,
        solved_window: 20,
        ..Config::preset("CartPole-v1")?
    };
    let mut trainer = Trainer::new(config)?;
    let mut curve = Vec::new();
    while !trainer.finished() {
        let m = trainer.epoch()?;
        curve.push((m.env_steps, m.moving_avg_return));
    }
    Ok(curve)
}

fn main() -> Result<()> {
    println!("{:>10}  {:>8}", "env steps", "return");
    for (steps, avg) in train_corridor()? {
        println!("{steps:>10}  {avg:>8.2}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::VecEnv;

    #[test]
    fn the_corridor_is_learned() {
        let curve = train_corridor().unwrap();
        let (steps, avg) = *curve.last().unwrap();
        assert!(avg >= -8.0, "average return {avg} after {steps} steps");
        assert!(steps < 50_000);
    }

    /// A corridor whose single action the categorical policy cannot choose between.
    struct OneAction(Corridor);

    impl Env for OneAction {
        fn id(&self) -> &'static str {
            "OneAction-v0"
        }
        fn observation_space(&self) -> Space {
            self.0.observation_space()
        }
        fn action_space(&self) -> Space {
            Space::Discrete { n: 1 }
        }
        fn obs_dim(&self) -> usize {
            1
        }
        fn reset(&mut self, s: Option<u64>, o: &mut [f32]) -> std::result::Result<(), EnvError> {
            self.0.reset(s, o)
        }
        fn step(&mut self, a: Action<'_>, o: &mut [f32]) -> std::result::Result<Step, EnvError> {
            self.0.step(a, o)
        }
        fn render_text(&self) -> String {
            self.0.render_text()
        }
        fn snapshot(&self) -> EnvSnapshot {
            self.0.snapshot()
        }
        fn restore(&mut self, s: &EnvSnapshot) -> std::result::Result<(), EnvError> {
            self.0.restore(s)
        }
    }

    #[test]
    fn a_space_the_policy_cannot_handle_is_refused_at_construction() {
        let env = VecEnv::from_envs(vec![Box::new(OneAction(Corridor::default()))]).unwrap();
        let config = Config {
            env_id: "OneAction-v0".into(),
            num_envs: 1,
            ..Config::preset("CartPole-v1").unwrap()
        };
        let e = Trainer::with_env(config.clone(), env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a Discrete action space of 1"), "{e}");
        let corridor = VecEnv::from_envs(vec![Box::new(Corridor::default())]).unwrap();
        let e = Trainer::with_env(config, corridor).unwrap_err().to_string();
        assert!(e.contains("`Corridor-v0`") && e.contains("env_id"), "{e}");
        let e = register_env(|| envs::make("CartPole-v1").unwrap()).unwrap_err();
        assert!(e.to_string().contains("built-in"), "{e}");
    }
}
