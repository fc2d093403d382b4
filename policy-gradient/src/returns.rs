//! Returns and advantages on plain slices: the whole-episode return, reward-to-go and GAE(λ).
//!
//! Every function here reads ONE environment's stretch of consecutive steps `0..T` (one column of a
//! rollout), so the three ways a stretch of experience can stop are visible in the arguments:
//!
//! | how step `t` ends | what follows it is worth | [`StepEnd`] |
//! |---|---|---|
//! | the episode goes on | the next step's return (or `tail_value` after the last step) | `Continues` |
//! | the task ended (pole fell, goal reached) | 0: there is no future | `Terminated` |
//! | the time limit cut it | `V(s_{t+1})` of the final observation | `Truncated { final_value }` |
//!
//! The third row and the end of the slice (a stretch *cut by the end of the batch*) both bootstrap
//! with the value function, because in both cases the episode would have gone on. Without a value
//! function, callers pass `0.0` for those values, which is the plain Monte-Carlo estimate of the
//! stretch that was seen. Treating truncation as termination (CleanRL issues #198, #457) teaches
//! the value function that the time limit is a cliff; these functions keep the cases apart.

/// How one step of a trajectory ends (see the module table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepEnd {
    /// The episode goes on after this step.
    Continues,
    /// The task ended at this step: the value of what follows is 0.
    Terminated,
    /// The time limit cut the episode at this step; `final_value` is `V(s_{t+1})` of the final
    /// observation (0 when there is no value function).
    Truncated {
        /// `V` of the observation the env returned at the truncating step.
        final_value: f32,
    },
}

impl StepEnd {
    /// Builds the end of a step from the env's two flags and the value of the final observation.
    ///
    /// Termination wins when both flags are set: the task ended, so there is nothing to bootstrap.
    pub fn from_flags(terminated: bool, truncated: bool, final_value: f32) -> Self {
        if terminated {
            StepEnd::Terminated
        } else if truncated {
            StepEnd::Truncated { final_value }
        } else {
            StepEnd::Continues
        }
    }

    /// Whether an episode boundary lies after this step.
    pub fn ends_episode(self) -> bool {
        !matches!(self, StepEnd::Continues)
    }
}

fn check_lengths(what: &str, n: usize, other: &[(&str, usize)]) {
    for (name, len) in other {
        assert_eq!(
            *len, n,
            "{what}: `{name}` has length {len}, expected {n} (the length of `rewards`)"
        );
    }
}

/// Value of what follows step `t`: `next` is the quantity one step later (the next step's return
/// or value, or `tail_value` after the last step), replaced as the episode boundary requires.
#[inline]
fn after(end: StepEnd, next: f32) -> f32 {
    match end {
        StepEnd::Continues => next,
        StepEnd::Terminated => 0.0,
        StepEnd::Truncated { final_value } => final_value,
    }
}

/// Reward-to-go, the return from step `t` onwards, written into `out`:
///
/// `G_t = r_t + γ · G_{t+1}`, where `G_{t+1}` is replaced by 0 after a termination, by
/// `V(s_{t+1})` after a truncation, and by `tail_value = V(s_T)` after the last step of the slice
/// (the stretch was cut by the end of the batch).
///
/// Used by [`crate::config::Estimator::RewardToGo`] and as the value-function target of
/// [`crate::config::Estimator::Vpg`].
///
/// ```
/// use policy_gradient::returns::{reward_to_go, StepEnd};
/// let rewards = [1.0, 1.0, 1.0];
/// let ends = [StepEnd::Continues, StepEnd::Continues, StepEnd::Terminated];
/// let mut g = [0.0; 3];
/// reward_to_go(&rewards, &ends, 0.0, 0.5, &mut g);
/// assert_eq!(g, [1.75, 1.5, 1.0]);
/// ```
pub fn reward_to_go(
    rewards: &[f32],
    ends: &[StepEnd],
    tail_value: f32,
    gamma: f32,
    out: &mut [f32],
) {
    let n = rewards.len();
    check_lengths(
        "reward_to_go",
        n,
        &[("ends", ends.len()), ("out", out.len())],
    );
    let mut next = tail_value;
    for t in (0..n).rev() {
        // G_t = r_t + γ · (what follows step t)
        let g = rewards[t] + gamma * after(ends[t], next);
        out[t] = g;
        next = g;
    }
}

