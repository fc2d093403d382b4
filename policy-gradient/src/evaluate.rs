//! Running a trained policy: whole episodes on a single environment, with the observation
//! statistics frozen as they were saved, sampling actions or taking the most likely one.

use crate::checkpoint;
use crate::error::{PgError, Result};
use crate::obs_norm::RunningNorm;
use crate::policy::{Actions, Policy};
use envs::{Action, Env};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A trained policy with the observation normalisation it was trained with.
#[derive(Clone, Debug)]
pub struct Agent {
    /// The environment id it was trained on.
    pub env_id: String,
    /// The policy.
    pub policy: Policy,
    /// Frozen observation statistics, when normalisation was on.
    pub obs_norm: Option<RunningNorm>,
    /// Environment steps it was trained for.
    pub env_steps: u64,
}

pub use crate::run::dir::resolve_checkpoint;

impl Agent {
    /// Loads the agent of a run directory or checkpoint file.
    pub fn load(path: &Path) -> Result<Agent> {
        let t = checkpoint::load(&resolve_checkpoint(path)?, None)?;
        Ok(Agent {
            env_id: t.config().env_id.clone(),
            policy: t.policy().clone(),
            obs_norm: t.obs_norm().cloned(),
            env_steps: t.env_steps(),
        })
    }

    /// Plays one episode from `reset(seed)` to termination or truncation; calls `on_step` after
    /// the reset and after every step (e.g. to record frames). Returns (return, length).
    pub fn episode(
        &self,
        env: &mut dyn Env,
        seed: u64,
        deterministic: bool,
        mut on_step: impl FnMut(&dyn Env),
    ) -> Result<(f64, u64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut raw = vec![0.0f32; env.obs_dim()];
        let mut seen = vec![0.0f32; env.obs_dim()];
        env.reset(Some(seed), &mut raw)
            .map_err(|e| PgError::Env(e.to_string()))?;
        on_step(env);
        let mut actions = Actions::empty_like(&self.policy, 1);
        let (mut logp, mut out) = (Vec::new(), Vec::new());
        let (mut ret, mut len) = (0.0, 0);
        loop {
            match &self.obs_norm {
                Some(n) => n.normalize(&raw, &mut seen),
                None => seen.copy_from_slice(&raw),
            }
            actions.clear();
            logp.clear();
            self.policy.act(
                &seen,
                1,
                &mut rng,
                deterministic,
                &mut actions,
                &mut logp,
                &mut out,
            );
            let action = match &actions {
                Actions::Discrete(a) => Action::Discrete(a[0]),
                Actions::Continuous { data, .. } => Action::Continuous(data),
            };
            let s = env
                .step(action, &mut raw)
                .map_err(|e| PgError::Env(e.to_string()))?;
            on_step(env);
            ret += s.reward;
            len += 1;
            if s.terminated || s.truncated {
                return Ok((ret, len));
            }
        }
    }
}

/// Makes one environment (with its time limit), with a clear error for an unknown id.
pub fn make_env(id: &str) -> Result<Box<dyn Env>> {
    crate::custom_env::make_one(id)
}
