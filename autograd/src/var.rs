//! [`Var`]: a small `Copy` handle to one node of a [`Tape`].
//!
//! A `Var` is a reference to its tape plus the node's index (16 bytes). Ops are methods on it
//! (`x.tanh()`, `x.matmul(w)`) and operators (`a + b`, `2.0 * x`), each recording one node and
//! returning a new handle. The lifetime `'t` ties a handle to its tape: the borrow checker rejects
//! any use after [`Tape::reset`].

use crate::float::Float;
use crate::tape::Tape;
use crate::tensor::Tensor;
use std::fmt;

/// A handle to a node of a [`Tape`]: a value that can be combined with ops and differentiated.
///
/// ```
/// use autograd::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.param(&Tensor::scalar(3.0));
/// let y = x * x + 2.0 * x; // y = x² + 2x
/// assert_eq!(y.item(), 15.0);
/// assert_eq!(y.backward()[x].item(), 8.0); // dy/dx = 2x + 2
/// ```
#[derive(Clone, Copy)]
pub struct Var<'t, T: Float> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) index: u32,
}

impl<'t, T: Float> Var<'t, T> {
    #[inline]
    pub(crate) fn new(tape: &'t Tape<T>, index: usize) -> Self {
        Var {
            tape,
            index: index as u32,
        }
    }

    /// The tape this handle belongs to.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node's position on the tape (0 for the first node since the last reset).
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// A copy of the value.
    pub fn value(&self) -> Tensor<T> {
        self.with_value(Tensor::clone)
    }

    /// Calls `f` with the value borrowed in place (no copy).
    ///
    /// `f` must not record ops on the same tape (the tape is borrowed meanwhile; that panics).
    pub fn with_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self.tape.inner.borrow().values[self.index as usize])
    }

    /// The value's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.with_value(|t| t.shape().to_vec())
    }

    /// Number of elements of the value.
    pub fn numel(&self) -> usize {
        self.with_value(Tensor::numel)
    }

    /// The single element of a one-element value.
    ///
    /// # Panics
    /// If the value does not have exactly one element.
    pub fn item(&self) -> T {
        self.with_value(Tensor::item)
    }

    /// True when gradients flow into this node: it is a parameter, or it was computed (outside
    /// `no_grad`) from something that requires a gradient.
    pub fn requires_grad(&self) -> bool {
        self.tape.inner.borrow().nodes[self.index as usize].requires_grad
    }
}

impl<T: Float> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_value(|v| write!(f, "Var#{}({v:?})", self.index))
    }
}

impl<T: Float> fmt::Display for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_value(|v| write!(f, "{v}"))
    }
}
