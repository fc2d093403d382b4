//! Reductions: sum and mean of all elements, and ops along one axis (sum, mean, max, and the
//! softmax family from [`super::softmax`]).
//!
//! An axis op views its input of shape `[.., len, ..]` as `[outer, len, inner]` (see
//! `split_at_axis`): element `(o, l, i)` sits at `(o·len + l)·inner + i`, and the reduced output
//! element `(o, i)` at `o·inner + i`. `keepdim` only changes the output's shape (a 1 instead of
//! no axis); the data layout is the same, so backward does not need to know it.

use super::softmax;
use crate::float::Float;
use crate::node::{AxisOp, Op};
use crate::shape::{reduced_shape_into, split_at_axis};
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// y = Σ x (or the mean); backward x̄ += ȳ (or ȳ/n) everywhere.
pub(crate) fn sum_all_backward<T: Float>(
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    a: u32,
    mean: bool,
) {
    if let Some(ga) = sink.grad(a) {
        let n = ga.numel();
        let gv = if mean {
            g.data[0] / T::from_usize(n)
        } else {
            g.data[0]
        };
        for d in ga.data.iter_mut() {
            *d += gv;
        }
    }
}

/// y[o, i] = Σₗ x[o, l, i] (÷ len for the mean).
fn sum_axis_forward<T: Float>(
    x: &[T],
    y: &mut [T],
    (outer, len, inner): (usize, usize, usize),
    mean: bool,
) {
    y.fill(T::zero());
    for o in 0..outer {
        let yo = &mut y[o * inner..(o + 1) * inner];
        for l in 0..len {
            for (yi, &xi) in yo
                .iter_mut()
                .zip(&x[(o * len + l) * inner..(o * len + l + 1) * inner])
            {
                *yi += xi;
            }
        }
    }
    if mean {
        let s = T::one() / T::from_usize(len);
        for v in y.iter_mut() {
            *v *= s;
        }
    }
}

/// y[o, i] = maxₗ x[o, l, i].
fn max_axis_forward<T: Float>(x: &[T], y: &mut [T], (outer, len, inner): (usize, usize, usize)) {
    for o in 0..outer {
        for i in 0..inner {
            let mut m = T::NEG_INFINITY;
            for l in 0..len {
                let v = x[(o * len + l) * inner + i];
                if v > m {
                    m = v;
                }
            }
            y[o * inner + i] = m;
        }
    }
}

