//! Causal multi-head self-attention as one autograd node ([`autograd::CustomOp`]), forward and
//! backward written by hand on `dense`'s GEMM.
//!
//! **Shapes.** The input `qkv` is `[B, T, 3·D]`: for each of B sequences of T positions, the
//! queries, keys and values side by side (`[q | k | v]`, each D wide), as one projection
//! `x·W_qkv` produces them. Each of q, k, v is H heads of width `d = D / H` side by side. The
//! output is `[B, T, D]`, the heads' results side by side, ready for the output projection.
//!
//! **Forward**, for every sequence b and head h, with `Q, K, V` the head's `[T, d]` slices:
//!
//! ```text
//! S = Q·Kᵀ / √d                        [T, T] scores
//! P = causal_softmax(S)                row i: softmax of Sᵢ₀ … Sᵢᵢ; Pᵢⱼ = 0 exactly for j > i
//! O = P·V                              [T, d], written into the output's columns of head h
//! ```
//!
//! **Backward**, from `Ō = dL/dO`. P is recomputed from Q and K (one GEMM) instead of stored, so
//! the node keeps nothing but its output:
//!
//! ```text
//! V̄ += Pᵀ·Ō                            (from O = P·V)
//! P̄  = Ō·Vᵀ
//! S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)          (softmax's rule, row by row; 0 where masked)
//! Q̄ += S̄·K / √d    K̄ += S̄ᵀ·Q / √d      (from S = Q·Kᵀ / √d)
//! ```
//!
//! **Why GEMMs on strided views.** A head's Q is T rows of d numbers taken every `3·D` numbers
//! of the input: a [`MatRef`] with row stride `3·D` reads it in place, `.t()` reads Kᵀ without a
//! copy, and the output head is a [`MatMut`] with row stride D. So the seven products per head
//! (two forward; the recomputed S and four more backward) run on the packed GEMM with no copies
//! of the activations, and the whole attention is one node. The reference composition,
//! [`attention_reference`], records 16 nodes, 12 of which (reshape, permute, select) copy.
//!
//! **Threads.** Sequences are independent, so forward and backward hand blocks of whole
//! sequences (their rows of the output, or of the gradient of `qkv`) to the thread pool
//! ([`crate::threads`]) when the products are large enough; each sequence is still computed by
//! one thread in the same order, so the bits do not depend on the thread count.
//!
//! How we know it is right: `tests/attention.rs` holds value and gradient equal to
//! [`attention_reference`], composed from autograd's ops (`permute`, `bmm`, `causal_softmax`), to
//! 1e-12 in `f64` for random shapes, close in `f32`, and checks the `f64` op with autograd's
//! finite-difference `gradcheck`.

use std::rc::Rc;

use autograd::{CustomOp, Float, Tensor, Var};

use crate::element::Element;
use crate::gemm::gemm;
use crate::scalar::Scalar;
use crate::threads;
use crate::view::{MatMut, MatRef};

/// The fused causal self-attention op, for a number of heads; its one input is `qkv`.
///
/// Keep it in an `Rc` across training steps and pass that to [`causal_self_attention`]: recording
/// the node then only bumps a reference count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CausalSelfAttention {
    heads: usize,
}

