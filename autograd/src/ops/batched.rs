//! Multi-head matrix products: a 3-d batched matrix product and `permute`, which moves heads
//! into the batch axis and back.
//!
//! Multi-head attention does the same product for every (sequence, head) pair. We record that as
//! two plain pieces instead of one special op:
//!
//! ```text
//! x  [B·T, H·d]  --reshape-->  [B, T, H, d]  --permute(0, 2, 1, 3)-->  [B, H, T, d]
//!                --reshape-->  [B·H, T, d]   (one T×d matrix per head: batch of B·H)
//! Q·Kᵀ           = bmm(q, permute(k, [0, 2, 1]))            [B·H, T, T]
//! ```
//!
//! **Why a batched product over contiguous matrices, rather than strided head views.** After the
//! one copy that `permute` makes, every head is a dense row-major matrix, so each batch entry of
//! [`Var::bmm`] is an ordinary GEMM that any kernel (this crate's reference loops, or `dense`'s
//! packed GEMM) takes as is, without strides; and the head split reads as what it is, a
//! reordering of axes, with a backward rule (the inverse reordering) that a learner can check by
//! eye. The fused attention op in `dense` skips the copies by reading heads as strided views; this
//! module is the readable reference it is tested against.
//!
//! Derivatives.
//! - `C_b = A_b · B_b` for every b: `Ā_b = C̄_b · B_bᵀ`, `B̄_b = A_bᵀ · C̄_b` (the 2-d rule per b).
//! - `y = permute(x, p)`, i.e. `y[i₀, …, iₙ] = x[j]` with `j[p[a]] = i[a]`: each element moves,
//!   unchanged, so `x̄[j] += ȳ[i]` (the gradient takes the inverse permutation).

use super::matmul::{matmul_nn, matmul_nt, matmul_tn};
use crate::float::Float;
use crate::node::Op;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// Most axes `permute` takes (its index arithmetic runs on stack arrays of this size).
pub const MAX_PERMUTE_AXES: usize = 8;

pub(crate) fn bmm_backward<T: Float>(
    values: &[Tensor<T>],
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    a: u32,
    b: u32,
) {
    let (av, bv) = (&values[a as usize], &values[b as usize]);
    let (batch, m, k, n) = (av.shape[0], av.shape[1], av.shape[2], bv.shape[2]);
    // Ā_b += C̄_b · B_bᵀ
    if let Some(ga) = sink.grad(a) {
        for i in 0..batch {
            let (gc, bb) = (
                &g.data[i * m * n..][..m * n],
                &bv.data[i * k * n..][..k * n],
            );
            matmul_nt(gc, bb, &mut ga.data[i * m * k..][..m * k], m, n, k);
        }
    }
    // B̄_b += A_bᵀ · C̄_b
    if let Some(gb) = sink.grad(b) {
        for i in 0..batch {
            let (aa, gc) = (
                &av.data[i * m * k..][..m * k],
                &g.data[i * m * n..][..m * n],
            );
            matmul_tn(aa, gc, &mut gb.data[i * k * n..][..k * n], m, k, n);
        }
    }
}

/// Calls `f(i, j)` for every output element, in output order: `i` is its offset in the permuted
/// output, `j` the offset of the same element in the input of shape `x_shape`.
fn for_each_permuted(x_shape: &[usize], perm: &[usize], mut f: impl FnMut(usize, usize)) {
    let nd = x_shape.len();
    // Input strides (row-major), then the stride of each *output* axis in the input.
    let mut x_strides = [0usize; MAX_PERMUTE_AXES];
    let mut stride = 1;
    for a in (0..nd).rev() {
        x_strides[a] = stride;
        stride *= x_shape[a];
    }
    let total = stride;
    let (mut dims, mut steps) = ([0usize; MAX_PERMUTE_AXES], [0usize; MAX_PERMUTE_AXES]);
    for a in 0..nd {
        dims[a] = x_shape[perm[a]];
        steps[a] = x_strides[perm[a]];
    }
    // An odometer over the output index, carrying the input offset along with it.
    let mut index = [0usize; MAX_PERMUTE_AXES];
    let mut j = 0;
    for i in 0..total {
        f(i, j);
        for a in (0..nd).rev() {
            index[a] += 1;
            j += steps[a];
            if index[a] < dims[a] {
                break;
            }
            j -= steps[a] * dims[a];
            index[a] = 0;
        }
    }
}

pub(crate) fn permute_backward<T: Float>(
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    x: u32,
    perm: &[usize],
) {
    if let Some(gx) = sink.grad(x) {
        // x̄[j] += ȳ[i]: the element that moved from j to i sends its gradient back.
        let (shape, data) = (&gx.shape, &mut gx.data);
        for_each_permuted(shape, perm, |i, j| data[j] += g.data[i]);
    }
}

