//! The registry: which ids exist, with Gymnasium's time limits and reward thresholds, and
//! [`make`] to build one.

use crate::classic_control::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use crate::env::Env;
use crate::error::EnvError;
use crate::time_limit::TimeLimit;

/// Which environment type an id builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CartPole,
    Acrobot,
    MountainCar,
    MountainCarContinuous,
    Pendulum,
}

/// What the registry knows about an environment id (Gymnasium's `EnvSpec`, the fields we need).
#[derive(Debug, Clone, Copy)]
pub struct EnvSpec {
    /// The id, e.g. `"CartPole-v1"`.
    pub id: &'static str,
    /// Steps after which [`TimeLimit`] truncates an episode.
    pub max_episode_steps: u64,
    /// Average return over 100 episodes at which the task counts as solved, if Gymnasium sets one.
    pub reward_threshold: Option<f64>,
    kind: Kind,
}

fn boxed<E: Env + 'static>(env: E, limit: Option<u64>) -> Box<dyn Env> {
    match limit {
        Some(n) => Box::new(TimeLimit::new(env, n)),
        None => Box::new(env),
    }
}

impl EnvSpec {
    /// The env with its time limit: what [`make`] returns.
    pub fn make(&self) -> Box<dyn Env> {
        self.build(Some(self.max_episode_steps))
    }

    /// The env without a time limit (Gymnasium's `env.unwrapped`).
    pub fn make_unlimited(&self) -> Box<dyn Env> {
        self.build(None)
    }

    fn build(&self, limit: Option<u64>) -> Box<dyn Env> {
        match self.kind {
            Kind::CartPole => boxed(CartPole::new(self.id), limit),
            Kind::Acrobot => boxed(Acrobot::new(), limit),
            Kind::MountainCar => boxed(MountainCar::new(), limit),
            Kind::MountainCarContinuous => boxed(MountainCarContinuous::new(), limit),
            Kind::Pendulum => boxed(Pendulum::new(), limit),
        }
    }
}

const SPECS: [EnvSpec; 6] = [
    EnvSpec {
        id: "CartPole-v0",
        max_episode_steps: 200,
        reward_threshold: Some(195.0),
        kind: Kind::CartPole,
    },
    EnvSpec {
        id: "CartPole-v1",
        max_episode_steps: 500,
        reward_threshold: Some(475.0),
        kind: Kind::CartPole,
    },
    EnvSpec {
        id: "MountainCar-v0",
        max_episode_steps: 200,
        reward_threshold: Some(-110.0),
        kind: Kind::MountainCar,
    },
    EnvSpec {
        id: "MountainCarContinuous-v0",
        max_episode_steps: 999,
        reward_threshold: Some(90.0),
        kind: Kind::MountainCarContinuous,
    },
    EnvSpec {
        id: "Pendulum-v1",
        max_episode_steps: 200,
        reward_threshold: None,
        kind: Kind::Pendulum,
    },
    EnvSpec {
        id: "Acrobot-v1",
        max_episode_steps: 500,
        reward_threshold: Some(-100.0),
        kind: Kind::Acrobot,
    },
];

/// Every registered environment.
///
/// ```
/// let ids: Vec<_> = envs::specs().iter().map(|s| s.id).collect();
/// assert!(ids.contains(&"Pendulum-v1"));
/// ```
pub fn specs() -> &'static [EnvSpec] {
    &SPECS
}

/// The spec of `id`, or [`EnvError::UnknownId`] listing the known ids.
pub fn spec(id: &str) -> Result<&'static EnvSpec, EnvError> {
    SPECS
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| EnvError::UnknownId {
            id: id.to_string(),
            known: SPECS.iter().map(|s| s.id).collect(),
        })
}

/// Build a registered environment with its time limit, as `gymnasium.make(id)` does.
///
/// ```
/// let env = envs::make("MountainCar-v0").unwrap();
/// assert_eq!(env.max_episode_steps(), Some(200));
/// let err = envs::make("CartPole-v9").err().unwrap();
/// assert!(err.to_string().contains("CartPole-v1"));
/// ```
pub fn make(id: &str) -> Result<Box<dyn Env>, EnvError> {
    Ok(spec(id)?.make())
}
