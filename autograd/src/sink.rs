//! The [`Sink`]: where an op's backward rule adds the gradients of its inputs.
//!
//! The reverse pass (`backward.rs`) lends each rule a `Sink` over the gradient slots of the nodes
//! recorded before it; the rule asks for an input's slot with [`Sink::grad`] and adds into it.
//! Besides the values it is handed, this is all a rule sees of the reverse loop.

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
        let j = j as usize;
        if !self.nodes[j].requires_grad {
            return None;
        }
        let g = &mut self.grads[j];
        if !self.touched[j] {
            self.touched[j] = true;
            g.resize(self.values[j].shape());
            g.fill(T::zero());
        }
        Some(g)
    }

    /// The value of node j.
    pub(crate) fn value(&self, j: usize) -> &Tensor<T> {
        &self.values[j]
    }
}
