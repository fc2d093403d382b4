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
//! **Two nodes.** The probabilities P are the first node's value (`[B, H, T, T]`), so backward
//! reads them instead of recomputing them (a GEMM and a softmax, `exp` included, per head); the
//! second node mixes the values with them. Backward, from `Ō = dL/dO`, node by node:
//!
//! ```text
//! O = P·V:            V̄ += Pᵀ·Ō          P̄ += Ō·Vᵀ
//! P = softmax(S):     S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)    (row by row; 0 where masked)
//! S = Q·Kᵀ/√d:        Q̄ += S̄·K / √d      K̄ += S̄ᵀ·Q / √d
//! ```
//!
//! **Why GEMMs on strided views.** A head's Q is T rows of d numbers taken every `3·D` numbers
//! of the input: a [`MatRef`] with row stride `3·D` reads it in place, `.t()` reads Kᵀ without a
//! copy, and the output head is a [`MatMut`] with row stride D. So the six products per head
//! (two forward, four backward) run on the packed GEMM with no copies of the activations, and
//! the whole attention is two nodes. The reference composition, [`attention_reference`], records
//! 16 nodes, 12 of which (reshape, permute, select) copy.
//!
//! **Threads.** Sequences are independent, so forward and backward hand blocks of whole
//! sequences (their rows of the outputs, of P̄, or of the gradient of `qkv`) to the thread pool
//! ([`crate::threads`]) when the products are large enough; each sequence is still computed by
//! one thread in the same order, so the bits do not depend on the thread count.
//!
//! How we know it is right: `tests/attention.rs` holds value and gradient equal to
//! [`attention_reference`], composed from autograd's ops (`permute`, `bmm`, `causal_softmax`), to
//! 1e-12 in `f64` for random shapes, close in `f32`, and checks the `f64` op with autograd's
//! finite-difference `gradcheck`.

use std::rc::Rc;

use autograd::{CustomOp, Float, GradSlot, Store, Tensor, Var};

use crate::element::Element;
use crate::gemm::gemm;
use crate::linear::beta;
use crate::scalar::Scalar;
use crate::threads;
use crate::view::{MatMut, MatRef};

/// The fused causal self-attention, for a number of heads: its two ops (see the module doc).
///
/// Keep it in an `Rc` across training steps and pass that to [`causal_self_attention`]: recording
/// its nodes then only bumps reference counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalSelfAttention {
    heads: usize,
    probs: Rc<AttentionProbs>,
    mix: Rc<MixValues>,
}

/// First node: `P = causal_softmax(Q·Kᵀ/√d)` of every sequence and head, `[B, H, T, T]`, from
/// `qkv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AttentionProbs {
    heads: usize,
}

/// Second node: `O = P·V` of every sequence and head, `[B, T, D]`, from `qkv` and P.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MixValues {
    heads: usize,
}

impl CausalSelfAttention {
    /// The op for `heads` heads, shared through an `Rc`.
    ///
    /// # Panics
    /// If `heads` is 0.
    pub fn new(heads: usize) -> Rc<Self> {
        assert!(heads > 0, "attention: expected at least 1 head, got 0");
        Rc::new(CausalSelfAttention {
            heads,
            probs: Rc::new(AttentionProbs { heads }),
            mix: Rc::new(MixValues { heads }),
        })
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }
}

