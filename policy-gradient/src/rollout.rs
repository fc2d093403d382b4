//! Collecting experience: steps of every environment of a [`VecEnv`], one batched forward pass of
//! the policy per step, without a tape, until the batch is full ([`BatchSize`]): a fixed number
//! of steps per environment, or until a number of episodes have ended (whole episodes, as
//! textbook REINFORCE updates after them).
//!
//! The buffer is **time-major**: row `t·N + i` is environment `i` at step `t`. Returns and
//! advantages are computed per environment on its column (see [`Rollout::column`]), where the
//! episode boundaries of [`crate::returns`] are visible: `terminated`, `truncated` (with the final
//! observation kept for bootstrapping), and the end of the buffer (with the observation after the
//! last step kept as `tail_obs`).

use crate::episodes::EpisodeTracker;
use crate::error::{PgError, Result};
use crate::obs_norm::RunningNorm;
use crate::policy::{Actions, Policy};
use envs::{VecAction, VecEnv};
use rand::Rng;

/// When a batch is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    /// After this many steps of every environment (`steps_per_env`).
    Steps(usize),
    /// Once this many episodes have ended in the batch (`batch_episodes`), summed over the
    /// environments; with one environment the batch is exactly that many whole episodes. The
    /// other environments' episodes in progress are cut by the end of the batch, as in
    /// fixed-step batches. `max_steps` bounds the steps per environment (see
    /// [`crate::config::Config::episode_batch_max_steps`]); whole episodes under the env's time
    /// limit never reach it.
    Episodes {
        /// Episodes that end the batch.
        episodes: usize,
        /// Most steps per environment.
        max_steps: usize,
    },
}

/// One epoch of experience.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Number of environments `N`.
    pub num_envs: usize,
    /// Steps per environment `T` in the batch collected last.
    pub steps: usize,
    /// When [`collect`] ends a batch.
    pub size: BatchSize,
    /// Observation width.
    pub obs_dim: usize,
    /// Observations the policy saw (normalised when normalisation is on), `[T·N, obs_dim]`.
    pub obs: Vec<f32>,
    /// Actions taken.
    pub actions: Actions,
    /// `log π(a|s)` when the action was sampled.
    pub logp: Vec<f32>,
    /// Rewards, multiplied by the configured `reward_scale` (as f32).
    pub rewards: Vec<f32>,
    /// The task ended at this step.
    pub terminated: Vec<bool>,
    /// The time limit cut the episode at this step.
    pub truncated: Vec<bool>,
    /// Rows (`t·N + i`) of the truncated steps, in order, and their final observations.
    pub final_rows: Vec<usize>,
    /// Final observations of the truncated episodes, `[final_rows.len(), obs_dim]`.
    pub final_obs: Vec<f32>,
    /// The observation after the last step of each environment, `[N, obs_dim]`.
    pub tail_obs: Vec<f32>,
}

impl Rollout {
    /// An empty buffer shaped for `policy` on `num_envs × steps`.
    pub fn new(policy: &Policy, num_envs: usize, steps: usize, obs_dim: usize) -> Self {
        let rows = num_envs * steps;
        Self {
            num_envs,
            steps,
            size: BatchSize::Steps(steps),
            obs_dim,
            obs: Vec::with_capacity(rows * obs_dim),
            actions: Actions::empty_like(policy, rows),
            logp: Vec::with_capacity(rows),
            rewards: Vec::with_capacity(rows),
            terminated: Vec::with_capacity(rows),
            truncated: Vec::with_capacity(rows),
            final_rows: Vec::new(),
            final_obs: Vec::new(),
            tail_obs: Vec::with_capacity(num_envs * obs_dim),
        }
    }

    /// An empty buffer for `policy` whose batches end after `episodes` episodes (at most
    /// `max_steps` steps per environment); it grows as the episodes need.
    pub fn of_episodes(
        policy: &Policy,
        num_envs: usize,
        (episodes, max_steps): (usize, usize),
        obs_dim: usize,
    ) -> Self {
        Self {
            size: BatchSize::Episodes {
                episodes,
                max_steps,
            },
            ..Self::new(policy, num_envs, 0, obs_dim)
        }
    }

    /// Whether a batch of `t` steps per environment, in which `ended` episodes have ended, is full.
    fn full(&self, t: usize, ended: usize) -> bool {
        match self.size {
            BatchSize::Steps(steps) => t == steps,
            BatchSize::Episodes {
                episodes,
                max_steps,
            } => ended >= episodes || t == max_steps,
        }
    }

    /// Number of rows `T·N`.
    pub fn rows(&self) -> usize {
        self.num_envs * self.steps
    }

    /// The rows of environment `i`'s column, in time order.
    pub fn column(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.steps).map(move |t| t * self.num_envs + i)
    }

    fn clear(&mut self) {
        self.obs.clear();
        self.actions.clear();
        self.logp.clear();
        self.rewards.clear();
        self.terminated.clear();
        self.truncated.clear();
        self.final_rows.clear();
        self.final_obs.clear();
        self.tail_obs.clear();
    }
}

/// Maps raw observations to what the networks see (normalised or copied), appending to `out`.
fn see(norm: Option<&RunningNorm>, raw: &[f32], out: &mut Vec<f32>) {
    let start = out.len();
    out.extend_from_slice(raw);
    if let Some(n) = norm {
        n.normalize(raw, &mut out[start..]);
    }
}

/// Fills `buf` with steps of every environment until it is full (`buf.size`), and sets
/// `buf.steps` to the steps taken. Observation statistics (when `norm` is given) are updated
/// with each raw observation batch before it is normalised.
#[allow(clippy::too_many_arguments)]
pub fn collect<R: Rng + ?Sized>(
    env: &mut VecEnv,
    policy: &Policy,
    mut norm: Option<&mut RunningNorm>,
    rng: &mut R,
    tracker: &mut EpisodeTracker,
    buf: &mut Rollout,
    scratch: &mut Vec<f32>,
    reward_scale: f32,
) -> Result<()> {
    buf.clear();
    let (n, d) = (buf.num_envs, buf.obs_dim);
    let (mut t, mut ended) = (0, 0);
    while !buf.full(t, ended) {
        if let Some(s) = norm.as_deref_mut() {
            s.update(env.obs());
        }
        let row0 = t * n;
        see(norm.as_deref(), env.obs(), &mut buf.obs);
        let obs_rows = &buf.obs[row0 * d..];
        policy.act(
            obs_rows,
            n,
            rng,
            false,
            &mut buf.actions,
            &mut buf.logp,
            scratch,
        );
        let step = match &buf.actions {
            Actions::Discrete(a) => env.step(VecAction::Discrete(&a[row0..])),
            Actions::Continuous { dim, data } => {
                env.step(VecAction::Continuous(&data[row0 * dim..]))
            }
        };
        step.map_err(|e| PgError::Env(e.to_string()))?;
        for i in 0..n {
            let (r, term, trunc) = (env.rewards()[i], env.terminated()[i], env.truncated()[i]);
            buf.rewards.push((r * reward_scale as f64) as f32);
            buf.terminated.push(term);
            buf.truncated.push(trunc);
            tracker.step(i, r, term || trunc);
            ended += usize::from(term || trunc);
            if trunc && !term {
                let last = env
                    .final_obs(i)
                    .expect("a truncated copy keeps its final observation");
                buf.final_rows.push(row0 + i);
                see(norm.as_deref(), last, &mut buf.final_obs);
            }
        }
        t += 1;
    }
    buf.steps = t;
    see(norm.as_deref(), env.obs(), &mut buf.tail_obs);
    Ok(())
}
