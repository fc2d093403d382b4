//! Advantage estimators for sequence-level rewards: one number per sampled completion.
//!
//! In text generation the whole return arrives at the end, so every token of completion `i`
//! shares one advantage `A_i`, and the policy gradient is
//!
//! ```text
//! ∇J ≈ (1/N) Σ_i A_i Σ_t ∇ log π(y_{i,t} | prefix_{i,<t})
//! ```
//!
//! The estimators differ only in the baseline they subtract from the reward `r_i`:
//!
//! | estimator | `A_i` | function |
//! |---|---|---|
//! | REINFORCE | `r_i` | [`reinforce_advantages`] |
//! | REINFORCE, batch-mean baseline | `r_i - mean_j r_j` | [`batch_mean_advantages`] |
//! | RLOO (k samples per prompt) | `r_i - mean_{j≠i} r_j` over the prompt's group | [`rloo_advantages`] |
//! | GRPO (G samples per prompt) | `(r_i - mean_g) / (std_g + eps)` over the group | [`grpo_advantages`] |
//!
//! Group estimators expect the rewards laid out group by group: completions `g*k .. (g+1)*k` all
//! answer the same prompt. A baseline that does not depend on `y_i` leaves the gradient unbiased
//! (`E[b ∇ log π(y)] = b ∇ Σ_y π(y) = 0`); RLOO's leave-one-out mean is such a baseline. The
//! batch mean includes `r_i` itself, which scales the expected gradient by `(N-1)/N`; GRPO's
//! division by the group's spread changes the weighting of prompts (easy and hard prompts get
//! equal say) and is a choice, not an unbiased estimator.

/// REINFORCE with no baseline: `A_i = r_i`.
///
/// ```
/// use policy_gradient::lm::advantage::reinforce_advantages;
/// assert_eq!(reinforce_advantages(&[1.0, 0.0]), vec![1.0, 0.0]);
/// ```
pub fn reinforce_advantages(rewards: &[f64]) -> Vec<f64> {
    into_vec(|out| reinforce_advantages_into(rewards, out))
}

/// [`reinforce_advantages`] into `out` (replaced; its buffer reused).
pub fn reinforce_advantages_into(rewards: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.extend_from_slice(rewards);
}

/// REINFORCE with the batch-mean baseline: `A_i = r_i - (1/N) Σ_j r_j`.
///
/// ```
/// use policy_gradient::lm::advantage::batch_mean_advantages;
/// assert_eq!(batch_mean_advantages(&[1.0, 0.0, 0.0, 1.0]), vec![0.5, -0.5, -0.5, 0.5]);
/// ```
pub fn batch_mean_advantages(rewards: &[f64]) -> Vec<f64> {
    into_vec(|out| batch_mean_advantages_into(rewards, out))
}

/// [`batch_mean_advantages`] into `out` (replaced; its buffer reused).
pub fn batch_mean_advantages_into(rewards: &[f64], out: &mut Vec<f64>) {
    out.clear();
    if rewards.is_empty() {
        return;
    }
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    out.extend(rewards.iter().map(|r| r - mean));
}

/// RLOO (REINFORCE leave-one-out, Kool et al. 2019; Ahmadian et al. 2024), `k` completions per
/// prompt: `A_i = r_i - (1/(k-1)) Σ_{j in group(i), j≠i} r_j`.
///
/// Computed as `A_i = r_i - (S - r_i)/(k-1)` with `S` the group's sum, which equals
/// `k/(k-1) · (r_i - mean_group)`.
///
/// Panics unless `k >= 2` and `rewards.len()` is a multiple of `k`.
///
/// ```
/// use policy_gradient::lm::advantage::rloo_advantages;
/// // Group (1, 0, 0, 1): for i = 0 the others average 1/3, so A_0 = 2/3.
/// let a = rloo_advantages(&[1.0, 0.0, 0.0, 1.0], 4);
/// assert!((a[0] - 2.0 / 3.0).abs() < 1e-12 && (a[1] + 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn rloo_advantages(rewards: &[f64], k: usize) -> Vec<f64> {
    into_vec(|out| rloo_advantages_into(rewards, k, out))
}

/// [`rloo_advantages`] into `out` (replaced; its buffer reused).
pub fn rloo_advantages_into(rewards: &[f64], k: usize, out: &mut Vec<f64>) {
    check_groups("rloo_advantages", rewards.len(), k, 2);
    out.clear();
    for group in rewards.chunks_exact(k) {
        let sum: f64 = group.iter().sum();
        // A_i = r_i - mean of the other k-1 rewards of the group.
        out.extend(group.iter().map(|&r| r - (sum - r) / (k - 1) as f64));
    }
}

/// GRPO (Shao et al. 2024, DeepSeekMath), `g` completions per prompt:
/// `A_i = (r_i - mean_group) / (std_group + eps)`, with the sample standard deviation
/// `std = sqrt(Σ_j (r_j - mean)² / (g-1))` (as TRL and the reference implementations compute it).
///
/// A group whose rewards are all equal gets advantages of exactly 0: it carries no signal about
/// which completion was better.
///
/// Panics unless `g >= 2`, `rewards.len()` is a multiple of `g`, and `eps >= 0` (finite).
///
/// ```
/// use policy_gradient::lm::advantage::grpo_advantages;
/// // Group (1, 0, 0, 1): mean 1/2, sample std sqrt(1/3), so A = ±(1/2)/sqrt(1/3) = ±0.866.
/// let a = grpo_advantages(&[1.0, 0.0, 0.0, 1.0], 4, 0.0);
/// assert!((a[0] - 0.75f64.sqrt()).abs() < 1e-12);
/// ```
pub fn grpo_advantages(rewards: &[f64], g: usize, eps: f64) -> Vec<f64> {
    into_vec(|out| grpo_advantages_into(rewards, g, eps, out))
}