pub(crate) fn axis_backward<T: Float>(
    kind: AxisOp,
    x: &Tensor<T>,
    y: &Tensor<T>,
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    a: u32,
    axis: usize,
) {
    let Some(gx) = sink.grad(a) else { return };
    let dims = split_at_axis(kind.name(), &x.shape, axis);
    let (outer, len, inner) = dims;
    match kind {
        // x̄[o, l, i] += ȳ[o, i] (÷ len for the mean): every summand gets the output's gradient.
        AxisOp::Sum | AxisOp::Mean => {
            let s = if kind == AxisOp::Mean {
                T::one() / T::from_usize(len)
            } else {
                T::one()
            };
            for o in 0..outer {
                for l in 0..len {
                    let row = &mut gx.data[(o * len + l) * inner..(o * len + l + 1) * inner];
                    for (d, &gv) in row.iter_mut().zip(&g.data[o * inner..(o + 1) * inner]) {
                        *d += gv * s;
                    }
                }
            }
        }
        // The gradient flows to the first position holding the maximum (found again from x and y,
        // so the forward pass records nothing extra).
        AxisOp::Max => {
            for o in 0..outer {
                for i in 0..inner {
                    let m = y.data[o * inner + i];
                    if let Some(l) = (0..len).find(|&l| x.data[(o * len + l) * inner + i] == m) {
                        gx.data[(o * len + l) * inner + i] += g.data[o * inner + i];
                    }
                }
            }
        }
        AxisOp::LogSumExp => {
            softmax::logsumexp_backward(&x.data, &y.data, &g.data, &mut gx.data, dims)
        }
        AxisOp::Softmax => softmax::softmax_backward(&y.data, &g.data, &mut gx.data, dims),
        AxisOp::LogSoftmax => softmax::log_softmax_backward(&y.data, &g.data, &mut gx.data, dims),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Records the axis op `kind` along `axis`; a reducing op removes the axis, or keeps it with
    /// length 1 when `keepdim` (softmax and log_softmax keep the shape and ignore `keepdim`).
    pub(crate) fn axis_op(self, kind: AxisOp, axis: usize, keepdim: bool) -> Self {
        let a = self.index;
        self.tape.record(
            kind.name(),
            &[self],
            |v, out| {
                let x = &v[a as usize];
                let dims = split_at_axis(kind.name(), &x.shape, axis);
                match kind {
                    AxisOp::Softmax | AxisOp::LogSoftmax => out.resize(&x.shape),
                    _ => {
                        reduced_shape_into(&x.shape, axis, keepdim, &mut out.shape);
                        out.data.resize(dims.0 * dims.2, T::zero());
                    }
                }
                match kind {
                    AxisOp::Sum => sum_axis_forward(&x.data, &mut out.data, dims, false),
                    AxisOp::Mean => sum_axis_forward(&x.data, &mut out.data, dims, true),
                    AxisOp::Max => max_axis_forward(&x.data, &mut out.data, dims),
                    AxisOp::LogSumExp => softmax::logsumexp_forward(&x.data, &mut out.data, dims),
                    AxisOp::Softmax => {
                        softmax::softmax_forward(&x.data, &mut out.data, dims, false)
                    }
                    AxisOp::LogSoftmax => {
                        softmax::softmax_forward(&x.data, &mut out.data, dims, true)
                    }
                }
            },
            |_, _| Op::Axis(kind, a, axis as u32),
        )
    }

    /// Records a reduction to shape `[]`.
    fn reduce_all(self, mean: bool) -> Self {
        let a = self.index;
        self.tape.record(
            if mean { "mean" } else { "sum" },
            &[self],
            |v, out| {
                let x = &v[a as usize];
                let mut s = T::zero();
                for &xi in &x.data {
                    s += xi;
                }
                if mean {
                    s /= T::from_usize(x.numel());
                }
                out.resize(&[]);
                out.data[0] = s;
            },
            |_, _| if mean { Op::MeanAll(a) } else { Op::SumAll(a) },
        )
    }

    /// Σ of all elements, shape `[]`. ∂y/∂xᵢ = 1.
    pub fn sum(self) -> Self {
        self.reduce_all(false)
    }

    /// Mean of all elements, shape `[]`. ∂y/∂xᵢ = 1/n. (The mean of no elements is NaN.)
    pub fn mean(self) -> Self {
        self.reduce_all(true)
    }

    /// Σ along `axis`; the axis is removed, or kept with length 1 when `keepdim`.
    /// ∂y[o, i]/∂x[o, l, i] = 1.
    ///
    /// # Panics
    /// If `axis` is out of range; the message names the axis and the shape.
    pub fn sum_axis(self, axis: usize, keepdim: bool) -> Self {
        self.axis_op(AxisOp::Sum, axis, keepdim)
    }

    /// Mean along `axis` (removed, or kept with length 1 when `keepdim`).
    /// ∂y[o, i]/∂x[o, l, i] = 1/len.
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn mean_axis(self, axis: usize, keepdim: bool) -> Self {
        self.axis_op(AxisOp::Mean, axis, keepdim)
    }

    /// Maximum along `axis` (removed, or kept with length 1 when `keepdim`).
    /// ∂y/∂x = 1 at the first position holding the maximum, 0 elsewhere.
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn max_axis(self, axis: usize, keepdim: bool) -> Self {
        self.axis_op(AxisOp::Max, axis, keepdim)
    }
}
