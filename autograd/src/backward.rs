//! The reverse pass: [`Var::backward`], one loop over the tape that hands each node's gradient to
//! its op's backward rule.
//!
//! Reverse mode in one loop. Write `ḡ_i` for dL/d(node i). The output's `ḡ` is 1. Every node's
//! value was computed from nodes with smaller indices, so walking the arena from the output down
//! to node 0 visits a node only after everything that used it: by then its `ḡ` is complete, and
//! its op's backward rule adds `ḡ_i · ∂(node i)/∂(input)` into each input's `ḡ` (the chain rule,
//! summed over every use). No recursion, no sort: a million-node chain is a million iterations.
//!
//! Two things a rule gets besides values and gradients: what its node's forward saved for it
//! (layer norm's row statistics, a custom op's own values), and, for the first rule to reach an
//! input's gradient slot in the pass, leave to overwrite the slot rather than add to zeros (see
//! `sink.rs`).

use crate::custom::{CustomOp, GradSlot, STACK_INPUTS, Store, with_inputs};
use crate::float::Float;
use crate::gradients::Gradients;
use crate::node::{Node, Op};
use crate::ops::{
    batched, binary, causal_softmax, embedding, gather, layer_norm, matmul, reduce, shape_ops,
    unary,
};
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

impl<'t, T: Float> Var<'t, T> {
    /// Reverse-mode gradient of this one-element output (a loss) with respect to every
    /// parameter on the tape.
    ///
    /// **Contract.**
    /// - Returns dL/dp for every leaf made with [`Tape::param`](crate::Tape::param) (also those
    ///   recorded after this node), as a tensor of p's shape; zeros when L does not depend on p.
    ///   Constants and intermediate values have no entry.
    /// - Returns a fresh result: nothing accumulates across calls. Calling it twice on the same
    ///   output gives identical gradients; to sum the gradients of several losses, add the losses
    ///   first, or add the returned tensors yourself.
    /// - The tape is left unchanged (values stay readable; more ops may be recorded).
    /// - Higher-order gradients are not supported: backward records nothing on the tape.
    ///
    /// # Panics
    /// If the output does not have exactly one element; the message names its shape.
    pub fn backward(self) -> Gradients<T> {
        let mut grads = Gradients::new();
        self.backward_into(&mut grads);
        grads
    }

    /// [`backward`](Var::backward) into an existing [`Gradients`], reusing its buffers: in a
    /// training loop this makes the backward pass allocation-free once warmed up. Whatever
    /// `grads` held before is replaced (not accumulated).
    pub fn backward_into(self, out: &mut Gradients<T>) {
        let tape = self.tape;
        let mut guard = tape.inner.borrow_mut();
        let n = self.reverse_pass(&mut guard);
        let crate::tape::Inner {
            nodes,
            values,
            grads,
            touched,
            ..
        } = &mut *guard;
        let nodes: &[Node<T>] = nodes;

        // Collect the parameters' gradients, reusing `out`'s buffers.
        out.tape = Gradients::tape_id(tape);
        out.generation = tape.generation.get();
        let mut k = 0;
        for (j, node) in nodes.iter().enumerate() {
            if !(matches!(node.op, Op::Leaf) && node.requires_grad) {
                continue;
            }
            if k == out.entries.len() {
                out.entries.push((j as u32, Tensor::placeholder()));
            }
            let entry = &mut out.entries[k];
            entry.0 = j as u32;
            if j < n && touched[j] {
                entry.1.copy_from(&grads[j]);
            } else {
                entry.1.resize(values[j].shape());
                entry.1.fill(T::zero());
            }
            k += 1;
        }
        out.entries.truncate(k);
    }

