//! The Bradley–Terry loss: how a scalar score learns from "A is better than B".
//!
//! Bradley and Terry (1952) model the chance that a rater prefers `a` to `b` as a logistic
//! function of the difference of two hidden scores, `P(a ≻ b) = σ(r(a) − r(b))`. Fitting the
//! scores by maximum likelihood on observed preferences (chosen `c`, rejected `j`) minimises
//!
//! ```text
//! L = −log σ(r_c − r_j) = log(1 + e^{r_j − r_c}) = softplus(r_j − r_c)
//! ∂L/∂r_c = −σ(r_j − r_c)        ∂L/∂r_j = +σ(r_j − r_c)
//! ```
//!
//! The gradient pushes the chosen score up and the rejected one down, by the model's current
//! probability of getting the pair wrong: a pair already ranked with confidence teaches little.
//! Only differences matter, so adding a constant to every score changes nothing.

use autograd::{Float, Var};

/// `L = softplus(r_j − r_c)` for one pair, in plain numbers (stable for any difference).
///
/// ```
/// use policy_gradient::lm::reward::loss::pair_loss;
/// assert!((pair_loss(1.0, 1.0) - 2f64.ln()).abs() < 1e-12); // equal scores: a coin flip
/// assert!(pair_loss(10.0, 0.0) < 1e-4); // ranked right with confidence
/// ```
pub fn pair_loss(chosen: f64, rejected: f64) -> f64 {
    let x = rejected - chosen;
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `(∂L/∂r_c, ∂L/∂r_j) = (−σ(r_j − r_c), σ(r_j − r_c))` of [`pair_loss`].
pub fn pair_loss_grad(chosen: f64, rejected: f64) -> (f64, f64) {
    let p_wrong = 1.0 / (1.0 + (chosen - rejected).exp());
    (-p_wrong, p_wrong)
}

/// The mean Bradley–Terry loss over `P` pairs whose scores are laid out pair by pair,
/// `[r_c0, r_j0, r_c1, r_j1, …]` (`scores` has `2P` elements): `(1/P) Σ_p softplus(r_jp − r_cp)`.
///
/// # Panics
/// If `scores` has an odd number of elements.
pub fn bradley_terry_loss<'t, T: Float>(scores: Var<'t, T>) -> Var<'t, T> {
    let n = scores.numel();
    assert!(
        n > 0 && n.is_multiple_of(2),
        "bradley_terry_loss: {n} scores do not form pairs"
    );
    let pairs = scores.reshape(&[n / 2, 2]);
    let chosen = pairs.gather(1, &vec![0; n / 2]);
    let rejected = pairs.gather(1, &vec![1; n / 2]);
    (rejected - chosen).softplus().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::{Tape, Tensor};

    #[test]
    fn hand_worked_pairs() {
        // r_c − r_j = ln 3: σ(ln 3) = 3/4 of ranking it right, L = ln(4/3), ∂L/∂r_c = −1/4.
        let (c, j) = (3f64.ln() + 0.5, 0.5);
        assert!((pair_loss(c, j) - (4.0f64 / 3.0).ln()).abs() < 1e-12);
        let (gc, gj) = pair_loss_grad(c, j);
        assert!((gc + 0.25).abs() < 1e-12 && (gj - 0.25).abs() < 1e-12);
        // Ranked the wrong way round by ln 3: L = ln 4, ∂L/∂r_c = −3/4.
        assert!((pair_loss(j, c) - 4f64.ln()).abs() < 1e-12);
        assert!((pair_loss_grad(j, c).0 + 0.75).abs() < 1e-12);
        // Equal scores: ln 2 and ∓1/2.
        assert_eq!(pair_loss_grad(2.0, 2.0), (-0.5, 0.5));
        // No overflow far out: L ≈ r_j − r_c when that is large.
        assert!((pair_loss(-800.0, 0.0) - 800.0).abs() < 1e-9);
        assert_eq!(pair_loss(800.0, 0.0), 0.0);
    }

    #[test]
    fn the_tape_loss_is_the_mean_of_the_pairs_with_their_gradients() {
        let r = [3f64.ln() + 0.5, 0.5, 2.0, 2.0];
        let tape = Tape::<f64>::new();
        let v = tape.param(&Tensor::from_vec(r.to_vec(), &[4]));
        let loss = bradley_terry_loss(v);
        let want = (pair_loss(r[0], r[1]) + pair_loss(r[2], r[3])) / 2.0;
        assert!((loss.item() - want).abs() < 1e-12);
        let g = loss.backward()[v].data().to_vec();
        // The mean over 2 pairs halves each pair's gradient.
        let want = [-0.125, 0.125, -0.25, 0.25];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{g:?}");
        }
    }

    #[test]
    fn the_loss_ignores_a_common_shift() {
        let tape = Tape::<f64>::new();
        let a = bradley_terry_loss(tape.constant(&Tensor::from_vec(vec![1.0, -2.0], &[2])));
        let b = bradley_terry_loss(tape.constant(&Tensor::from_vec(vec![11.0, 8.0], &[2])));
        assert!((a.item() - b.item()).abs() < 1e-12);
    }

    #[test]
    #[should_panic(expected = "3 scores do not form pairs")]
    fn scores_come_in_pairs() {
        let tape = Tape::<f64>::new();
        bradley_terry_loss(tape.constant(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])));
    }
}