impl CausalSelfAttention {
    /// The op for `heads` heads, shared through an `Rc`.
    ///
    /// # Panics
    /// If `heads` is 0.
    pub fn new(heads: usize) -> Rc<Self> {
        assert!(heads > 0, "attention: expected at least 1 head, got 0");
        Rc::new(CausalSelfAttention { heads })
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// (B, T, D, d) from the input shape, or a panic naming it.
    #[track_caller]
    fn dims(&self, shapes: &[&[usize]]) -> Dims {
        assert!(
            shapes.len() == 1,
            "attention: expected 1 input (qkv), got {}",
            shapes.len()
        );
        let s = shapes[0];
        let fits = s.len() == 3 && s[2].is_multiple_of(3 * self.heads);
        assert!(
            fits,
            "attention: qkv has shape {s:?}; expected [B, T, 3·D] with D a multiple of {} heads",
            self.heads
        );
        let model = s[2] / 3;
        Dims {
            batch: s[0],
            len: s[1],
            model,
            head: model / self.heads,
        }
    }
}

/// Sizes of one call: B sequences of T positions, model width D, head width d.
#[derive(Clone, Copy)]
struct Dims {
    batch: usize,
    len: usize,
    model: usize,
    head: usize,
}

impl Dims {
    /// Offset of sequence b's first row in `qkv`, plus the column where head h of part `part`
    /// (0 = q, 1 = k, 2 = v) starts.
    fn qkv_at(&self, b: usize, part: usize, h: usize) -> usize {
        b * self.len * 3 * self.model + part * self.model + h * self.head
    }

    /// Offset of head h of sequence b in the `[B, T, D]` output.
    fn out_at(&self, b: usize, h: usize) -> usize {
        b * self.len * self.model + h * self.head
    }

    /// Head h's `[T, d]` slice of part `part` of sequence b: T rows, `3·D` apart.
    fn part<'a, T: Copy>(&self, qkv: &'a [T], b: usize, part: usize, h: usize) -> MatRef<'a, T> {
        let at = self.qkv_at(b, part, h);
        MatRef::new(&qkv[at..], self.len, self.head, 3 * self.model, 1)
    }

    /// The same slice, writable (in the gradient of qkv).
    fn part_mut<'a, T: Copy>(
        &self,
        qkv: &'a mut [T],
        b: usize,
        part: usize,
        h: usize,
    ) -> MatMut<'a, T> {
        let at = self.qkv_at(b, part, h);
        MatMut::new(&mut qkv[at..], self.len, self.head, 3 * self.model, 1)
    }

    /// 1/√d.
    fn scale<T: Element>(&self) -> T {
        <T as Float>::from_f64(1.0 / (self.head as f64).sqrt())
    }
}

/// Records causal multi-head self-attention of `qkv` (`[B, T, 3·D]`) as one node, giving
/// `[B, T, D]` (see the module doc for the formulas).
///
/// ```
/// use autograd::{Tape, Tensor};
/// use dense::attention::{CausalSelfAttention, attention_reference, causal_self_attention};
/// let op = CausalSelfAttention::new(2); // kept across steps
/// let tape = Tape::<f64>::new();
/// let data = (0..2 * 3 * 12).map(|i| (i as f64 * 0.3).sin()).collect();
/// let qkv = tape.param(&Tensor::from_vec(data, &[2, 3, 12])); // B = 2, T = 3, D = 4, d = 2
/// let fused = causal_self_attention(qkv, &op);
/// let reference = attention_reference(qkv, 2);
/// for (a, b) in fused.value().data().iter().zip(reference.value().data()) {
///     assert!((a - b).abs() < 1e-12);
/// }
/// ```
pub fn causal_self_attention<'t, T: Element>(
    qkv: Var<'t, T>,
    op: &Rc<CausalSelfAttention>,
) -> Var<'t, T> {
    let op: Rc<dyn CustomOp<T>> = op.clone();
    qkv.tape().custom(op, &[qkv])
}