/// The whole-episode return of textbook REINFORCE (Williams 1992), written into `out`: every
/// step of an episode gets the same weight, the discounted return of its episode,
///
/// `R(τ) = Σ_k γ^k r_k` summed from the first step of the episode in this slice, plus the
/// bootstrap `γ^L · V` when the episode was truncated or cut by the end of the slice.
///
/// It equals the reward-to-go at the episode's first step, which is how it is computed.
///
/// ```
/// use policy_gradient::returns::{episode_returns, StepEnd};
/// let rewards = [1.0, 2.0, 3.0, 4.0];
/// let ends = [StepEnd::Continues, StepEnd::Terminated, StepEnd::Continues, StepEnd::Terminated];
/// let mut r = [0.0; 4];
/// episode_returns(&rewards, &ends, 0.0, 1.0, &mut r);
/// assert_eq!(r, [3.0, 3.0, 7.0, 7.0]);
/// ```
pub fn episode_returns(
    rewards: &[f32],
    ends: &[StepEnd],
    tail_value: f32,
    gamma: f32,
    out: &mut [f32],
) {
    reward_to_go(rewards, ends, tail_value, gamma, out);
    // Spread each episode's first reward-to-go over the episode: walk forwards, remembering the
    // value at the start of the current episode.
    let mut start_value = None;
    for t in 0..out.len() {
        let v = *start_value.get_or_insert(out[t]);
        out[t] = v;
        if ends[t].ends_episode() {
            start_value = None;
        }
    }
}

/// Generalised advantage estimation, GAE(λ) (Schulman et al. 2016). Writes the advantages into
/// `advantages` and the λ-returns `A_t + V(s_t)` (the value-function targets) into `returns`:
///
/// `δ_t = r_t + γ V(s_{t+1}) − V(s_t)` (the one-step TD error, with `V(s_{t+1})` replaced at a
/// boundary exactly as in [`reward_to_go`]), and
/// `A_t = δ_t + γλ A_{t+1}`, where the sum restarts (`A_{t+1} = 0`) after any episode boundary.
///
/// λ = 0 gives the one-step TD advantage (low variance, biased by V's errors); λ = 1 gives the
/// reward-to-go minus V (unbiased, high variance).
///
/// ```
/// use policy_gradient::returns::{gae, StepEnd};
/// let (r, v) = ([1.0, 1.0], [0.5, 0.5]);
/// let ends = [StepEnd::Continues, StepEnd::Terminated];
/// let (mut adv, mut ret) = ([0.0; 2], [0.0; 2]);
/// gae(&r, &v, &ends, 0.0, 1.0, 1.0, &mut adv, &mut ret);
/// assert_eq!(adv, [1.5, 0.5]); // (1 + 1) - 0.5 and 1 - 0.5
/// assert_eq!(ret, [2.0, 1.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gae(
    rewards: &[f32],
    values: &[f32],
    ends: &[StepEnd],
    tail_value: f32,
    gamma: f32,
    lambda: f32,
    advantages: &mut [f32],
    returns: &mut [f32],
) {
    let n = rewards.len();
    check_lengths(
        "gae",
        n,
        &[
            ("values", values.len()),
            ("ends", ends.len()),
            ("advantages", advantages.len()),
            ("returns", returns.len()),
        ],
    );
    let mut next_value = tail_value;
    let mut next_adv = 0.0f32;
    for t in (0..n).rev() {
        let end = ends[t];
        // The next lines implement GAE-λ:
        // δ_t = r_t + γ V(s_{t+1}) − V(s_t)
        let delta = rewards[t] + gamma * after(end, next_value) - values[t];
        // A_t = δ_t + γλ A_{t+1}, with A_{t+1} = 0 across an episode boundary
        let carried = if end.ends_episode() { 0.0 } else { next_adv };
        let a = delta + gamma * lambda * carried;
        advantages[t] = a;
        returns[t] = a + values[t];
        next_adv = a;
        next_value = values[t];
    }
}

