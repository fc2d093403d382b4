//! The [`Tape`]: an arena that records every op in the order it runs.
//!
//! Node `i` is the i-th op (or leaf) recorded since the last [`Tape::reset`]. Its value lives in
//! slot `i` of a `Vec<Tensor>` that the tape keeps across resets, so a training loop that builds
//! the same graph every step reuses the same buffers and stops allocating after the first step.
//! An op refers to its inputs by their node indices, which are always smaller than its own, so the
//! order of the arena is already a topological order: backward is one loop from the output down
//! to node 0 (see `backward.rs`), with no recursion and no sort.
//!
//! All interior mutability sits in one `RefCell` for the whole tape (not one per node). That is
//! what lets a [`Var`](crate::Var) be a plain `Copy` pair `(&Tape, index)` that operators can
//! consume. This file holds the arena and its modes; adding nodes to it (leaves, ops) is in
//! `record.rs`, which hands back a `Var` for each.

use crate::custom::CustomOp;
use crate::float::Float;
use crate::node::Node;
use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The mutable state of a tape, behind its single `RefCell`.
pub(crate) struct Inner<T: Float> {
    /// Recorded nodes, in execution order.
    pub(crate) nodes: Vec<Node<T>>,
    /// Value slots: `values[i]` is node i's value for `i < nodes.len()`; slots beyond are spare
    /// buffers kept from earlier steps.
    pub(crate) values: Vec<Tensor<T>>,
    /// Saved slots: `saved[i]` holds what node i's forward kept for its backward (layer norm's
    /// row statistics, a custom op's own values; empty for most ops), reused like the values.
    pub(crate) saved: Vec<Vec<T>>,
    /// Gradient slots used by backward, reused the same way.
    pub(crate) grads: Vec<Tensor<T>>,
    /// Whether `grads[i]` holds a gradient in the current backward pass (else it is stale).
    pub(crate) touched: Vec<bool>,
    /// Scratch space for a gradient at a broadcast shape before it is summed back.
    pub(crate) scratch: Vec<T>,
    /// Integer data some ops record: gather indices, input lists of concat and custom ops.
    pub(crate) pool: Vec<usize>,
    /// Custom ops recorded since the last reset.
    pub(crate) customs: Vec<Rc<dyn CustomOp<T>>>,
}

/// An arena of recorded ops; create [`Var`](crate::Var)s with [`param`](Tape::param) and
/// [`constant`](Tape::constant), combine them with ops, then call [`Var::backward`](crate::Var::backward).
///
/// A tape belongs to one thread (it is neither `Send` nor `Sync`: custom ops are shared through
/// `Rc`); give each worker thread its own tape.
///
/// ```
/// use autograd::{Tape, Tensor};
/// let mut tape = Tape::<f64>::new();
/// for step in 0..3 {
///     tape.reset(); // forget last step's nodes, keep their buffers
///     let x = tape.param(&Tensor::from_vec(vec![1.0, 2.0], &[2]));
///     let y = (x * x).sum(); // y = x0² + x1²
///     let g = y.backward();
///     assert_eq!(g[x].data(), &[2.0, 4.0]); // dy/dx = 2x
///     assert_eq!(tape.len(), 3, "step {step}");
/// }
/// ```
pub struct Tape<T: Float> {
    pub(crate) inner: RefCell<Inner<T>>,
    /// True inside [`Tape::no_grad`]: ops record values only.
    pub(crate) no_grad: Cell<bool>,
    /// Incremented by every reset, so stale [`Gradients`](crate::Gradients) are detected.
    pub(crate) generation: Cell<u64>,
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            inner: RefCell::new(Inner {
                nodes: Vec::new(),
                values: Vec::new(),
                saved: Vec::new(),
                grads: Vec::new(),
                touched: Vec::new(),
                scratch: Vec::new(),
                pool: Vec::new(),
                customs: Vec::new(),
            }),
            no_grad: Cell::new(false),
            generation: Cell::new(0),
        }
    }

    /// Forgets every node but keeps every buffer, so the next step reuses them: a loop that
    /// builds the same graph each step stops allocating after its first step.
    ///
    /// Takes `&mut self`, so the borrow checker guarantees no [`Var`](crate::Var) of the old
    /// graph survives.
    pub fn reset(&mut self) {
        let inner = self.inner.get_mut();
        inner.nodes.clear();
        inner.pool.clear();
        inner.customs.clear();
        self.generation.set(self.generation.get() + 1);
    }

    /// Number of nodes recorded since the last reset.
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// True when no node has been recorded since the last reset.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of heap memory held by the tape's buffers (capacities, not lengths). In a loop that
    /// builds the same graph every step this stops growing after the first step.
    pub fn capacity_bytes(&self) -> usize {
        let inner = self.inner.borrow();
        let tensors = |v: &Vec<Tensor<T>>| {
            v.iter().map(Tensor::capacity_bytes).sum::<usize>()
                + v.capacity() * std::mem::size_of::<Tensor<T>>()
        };
        let saved = inner.saved.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<T>()
            + inner.saved.capacity() * std::mem::size_of::<Vec<T>>();
        tensors(&inner.values)
            + tensors(&inner.grads)
            + saved
            + inner.nodes.capacity() * std::mem::size_of::<Node<T>>()
            + inner.touched.capacity()
            + inner.scratch.capacity() * std::mem::size_of::<T>()
            + inner.pool.capacity() * std::mem::size_of::<usize>()
            + inner.customs.capacity() * std::mem::size_of::<Rc<dyn CustomOp<T>>>()
    }

    /// Runs `f` with recording switched off: ops inside compute their values but record no
    /// backward information, and every `Var` they produce is a constant. Use it for rollouts and
    /// evaluation. Nests, and restores the previous mode even if `f` panics.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let w = tape.param(&Tensor::ones(&[2]));
    /// let y = tape.no_grad(|| (w * 3.0).sum());
    /// assert_eq!(y.item(), 6.0);
    /// assert!(!y.requires_grad());
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<bool>, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(&self.no_grad, self.no_grad.replace(true));
        f()
    }

    /// True inside [`no_grad`](Tape::no_grad).
    pub fn is_no_grad(&self) -> bool {
        self.no_grad.get()
    }
}

