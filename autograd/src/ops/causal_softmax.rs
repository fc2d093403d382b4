//! softmax over the last axis with a causal mask: position i attends to positions ≤ i only.
//!
//! The input holds attention scores `[.., Tq, Tk]`: row i (a query) against every key j. The
//! queries are the *last* Tq of the Tk positions (Tq = Tk in training; Tq = 1 when a sampler feeds
//! one new token against a cache of Tk keys), so query i sits at position `i + (Tk − Tq)` and may
//! see the keys up to there:
//!
//! ```text
//! visible(i) = i + (Tk − Tq) + 1 keys          pᵢⱼ = e^{sᵢⱼ} / Σ_{k < visible(i)} e^{sᵢₖ}   (j < visible(i))
//!                                              pᵢⱼ = 0                                    (j ≥ visible(i))
//! ```
//!
//! **Contract.** The masked probabilities are exactly 0 (they are written, not computed as
//! `e^{−∞}`), whatever the masked scores hold, even NaN or ±∞: they are never read. Tq ≤ Tk is
//! required, so every row sees at least one key (its own position) and no row is ever fully
//! masked; the visible part is the stable softmax of [`super::softmax`], so rows are finite for
//! finite visible scores.
//!
//! Backward: on the visible part it is softmax's rule, `s̄ⱼ += pⱼ (p̄ⱼ − Σₖ p̄ₖ pₖ)`; a masked score
//! does not influence the output, so its gradient is exactly 0.

use super::softmax::{softmax_backward, softmax_forward};
use crate::float::Float;
use crate::node::Op;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// Calls `f(offset, visible)` for every row of a `[.., Tq, Tk]` tensor: the row's offset in the
/// data and how many of its leading keys are visible.
fn for_each_row(shape: &[usize], mut f: impl FnMut(usize, usize)) {
    let (tq, tk) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let matrices: usize = shape[..shape.len() - 2].iter().product();
    for m in 0..matrices {
        for i in 0..tq {
            f((m * tq + i) * tk, i + (tk - tq) + 1);
        }
    }
}

pub(crate) fn backward<T: Float>(y: &Tensor<T>, g: &Tensor<T>, sink: &mut Sink<'_, T>, x: u32) {
    if let Some(gx) = sink.grad(x) {
        let tk = y.shape[y.ndim() - 1];
        for_each_row(&y.shape, |at, visible| {
            let (yr, gr) = (&y.data[at..at + visible], &g.data[at..at + visible]);
            softmax_backward(
                yr,
                gr,
                &mut gx.data[at..at + tk][..visible],
                (1, visible, 1),
            );
        });
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// softmax over the last axis of scores `[.., Tq, Tk]` (Tq ≤ Tk) with a causal mask: query i
    /// sees keys `j ≤ i + Tk − Tq`, the others get probability exactly 0 (see the module doc
    /// for the contract). On the visible keys `∂pₖ/∂sₗ = pₖ(δₖₗ − pₗ)`; masked scores get
    /// gradient 0.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let s = tape.constant(&Tensor::from_vec(vec![5.0, f64::NAN, 0.0, 0.0], &[2, 2]));
    /// let p = s.causal_softmax().value();
    /// assert_eq!(&p.data()[..2], &[1.0, 0.0]); // row 0 sees key 0 only (the NaN is masked)
    /// assert!((p.data()[2] - 0.5).abs() < 1e-15 && p.data()[2] == p.data()[3]); // equal scores
    /// ```
    ///
    /// # Panics
    /// If the value has fewer than 2 axes or more queries than keys (Tq > Tk); the message names
    /// the shape.
    pub fn causal_softmax(self) -> Self {
        let x = self.index;
        self.tape.record(
            "causal_softmax",
            &[self],
            |v, out| {
                let xv = &v[x as usize];
                let nd = xv.ndim();
                assert!(
                    nd >= 2 && xv.shape[nd - 2] <= xv.shape[nd - 1],
                    "causal_softmax: expected scores [.., Tq, Tk] with Tq <= Tk, got shape {:?}",
                    xv.shape
                );
                let tk = xv.shape[nd - 1];
                out.resize(&xv.shape);
                for_each_row(&xv.shape, |at, visible| {
                    let (xr, yr) = (&xv.data[at..at + tk], &mut out.data[at..at + tk]);
                    softmax_forward(&xr[..visible], &mut yr[..visible], (1, visible, 1), false);
                    yr[visible..].fill(T::zero());
                });
            },
            |_, _| Op::CausalSoftmax(x),
        )
    }
}
