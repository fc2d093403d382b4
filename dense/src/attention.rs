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
//! **One node, P saved.** The probabilities P (`[B, H, T, T]`) are kept in the node's saved
//! buffer on the tape, so backward reads them instead of recomputing them (a GEMM and a softmax,
//! `exp` included, per head). Backward, from `Ō = dL/dO`, head by head:
//!
//! ```text
//! O = P·V:            V̄ (+)= Pᵀ·Ō        P̄ = Ō·Vᵀ                 (P̄: a [T, T] scratch)
//! P = softmax(S):     S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)                 (row by row; 0 where masked)
//! S = Q·Kᵀ/√d:        Q̄ (+)= S̄·K / √d    K̄ (+)= S̄ᵀ·Q / √d
//! ```
//!
//! Each of V̄, Q̄, K̄ is written with `=` (GEMM `β = 0`) when this is the first rule to reach the
//! gradient of `qkv` in the pass ([`autograd::Store::Overwrite`]), else added: no zero fill of the Q and K
//! columns, and P̄ never goes to the tape (one `[T, T]` scratch per head instead of `[B, H, T, T]`).
//!
//! **Rows or sequences.** `qkv` is `[B, T, 3·D]` ([`causal_self_attention`], output `[B, T, D]`)
//! or the `[B·T, 3·D]` rows a linear layer gives ([`causal_self_attention_rows`], output
//! `[B·T, D]`, what the next linear layer reads): the same numbers in the same memory, so the
//! rows form needs no reshape (each a copy on the tape, forward and backward). Then the node's
//! second input is a constant of shape `[B, T, 0]`: no numbers, only the layout of the rows.
//!
//! **Why GEMMs on strided views.** A head's Q is T rows of d numbers taken every `3·D` numbers
//! of the input: a [`MatRef`] with row stride `3·D` reads it in place, `.t()` reads Kᵀ without a
//! copy, and the output head is a [`MatMut`] with row stride D. So the six products per head
//! (two forward, four backward) run on the GEMM with no copies of the activations, and the
//! whole attention is one node. The reference composition, [`attention_reference`], records
//! 16 nodes, 12 of which (reshape, permute, select) copy. A head's products are small (32×16·16×32
//! at T = 32, d = 16): the four whose B has contiguous rows (P·V, Pᵀ·Ō, S̄·K, S̄ᵀ·Q) skip packing
//! on the AVX paths (the GEMM's small-product route, same bits); Q·Kᵀ and Ō·Vᵀ read a transposed
//! B, which the packed driver transposes as it packs.
//!
//! **Threads.** Sequences are independent, so forward and backward hand blocks of whole
//! sequences (their rows of the output and of P, or of the gradient of `qkv`) to the thread pool
//! ([`crate::threads`]) when the products are large enough; each sequence is still computed by
//! one thread in the same order, so the bits do not depend on the thread count.
//!
//! How we know it is right: `tests/attention.rs` holds value and gradient equal to
//! [`attention_reference`], composed from autograd's ops (`permute`, `bmm`, `causal_softmax`), to
//! 1e-12 in `f64` for random shapes, close in `f32`, and checks the `f64` op with autograd's
//! finite-difference `gradcheck`.

use std::rc::Rc;

use autograd::{CustomOp, Float, GradSlot, Tensor, Var};

use crate::element::Element;
use crate::gemm::gemm;
use crate::linear::beta;
use crate::scalar::Scalar;
use crate::threads;
use crate::view::{MatMut, MatRef};

/// The fused causal self-attention, for a number of heads: one node (see the module doc).
///
/// Keep it in an `Rc` across training steps and pass that to [`causal_self_attention`] or
/// [`causal_self_attention_rows`]: recording its node then only bumps a reference count.
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
}

