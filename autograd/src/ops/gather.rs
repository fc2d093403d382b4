//! gather and select: pick elements along an axis by integer index.
//!
//! For `x` of shape `[.., len, ..]` viewed as `[outer, len, inner]`, gather takes one index per
//! output position and removes the axis: `y[o, i] = x[o, idx[o·inner + i], i]`. With `x` the
//! `[batch, actions]` log-probabilities and `idx` the actions taken, `x.gather(1, &actions)` is the
//! `[batch]` vector of log π(aₜ|sₜ) that the policy-gradient loss needs.
//!
//! Backward scatters: `x̄[o, idx, i] += ȳ[o, i]`, and every other element gets nothing.

use crate::float::Float;
use crate::node::Op;
use crate::shape::{reduced_shape_into, split_at_axis};
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

pub(crate) fn backward<T: Float>(
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    x: u32,
    axis: usize,
    idx: &[usize],
) {
    if let Some(gx) = sink.grad(x) {
        let (outer, len, inner) = split_at_axis("gather", &gx.shape, axis);
        for o in 0..outer {
            for i in 0..inner {
                let k = o * inner + i;
                gx.data[(o * len + idx[k]) * inner + i] += g.data[k];
            }
        }
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Records a gather whose index for output position k is `index(k)`.
    fn gather_with(
        self,
        name: &str,
        axis: usize,
        count: Option<usize>,
        index: impl Fn(usize) -> usize,
    ) -> Self {
        let a = self.index;
        // Number of output elements, learned while computing, needed when recording.
        let outputs = std::cell::Cell::new(0);
        self.tape.record(
            name,
            &[self],
            |v, out| {
                let xv = &v[a as usize];
                let (outer, len, inner) = split_at_axis(name, &xv.shape, axis);
                if let Some(c) = count {
                    assert!(
                        c == outer * inner,
                        "{name}: expected {} indices (one per position of shape {:?} without axis {axis}), got {c}",
                        outer * inner,
                        xv.shape
                    );
                }
                outputs.set(outer * inner);
                reduced_shape_into(&xv.shape, axis, false, &mut out.shape);
                out.data.clear();
                for o in 0..outer {
                    for i in 0..inner {
                        let j = index(o * inner + i);
                        assert!(
                            j < len,
                            "{name}: index {j} is out of range for axis {axis} of length {len} (shape {:?})",
                            xv.shape
                        );
                        out.data.push(xv.data[(o * len + j) * inner + i]);
                    }
                }
            },
            |pool, _| {
                let start = pool.len() as u32;
                // One index per output element, kept for the backward scatter.
                pool.extend((0..outputs.get()).map(&index));
                Op::Gather {
                    x: a,
                    axis: axis as u32,
                    start,
                }
            },
        )
    }

    /// Picks one element per position along `axis` and removes that axis:
    /// `y[o, i] = x[o, indices[o·inner + i], i]`. For `x: [B, A]`, `x.gather(1, &idx)` with
    /// `idx.len() == B` gives `[B]` with `y[b] = x[b, idx[b]]` (log π(a|s) of the chosen actions).
    /// `∂y[o, i]/∂x[o, l, i] = 1 if l = indices[o·inner + i] else 0`.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let logits = tape.param(&Tensor::from_vec(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]));
    /// let picked = logits.gather(1, &[2, 0]);
    /// assert_eq!(picked.value().data(), &[0.3, 0.4]);
    /// let g = picked.sum().backward();
    /// assert_eq!(g[logits].data(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range, the number of indices is not the number of positions without
    /// the axis, or an index is out of range; the message names the values.
    pub fn gather(self, axis: usize, indices: &[usize]) -> Self {
        self.gather_with("gather", axis, Some(indices.len()), |k| indices[k])
    }

    /// The slice at position `index` along `axis`, with that axis removed: for `x: [B, A]`,
    /// `x.select(1, 0)` is the first column, shape `[B]`.
    /// `∂y[o, i]/∂x[o, l, i] = 1 if l = index else 0`.
    ///
    /// # Panics
    /// If `axis` or `index` is out of range.
    pub fn select(self, axis: usize, index: usize) -> Self {
        self.gather_with("select", axis, None, |_| index)
    }
}
