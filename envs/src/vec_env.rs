//! [`VecEnv`]: N copies of one environment stepped together, with observations in one contiguous
//! row-major `[N × obs_dim]` f32 buffer.
//!
//! # Autoreset: same step
//!
//! When copy `i` terminates or is truncated during `step`, it is reset immediately, in the same
//! call (Gymnasium's `AutoresetMode.SAME_STEP`):
//!
//! * row `i` of [`VecEnv::obs`] already holds the **first observation of the next episode**;
//! * [`VecEnv::final_obs`]`(i)` returns the **last observation of the finished episode**, the one
//!   to bootstrap `V(s')` from when the episode was truncated;
//! * `rewards()[i]`, `terminated()[i]` and `truncated()[i]` describe the finished episode's last step.
//!
//! We chose same-step over Gymnasium's default next-step mode so that every call to `step` is a
//! real transition of every copy: a trainer never has to discard a dummy "reset step".
//!
//! Seeding: [`VecEnv::reset`]`(seed)` seeds copy `i` with `seed + i`; automatic resets continue
//! each copy's own generator, so a run is reproducible from its seed.

use crate::env::Env;
use crate::error::EnvError;
use crate::registry::make;
use crate::space::{Action, Space, VecAction};
use crate::vec_snapshot::VecEnvSnapshot;

/// What actions the copies take: `n` discrete choices, or vectors of length `dim`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ActionShape {
    Discrete(usize),
    Continuous(usize),
}

/// N copies of one environment with shared buffers. Stepping allocates nothing.
///
/// ```
/// use envs::{VecAction, VecEnv};
/// let mut v = VecEnv::new("CartPole-v1", 8).unwrap();
/// v.reset(0);
/// let actions = [1usize; 8];
/// for _ in 0..50 {
///     v.step(VecAction::Discrete(&actions)).unwrap();
///     for i in 0..v.num_envs() {
///         if v.terminated()[i] || v.truncated()[i] {
///             let last = v.final_obs(i).unwrap(); // bootstrap from this one
///             assert_eq!(last.len(), 4);
///         }
///     }
/// }
/// assert_eq!(v.obs().len(), 8 * 4);
/// ```
pub struct VecEnv {
    envs: Vec<Box<dyn Env>>,
    id: &'static str,
    obs_dim: usize,
    action: ActionShape,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    has_final: Vec<bool>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    needs_reset: bool,
}

impl std::fmt::Debug for VecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VecEnv")
            .field("id", &self.id)
            .field("num_envs", &self.envs.len())
            .finish()
    }
}

impl VecEnv {
    /// `n` copies of the registered env `id`, each with its time limit.
    pub fn new(id: &str, n: usize) -> Result<Self, EnvError> {
        if n == 0 {
            return Err(EnvError::EmptyVecEnv { id: id.to_string() });
        }
        let envs = (0..n).map(|_| make(id)).collect::<Result<Vec<_>, _>>()?;
        Self::from_envs(envs)
    }

    /// A vector of given envs, which must all have the same id (e.g. envs not in the registry).
    pub fn from_envs(envs: Vec<Box<dyn Env>>) -> Result<Self, EnvError> {
        let first = envs.first().ok_or_else(|| EnvError::EmptyVecEnv {
            id: "<none>".to_string(),
        })?;
        let id = first.id();
        if let Some(other) = envs.iter().find(|e| e.id() != id) {
            return Err(EnvError::MixedVecEnv {
                first: id,
                other: other.id(),
            });
        }
        let obs_dim = first.obs_dim();
        let action = match first.action_space() {
            Space::Discrete { n } => ActionShape::Discrete(n),
            Space::Box { low, .. } => ActionShape::Continuous(low.len()),
        };
        let n = envs.len();
        Ok(Self {
            envs,
            id,
            obs_dim,
            action,
            obs: vec![0.0; n * obs_dim],
            final_obs: vec![0.0; n * obs_dim],
            has_final: vec![false; n],
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            needs_reset: true,
        })
    }

    /// Reset every copy, copy `i` with seed `seed + i` (wrapping), and clear the step results.
    ///
    /// # Panics
    /// If a copy's `reset` fails. The registered envs fail only on a wrong-length observation
    /// buffer, and the rows are sized from `obs_dim`, so only an env given to
    /// [`VecEnv::from_envs`] can make this panic; the message names the copy and the error.
    pub fn reset(&mut self, seed: u64) {
        for (i, (env, row)) in self
            .envs
            .iter_mut()
            .zip(self.obs.chunks_exact_mut(self.obs_dim))
            .enumerate()
        {
            let copy_seed = seed.wrapping_add(i as u64);
            if let Err(e) = env.reset(Some(copy_seed), row) {
                panic!("VecEnv::reset: copy {i} (seed {copy_seed}) failed to reset: {e}");
            }
        }
        self.has_final.fill(false);
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        self.needs_reset = false;
    }