/// The same attention composed from autograd's reference ops: the head split by `reshape` and
/// `permute`, `bmm`, `causal_softmax`, and the merge back. Slower (16 nodes, 12 of them copies)
/// but each step is an op with its own finite-difference property; the fused op is tested
/// against it.
///
/// # Panics
/// If `qkv` is not `[B, T, 3·D]` with D a multiple of `heads`.
pub fn attention_reference<'t, T: Float>(qkv: Var<'t, T>, heads: usize) -> Var<'t, T> {
    let s = qkv.shape();
    let dims = CausalSelfAttention { heads }.dims(&[s.as_slice()]);
    let (b, t, dm, d) = (dims.batch, dims.len, dims.model, dims.head);
    // [B, T, 3·D] → [B, T, 3, H, d] → [3, B, H, T, d]: part, then one [T, d] matrix per head.
    let split = qkv.reshape(&[b, t, 3, heads, d]).permute(&[2, 0, 3, 1, 4]);
    let part = |i| split.select(0, i).reshape(&[b * heads, t, d]);
    let (q, k, v) = (part(0), part(1), part(2));
    let scale = T::from_f64(1.0 / (d as f64).sqrt());
    let scores = q.bmm(k.permute(&[0, 2, 1])).affine(scale, T::zero()); // Q·Kᵀ/√d
    let heads_out = scores.causal_softmax().bmm(v); // [B·H, T, d]
    heads_out
        .reshape(&[b, heads, t, d])
        .permute(&[0, 2, 1, 3])
        .reshape(&[b, t, dm])
}

/// Softmax of each row i of the `[T, T]` scores over its first i + 1 entries, in place; the
/// masked entries become exactly 0. `pᵢⱼ = e^{sᵢⱼ − mᵢ} / Σₖ≤ᵢ e^{sᵢₖ − mᵢ}`, mᵢ the maximum of
/// the visible scores (the vectorised `exp` for `f32`).
fn causal_softmax_rows<T: Element>(s: &mut [T], t: usize) {
    for (i, row) in s.chunks_exact_mut(t).enumerate() {
        let (seen, masked) = row.split_at_mut(i + 1);
        T::softmax_row(seen);
        masked.fill(<T as Scalar>::ZERO);
    }
}

/// P = causal_softmax(Q·Kᵀ/√d) for sequence b, head h, into `p` (`[T, T]`).
fn probabilities<T: Element>(dims: &Dims, qkv: &[T], b: usize, h: usize, p: &mut [T]) {
    let t = dims.len;
    let (q, k) = (dims.part(qkv, b, 0, h), dims.part(qkv, b, 1, h));
    gemm(
        dims.scale(),
        q,
        k.t(),
        <T as Scalar>::ZERO,
        MatMut::row_major(p, t, t),
    );
    causal_softmax_rows(p, t);
}

impl<T: Element> CustomOp<T> for CausalSelfAttention {
    fn name(&self) -> &str {
        "attention"
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
        let dims = self.dims(inputs);
        vec![dims.batch, dims.len, dims.model]
    }

