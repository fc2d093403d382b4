//! [`Gradients`]: what [`Var::backward`](crate::Var::backward) returns, one tensor per parameter.

use crate::float::Float;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use std::ops::Index;

/// The gradients of one backward pass: dL/dp for every parameter leaf `p` on the tape.
///
/// Contract (see [`Var::backward`](crate::Var::backward)): one entry per parameter recorded on the
/// tape when backward ran, zeros for parameters the output does not depend on; each call computes a
/// fresh result, nothing accumulates across calls.
///
/// Look a gradient up with the parameter's [`Var`]: `grads[w]` or `grads.get(w)`.
#[derive(Clone, Debug)]
pub struct Gradients<T: Float> {
    /// Address of the tape the gradients came from (never dereferenced; identity only).
    pub(crate) tape: usize,
    /// The tape's reset count at the time of backward.
    pub(crate) generation: u64,
    /// `(node index, gradient)` for every parameter, sorted by node index.
    pub(crate) entries: Vec<(u32, Tensor<T>)>,
}

impl<T: Float> Default for Gradients<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Gradients<T> {
    /// An empty set, to be filled (and later refilled, reusing its buffers) by
    /// [`Var::backward_into`](crate::Var::backward_into).
    pub fn new() -> Self {
        Gradients {
            tape: 0,
            generation: 0,
            entries: Vec::new(),
        }
    }

    pub(crate) fn tape_id(tape: &Tape<T>) -> usize {
        tape as *const Tape<T> as usize
    }

    /// dL/dv for a parameter `v`; `None` when `v` is a constant or an intermediate value.
    ///
    /// # Panics
    /// If `v` belongs to another tape, or the tape was reset after the backward pass that made
    /// these gradients (the handle would name a different node).
    pub fn get(&self, v: Var<'_, T>) -> Option<&Tensor<T>> {
        assert!(
            self.tape == Self::tape_id(v.tape) && self.generation == v.tape.generation.get(),
            "Gradients: Var #{} is from a different tape or a later step than these gradients \
             (was the tape reset after backward?)",
            v.index
        );
        self.entries
            .binary_search_by_key(&v.index, |e| e.0)
            .ok()
            .map(|k| &self.entries[k].1)
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the tape had no parameters.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(node index, gradient)` for every parameter, in the order they were recorded.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Tensor<T>)> {
        self.entries.iter().map(|(i, t)| (*i as usize, t))
    }
}

impl<'t, T: Float> Index<Var<'t, T>> for Gradients<T> {
    type Output = Tensor<T>;

    /// dL/dv for a parameter `v`.
    ///
    /// # Panics
    /// If `v` is not a parameter (a constant, or an intermediate value), or comes from another
    /// tape or step.
    fn index(&self, v: Var<'t, T>) -> &Tensor<T> {
        match self.get(v) {
            Some(t) => t,
            None => panic!(
                "Gradients: Var #{} is not a parameter; only leaves made with Tape::param have a gradient",
                v.index
            ),
        }
    }
}