/// (B, T, D, d) from the input shapes, or a panic naming them: `qkv` alone as `[B, T, 3·D]`, or
/// `qkv` as `[B·T, 3·D]` rows with the layout constant `[B, T, 0]`.
#[track_caller]
fn dims_of(heads: usize, shapes: &[&[usize]]) -> Dims {
    let (batch, len) = match shapes {
        [qkv] if qkv.len() == 3 => (qkv[0], qkv[1]),
        [qkv, [b, t, 0]] if qkv.len() == 2 && qkv[0] == b * t => (*b, *t),
        _ => panic!(
            "attention: inputs of shapes {shapes:?}; expected qkv [B, T, 3·D], or qkv [B·T, 3·D] \
             and the layout [B, T, 0]"
        ),
    };
    let s = shapes[0];
    let width = s[s.len() - 1];
    assert!(
        width.is_multiple_of(3 * heads),
        "attention: qkv has shape {s:?}; expected [B, T, 3·D] with D a multiple of {heads} heads"
    );
    let model = width / 3;
    Dims {
        batch,
        len,
        model,
        heads,
        head: model / heads,
    }
}

/// [`dims_of`] the shapes of the node's inputs.
#[track_caller]
fn dims_of_inputs<T: Element>(heads: usize, inputs: &[&Tensor<T>]) -> Dims {
    match inputs {
        [qkv] => dims_of(heads, &[qkv.shape()]),
        [qkv, layout] => dims_of(heads, &[qkv.shape(), layout.shape()]),
        _ => dims_of(heads, &[]),
    }
}

/// Sizes of one call: B sequences of T positions, model width D, H heads of width d.
#[derive(Clone, Copy)]
struct Dims {
    batch: usize,
    len: usize,
    model: usize,
    heads: usize,
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

    /// Numbers of P per sequence: H matrices `[T, T]`.
    fn probs_per_seq(&self) -> usize {
        self.heads * self.len * self.len
    }

    /// Sequence b, head h's `[T, T]` block of P, `[B, H, T, T]`.
    fn probs_range(&self, b: usize, h: usize) -> std::ops::Range<usize> {
        let at = (b * self.heads + h) * self.len * self.len;
        at..at + self.len * self.len
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

    /// Multiply-adds of one `[T, T]·[T, d]`-sized product over every sequence and head.
    fn product_macs(&self) -> usize {
        self.batch * self.model * self.len * self.len
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

/// [`causal_self_attention`] on the rows of `batch` sequences of equal length: `qkv` is
/// `[B·T, 3·D]` (sequence 0's T rows, then sequence 1's, …), the result `[B·T, D]`. The same
/// numbers as the `[B, T, 3·D]` form, without a reshape on either side.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use dense::attention::{CausalSelfAttention, causal_self_attention, causal_self_attention_rows};
/// let op = CausalSelfAttention::new(2);
/// let tape = Tape::<f32>::new();
/// let data: Vec<f32> = (0..2 * 3 * 12).map(|i| (i as f32 * 0.3).sin()).collect();
/// let rows = causal_self_attention_rows(tape.param_from_slice(&data, &[6, 12]), 2, &op);
/// let seqs = causal_self_attention(tape.param_from_slice(&data, &[2, 3, 12]), &op);
/// assert_eq!(rows.shape(), [6, 4]);
/// assert_eq!(rows.value().data(), seqs.value().data());
/// ```
///
/// # Panics
/// If `qkv` is not `[rows, 3·D]` with `rows` a multiple of `batch` and D of the heads.
pub fn causal_self_attention_rows<'t, T: Element>(
    qkv: Var<'t, T>,
    batch: usize,
    op: &Rc<CausalSelfAttention>,
) -> Var<'t, T> {
    let rows = qkv.with_value(|v| v.shape().first().copied().unwrap_or(0));
    assert!(
        batch > 0 && rows.is_multiple_of(batch),
        "attention: {rows} rows of qkv do not split into {batch} equal sequences"
    );
    // The layout [B, T]: a constant with no numbers, whose shape tells the node where each
    // sequence's rows are.
    let layout = qkv
        .tape()
        .constant_from_slice(&[], &[batch, rows / batch, 0]);
    let op: Rc<dyn CustomOp<T>> = op.clone();
    qkv.tape().custom(op, &[qkv, layout])
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
    let dims = dims_of(heads, &[s.as_slice()]);
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
    // Row i: pᵢⱼ = e^{sᵢⱼ − mᵢ} / Σₖ≤ᵢ e^{sᵢₖ − mᵢ} for j ≤ i (mᵢ the maximum of the visible
    // scores), and exactly 0 for the masked j > i.
    T::causal_softmax_rows(p, t);
}

impl<T: Element> CustomOp<T> for CausalSelfAttention {
    fn name(&self) -> &str {
        "causal_self_attention"
    }