/// Normalises advantages in place to mean 0 and standard deviation 1:
/// `Â_i = (A_i − mean(A)) / (std(A) + 1e-8)` (population standard deviation).
///
/// This rescales the gradient step per batch (a per-batch learning-rate adjustment) and subtracts
/// a constant baseline; both leave the direction of the expected gradient unchanged.
/// Statistics are accumulated in f64 so that large batches do not lose precision.
///
/// ```
/// let mut a = [1.0, 2.0, 3.0];
/// policy_gradient::returns::normalize(&mut a);
/// assert!((a[0] + 1.2247).abs() < 1e-3 && a[1].abs() < 1e-6);
/// ```
pub fn normalize(values: &mut [f32]) {
    if values.is_empty() {
        return;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let denom = var.sqrt() + 1e-8;
    for x in values.iter_mut() {
        *x = ((*x as f64 - mean) / denom) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepEnd::{Continues as C, Terminated as T};
    use proptest::prelude::*;

    fn tr(v: f32) -> StepEnd {
        StepEnd::Truncated { final_value: v }
    }

    fn rtg(r: &[f32], e: &[StepEnd], tail: f32, g: f32) -> Vec<f32> {
        let mut out = vec![0.0; r.len()];
        reward_to_go(r, e, tail, g, &mut out);
        out
    }

    fn gae_v(
        r: &[f32],
        v: &[f32],
        e: &[StepEnd],
        tail: f32,
        g: f32,
        l: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        let (mut a, mut ret) = (vec![0.0; r.len()], vec![0.0; r.len()]);
        gae(r, v, e, tail, g, l, &mut a, &mut ret);
        (a, ret)
    }

    #[test]
    fn terminated_episode_bootstraps_zero() {
        // The tail value (and anything after the termination) must not leak into the episode.
        let g = rtg(&[1.0, 1.0], &[C, T], 100.0, 0.5);
        assert_eq!(g, vec![1.5, 1.0]);
        let (a, ret) = gae_v(&[1.0, 1.0], &[0.0, 0.0], &[C, T], 100.0, 0.5, 1.0);
        assert_eq!(a, vec![1.5, 1.0]);
        assert_eq!(ret, vec![1.5, 1.0]);
    }

    #[test]
    fn truncated_episode_bootstraps_final_value() {
        // Time limit after step 1: V(final obs) = 10 is added, discounted; the next episode
        // (step 2, which terminates) does not leak backwards.
        let e = [C, tr(10.0), T];
        let g = rtg(&[1.0, 1.0, 7.0], &e, 0.0, 0.5);
        assert_eq!(g, vec![1.0 + 0.5 * (1.0 + 0.5 * 10.0), 1.0 + 5.0, 7.0]);
        let v = [2.0, 3.0, 4.0];
        let (a, _) = gae_v(&[1.0, 1.0, 7.0], &v, &e, 0.0, 0.5, 1.0);
        // λ = 1: A_t = G_t − V_t.
        assert_eq!(a, vec![g[0] - 2.0, g[1] - 3.0, g[2] - 4.0]);
    }

    #[test]
    fn batch_cut_bootstraps_tail_value() {
        // The slice ends mid-episode: V(s_T) = 8 stands for the rest of the episode.
        let g = rtg(&[1.0, 1.0], &[C, C], 8.0, 0.5);
        assert_eq!(g, vec![1.0 + 0.5 * (1.0 + 0.5 * 8.0), 1.0 + 4.0]);
        let (a, ret) = gae_v(&[1.0, 1.0], &[1.0, 2.0], &[C, C], 8.0, 0.5, 0.0);
        // λ = 0: A_t = δ_t = r_t + γ V_{t+1} − V_t.
        assert_eq!(a, vec![1.0 + 0.5 * 2.0 - 1.0, 1.0 + 0.5 * 8.0 - 2.0]);
        assert_eq!(ret, vec![a[0] + 1.0, a[1] + 2.0]);
    }

    #[test]
    fn whole_episode_return_is_constant_per_episode_and_bootstraps() {
        let mut out = [0.0; 5];
        episode_returns(
            &[1.0, 1.0, 1.0, 2.0, 2.0],
            &[C, C, tr(4.0), C, C],
            6.0,
            0.5,
            &mut out,
        );
        let first = 1.0 + 0.5 * (1.0 + 0.5 * (1.0 + 0.5 * 4.0));
        let second = 2.0 + 0.5 * (2.0 + 0.5 * 6.0);
        assert_eq!(out, [first, first, first, second, second]);
    }

    #[test]
    fn from_flags_prefers_termination() {
        assert_eq!(StepEnd::from_flags(true, true, 3.0), T);
        assert_eq!(StepEnd::from_flags(false, true, 3.0), tr(3.0));
        assert_eq!(StepEnd::from_flags(false, false, 3.0), C);
    }

    #[test]
    #[should_panic(expected = "`ends` has length 1, expected 2")]
    fn length_mismatch_names_the_argument() {
        rtg(&[1.0, 2.0], &[C], 0.0, 0.9);
    }

    fn ends_strategy(n: usize) -> impl Strategy<Value = Vec<StepEnd>> {
        proptest::collection::vec(
            prop_oneof![Just(C), Just(T), (-5.0f32..5.0).prop_map(tr)],
            n,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// With λ = 1, GAE's advantage plus V is exactly the bootstrapped reward-to-go.
        #[test]
        fn gae_lambda_one_is_reward_to_go_minus_value(
            (r, v, e) in (1usize..20).prop_flat_map(|n| (
                proptest::collection::vec(-2.0f32..2.0, n),
                proptest::collection::vec(-2.0f32..2.0, n),
                ends_strategy(n))),
            tail in -3.0f32..3.0, gamma in 0.5f32..1.0,
        ) {
            let g = rtg(&r, &e, tail, gamma);
            let (a, ret) = gae_v(&r, &v, &e, tail, gamma, 1.0);
            for t in 0..r.len() {
                prop_assert!((a[t] + v[t] - g[t]).abs() < 1e-3, "t={t}: {} vs {}", a[t] + v[t], g[t]);
                prop_assert!((ret[t] - g[t]).abs() < 1e-3);
            }
        }

        /// Normalised advantages have mean 0 and standard deviation 1.
        #[test]
        fn normalize_gives_zero_mean_unit_std(mut x in proptest::collection::vec(-100.0f32..100.0, 2..64)) {
            let spread = x.iter().cloned().fold(f32::MIN, f32::max) - x.iter().cloned().fold(f32::MAX, f32::min);
            prop_assume!(spread > 1e-2);
            normalize(&mut x);
            let n = x.len() as f64;
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            prop_assert!(mean.abs() < 1e-4);
            prop_assert!((var - 1.0).abs() < 1e-3);
        }
    }
}
