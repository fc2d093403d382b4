//! Ops that move elements without changing them: transpose, reshape, concat.
//!
//! Their backward rules move the gradient back the same way: transpose it, view it in the old
//! shape, or cut it into the pieces that were joined.

use crate::custom::Store;
use crate::float::Float;
use crate::node::Op;
use crate::shape::split_at_axis;
use crate::sink::Sink;
use crate::tape::Tape;
use crate::tensor::{Tensor, numel_of};
use crate::var::Var;

/// `out[j, i] = x[i, j]` for row-major `x: [r, c]`.
fn transpose_into<T: Float>(x: &[T], out: &mut [T], r: usize, c: usize) {
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = x[i * c + j];
        }
    }
}

pub(crate) fn transpose_backward<T: Float>(g: &Tensor<T>, sink: &mut Sink<'_, T>, a: u32) {
    if let Some(ga) = sink.grad(a) {
        // x̄[i, j] += ȳ[j, i]; ȳ is [c, r].
        let (c, r) = (g.shape[0], g.shape[1]);
        for i in 0..r {
            for j in 0..c {
                ga.data[i * c + j] += g.data[j * r + i];
            }
        }
    }
}

pub(crate) fn reshape_backward<T: Float>(g: &Tensor<T>, sink: &mut Sink<'_, T>, a: u32) {
    // Same elements in the same order: x̄ += ȳ viewed in x's shape (a copy on x̄'s first write).
    match sink.grad_slot(a) {
        Some((ga, Store::Overwrite)) => ga.data.copy_from_slice(&g.data),
        Some((ga, Store::Accumulate)) => {
            ga.data.iter_mut().zip(&g.data).for_each(|(d, &s)| *d += s)
        }
        None => {}
    }
}

/// ȳ is cut along `axis` into the inputs' pieces, each added to its input's gradient.
pub(crate) fn concat_backward<T: Float>(
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    inputs: &[usize],
    axis: usize,
) {
    let (outer, total, inner) = split_at_axis("concat", &g.shape, axis);
    let mut offset = 0;
    for &j in inputs {
        let len = sink_len(sink, j, axis);
        if let Some(gx) = sink.grad(j as u32) {
            for o in 0..outer {
                let src = &g.data[(o * total + offset) * inner..(o * total + offset + len) * inner];
                let dst = &mut gx.data[o * len * inner..(o + 1) * len * inner];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        offset += len;
    }
}

/// Length of input `j` along `axis` (read from its value).
fn sink_len<T: Float>(sink: &Sink<'_, T>, j: usize, axis: usize) -> usize {
    sink.value(j).shape[axis]
}

impl<'t, T: Float> Var<'t, T> {
    /// Transpose of a 2-d value: `[r, c] → [c, r]`, `y[j, i] = x[i, j]`. x̄ = ȳᵀ.
    ///
    /// # Panics
    /// If the value is not 2-d; the message names its shape.
    pub fn transpose(self) -> Self {
        let a = self.index;
        self.tape.record(
            "transpose",
            &[self],
            |v, out| {
                let x = &v[a as usize];
                assert!(
                    x.ndim() == 2,
                    "transpose: expected a 2-d value, got shape {:?}",
                    x.shape
                );
                let (r, c) = (x.shape[0], x.shape[1]);
                out.resize(&[c, r]);
                transpose_into(&x.data, &mut out.data, r, c);
            },
            |_, _| Op::Transpose(a),
        )
    }

    /// The same elements (row-major order) in a new shape. x̄ = ȳ viewed in x's shape.
    ///
    /// # Panics
    /// If the element counts differ; the message names both shapes.
    pub fn reshape(self, shape: &[usize]) -> Self {
        let a = self.index;
        self.tape.record(
            "reshape",
            &[self],
            |v, out| {
                let x = &v[a as usize];
                assert!(
                    numel_of(shape) == x.numel(),
                    "reshape: cannot reshape {:?} ({} elements) into {shape:?} ({} elements)",
                    x.shape,
                    x.numel(),
                    numel_of(shape)
                );
                out.shape.clear();
                out.shape.extend_from_slice(shape);
                out.data.clear();
                out.data.extend_from_slice(&x.data);
            },
            |_, _| Op::Reshape(a),
        )
    }
}

impl<T: Float> Tape<T> {
    /// Joins values along `axis`; all other lengths must match. The gradient is cut back into
    /// the pieces: x̄ₖ = the k-th slice of ȳ along `axis`.
    ///
    /// # Panics
    /// If `vars` is empty, the axis is out of range, or the shapes differ off the axis; the message
    /// names the shapes.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.constant(&Tensor::from_vec(vec![1.0, 2.0], &[2, 1]));
    /// let b = tape.constant(&Tensor::from_vec(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]));
    /// let c = tape.concat(&[a, b], 1);
    /// assert_eq!(c.shape(), vec![2, 3]);
    /// assert_eq!(c.value().data(), &[1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    /// ```
    pub fn concat<'t>(&'t self, vars: &[Var<'t, T>], axis: usize) -> Var<'t, T> {
        assert!(
            !vars.is_empty(),
            "concat: expected at least one value, got none"
        );
        self.record(
            "concat",
            vars,
            |v, out| {
                let first = &v[vars[0].index as usize];
                let nd = first.ndim();
                assert!(
                    axis < nd,
                    "concat: axis {axis} is out of range for shape {:?}",
                    first.shape
                );
                let mut total = 0;
                for var in vars {
                    let s = &v[var.index as usize].shape;
                    let fits = s.len() == nd
                        && s.iter()
                            .zip(&first.shape)
                            .enumerate()
                            .all(|(i, (x, y))| i == axis || x == y);
                    assert!(
                        fits,
                        "concat: shapes {:?} and {:?} differ off axis {axis}",
                        first.shape, s
                    );
                    total += s[axis];
                }
                out.shape.clear();
                out.shape.extend_from_slice(&first.shape);
                out.shape[axis] = total;
                out.data.clear();
                let (outer, _, inner) = split_at_axis("concat", &first.shape, axis);
                for o in 0..outer {
                    for var in vars {
                        let x = &v[var.index as usize];
                        let len = x.shape[axis] * inner;
                        out.data.extend_from_slice(&x.data[o * len..(o + 1) * len]);
                    }
                }
            },
            |pool, _| {
                let start = pool.len() as u32;
                pool.extend(vars.iter().map(|v| v.index as usize));
                Op::Concat {
                    axis: axis as u32,
                    start,
                    len: vars.len() as u32,
                }
            },
        )
    }
}