impl<T: Float> Inner<T> {
    /// Index of the next node, making sure a value buffer and a saved buffer exist for it.
    #[inline]
    pub(crate) fn next_slot(&mut self) -> usize {
        let i = self.nodes.len();
        assert!(i < u32::MAX as usize, "Tape: more than 2^32 - 1 nodes");
        if self.values.len() == i {
            self.values.push(Tensor::placeholder());
        }
        if self.saved.len() == i {
            self.saved.push(Vec::new());
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Op;

    /// y = x, as a custom op (the tape keeps custom ops only for backward).
    struct Identity;

    impl CustomOp<f64> for Identity {
        fn name(&self) -> &str {
            "identity"
        }
        fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
            out.extend_from_slice(inputs[0]);
        }
        fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, _saved: &mut Vec<f64>) {
            out.copy_from(inputs[0]);
        }
        fn backward(
            &self,
            _inputs: &[&Tensor<f64>],
            _out: &Tensor<f64>,
            _saved: &[f64],
            grad_out: &Tensor<f64>,
            grad_inputs: &mut [Option<crate::GradSlot<'_, f64>>],
        ) {
            if let Some(gx) = grad_inputs[0].as_mut().map(crate::GradSlot::add_into) {
                for (d, &g) in gx.data_mut().iter_mut().zip(grad_out.data()) {
                    *d += g;
                }
            }
        }
    }

    /// Records ops of every kind that keeps backward information: unary, binary, axis ops,
    /// gather (indices), concat (input lists) and a custom op (the op itself).
    fn graph(tape: &Tape<f64>) {
        let w = tape.param(&Tensor::from_vec(
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            &[2, 3],
        ));
        let h = (w.tanh() * w).log_softmax(1).gather(1, &[2, 0]);
        let c = tape.concat(&[h, h], 0);
        let _ = tape.custom(Rc::new(Identity), &[c]).sum();
    }

    /// What the tape kept for backward: ops other than leaves, integer data, custom ops.
    fn backward_info(tape: &Tape<f64>) -> (usize, usize, usize) {
        let inner = tape.inner.borrow();
        let ops = inner
            .nodes
            .iter()
            .filter(|n| !matches!(n.op, Op::Leaf) || n.requires_grad)
            .count();
        (ops, inner.pool.len(), inner.customs.len())
    }

    #[test]
    fn no_grad_records_values_but_no_backward_information() {
        let recording = Tape::new();
        graph(&recording);
        let (ops, indices, customs) = backward_info(&recording);
        assert!(ops > 0 && indices > 0 && customs == 1);

        let free = Tape::new();
        free.no_grad(|| graph(&free));
        assert_eq!(free.len(), recording.len(), "values are still computed");
        // The parameter leaf itself is recorded as a constant inside no_grad.
        assert_eq!(backward_info(&free), (0, 0, 0));
    }
}
