//! From a rollout to the weights of `∇ log π`: runs the configured [`Estimator`] on each
//! environment's column of the rollout, with the episode boundaries made explicit.
//!
//! | estimator | weight `Ψ_t` of `∇ log π(a_t|s_t)` | value target |
//! |---|---|---|
//! | `reinforce` | `R(τ)`, the whole episode's return ([`returns::episode_returns`]) | – |
//! | `reward_to_go` | `G_t = Σ_{k≥t} γ^{k−t} r_k` ([`returns::reward_to_go`]) | – |
//! | `vpg` | `G_t − V(s_t)` | `G_t` |
//! | `gae` | `A_t^{GAE(γ,λ)}` ([`returns::gae`]) | `A_t + V(s_t)` |
//!
//! Without a value function, truncated and cut episodes bootstrap with 0 (the plain Monte-Carlo
//! return of what was seen); with one, they bootstrap with `V` of the final observation or of the
//! observation after the last step.

use crate::config::Estimator;
use crate::returns::{self, StepEnd};
use crate::rollout::Rollout;

/// `V` at every place a value is needed, as the value network predicted it before the update.
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    /// `V(s)` of each rollout row.
    pub rows: &'a [f32],
    /// `V` of the observation after each environment's last step (`[N]`).
    pub tail: &'a [f32],
    /// `V` of each truncated episode's final observation, in `Rollout::final_rows` order.
    pub finals: &'a [f32],
}

/// Reusable per-column buffers.
#[derive(Clone, Debug, Default)]
pub struct EstimateScratch {
    rewards: Vec<f32>,
    values: Vec<f32>,
    ends: Vec<StepEnd>,
    adv: Vec<f32>,
    ret: Vec<f32>,
}

/// Writes the weight `Ψ` of every row into `weights` and, when there is a value function, its
/// regression target into `targets` (both in row order). `values` must be `Some` exactly when
/// the estimator uses a value function.
#[allow(clippy::too_many_arguments)]
pub fn estimate(
    estimator: Estimator,
    rollout: &Rollout,
    values: Option<Values<'_>>,
    gamma: f32,
    lambda: f32,
    weights: &mut Vec<f32>,
    targets: &mut Vec<f32>,
    s: &mut EstimateScratch,
) {
    assert_eq!(
        values.is_some(),
        estimator.uses_value_function(),
        "estimate: values must be given exactly when {estimator:?} uses a value function"
    );
    let rows = rollout.rows();
    weights.clear();
    weights.resize(rows, 0.0);
    targets.clear();
    if values.is_some() {
        targets.resize(rows, 0.0);
    }
    let mut final_index = 0;
    let value_of_final = |k: usize| values.map_or(0.0, |v| v.finals[k]);
    for i in 0..rollout.num_envs {
        s.rewards.clear();
        s.values.clear();
        s.ends.clear();
        for row in rollout.column(i) {
            s.rewards.push(rollout.rewards[row]);
            s.values.push(values.map_or(0.0, |v| v.rows[row]));
            let final_value = if rollout.truncated[row] && !rollout.terminated[row] {
                // final_rows is in row order, i.e. time-major; look this row up.
                let k = rollout
                    .final_rows
                    .iter()
                    .position(|&r| r == row)
                    .expect("truncated rows are recorded");
                final_index += 1;
                value_of_final(k)
            } else {
                0.0
            };
            s.ends.push(StepEnd::from_flags(
                rollout.terminated[row],
                rollout.truncated[row],
                final_value,
            ));
        }
        let tail = values.map_or(0.0, |v| v.tail[i]);
        let t = rollout.steps;
        s.adv.resize(t, 0.0);
        s.ret.resize(t, 0.0);
        match estimator {
            Estimator::Reinforce => {
                returns::episode_returns(&s.rewards, &s.ends, tail, gamma, &mut s.adv)
            }
            Estimator::RewardToGo => {
                returns::reward_to_go(&s.rewards, &s.ends, tail, gamma, &mut s.adv)
            }
            Estimator::Vpg => {
                // Target G_t; weight G_t − V(s_t) (the baseline subtracts, the gradient stays unbiased).
                returns::reward_to_go(&s.rewards, &s.ends, tail, gamma, &mut s.ret);
                for k in 0..t {
                    s.adv[k] = s.ret[k] - s.values[k];
                }
            }
            Estimator::Gae => returns::gae(
                &s.rewards, &s.values, &s.ends, tail, gamma, lambda, &mut s.adv, &mut s.ret,
            ),
        }
        for (k, row) in rollout.column(i).enumerate() {
            weights[row] = s.adv[k];
            if values.is_some() {
                targets[row] = s.ret[k];
            }
        }
    }
    debug_assert_eq!(final_index, rollout.final_rows.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Actions;

    /// Two environments × three steps, time-major. Env 0 terminates at t = 1; env 1 is truncated
    /// at t = 0 and its column is cut by the end of the batch.
    fn rollout() -> Rollout {
        Rollout {
            num_envs: 2,
            steps: 3,
            size: crate::rollout::BatchSize::Steps(3),
            obs_dim: 1,
            obs: vec![0.0; 6],
            actions: Actions::Discrete(vec![0; 6]),
            logp: vec![0.0; 6],
            //           t=0 (e0, e1)  t=1        t=2
            rewards: vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            terminated: vec![false, false, true, false, false, false],
            truncated: vec![false, true, false, false, false, false],
            final_rows: vec![1],
            final_obs: vec![0.0],
            tail_obs: vec![0.0; 2],
        }
    }

    #[test]
    fn each_column_sees_its_own_boundaries() {
        let ro = rollout();
        let v = Values {
            rows: &[0.5, 0.25, 0.5, 0.25, 0.5, 0.25],
            tail: &[3.0, 5.0],
            finals: &[7.0],
        };
        let (mut w, mut y, mut s) = (Vec::new(), Vec::new(), EstimateScratch::default());
        estimate(
            Estimator::Vpg,
            &ro,
            Some(v),
            0.5,
            1.0,
            &mut w,
            &mut y,
            &mut s,
        );
        // Env 0: G = [1 + .5·1, 1 (terminated), 1 + .5·3 (tail)].
        // Env 1: G = [2 + .5·7 (truncated, V(final) = 7), 2 + .5·(2 + .5·5), 2 + .5·5].
        let g0 = [1.5, 1.0, 2.5];
        let g1 = [5.5, 2.0 + 0.5 * 4.5, 4.5];
        assert_eq!(y, vec![g0[0], g1[0], g0[1], g1[1], g0[2], g1[2]]);
        for (row, (&wi, &yi)) in w.iter().zip(&y).enumerate() {
            assert_eq!(wi, yi - v.rows[row], "row {row}");
        }
        // Without a value function every bootstrap is 0.
        estimate(
            Estimator::RewardToGo,
            &ro,
            None,
            0.5,
            1.0,
            &mut w,
            &mut y,
            &mut s,
        );
        assert_eq!(w, vec![1.5, 2.0, 1.0, 3.0, 1.0, 2.0]);
        assert!(y.is_empty());
    }
}