    fn output_shape_into(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let dims = self.dims(inputs);
        shape.clear();
        shape.extend_from_slice(&[dims.batch, dims.len, dims.model]);
    }

    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>) {
        let dims = self.dims(&[inputs[0].shape()]);
        let (qkv, t) = (inputs[0].data(), dims.len);
        if t == 0 {
            return; // no positions: the output is empty
        }
        let per_seq = t * dims.model;
        let macs = 2 * dims.batch * dims.model * t * t;
        for_sequence_blocks(out.data_mut(), dims.batch, per_seq, macs, |b0, out| {
            T::with_scratch(|p| {
                p.clear();
                p.resize(t * t, <T as Scalar>::ZERO);
                for (i, out) in out.chunks_exact_mut(per_seq).enumerate() {
                    for h in 0..self.heads {
                        probabilities(&dims, qkv, b0 + i, h, p);
                        // O = P·V into head h's columns of the sequence's output (rows D apart).
                        let at = dims.out_at(0, h);
                        let o = MatMut::new(&mut out[at..], t, dims.head, dims.model, 1);
                        let v = dims.part(qkv, b0 + i, 2, h);
                        let p_view = MatRef::row_major(&p[..], t, t);
                        gemm(<T as Scalar>::ONE, p_view, v, <T as Scalar>::ZERO, o);
                    }
                }
            });
        });
    }

    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<&mut Tensor<T>>],
    ) {
        let Some(gqkv) = grad_inputs[0].as_deref_mut() else {
            return;
        };
        let dims = self.dims(&[inputs[0].shape()]);
        let (qkv, t, one) = (inputs[0].data(), dims.len, <T as Scalar>::ONE);
        let gqkv = gqkv.data_mut();
        if t == 0 {
            return;
        }
        let macs = 5 * dims.batch * dims.model * t * t;
        let per_seq = 3 * t * dims.model;
        for_sequence_blocks(gqkv, dims.batch, per_seq, macs, |b0, gqkv| {
            T::with_scratch(|buf| {
                buf.clear();
                buf.resize(2 * t * t, <T as Scalar>::ZERO);
                let (p, dp) = buf.split_at_mut(t * t);
                for (i, gqkv) in gqkv.chunks_exact_mut(per_seq).enumerate() {
                    let b = b0 + i;
                    for h in 0..self.heads {
                        probabilities(&dims, qkv, b, h, p);
                        let at = dims.out_at(b, h);
                        let dout = MatRef::new(&grad_out.data()[at..], t, dims.head, dims.model, 1);
                        let v = dims.part(qkv, b, 2, h);
                        // V̄ += Pᵀ·Ō (gqkv holds this sequence only: its index is 0)
                        let p_view = MatRef::row_major(&p[..], t, t);
                        gemm(one, p_view.t(), dout, one, dims.part_mut(gqkv, 0, 2, h));
                        // P̄ = Ō·Vᵀ
                        let dp_view = MatMut::row_major(&mut dp[..], t, t);
                        gemm(one, dout, v.t(), <T as Scalar>::ZERO, dp_view);
                        softmax_rows_backward(p, dp, t);
                        // dp now holds S̄. Q̄ += S̄·K/√d, K̄ += S̄ᵀ·Q/√d.
                        let ds = MatRef::row_major(&dp[..], t, t);
                        let (q, k) = (dims.part(qkv, b, 0, h), dims.part(qkv, b, 1, h));
                        gemm(dims.scale(), ds, k, one, dims.part_mut(gqkv, 0, 0, h));
                        gemm(dims.scale(), ds.t(), q, one, dims.part_mut(gqkv, 0, 1, h));
                    }
                }
            });
        });
    }
}

/// Runs `f(b0, block)` on consecutive blocks of whole sequences of `data` (`batch` sequences of
/// `per_seq` values each; `block` starts at sequence `b0`), spread over the thread pool when the
/// job's `macs` multiply-adds are worth it ([`threads::PARALLEL_MIN_MACS`]). Each sequence is
/// computed by one thread with the same instructions in the same order, so the result is the
/// same bits for any thread count.
fn for_sequence_blocks<T: Send>(
    data: &mut [T],
    batch: usize,
    per_seq: usize,
    macs: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let parts = threads::parts_for(macs, threads::PARALLEL_MIN_MACS, batch.max(1));
    let mut rest = data;
    let mut part = 0;
    let blocks = std::iter::from_fn(|| {
        if part == parts {
            return None;
        }
        let (b0, b1) = threads::part_range(batch, 1, parts, part);
        part += 1;
        let (block, tail) = std::mem::take(&mut rest).split_at_mut((b1 - b0) * per_seq);
        rest = tail;
        Some((b0, block))
    });
    threads::for_each_part(blocks, |_, (b0, block)| f(b0, block));
}

/// Turns P̄ (in `dp`) into S̄ in place, row by row over the visible entries:
/// `S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)` for j ≤ i, and exactly 0 for the masked j > i.
fn softmax_rows_backward<T: Element>(p: &[T], dp: &mut [T], t: usize) {
    for (i, (pr, dr)) in p.chunks_exact(t).zip(dp.chunks_exact_mut(t)).enumerate() {
        let (seen, masked) = dr.split_at_mut(i + 1);
        let dot = pr
            .iter()
            .zip(seen.iter())
            .fold(<T as Scalar>::ZERO, |s, (&a, &b)| s + a * b);
        for (d, &pj) in seen.iter_mut().zip(pr) {
            *d = pj * (*d - dot);
        }
        masked.fill(<T as Scalar>::ZERO);
    }
}