/// Panics, naming the values, unless `perm` reorders the axes of `shape`.
fn check_permutation(shape: &[usize], perm: &[usize]) {
    let nd = shape.len();
    let mut seen = [false; MAX_PERMUTE_AXES];
    let valid = perm.len() == nd
        && nd <= MAX_PERMUTE_AXES
        && perm
            .iter()
            .all(|&a| a < nd && !std::mem::replace(&mut seen[a], true));
    assert!(
        valid,
        "permute: {perm:?} is not a permutation of the {nd} axes of shape {shape:?} (at most {MAX_PERMUTE_AXES} axes)"
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// Batched matrix product of 3-d values: `[B, m, k] · [B, k, n] → [B, m, n]`, one product
    /// per leading index, `C_b = A_b · B_b`. `Ā_b = C̄_b · B_bᵀ`, `B̄_b = A_bᵀ · C̄_b`.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // Two 1×2 · 2×1 products.
    /// let a = tape.constant(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 2]));
    /// let b = tape.constant(&Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2, 1]));
    /// assert_eq!(a.bmm(b).value().data(), &[17.0, 53.0]);
    /// ```
    ///
    /// # Panics
    /// If either value is not 3-d, or the batch or inner lengths differ; the message names both
    /// shapes.
    pub fn bmm(self, o: Self) -> Self {
        let (a, b) = (self.index, o.index);
        self.tape.record(
            "bmm",
            &[self, o],
            |v, out| {
                let (av, bv) = (&v[a as usize], &v[b as usize]);
                assert!(
                    av.ndim() == 3
                        && bv.ndim() == 3
                        && av.shape[0] == bv.shape[0]
                        && av.shape[2] == bv.shape[1],
                    "bmm: shapes {:?} and {:?} do not fit (expected [B, m, k] and [B, k, n])",
                    av.shape,
                    bv.shape
                );
                let (batch, m, k, n) = (av.shape[0], av.shape[1], av.shape[2], bv.shape[2]);
                out.resize(&[batch, m, n]);
                out.fill(T::zero());
                for i in 0..batch {
                    let (aa, bb) = (
                        &av.data[i * m * k..][..m * k],
                        &bv.data[i * k * n..][..k * n],
                    );
                    matmul_nn(aa, bb, &mut out.data[i * m * n..][..m * n], m, k, n);
                }
            },
            |_, _| Op::BatchMatMul(a, b),
        )
    }

    /// The axes reordered: output axis `a` is input axis `perm[a]`, so
    /// `y.shape[a] = x.shape[perm[a]]` and `y[i] = x[j]` with `j[perm[a]] = i[a]` (NumPy's
    /// `transpose(x, perm)`). Every element moves unchanged: `x̄[j] += ȳ[i]`.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // [B=1, T=2, H=2, d=1] → [B, H, T, d]: the heads become the outer axis.
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]));
    /// let y = x.permute(&[0, 2, 1, 3]);
    /// assert_eq!(y.shape(), vec![1, 2, 2, 1]);
    /// assert_eq!(y.value().data(), &[1.0, 3.0, 2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If `perm` is not a permutation of the value's axes, or the value has more than
    /// [`MAX_PERMUTE_AXES`] axes.
    pub fn permute(self, perm: &[usize]) -> Self {
        let x = self.index;
        self.tape.record(
            "permute",
            &[self],
            |v, out| {
                let xv = &v[x as usize];
                check_permutation(&xv.shape, perm);
                out.shape.clear();
                out.shape.extend(perm.iter().map(|&a| xv.shape[a]));
                out.data.clear();
                out.data.resize(xv.numel(), T::zero());
                for_each_permuted(&xv.shape, perm, |i, j| out.data[i] = xv.data[j]);
            },
            |pool, _| {
                let start = pool.len() as u32;
                pool.extend_from_slice(perm);
                Op::Permute { x, start }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_offsets_match_the_definition() {
        // x: [2, 3, 4]; perm [2, 0, 1] gives y: [4, 2, 3] with y[c, a, b] = x[a, b, c].
        let shape = [2, 3, 4];
        let mut seen = Vec::new();
        for_each_permuted(&shape, &[2, 0, 1], |i, j| seen.push((i, j)));
        let js: Vec<usize> = (0..4)
            .flat_map(|c| (0..2).flat_map(move |a| (0..3).map(move |b| (a * 3 + b) * 4 + c)))
            .collect();
        assert_eq!(
            seen.iter().map(|p| p.0).collect::<Vec<_>>(),
            (0..24).collect::<Vec<_>>()
        );
        assert_eq!(seen.iter().map(|p| p.1).collect::<Vec<_>>(), js);
    }

    #[test]
    fn identity_and_scalar_permutations() {
        let mut seen = Vec::new();
        for_each_permuted(&[], &[], |i, j| seen.push((i, j)));
        assert_eq!(seen, vec![(0, 0)], "a scalar has one element");
        seen.clear();
        for_each_permuted(&[2, 2], &[0, 1], |i, j| seen.push((i, j)));
        assert_eq!(seen, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    }
}
