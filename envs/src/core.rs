//! What every classic-control env shares besides its physics: the reset generator, the
//! "needs a reset" guard, action and buffer validation, and the common half of snapshots.

use crate::env::EnvSnapshot;
use crate::error::EnvError;
use crate::rng::ResetRng;
use crate::space::Action;

/// Reset generator plus episode status of one environment.
#[derive(Debug, Clone)]
pub struct EpisodeCore {
    /// The registry id, used in error messages.
    pub id: &'static str,
    /// Draws reset states.
    pub rng: ResetRng,
    /// `true` before the first reset and after termination.
    pub needs_reset: bool,
}

impl EpisodeCore {
    /// A core that needs a reset, with the generator seeded by [`crate::rng::DEFAULT_SEED`].
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            rng: ResetRng::default(),
            needs_reset: true,
        }
    }

    /// Reseed if a seed is given (Gymnasium's `super().reset(seed=seed)`), check the buffer, and
    /// mark the episode as running.
    pub fn begin_reset(
        &mut self,
        seed: Option<u64>,
        obs: &[f32],
        obs_dim: usize,
    ) -> Result<(), EnvError> {
        self.check_obs(obs, obs_dim)?;
        if let Some(s) = seed {
            self.rng = ResetRng::from_seed(s);
        }
        self.needs_reset = false;
        Ok(())
    }

    /// Fail unless an episode is running and `obs` has the right length.
    pub fn begin_step(&self, obs: &[f32], obs_dim: usize) -> Result<(), EnvError> {
        self.check_obs(obs, obs_dim)?;
        if self.needs_reset {
            return Err(EnvError::NeedsReset {
                env: self.id,
                reason: "before reset or after the episode terminated",
            });
        }
        Ok(())
    }

    fn check_obs(&self, obs: &[f32], obs_dim: usize) -> Result<(), EnvError> {
        if obs.len() != obs_dim {
            return Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "observation",
                got: obs.len(),
                expected: obs_dim,
            });
        }
        Ok(())
    }

    /// The index of a discrete action in `0..n`, or an error naming the action and the range.
    pub fn discrete(&self, action: Action<'_>, n: usize) -> Result<usize, EnvError> {
        match action {
            Action::Discrete(a) if a < n => Ok(a),
            Action::Discrete(a) => Err(EnvError::InvalidAction {
                env: self.id,
                action: a.to_string(),
                expected: format!("a discrete action in 0..{n}"),
            }),
            Action::Continuous(v) => Err(EnvError::InvalidAction {
                env: self.id,
                action: format!("Continuous({v:?})"),
                expected: format!("Action::Discrete(a) with a in 0..{n}"),
            }),
        }
    }

    /// The single component of a continuous action, unclipped; NaN and wrong lengths are errors.
    pub fn scalar(&self, action: Action<'_>, low: f32, high: f32) -> Result<f32, EnvError> {
        match action {
            Action::Continuous(&[u]) if !u.is_nan() => Ok(u),
            Action::Continuous(&[u]) => Err(EnvError::InvalidAction {
                env: self.id,
                action: u.to_string(),
                expected: format!("a number (clipped to [{low}, {high}])"),
            }),
            Action::Continuous(v) => Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "action",
                got: v.len(),
                expected: 1,
            }),
            Action::Discrete(a) => Err(EnvError::InvalidAction {
                env: self.id,
                action: format!("Discrete({a})"),
                expected: format!("Action::Continuous(&[u]) with u in [{low}, {high}]"),
            }),
        }
    }

    /// Check a state's length and that every component is finite.
    pub fn check_state(&self, state: &[f64], dim: usize) -> Result<(), EnvError> {
        if state.len() != dim {
            return Err(EnvError::BadBufferLength {
                env: self.id,
                buffer: "state",
                got: state.len(),
                expected: dim,
            });
        }
        if let Some((index, &value)) = state.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(EnvError::InvalidState {
                env: self.id,
                index,
                value,
                expected: "a finite number",
            });
        }
        Ok(())
    }

    /// A snapshot holding this core's part plus the env's physics (`state`, `aux`).
    pub fn snapshot(&self, state: &[f64], aux: Vec<u64>) -> EnvSnapshot {
        EnvSnapshot {
            id: self.id.to_string(),
            state: state.to_vec(),
            aux,
            needs_reset: self.needs_reset,
            elapsed_steps: None,
            rng: self.rng.state(),
        }
    }

    /// Check a snapshot's id, state length and aux length, then restore generator and status.
    pub fn restore(
        &mut self,
        s: &EnvSnapshot,
        state_dim: usize,
        aux_len: usize,
    ) -> Result<(), EnvError> {
        if s.id != self.id {
            return Err(EnvError::BadSnapshot {
                reason: format!("snapshot of {:?} cannot be restored into {}", s.id, self.id),
            });
        }
        self.check_state(&s.state, state_dim)?;
        if s.aux.len() != aux_len {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "{}: aux has {} words; expected {aux_len}",
                    self.id,
                    s.aux.len()
                ),
            });
        }
        self.rng = ResetRng::from_state(&s.rng);
        self.needs_reset = s.needs_reset;
        Ok(())
    }
}
