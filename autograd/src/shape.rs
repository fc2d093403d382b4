//! Shape arithmetic: NumPy broadcasting, its undoing, and splitting a shape around an axis.
//!
//! **Broadcasting** (NumPy's rules): align the two shapes at their last axis; two lengths are
//! compatible when they are equal or one of them is 1; a missing axis counts as length 1. The
//! output takes the larger length on every axis, and an operand of length 1 on an axis is read
//! again for every position along it. `[4, 3] + [3]` adds the row to every row; `[4, 1] * [1, 3]`
//! is an outer product.
//!
//! **Undoing it** happens in exactly one place, [`sum_to_shape`]: if an input was read several
//! times in the forward pass, the chain rule adds up the gradients of all those reads, so the
//! gradient at the output's shape is summed over every broadcast axis back to the input's shape.

use crate::float::Float;

/// Axes handled with stack arrays; more axes fall back to heap buffers.
const STACK_AXES: usize = 8;

/// `a == b` for shapes, as an inlined loop: shapes are short, and the library `memcmp` that
/// slice equality calls costs more than the comparison itself.
#[inline(always)]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut same = true;
    for i in 0..a.len() {
        same &= a[i] == b[i];
    }
    same
}

/// The broadcast shape of `a` and `b`, written into `out` (cleared first).
///
/// # Panics
/// If the shapes are incompatible; the message names `op` and both shapes.
pub(crate) fn broadcast_shape_into(op: &str, a: &[usize], b: &[usize], out: &mut Vec<usize>) {
    out.clear();
    if same_shape(a, b) {
        out.extend_from_slice(a);
        return;
    }
    let nd = a.len().max(b.len());
    for i in 0..nd {
        // Axis i of the output, counted from the left; operands aligned on the right.
        let da = if i + a.len() >= nd {
            a[i + a.len() - nd]
        } else {
            1
        };
        let db = if i + b.len() >= nd {
            b[i + b.len() - nd]
        } else {
            1
        };
        let d = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            panic!(
                "{op}: shapes {a:?} and {b:?} cannot be broadcast together (axis {i} of the result: {da} vs {db})"
            );
        };
        out.push(d);
    }
}

/// Row-major strides of `shape` as seen from an output of shape `out`: an axis of length 1 or a
/// missing (leading) axis gets stride 0, so reading it repeats the same element.
fn broadcast_strides(shape: &[usize], out: &[usize], strides: &mut [usize]) {
    let nd = out.len();
    let off = nd - shape.len();
    let mut s = 1;
    for i in (0..nd).rev() {
        if i < off || shape[i - off] == 1 {
            strides[i] = 0;
        } else {
            strides[i] = s;
            s *= shape[i - off];
        }
    }
}

/// Calls `f(k, ia, ib)` for every output element `k` (row-major over `out`), where `ia` and `ib`
/// are the elements of `a` and `b` that broadcasting pairs with it.
///
/// `a` and `b` must broadcast to `out` (checked by [`broadcast_shape_into`] beforehand).
#[inline]
pub(crate) fn for_each_broadcast(
    out: &[usize],
    a: &[usize],
    b: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let n: usize = out.iter().product();
    // Fast paths: the common cases need no index arithmetic.
    let (a_full, b_full) = (same_shape(a, out), same_shape(b, out));
    if a_full && b_full {
        for k in 0..n {
            f(k, k, k);
        }
        return;
    }
    let na: usize = a.iter().product();
    let nb: usize = b.iter().product();
    if b_full && na == 1 {
        for k in 0..n {
            f(k, 0, k);
        }
        return;
    }
    if a_full && nb == 1 {
        for k in 0..n {
            f(k, k, 0);
        }
        return;
    }
    if n == 0 {
        return;
    }
    let nd = out.len();
    let (mut sa_stack, mut sb_stack, mut idx_stack) = (
        [0usize; STACK_AXES],
        [0usize; STACK_AXES],
        [0usize; STACK_AXES],
    );
    let (mut sa_heap, mut sb_heap, mut idx_heap);
    let (sa, sb, idx): (&mut [usize], &mut [usize], &mut [usize]) = if nd <= STACK_AXES {
        (
            &mut sa_stack[..nd],
            &mut sb_stack[..nd],
            &mut idx_stack[..nd],
        )
    } else {
        sa_heap = vec![0; nd];
        sb_heap = vec![0; nd];
        idx_heap = vec![0; nd];
        (&mut sa_heap, &mut sb_heap, &mut idx_heap)
    };
    broadcast_strides(a, out, sa);
    broadcast_strides(b, out, sb);
    // Odometer over all axes but the last; the last axis is a tight inner loop.
    let last = nd - 1;
    let inner = out[last];
    let (ia_step, ib_step) = (sa[last], sb[last]);
    let (mut ia0, mut ib0) = (0usize, 0usize);
    let mut k = 0;
    loop {
        let (mut ia, mut ib) = (ia0, ib0);
        for _ in 0..inner {
            f(k, ia, ib);
            k += 1;
            ia += ia_step;
            ib += ib_step;
        }
        // Advance the multi-index over axes 0..last, carrying like an odometer.
        let mut axis = last;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            idx[axis] += 1;
            ia0 += sa[axis];
            ib0 += sb[axis];
            if idx[axis] < out[axis] {
                break;
            }
            ia0 -= sa[axis] * out[axis];
            ib0 -= sb[axis] * out[axis];
            idx[axis] = 0;
        }
    }
}