/// (B, T, D, d) from the shape of `qkv` (the first of `shapes`), or a panic naming it.
#[track_caller]
fn dims_of(heads: usize, shapes: &[&[usize]], inputs: usize) -> Dims {
    assert!(
        shapes.len() == inputs,
        "attention: expected {inputs} input(s), got {}",
        shapes.len()
    );
    let s = shapes[0];
    let fits = s.len() == 3 && s[2].is_multiple_of(3 * heads);
    assert!(
        fits,
        "attention: qkv has shape {s:?}; expected [B, T, 3·D] with D a multiple of {heads} heads"
    );
    let model = s[2] / 3;
    Dims {
        batch: s[0],
        len: s[1],
        model,
        heads,
        head: model / heads,
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

    /// Numbers of P (or P̄) per sequence: H matrices `[T, T]`.
    fn probs_per_seq(&self) -> usize {
        self.heads * self.len * self.len
    }

    /// Sequence b, head h's `[T, T]` block of P (or P̄), `[B, H, T, T]`.
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

/// Records causal multi-head self-attention of `qkv` (`[B, T, 3·D]`) as two nodes (the
/// probabilities, then their mix of the values), giving `[B, T, D]` (see the module doc for the
/// formulas).
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
    let (probs, mix): (Rc<dyn CustomOp<T>>, Rc<dyn CustomOp<T>>) =
        (op.probs.clone(), op.mix.clone());
    let p = qkv.tape().custom(probs, &[qkv]);
    qkv.tape().custom(mix, &[qkv, p])
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
    let dims = dims_of(heads, &[s.as_slice()], 1);
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

impl<T: Element> CustomOp<T> for AttentionProbs {
    fn name(&self) -> &str {
        "attention_probs"
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
        let mut shape = Vec::new();
        CustomOp::<T>::output_shape_into(self, inputs, &mut shape);
        shape
    }

    fn output_shape_into(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let dims = dims_of(self.heads, inputs, 1);
        shape.clear();
        shape.extend_from_slice(&[dims.batch, self.heads, dims.len, dims.len]);
    }

    /// P = causal_softmax(Q·Kᵀ/√d) of every sequence and head.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, _saved: &mut Vec<T>) {
        let dims = dims_of(self.heads, &[inputs[0].shape()], 1);
        let qkv = inputs[0].data();
        let blocks = [(out.data_mut(), dims.probs_per_seq())];
        for_sequence_blocks(blocks, dims.batch, dims.product_macs(), |b0, [p]| {
            for b in 0..p.len() / dims.probs_per_seq().max(1) {
                for h in 0..self.heads {
                    probabilities(&dims, qkv, b0 + b, h, &mut p[dims.probs_range(b, h)]);
                }
            }
        });
    }

    /// From P̄: `S̄ᵢⱼ = Pᵢⱼ (P̄ᵢⱼ − Σₖ Pᵢₖ P̄ᵢₖ)`, then `Q̄ += S̄·K/√d`, `K̄ += S̄ᵀ·Q/√d`.
    ///
    /// The gradient of `qkv` is added into: the mixing node, which uses `qkv` too and comes
    /// later on the tape, has already written it (its V part, with zeros in Q and K).
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        out: &Tensor<T>,
        _saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let Some(gqkv) = grad_inputs[0].as_mut().map(GradSlot::add_into) else {
            return;
        };
        let dims = dims_of(self.heads, &[inputs[0].shape()], 1);
        let (qkv, t, one) = (inputs[0].data(), dims.len, <T as Scalar>::ONE);
        let (p, dp) = (out.data(), grad_out.data());
        let blocks = [(gqkv.data_mut(), 3 * t * dims.model)];
        let macs = 2 * dims.product_macs();
        for_sequence_blocks(blocks, dims.batch, macs, |b0, [gqkv]| {
            T::with_scratch(|ds| {
                ds.resize(t * t, <T as Scalar>::ZERO);
                for i in 0..gqkv.len() / (3 * t * dims.model).max(1) {
                    let b = b0 + i;
                    for h in 0..self.heads {
                        let block = dims.probs_range(b, h);
                        softmax_rows_backward(&p[block.clone()], &dp[block], &mut ds[..t * t], t);
                        // Q̄ += S̄·K/√d, K̄ += S̄ᵀ·Q/√d (gqkv holds this block only: i, not b)
                        let s_bar = MatRef::row_major(&ds[..t * t], t, t);
                        let (q, k) = (dims.part(qkv, b, 0, h), dims.part(qkv, b, 1, h));
                        gemm(dims.scale(), s_bar, k, one, dims.part_mut(gqkv, i, 0, h));
                        gemm(
                            dims.scale(),
                            s_bar.t(),
                            q,
                            one,
                            dims.part_mut(gqkv, i, 1, h),
                        );
                    }
                }
            });
        });
    }
}

impl<T: Element> CustomOp<T> for MixValues {
    fn name(&self) -> &str {
        "attention_mix"
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
        let mut shape = Vec::new();
        CustomOp::<T>::output_shape_into(self, inputs, &mut shape);
        shape
    }

    fn output_shape_into(&self, inputs: &[&[usize]], shape: &mut Vec<usize>) {
        let dims = dims_of(self.heads, inputs, 2);
        let probs = [dims.batch, self.heads, dims.len, dims.len];
        assert!(
            inputs[1] == probs,
            "attention_mix: probabilities of shape {:?}; expected {probs:?}",
            inputs[1]
        );
        shape.clear();
        shape.extend_from_slice(&[dims.batch, dims.len, dims.model]);
    }

