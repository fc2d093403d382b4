//! Collecting experience: `steps` steps of every environment of a [`VecEnv`], one batched forward
//! pass of the policy per step, without a tape.
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

/// One epoch of experience.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Number of environments `N`.
    pub num_envs: usize,
    /// Steps per environment `T`.
    pub steps: usize,
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

/// Fills `buf` with `buf.steps` steps of every environment. Observation statistics (when `norm`
/// is given) are updated with each raw observation batch before it is normalised.
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
    for t in 0..buf.steps {
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
            if trunc && !term {
                let last = env
                    .final_obs(i)
                    .expect("a truncated copy keeps its final observation");
                buf.final_rows.push(row0 + i);
                see(norm.as_deref(), last, &mut buf.final_obs);
            }
        }
    }
    see(norm.as_deref(), env.obs(), &mut buf.tail_obs);
    Ok(())
}