/// **The** broadcasting-undo helper: adds `src` (shaped `src_shape`, the broadcast output shape)
/// into `dst` (shaped `dst_shape`, an input's shape), summing over every axis the input was
/// broadcast along: `dst[j] += Σ_{k read from j} src[k]`.
#[inline]
pub(crate) fn sum_to_shape<T: Float>(
    src: &[T],
    src_shape: &[usize],
    dst: &mut [T],
    dst_shape: &[usize],
) {
    if same_shape(src_shape, dst_shape) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
        return;
    }
    for_each_broadcast(src_shape, src_shape, dst_shape, |k, _, j| dst[j] += src[k]);
}

/// Splits `shape` around `axis` into `(outer, len, inner)`: the product of the axes before it, its
/// length, and the product of the axes after it. Element `[o, l, i]` of that 3-d view is at
/// `(o * len + l) * inner + i`.
///
/// # Panics
/// If `axis` is out of range; the message names `op`, the axis and the shape.
pub(crate) fn split_at_axis(op: &str, shape: &[usize], axis: usize) -> (usize, usize, usize) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} is out of range for shape {shape:?} ({} axes)",
        shape.len()
    );
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Writes `shape` with `axis` removed (or set to 1 when `keepdim`) into `out`.
pub(crate) fn reduced_shape_into(
    shape: &[usize],
    axis: usize,
    keepdim: bool,
    out: &mut Vec<usize>,
) {
    out.clear();
    for (i, &d) in shape.iter().enumerate() {
        if i != axis {
            out.push(d);
        } else if keepdim {
            out.push(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bshape(a: &[usize], b: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        broadcast_shape_into("test", a, b, &mut out);
        out
    }

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(bshape(&[4, 3], &[3]), vec![4, 3]);
        assert_eq!(bshape(&[4, 1], &[1, 3]), vec![4, 3]);
        assert_eq!(bshape(&[], &[2, 2]), vec![2, 2]);
        assert_eq!(bshape(&[2, 1, 5], &[3, 1]), vec![2, 3, 5]);
    }

    #[test]
    #[should_panic(expected = "test: shapes [4, 3] and [4] cannot be broadcast together")]
    fn incompatible_shapes_panic() {
        bshape(&[4, 3], &[4]);
    }

    #[test]
    fn indices_pair_like_numpy() {
        // [2, 1, 3] with [2, 1] -> [2, 2, 3]
        let mut pairs = Vec::new();
        for_each_broadcast(&[2, 2, 3], &[2, 1, 3], &[2, 1], |k, ia, ib| {
            pairs.push((k, ia, ib))
        });
        let expect: Vec<(usize, usize, usize)> = (0..12)
            .map(|k| {
                let (i, j, l) = (k / 6, (k / 3) % 2, k % 3);
                (k, i * 3 + l, j)
            })
            .collect();
        assert_eq!(pairs, expect);
    }

    #[test]
    fn sum_to_shape_sums_broadcast_axes() {
        // src [2, 3] -> dst [3] sums rows; -> dst [2, 1] sums columns; -> [] sums all.
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut cols = [0.0; 3];
        sum_to_shape(&src, &[2, 3], &mut cols, &[3]);
        assert_eq!(cols, [5.0, 7.0, 9.0]);
        let mut rows = [0.0; 2];
        sum_to_shape(&src, &[2, 3], &mut rows, &[2, 1]);
        assert_eq!(rows, [6.0, 15.0]);
        let mut all = [1.0];
        sum_to_shape(&src, &[2, 3], &mut all, &[]);
        assert_eq!(all, [22.0]);
    }

    #[test]
    fn many_axes_use_the_heap_path() {
        let out = [2, 1, 2, 1, 2, 1, 2, 1, 2, 3];
        let mut n = 0;
        for_each_broadcast(&out, &out, &[3], |k, ia, ib| {
            assert_eq!(k, ia);
            assert_eq!(ib, k % 3);
            n += 1;
        });
        assert_eq!(n, 96);
    }
}
