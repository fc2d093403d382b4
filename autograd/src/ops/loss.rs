//! Loss conveniences built from the other ops.

use crate::float::Float;
use crate::var::Var;

impl<'t, T: Float> Var<'t, T> {
    /// Mean squared error `mean((self − target)²)`, shape `[]`. Recorded as three nodes
    /// (sub, square, mean), so its gradient is theirs: ∂/∂selfᵢ = 2 (selfᵢ − targetᵢ) / n.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let p = tape.param(&Tensor::from_vec(vec![1.0, 3.0], &[2]));
    /// let t = tape.constant(&Tensor::from_vec(vec![0.0, 1.0], &[2]));
    /// let loss = p.mse(t);
    /// assert_eq!(loss.item(), 2.5); // (1 + 4) / 2
    /// assert_eq!(loss.backward()[p].data(), &[1.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes differ; the message names both.
    pub fn mse(self, target: Self) -> Self {
        let same = self.with_value(|a| target.with_value(|b| a.shape() == b.shape()));
        assert!(
            same,
            "mse: prediction shape {:?} and target shape {:?} differ",
            self.shape(),
            target.shape()
        );
        (self - target).square().mean()
    }
}
