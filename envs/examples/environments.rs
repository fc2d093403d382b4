//! Chapter 5 of the course (`docs/05-environments.md`): what an environment is, the two ways an
//! episode ends, a vector of environments with autoreset, and a new environment written from
//! scratch and passed through the env checker.
//!
//! Run: `cargo run --release -p envs --example environments`

use envs::rng::ResetRng;
use envs::{Action, Env, EnvError, EnvSnapshot, Space, Step, TimeLimit, VecAction, VecEnv};

/// A corridor of `LENGTH` cells. The agent starts in one of the first cells, moves left (action 0)
/// or right (action 1), pays −1 per step and the episode *terminates* at the last cell. The
/// observation is the position scaled to [0, 1]. Without a time limit a policy that only walks
/// left never ends; [`TimeLimit`] adds *truncation*.
struct Corridor {
    position: f64,
    needs_reset: bool,
    rng: ResetRng,
}

const LENGTH: f64 = 10.0;

impl Corridor {
    fn new() -> Self {
        Corridor {
            position: 0.0,
            needs_reset: true,
            rng: ResetRng::from_seed(envs::rng::DEFAULT_SEED),
        }
    }

    fn check_obs(&self, obs: &[f32]) -> Result<(), EnvError> {
        if obs.len() != 1 {
            return Err(EnvError::BadBufferLength {
                env: self.id(),
                buffer: "observation",
                got: obs.len(),
                expected: 1,
            });
        }
        Ok(())
    }
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
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.check_obs(obs)?;
        if let Some(seed) = seed {
            self.rng = ResetRng::from_seed(seed);
        }
        self.position = (self.rng.uniform(0.0, 4.0)).floor(); // start in cell 0, 1, 2 or 3
        self.needs_reset = false;
        obs[0] = (self.position / LENGTH) as f32;
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.check_obs(obs)?;
        if self.needs_reset {
            return Err(EnvError::NeedsReset {
                env: self.id(),
                reason: "the episode ended or never started",
            });
        }
        let direction = match action {
            Action::Discrete(0) => -1.0,
            Action::Discrete(1) => 1.0,
            other => {
                let expected = "a discrete action in 0..2".into();
                return Err(EnvError::InvalidAction {
                    env: self.id(),
                    action: format!("{other:?}"),
                    expected,
                });
            }
        };
        self.position = (self.position + direction).clamp(0.0, LENGTH);
        let terminated = self.position == LENGTH; // the task is over: nothing follows
        self.needs_reset = terminated;
        obs[0] = (self.position / LENGTH) as f32;
        Ok(Step {
            reward: -1.0,
            terminated,
            truncated: false,
        })
    }
    fn render_text(&self) -> String {
        (0..=LENGTH as usize)
            .map(|i| if i as f64 == self.position { 'A' } else { '.' })
            .collect()
    }
    fn snapshot(&self) -> EnvSnapshot {
        let state = vec![self.position];
        EnvSnapshot {
            id: self.id().into(),
            state,
            aux: vec![],
            needs_reset: self.needs_reset,
            elapsed_steps: None,
            rng: self.rng.state(),
        }
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        if s.id != self.id() || s.state.len() != 1 {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "not a {} snapshot: id {}, {} state values",
                    self.id(),
                    s.id,
                    s.state.len()
                ),
            });
        }
        (self.position, self.needs_reset, self.rng) =
            (s.state[0], s.needs_reset, ResetRng::from_state(&s.rng));
        Ok(())
    }
}

/// Plays CartPole-v1 with a fixed rule until the episode ends: (steps, terminated, truncated).
fn cartpole_episode(rule: impl Fn(&[f32]) -> usize) -> (u64, bool, bool) {
    let mut env = envs::make("CartPole-v1").expect("registered");
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(0), &mut obs).expect("reset");
    loop {
        let step = env
            .step(Action::Discrete(rule(&obs)), &mut obs)
            .expect("step");
        if step.terminated || step.truncated {
            return (
                env.elapsed_steps().unwrap_or(0),
                step.terminated,
                step.truncated,
            );
        }
    }
}

fn main() {
    println!("1. Two ways an episode of CartPole-v1 ends (observation: x, ẋ, θ, θ̇)");
    let (steps, terminated, truncated) = cartpole_episode(|_| 1);
    println!(
        "   always push right:               {steps:3} steps, terminated {terminated}, truncated {truncated}"
    );
    let (steps, terminated, truncated) = cartpole_episode(|o| (o[2] + 0.5 * o[3] > 0.0) as usize);
    println!(
        "   push toward where the pole falls: {steps:3} steps, terminated {terminated}, truncated {truncated}"
    );

    println!(
        "\n2. A new environment, Corridor-v0, with a time limit of 20 steps, through envs::check_env"
    );
    let mut env = TimeLimit::new(Corridor::new(), 20);
    envs::check_env(&mut env).expect("Corridor passes the env checker");
    println!(
        "   check_env: passed (spaces, seeding, snapshots, invalid actions, NeedsReset, rewards)"
    );
    let mut obs = [0.0f32];
    env.reset(Some(1), &mut obs).expect("reset");
    println!(
        "   {}   walking left from obs {:.1}:",
        env.render_text(),
        obs[0]
    );
    loop {
        let step = env.step(Action::Discrete(0), &mut obs).expect("step");
        if step.done() {
            let steps = env.elapsed_steps().unwrap_or(0);
            println!(
                "   {}   ended after {steps} steps: terminated {}, truncated {}",
                env.render_text(),
                step.terminated,
                step.truncated
            );
            break;
        }
    }
    println!(
        "   stepping again: {}",
        env.step(Action::Discrete(1), &mut obs).unwrap_err()
    );

    println!("\n3. Three corridors as one VecEnv, always walking right; same-step autoreset");
    let copies: Vec<Box<dyn Env>> = (0..3)
        .map(|_| Box::new(TimeLimit::new(Corridor::new(), 20)) as Box<dyn Env>)
        .collect();
    let mut vec_env = VecEnv::from_envs(copies).expect("three copies of one env");
    vec_env.reset(5); // copy i is seeded with 5 + i
    println!("   start observations {:?}", vec_env.obs());
    for t in 1..=12 {
        vec_env.step(VecAction::Discrete(&[1, 1, 1])).expect("step");
        for i in 0..3 {
            if vec_env.terminated()[i] || vec_env.truncated()[i] {
                let last = vec_env
                    .final_obs(i)
                    .expect("a finished copy keeps its final observation");
                println!(
                    "   step {t:2}: copy {i} finished (reward {}, terminated {}); final obs {last:?}, obs row now {:?} (next episode)",
                    vec_env.rewards()[i],
                    vec_env.terminated()[i],
                    &vec_env.obs()[i..i + 1]
                );
            }
        }
    }
}