    /// `[B, T, D]` for the sequences form, `[B·T, D]` for the rows form.
    fn output_shape(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let dims = dims_of(self.heads, inputs);
        if inputs.len() == 1 {
            shape.extend_from_slice(&[dims.batch, dims.len, dims.model]);
        } else {
            shape.extend_from_slice(&[dims.batch * dims.len, dims.model]);
        }
    }

    /// P = causal_softmax(Q·Kᵀ/√d) into `saved`, then O = P·V into the output, head by head.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, saved: &mut Vec<T>) {
        let dims = dims_of_inputs(self.heads, inputs);
        let (qkv, t) = (inputs[0].data(), dims.len);
        // Only grown, never zero-filled: every number of P is written below.
        saved.resize(dims.batch * dims.probs_per_seq(), <T as Scalar>::ZERO);
        let per_seq = t * dims.model;
        let blocks = [
            (out.data_mut(), per_seq),
            (&mut saved[..], dims.probs_per_seq()),
        ];
        let macs = 2 * dims.product_macs();
        for_sequence_blocks(blocks, dims.batch, macs, |b0, [out, p]| {
            for i in 0..out.len() / per_seq.max(1) {
                for h in 0..self.heads {
                    let p = &mut p[dims.probs_range(i, h)];
                    probabilities(&dims, qkv, b0 + i, h, p);
                    // O = P·V into head h's columns of the sequence's output (rows D apart).
                    let o = MatMut::new(&mut out[dims.out_at(i, h)..], t, dims.head, dims.model, 1);
                    let v = dims.part(qkv, b0 + i, 2, h);
                    let p = MatRef::row_major(p, t, t);
                    gemm(<T as Scalar>::ONE, p, v, <T as Scalar>::ZERO, o);
                }
            }
        });
    }

