//! The [`Sink`]: where an op's backward rule adds the gradients of its inputs.
//!
//! The reverse pass (`backward.rs`) lends each rule a `Sink` over the gradient slots of the nodes
//! recorded before it; the rule asks for an input's slot with [`Sink::grad`] and adds into it.
//! Besides the values it is handed, this is all a rule sees of the reverse loop.
//!
//! **First writes.** A node used twice gets two contributions, `x̄ = x̄₁ + x̄₂`, so rules ADD. But
//! the tape reuses its gradient slots across steps, so the first rule to reach a slot in a pass
//! finds stale numbers: [`Sink::grad`] zero-fills it first (a `memset` of the whole gradient).
//! A rule that writes every element of its contribution anyway can skip that fill: it asks with
//! [`Sink::grad_slot`], which says [`Store::Overwrite`] on the first write (write with `=`) and
//! [`Store::Accumulate`] after (add with `+=`).
//!
//! The two paths give the same numbers, with one difference in the sign of zero: adding onto
//! the zero fill turns a contribution of −0 into +0 (`+0 + −0 = +0`), writing keeps −0. Both
//! compare equal, and any later addition of a non-zero number erases the difference.

use crate::custom::Store;
use crate::float::Float;
use crate::node::Node;
use crate::tensor::Tensor;

/// Where backward rules add gradients: the gradient slots of the nodes below the current one.
pub(crate) struct Sink<'a, T: Float> {
    /// Gradient slots of the nodes below the current one.
    pub(crate) grads: &'a mut [Tensor<T>],
    /// Whether each of those slots holds a gradient yet in this pass.
    pub(crate) touched: &'a mut [bool],
    /// Every recorded node (for `requires_grad`).
    pub(crate) nodes: &'a [Node<T>],
    /// Every node's value.
    pub(crate) values: &'a [Tensor<T>],
}

impl<T: Float> Sink<'_, T> {
    /// The buffer holding dL/d(node j), to ADD into; zeroed (at node j's shape) on first use in
    /// this pass. `None` when node j needs no gradient, so rules skip work for constants.
    #[inline]
    pub(crate) fn grad(&mut self, j: u32) -> Option<&mut Tensor<T>> {
        let (g, store) = self.grad_slot(j)?;
        if store == Store::Overwrite {
            g.fill(T::zero());
        }
        Some(g)
    }

    /// The buffer holding dL/d(node j), at node j's shape, and how to store into it: on the
    /// first use in this pass [`Store::Overwrite`] (its numbers are stale: the rule must write
    /// every element, with `=`), after that [`Store::Accumulate`] (add with `+=`). `None` when
    /// node j needs no gradient.
    #[inline]
    pub(crate) fn grad_slot(&mut self, j: u32) -> Option<(&mut Tensor<T>, Store)> {
        let j = j as usize;
        if !self.nodes[j].requires_grad {
            return None;
        }
        let g = &mut self.grads[j];
        if self.touched[j] {
            return Some((g, Store::Accumulate));
        }
        self.touched[j] = true;
        g.resize(self.values[j].shape());
        Some((g, Store::Overwrite))
    }

    /// The value of node j.
    pub(crate) fn value(&self, j: usize) -> &Tensor<T> {
        &self.values[j]
    }
}