    /// The reverse pass itself: fills the tape's gradient slots of every node the output depends
    /// on (marking them in `touched`) and returns the number of nodes it covered (output index
    /// + 1). Collecting the parameters' gradients is left to the caller.
    pub(crate) fn reverse_pass(self, guard: &mut crate::tape::Inner<T>) -> usize {
        let crate::tape::Inner {
            nodes,
            values,
            saved,
            grads,
            touched,
            scratch,
            pool,
            customs,
        } = guard;
        let root = self.index as usize;
        let n = root + 1;
        assert!(
            values[root].numel() == 1,
            "backward: expected a one-element output (a loss), got shape {:?}; reduce it first, e.g. with .sum() or .mean()",
            values[root].shape()
        );
        if grads.len() < n {
            grads.resize_with(n, Tensor::placeholder);
        }
        touched.clear();
        touched.resize(n, false);
        let values: &[Tensor<T>] = values;
        let nodes: &[Node<T>] = nodes;

        // Seed: dL/dL = 1.
        grads[root].resize(values[root].shape());
        grads[root].fill(T::one());
        touched[root] = true;

        for i in (0..n).rev() {
            if !touched[i] || !nodes[i].requires_grad {
                continue; // L does not depend on node i, or no parameter lies below it
            }
            let (grads_below, rest) = grads.split_at_mut(i);
            let g = &rest[0];
            let y = &values[i];
            let mut sink = Sink {
                grads: grads_below,
                touched: &mut touched[..i],
                nodes,
                values,
            };
            match nodes[i].op {
                Op::Leaf => {}
                Op::Unary { x, kind, consts } => {
                    unary::backward(kind, consts, &values[x as usize], y, g, &mut sink, x)
                }
                Op::Binary(kind, a, b) => {
                    binary::backward(kind, values, y, g, &mut sink, scratch, a, b)
                }
                Op::MatMul(a, b) => matmul::backward(values, g, &mut sink, a, b),
                Op::Transpose(a) => shape_ops::transpose_backward(g, &mut sink, a),
                Op::Reshape(a) => shape_ops::reshape_backward(g, &mut sink, a),
                Op::SumAll(a) => reduce::sum_all_backward(g, &mut sink, a, false),
                Op::MeanAll(a) => reduce::sum_all_backward(g, &mut sink, a, true),
                Op::Axis(kind, a, axis) => reduce::axis_backward(
                    kind,
                    &values[a as usize],
                    y,
                    g,
                    &mut sink,
                    a,
                    axis as usize,
                ),
                Op::Gather { x, axis, start } => {
                    let idx = &pool[start as usize..start as usize + g.numel()];
                    gather::backward(g, &mut sink, x, axis as usize, idx)
                }
                Op::Concat { axis, start, len } => {
                    let inputs = &pool[start as usize..(start + len) as usize];
                    shape_ops::concat_backward(g, &mut sink, inputs, axis as usize)
                }
                Op::Custom { op, start, len } => {
                    let inputs = &pool[start as usize..(start + len) as usize];
                    custom_backward(&*customs[op as usize], inputs, y, &saved[i], g, &mut sink);
                }
                Op::BatchMatMul(a, b) => batched::bmm_backward(values, g, &mut sink, a, b),
                Op::Permute { x, start } => {
                    let perm = &pool[start as usize..start as usize + g.ndim()];
                    batched::permute_backward(g, &mut sink, x, perm)
                }
                Op::LayerNorm { x, gain, bias } => {
                    let inputs = layer_norm::LayerNormInputs { x, gain, bias };
                    layer_norm::backward(values, &saved[i], g, &mut sink, inputs)
                }
                Op::CausalSoftmax(x) => causal_softmax::backward(y, g, &mut sink, x),
                Op::Embed { table, start } => {
                    let ids = &pool[start as usize..start as usize + g.shape()[0]];
                    embedding::backward(g, &mut sink, table, ids)
                }
            }
        }

        n
    }
}

/// Backward of a custom op: lends it the gradient slots of its inputs, each with whether it is
/// still fresh (see [`GradSlot`]).
fn custom_backward<T: Float>(
    op: &dyn CustomOp<T>,
    inputs: &[usize],
    y: &Tensor<T>,
    saved: &[T],
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
) {
    let node = CustomNode {
        op,
        inputs,
        y,
        saved,
        g,
    };
    if inputs.len() <= STACK_INPUTS {
        let mut taken: [Option<(Tensor<T>, Store)>; STACK_INPUTS] = Default::default();
        node.backward_with(sink, &mut taken[..inputs.len()]);
    } else {
        let mut taken: Vec<Option<(Tensor<T>, Store)>> = (0..inputs.len()).map(|_| None).collect();
        node.backward_with(sink, &mut taken);
    }
}

/// What a custom op's backward reads: the op, its inputs' node indices, its value, what its
/// forward saved, and its gradient.
struct CustomNode<'a, T: Float> {
    op: &'a dyn CustomOp<T>,
    inputs: &'a [usize],
    y: &'a Tensor<T>,
    saved: &'a [T],
    g: &'a Tensor<T>,
}

impl<T: Float> CustomNode<'_, T> {
    fn backward_with(&self, sink: &mut Sink<'_, T>, taken: &mut [Option<(Tensor<T>, Store)>]) {
        let inputs = self.inputs;
        // Move each input's gradient buffer out of the sink so the op can hold them all mutably at
        // once. An input listed twice gets a separate zeroed buffer for its second use, added
        // back afterwards.
        for (k, &j) in inputs.iter().enumerate() {
            let duplicate = inputs[..k].contains(&j);
            taken[k] = match sink.grad_slot(j as u32) {
                None => None,
                Some(_) if duplicate => {
                    Some((Tensor::zeros(sink.values[j].shape()), Store::Accumulate))
                }
                Some((buf, store)) => Some((std::mem::replace(buf, Tensor::placeholder()), store)),
            };
        }
        let count = taken.len();
        with_inputs(sink.values, inputs.iter().copied(), |ins| {
            if count <= STACK_INPUTS {
                let mut slots: [Option<GradSlot<'_, T>>; STACK_INPUTS] = Default::default();
                for (s, t) in slots.iter_mut().zip(taken.iter_mut()) {
                    *s = t.as_mut().map(|(buf, store)| GradSlot::new(buf, *store));
                }
                self.run(ins, &mut slots[..count]);
            } else {
                let mut slots: Vec<Option<GradSlot<'_, T>>> = taken
                    .iter_mut()
                    .map(|t| t.as_mut().map(|(buf, store)| GradSlot::new(buf, *store)))
                    .collect();
                self.run(ins, &mut slots);
            }
        });
        for (k, &j) in inputs.iter().enumerate() {
            if let Some((t, _)) = taken[k].take() {
                let slot = &mut sink.grads[j];
                if inputs[..k].contains(&j) {
                    for (d, s) in slot.data.iter_mut().zip(&t.data) {
                        *d += *s;
                    }
                } else {
                    *slot = t;
                }
            }
        }
    }

    /// Calls the op's backward, then zero-fills any fresh slot it left unwritten.
    fn run(&self, ins: &[&Tensor<T>], slots: &mut [Option<GradSlot<'_, T>>]) {
        self.op.backward(ins, self.y, self.saved, self.g, slots);
        for slot in slots.iter_mut().filter_map(Option::take) {
            slot.finish();
        }
    }
}