    /// O = P·V of every head, into its columns of the output.
    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>, _saved: &mut Vec<T>) {
        let dims = dims_of(self.heads, &[inputs[0].shape(), inputs[1].shape()], 2);
        let (qkv, p, t) = (inputs[0].data(), inputs[1].data(), dims.len);
        let per_seq = t * dims.model;
        let blocks = [(out.data_mut(), per_seq)];
        for_sequence_blocks(blocks, dims.batch, dims.product_macs(), |b0, [out]| {
            for i in 0..out.len() / per_seq.max(1) {
                let b = b0 + i;
                for h in 0..self.heads {
                    // O = P·V into head h's columns of the sequence's output (rows D apart).
                    let at = dims.out_at(i, h);
                    let o = MatMut::new(&mut out[at..], t, dims.head, dims.model, 1);
                    let p = MatRef::row_major(&p[dims.probs_range(b, h)], t, t);
                    gemm(
                        <T as Scalar>::ONE,
                        p,
                        dims.part(qkv, b, 2, h),
                        <T as Scalar>::ZERO,
                        o,
                    );
                }
            }
        });
    }

    /// `V̄ += Pᵀ·Ō`, `P̄ += Ō·Vᵀ`.
    ///
    /// Each GEMM overwrites (`β = 0`) when this is the first write of its slot in the pass: P̄
    /// always in a transformer (P feeds only this node), and the gradient of `qkv` too (this node
    /// comes after the probabilities' node on the tape, so its backward runs first). Overwriting
    /// `qkv`'s gradient means writing all of it: V̄, and zeros in the Q and K columns, which the
    /// probabilities' backward then adds into.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        _saved: &[T],
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<GradSlot<'_, T>>],
    ) {
        let dims = dims_of(self.heads, &[inputs[0].shape(), inputs[1].shape()], 2);
        let (qkv, p, t, one) = (
            inputs[0].data(),
            inputs[1].data(),
            dims.len,
            <T as Scalar>::ONE,
        );
        let [gqkv, gp] = grad_inputs else {
            unreachable!("attention_mix has two inputs");
        };
        // A missing gradient is an empty slice with no numbers per sequence.
        let (gqkv, gqkv_per_seq, qkv_store) = match gqkv.as_mut().map(GradSlot::write) {
            Some((g, store)) => (g.data_mut(), 3 * t * dims.model, store),
            None => (&mut [][..], 0, Store::Accumulate),
        };
        let (gp, gp_per_seq, p_store) = match gp.as_mut().map(GradSlot::write) {
            Some((g, store)) => (g.data_mut(), dims.probs_per_seq(), store),
            None => (&mut [][..], 0, Store::Accumulate),
        };
        let blocks = [(gqkv, gqkv_per_seq), (gp, gp_per_seq)];
        let dout = grad_out.data();
        let macs = 2 * dims.product_macs();
        for_sequence_blocks(blocks, dims.batch, macs, |b0, [gqkv, gp]| {
            if qkv_store == Store::Overwrite {
                // Q̄ and K̄ get no share from this node: zeros, for the probabilities' backward.
                for row in gqkv.chunks_exact_mut((3 * dims.model).max(1)) {
                    row[..2 * dims.model].fill(<T as Scalar>::ZERO);
                }
            }
            let seqs = (gqkv.len() / gqkv_per_seq.max(1)).max(gp.len() / gp_per_seq.max(1));
            for i in 0..seqs {
                let b = b0 + i;
                for h in 0..self.heads {
                    let at = dims.out_at(b, h);
                    let dout = MatRef::new(&dout[at..], t, dims.head, dims.model, 1);
                    if gqkv_per_seq > 0 {
                        // V̄ (+)= Pᵀ·Ō (gqkv holds this block only: its index is i, not b)
                        let p = MatRef::row_major(&p[dims.probs_range(b, h)], t, t);
                        let v_bar = dims.part_mut(gqkv, i, 2, h);
                        gemm(one, p.t(), dout, beta(qkv_store), v_bar);
                    }
                    if gp_per_seq > 0 {
                        // P̄ (+)= Ō·Vᵀ
                        let dp = MatMut::row_major(&mut gp[dims.probs_range(i, h)], t, t);
                        gemm(one, dout, dims.part(qkv, b, 2, h).t(), beta(p_store), dp);
                    }
                }
            }
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