/// [`grpo_advantages`] into `out` (replaced; its buffer reused).
pub fn grpo_advantages_into(rewards: &[f64], g: usize, eps: f64, out: &mut Vec<f64>) {
    check_groups("grpo_advantages", rewards.len(), g, 2);
    assert!(
        eps >= 0.0 && eps.is_finite(),
        "grpo_advantages: eps must be finite and >= 0, got {eps}"
    );
    out.clear();
    for group in rewards.chunks_exact(g) {
        let mean = group.iter().sum::<f64>() / g as f64;
        let var = group.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (g - 1) as f64;
        let scale = var.sqrt() + eps;
        out.extend(group.iter().map(|&r| {
            let centred = r - mean;
            // A_i = (r_i - mean) / (std + eps); a flat group is 0/0 when eps = 0: call it 0.
            if centred == 0.0 { 0.0 } else { centred / scale }
        }));
    }
}

/// The vector an `_into` function fills.
fn into_vec(fill: impl FnOnce(&mut Vec<f64>)) -> Vec<f64> {
    let mut out = Vec::new();
    fill(&mut out);
    out
}

/// Panics with a message naming the function unless `size >= min` and `len` is a multiple of it.
fn check_groups(name: &str, len: usize, size: usize, min: usize) {
    assert!(
        size >= min,
        "{name}: group size must be at least {min}, got {size}"
    );
    assert!(
        len.is_multiple_of(size),
        "{name}: {len} rewards do not split into groups of {size}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn no_baseline_is_the_reward() {
        assert_eq!(reinforce_advantages(&[3.0, -1.0]), vec![3.0, -1.0]);
        assert!(reinforce_advantages(&[]).is_empty());
    }

    #[test]
    fn batch_mean_worked_example() {
        // mean(2, 4, 9) = 5.
        assert!(close(
            &batch_mean_advantages(&[2.0, 4.0, 9.0]),
            &[-3.0, -1.0, 4.0]
        ));
        assert!(batch_mean_advantages(&[]).is_empty());
    }

    #[test]
    fn rloo_worked_examples() {
        // Pairs: the other reward is the baseline.
        assert!(close(
            &rloo_advantages(&[1.0, 0.0, 1.0, 1.0], 2),
            &[1.0, -1.0, 0.0, 0.0]
        ));
        // Group of 3 (2, 4, 9): others' means are 6.5, 5.5, 3.
        assert!(close(
            &rloo_advantages(&[2.0, 4.0, 9.0], 3),
            &[-4.5, -1.5, 6.0]
        ));
    }

    #[test]
    fn rloo_is_k_over_k_minus_one_times_the_centred_reward() {
        let r = [0.3, -1.2, 2.5, 0.0, 7.0];
        let k = r.len() as f64;
        let centred = batch_mean_advantages(&r);
        let expected: Vec<f64> = centred.iter().map(|a| a * k / (k - 1.0)).collect();
        assert!(close(&rloo_advantages(&r, r.len()), &expected));
    }

    #[test]
    fn rloo_baseline_never_sees_its_own_reward() {
        // Changing r_0 leaves the baseline of completion 0 unchanged: A_0 moves by exactly the
        // change in r_0.
        let a = rloo_advantages(&[1.0, 2.0, 3.0], 3);
        let b = rloo_advantages(&[11.0, 2.0, 3.0], 3);
        assert!((b[0] - a[0] - 10.0).abs() < 1e-12);
    }

    #[test]
    fn grpo_worked_examples() {
        // Group (2, 4, 9): mean 5, squared deviations 9 + 1 + 16 = 26, sample var 13.
        let s = 13f64.sqrt();
        assert!(close(
            &grpo_advantages(&[2.0, 4.0, 9.0], 3, 0.0),
            &[-3.0 / s, -1.0 / s, 4.0 / s]
        ));
        // Two groups normalise separately; eps enters the denominator.
        let a = grpo_advantages(&[0.0, 2.0, 5.0, 5.0], 2, 0.5);
        // Group 1: mean 1, std sqrt(2), A = ±1/(sqrt(2)+0.5). Group 2: flat, A = 0.
        let d = 2f64.sqrt() + 0.5;
        assert!(close(&a, &[-1.0 / d, 1.0 / d, 0.0, 0.0]));
    }

    #[test]
    fn grpo_group_advantages_have_zero_mean_and_unit_sample_std() {
        let a = grpo_advantages(&[0.1, 0.7, -2.0, 3.3, 1.0, 0.0], 6, 0.0);
        let mean = a.iter().sum::<f64>() / 6.0;
        let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
    }

    #[test]
    fn grpo_flat_group_is_zero_without_eps() {
        assert_eq!(grpo_advantages(&[1.0, 1.0, 1.0], 3, 0.0), vec![0.0; 3]);
    }

    #[test]
    #[should_panic(expected = "rloo_advantages: 5 rewards do not split into groups of 2")]
    fn rloo_rejects_ragged_groups() {
        rloo_advantages(&[0.0; 5], 2);
    }

    #[test]
    #[should_panic(expected = "group size must be at least 2, got 1")]
    fn grpo_rejects_groups_of_one() {
        grpo_advantages(&[0.0; 4], 1, 1e-6);
    }
}