    /// From Ō, head by head: `V̄ (+)= Pᵀ·Ō`, `P̄ = Ō·Vᵀ`, `S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)`,
    /// `Q̄ (+)= S̄·K/√d`, `K̄ (+)= S̄ᵀ·Q/√d`; `=` on the first write of the gradient of `qkv`.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let Some((gqkv, store)) = grad_inputs[0].as_mut().map(GradSlot::write) else {
            return;
        };
        let dims = dims_of_inputs(self.heads, inputs);
        let (qkv, t, one, beta) = (inputs[0].data(), dims.len, <T as Scalar>::ONE, beta(store));
        let (p, dout) = (saved, grad_out.data());
        let blocks = [(gqkv.data_mut(), 3 * t * dims.model)];
        let macs = 4 * dims.product_macs();
        for_sequence_blocks(blocks, dims.batch, macs, |b0, [gqkv]| {
            T::with_scratch(|scratch| {
                // Two [T, T] buffers: P̄, then S̄.
                scratch.resize(2 * t * t, <T as Scalar>::ZERO);
                let (dp, ds) = scratch.split_at_mut(t * t);
                for i in 0..gqkv.len() / (3 * t * dims.model).max(1) {
                    // gqkv holds this block only: its sequence index is i, not b.
                    let b = b0 + i;
                    for h in 0..self.heads {
                        let p = &p[dims.probs_range(b, h)];
                        let dout =
                            MatRef::new(&dout[dims.out_at(b, h)..], t, dims.head, dims.model, 1);
                        let (q, k, v) = (
                            dims.part(qkv, b, 0, h),
                            dims.part(qkv, b, 1, h),
                            dims.part(qkv, b, 2, h),
                        );
                        // V̄ (+)= Pᵀ·Ō
                        let pm = MatRef::row_major(p, t, t);
                        gemm(one, pm.t(), dout, beta, dims.part_mut(gqkv, i, 2, h));
                        // P̄ = Ō·Vᵀ, then S̄ from P and P̄
                        gemm(
                            one,
                            dout,
                            v.t(),
                            <T as Scalar>::ZERO,
                            MatMut::row_major(dp, t, t),
                        );
                        softmax_rows_backward(p, dp, ds, t);
                        // Q̄ (+)= S̄·K/√d, K̄ (+)= S̄ᵀ·Q/√d
                        let s_bar = MatRef::row_major(&*ds, t, t);
                        gemm(dims.scale(), s_bar, k, beta, dims.part_mut(gqkv, i, 0, h));
                        gemm(
                            dims.scale(),
                            s_bar.t(),
                            q,
                            beta,
                            dims.part_mut(gqkv, i, 1, h),
                        );
                    }
                }
            });
        });
    }
}

/// Runs `f(b0, blocks)` on consecutive blocks of whole sequences of each of `data`'s N slices
/// (`batch` sequences of `per_seq` values each, the slice's own count; `blocks` starts at
/// sequence `b0` in every slice), spread over the thread pool when the job's `macs` multiply-adds
/// are worth it ([`threads::PARALLEL_MIN_MACS`]). Each sequence is computed by one thread with the
/// same instructions in the same order, so the result is the same bits for any thread count.
fn for_sequence_blocks<T: Send, const N: usize>(
    data: [(&mut [T], usize); N],
    batch: usize,
    macs: usize,
    f: impl Fn(usize, [&mut [T]; N]) + Sync,
) {
    let parts = threads::parts_for(macs, threads::PARALLEL_MIN_MACS, batch.max(1));
    let per_seq = data.each_ref().map(|(_, per)| *per);
    let mut rest = data.map(|(slice, _)| slice);
    let mut part = 0;
    let blocks = std::iter::from_fn(|| {
        if part == parts {
            return None;
        }
        let (b0, b1) = threads::part_range(batch, 1, parts, part);
        part += 1;
        let block = std::array::from_fn(|k| {
            let (block, tail) = std::mem::take(&mut rest[k]).split_at_mut((b1 - b0) * per_seq[k]);
            rest[k] = tail;
            block
        });
        Some((b0, block))
    });
    threads::for_each_part(blocks, |_, (b0, block)| f(b0, block));
}

/// S̄ from P and P̄ (`[T, T]` each) into `ds`, row by row over the visible entries:
/// `S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)` for j ≤ i, and exactly 0 for the masked j > i.
fn softmax_rows_backward<T: Element>(p: &[T], dp: &[T], ds: &mut [T], t: usize) {
    let rows = p.chunks_exact(t).zip(dp.chunks_exact(t));
    for (i, ((pr, dr), sr)) in rows.zip(ds.chunks_exact_mut(t)).enumerate() {
        let (seen, masked) = sr.split_at_mut(i + 1);
        let dot = pr
            .iter()
            .zip(&dr[..i + 1])
            .fold(<T as Scalar>::ZERO, |s, (&a, &b)| s + a * b);
        for ((s, &pj), &dj) in seen.iter_mut().zip(pr).zip(dr) {
            *s = pj * (dj - dot);
        }
        masked.fill(<T as Scalar>::ZERO);
    }
}
