//! Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`.

use super::{Buf, BufMut};

/// The 2-norm of all gradients taken together: `‖g‖ = sqrt(Σ_buffers Σ_i g_i²)` (accumulated in
/// `f64`).
pub fn global_norm<G: Buf>(grads: &[G]) -> f32 {
    let sq: f64 = grads
        .iter()
        .flat_map(|g| g.values())
        .map(|&x| (x as f64) * (x as f64))
        .sum();
    sq.sqrt() as f32
}

/// Scales all gradients by `max_norm / (‖g‖ + 1e-6)` when that is below 1, so their global norm
/// becomes (just under) `max_norm`; returns the norm *before* clipping (log it: it is the best
/// early warning of a diverging run).
///
/// Same rule as PyTorch's `clip_grad_norm_`; the one difference is that the sum of squares is
/// accumulated in `f64` here (PyTorch uses the gradients' dtype), which only matters for the
/// last bits. A non-finite norm leaves the gradients untouched and is returned as is.
///
/// Panics if `max_norm` is negative or NaN.
pub fn clip_grad_norm<G: BufMut>(grads: &mut [G], max_norm: f32) -> f32 {
    assert!(
        max_norm >= 0.0,
        "clip_grad_norm: max_norm must be ≥ 0, got {max_norm}"
    );
    let norm = global_norm(grads);
    if !norm.is_finite() {
        return norm;
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            g.values_mut().iter_mut().for_each(|x| *x *= coef);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_to_max_norm_and_reports_the_original() {
        let mut g = vec![vec![3.0f32, 0.0], vec![4.0]];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(g, vec![vec![3.0 * coef, 0.0], vec![4.0 * coef]]);
        assert!((global_norm(&g) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn leaves_small_gradients_alone() {
        let mut g = vec![vec![0.3f32, 0.4]];
        assert!((clip_grad_norm(&mut g, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(g, vec![vec![0.3f32, 0.4]]);
    }
}
