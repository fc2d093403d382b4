//! Environments of your own: register a constructor under the env's id, and everything that
//! builds environments by id (a [`Trainer`](crate::trainer::Trainer), checkpoints, evaluation)
//! finds it, exactly as it finds the built-in ones. [`Trainer::with_env`](crate::trainer::Trainer::with_env)
//! takes a ready [`VecEnv`] instead.
//!
//! The spaces a policy can handle are checked once, when the trainer is built
//! ([`check_spaces`]): a `Discrete` action space of at least 2 actions (a categorical policy) or
//! a one-dimensional `Box` of at least one component (a Gaussian policy), and observations of at
//! least one number.

use crate::error::{PgError, Result};
use crate::policy::PolicyKind;
use envs::{Env, Space, VecEnv};
use std::sync::Mutex;

/// Builds one copy of a registered environment.
pub type MakeEnv = fn() -> Box<dyn Env>;

/// The registered environments: id and constructor.
static REGISTERED: Mutex<Vec<(&'static str, MakeEnv)>> = Mutex::new(Vec::new());

/// Registers `make` under the id its environments report ([`Env::id`]) and returns that id, the
/// `env_id` a [`Config`](crate::config::Config) names it by. Registering an id again replaces
/// its constructor; the id of a built-in environment is refused.
pub fn register_env(make: MakeEnv) -> Result<&'static str> {
    let id = make().id();
    if envs::spec(id).is_ok() {
        return Err(PgError::Env(format!(
            "`{id}` is a built-in environment; give your environment another id"
        )));
    }
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    registered.retain(|(other, _)| *other != id);
    registered.push((id, make));
    Ok(id)
}

/// The constructor registered under `id`, if any.
pub fn registered(id: &str) -> Option<MakeEnv> {
    let registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    registered.iter().find(|(r, _)| *r == id).map(|(_, m)| *m)
}

/// The ids of the registered environments.
pub fn registered_ids() -> Vec<&'static str> {
    let registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    registered.iter().map(|(id, _)| *id).collect()
}

/// An environment error as a [`PgError`]: an unknown id lists the built-in and registered ids.
fn env_error(e: envs::EnvError) -> PgError {
    match e {
        envs::EnvError::UnknownId { id, known } => PgError::UnknownEnv {
            id,
            known: known
                .iter()
                .map(|s| s.to_string())
                .chain(registered_ids().into_iter().map(String::from))
                .collect(),
        },
        other => PgError::Env(other.to_string()),
    }
}

/// `n` copies of environment `id`, registered or built-in, stepped together.
pub fn make_vec_env(id: &str, n: usize) -> Result<VecEnv> {
    match registered(id) {
        Some(make) => VecEnv::from_envs((0..n).map(|_| make()).collect()).map_err(env_error),
        None => VecEnv::new(id, n).map_err(env_error),
    }
}

/// One copy of environment `id`, registered or built-in.
pub fn make_one(id: &str) -> Result<Box<dyn Env>> {
    match registered(id) {
        Some(make) => Ok(make()),
        None => envs::make(id).map_err(env_error),
    }
}

/// The policy for `env`'s spaces, or a one-line error naming the space the policy cannot handle.
pub fn check_spaces(env: &VecEnv) -> Result<PolicyKind> {
    let first = env.env(0);
    let id = first.id();
    let unsupported = |what: String| {
        PgError::Env(format!(
            "`{id}`: {what}; the policy handles Discrete action spaces of at least 2 actions, \
             one-dimensional Box action spaces, and observations of at least one number"
        ))
    };
    if env.obs_dim() == 0 {
        return Err(unsupported("observations of 0 numbers".into()));
    }
    if let Space::Box { low, .. } = first.observation_space()
        && low.len() != env.obs_dim()
    {
        return Err(unsupported(format!(
            "a Box observation space of {} components but observations of {}",
            low.len(),
            env.obs_dim()
        )));
    }
    match first.action_space() {
        Space::Discrete { n } if n >= 2 => Ok(PolicyKind::Categorical { n }),
        Space::Box { low, high } if !low.is_empty() && low.len() == high.len() => {
            Ok(PolicyKind::Gaussian { dim: low.len() })
        }
        Space::Discrete { n } => Err(unsupported(format!("a Discrete action space of {n}"))),
        Space::Box { low, high } => Err(unsupported(format!(
            "a Box action space with {} lower and {} upper bounds",
            low.len(),
            high.len()
        ))),
    }
}