    /// Step every copy with its action; finished copies are reset in the same call (see the
    /// module doc). All actions are checked before any copy moves, so an error leaves the vector
    /// unchanged.
    pub fn step(&mut self, actions: VecAction<'_>) -> Result<(), EnvError> {
        if self.needs_reset {
            return Err(EnvError::NeedsReset {
                env: self.id,
                reason: "on a VecEnv before reset",
            });
        }
        self.check_actions(actions)?;
        let d = self.obs_dim;
        for i in 0..self.envs.len() {
            let action = match (actions, self.action) {
                (VecAction::Discrete(a), _) => Action::Discrete(a[i]),
                (VecAction::Continuous(a), ActionShape::Continuous(k)) => {
                    Action::Continuous(&a[i * k..(i + 1) * k])
                }
                (VecAction::Continuous(_), ActionShape::Discrete(_)) => {
                    unreachable!("checked above")
                }
            };
            let row = &mut self.obs[i * d..(i + 1) * d];
            let step = self.envs[i].step(action, row)?;
            self.rewards[i] = step.reward;
            self.terminated[i] = step.terminated;
            self.truncated[i] = step.truncated;
            self.has_final[i] = step.done();
            if step.done() {
                self.final_obs[i * d..(i + 1) * d].copy_from_slice(row);
                self.envs[i].reset(None, row)?;
            }
        }
        Ok(())
    }

    fn check_actions(&self, actions: VecAction<'_>) -> Result<(), EnvError> {
        let n = self.envs.len();
        match (actions, self.action) {
            (VecAction::Discrete(a), ActionShape::Discrete(k)) => {
                if a.len() != n {
                    return Err(EnvError::BadBufferLength {
                        env: self.id,
                        buffer: "action",
                        got: a.len(),
                        expected: n,
                    });
                }
                if let Some((i, &bad)) = a.iter().enumerate().find(|(_, x)| **x >= k) {
                    return Err(EnvError::InvalidAction {
                        env: self.id,
                        action: format!("{bad} (copy {i})"),
                        expected: format!("a discrete action in 0..{k}"),
                    });
                }
            }
            (VecAction::Continuous(a), ActionShape::Continuous(k)) => {
                if a.len() != n * k {
                    return Err(EnvError::BadBufferLength {
                        env: self.id,
                        buffer: "action",
                        got: a.len(),
                        expected: n * k,
                    });
                }
                if let Some(i) = a.iter().position(|x| x.is_nan()) {
                    let (copy, component) = (i / k, i % k);
                    let expected = match self.action_space() {
                        Space::Box { low, high } => format!(
                            "a number (clipped to [{}, {}])",
                            low[component], high[component]
                        ),
                        Space::Discrete { .. } => unreachable!("a continuous action shape"),
                    };
                    return Err(EnvError::InvalidAction {
                        env: self.id,
                        action: format!("NaN (copy {copy}, component {component})"),
                        expected,
                    });
                }
            }
            (VecAction::Continuous(_), ActionShape::Discrete(k)) => {
                return Err(EnvError::InvalidAction {
                    env: self.id,
                    action: "VecAction::Continuous".to_string(),
                    expected: format!("VecAction::Discrete with actions in 0..{k}"),
                });
            }
            (VecAction::Discrete(_), ActionShape::Continuous(_)) => {
                return Err(EnvError::InvalidAction {
                    env: self.id,
                    action: "VecAction::Discrete".to_string(),
                    expected: "VecAction::Continuous".to_string(),
                });
            }
        }
        Ok(())
    }

    /// Current observations, row-major `[num_envs × obs_dim]`.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }
    /// Rewards of the last step.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }
    /// Termination flags of the last step.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }
    /// Truncation flags of the last step.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }
    /// The last observation of the episode copy `i` finished at the last step, if it finished.
    pub fn final_obs(&self, i: usize) -> Option<&[f32]> {
        self.has_final[i].then(|| &self.final_obs[i * self.obs_dim..(i + 1) * self.obs_dim])
    }
    /// Number of copies.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }
    /// Length of one observation row.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    /// The environment id.
    pub fn id(&self) -> &'static str {
        self.id
    }
    /// The action space of one copy.
    pub fn action_space(&self) -> Space {
        self.envs[0].action_space()
    }
    /// The observation space of one copy (each row of [`VecEnv::obs`] lies in it).
    pub fn observation_space(&self) -> Space {
        self.envs[0].observation_space()
    }
    /// One copy, e.g. to render it.
    pub fn env(&self, i: usize) -> &dyn Env {
        &*self.envs[i]
    }

    /// Everything needed to continue exactly: each copy's snapshot and the observation buffer.
    pub fn snapshot(&self) -> VecEnvSnapshot {
        VecEnvSnapshot {
            envs: self.envs.iter().map(|e| e.snapshot()).collect(),
            obs: self.obs.clone(),
            needs_reset: self.needs_reset,
        }
    }

    /// Continue from a snapshot of a vector with the same id and number of copies.
    /// The per-step results (rewards, flags, final observations) are cleared.
    pub fn restore(&mut self, s: &VecEnvSnapshot) -> Result<(), EnvError> {
        if s.envs.len() != self.envs.len() || s.obs.len() != self.obs.len() {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "snapshot holds {} copies and {} observation values; this VecEnv has {} copies of {} values",
                    s.envs.len(),
                    s.obs.len(),
                    self.envs.len(),
                    self.obs_dim
                ),
            });
        }
        // Check every id first so that a bad snapshot leaves the vector unchanged.
        if let Some(bad) = s.envs.iter().find(|e| e.id != self.id) {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "snapshot of {:?} cannot be restored into {}",
                    bad.id, self.id
                ),
            });
        }
        for (env, snap) in self.envs.iter_mut().zip(&s.envs) {
            env.restore(snap)?;
        }
        self.obs.copy_from_slice(&s.obs);
        self.needs_reset = s.needs_reset;
        self.has_final.fill(false);
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        Ok(())
    }
}
