//! Parameters *lent* to a tape instead of copied onto it, and gradients handed back the same way.
//!
//! [`Tape::param`] copies a parameter's values into a tape buffer on every step. For a small
//! network at batch 1 those copies (and copying the gradients out afterwards) cost more than the
//! arithmetic. Lending avoids both:
//!
//! - [`Tape::lend_params`] moves each parameter's buffer into a tape value slot by swapping it
//!   with the slot's spare buffer: O(1) per tensor, whatever its size. The returned
//!   [`LentParams`] holds the parameters mutably borrowed, so nothing else can read them while
//!   they sit on the tape, and swaps them back when it is dropped.
//! - [`Var::backward_to`] runs the reverse pass and swaps each parameter's gradient buffer out of
//!   the tape into a slice owned by the caller (an optimiser's gradient buffers): again O(1) per
//!   tensor, and the caller's old buffers become the tape's spare gradient slots.
//!
//! In a loop the same buffers travel back and forth, so a warm step still allocates nothing.
//!
//! ```
//! use autograd::{Tape, Tensor};
//! let mut params = vec![Tensor::from_vec(vec![1.0f64, 2.0], &[2])];
//! let mut grads = vec![Tensor::empty()];
//! let mut tape = Tape::new();
//! for _step in 0..3 {
//!     tape.reset();
//!     let lent = tape.lend_params(&mut params);
//!     let x = lent.var(0);
//!     let loss = (x * x).sum(); // L = x0² + x1²
//!     loss.backward_to(&lent, &mut grads);
//!     drop(lent); // the parameters go back (the borrow checker forces it before `reset`)
//!     let x = params[0].data();
//!     assert_eq!(grads[0].data(), &[2.0 * x[0], 2.0 * x[1]]); // dL/dx = 2x
//!     // A plain SGD step on the parameters, now back in `params`.
//!     for (p, g) in params[0].data_mut().iter_mut().zip(grads[0].data()) {
//!         *p -= 0.25 * g;
//!     }
//! }
//! assert_eq!(params[0].data(), &[0.125, 0.25]); // each step halves x
//! ```

use crate::float::Float;
use crate::node::{Node, Op};
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;

/// Parameters moved onto a tape by [`Tape::lend_params`]; they return to their owner when this
/// is dropped.
///
/// While it lives, the lent slice is mutably borrowed (its tensors hold the tape's spare buffers,
/// unspecified contents). If it is dropped while the tape is borrowed, which happens only when a
/// panic unwinds out of an op, the parameters are not returned.
pub struct LentParams<'t, 'p, T: Float> {
    tape: &'t Tape<T>,
    params: &'p mut [Tensor<T>],
    first: u32,
}

impl<T: Float> Tape<T> {
    /// Records every tensor of `params` as a parameter leaf *without copying it*: each buffer is
    /// swapped into a tape value slot, in order, as consecutive nodes. Use
    /// [`LentParams::var`] for their handles and [`Var::backward_to`] for their gradients.
    ///
    /// Inside [`no_grad`](Tape::no_grad) the leaves are constants, as with [`Tape::param`].
    pub fn lend_params<'t, 'p>(&'t self, params: &'p mut [Tensor<T>]) -> LentParams<'t, 'p, T> {
        let requires_grad = !self.is_no_grad();
        let mut inner = self.inner.borrow_mut();
        let first = inner.nodes.len();
        for p in params.iter_mut() {
            let i = inner.next_slot();
            std::mem::swap(&mut inner.values[i], p);
            inner.nodes.push(Node {
                op: Op::Leaf,
                requires_grad,
            });
        }
        LentParams {
            tape: self,
            params,
            first: first as u32,
        }
    }
}

impl<'t, T: Float> LentParams<'t, '_, T> {
    /// The handle of parameter `k` (in the order of the lent slice).
    ///
    /// # Panics
    /// If `k` is not below [`len`](LentParams::len).
    pub fn var(&self, k: usize) -> Var<'t, T> {
        assert!(
            k < self.params.len(),
            "LentParams::var: index {k}, but {} parameters were lent",
            self.params.len()
        );
        Var::new(self.tape, self.first as usize + k)
    }

    /// Number of lent parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// True when no parameter was lent.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

impl<T: Float> Drop for LentParams<'_, '_, T> {
    fn drop(&mut self) {
        // `try_`: during a panic the tape may still be borrowed; then the values stay put.
        if let Ok(mut inner) = self.tape.inner.try_borrow_mut() {
            for (k, p) in self.params.iter_mut().enumerate() {
                std::mem::swap(&mut inner.values[self.first as usize + k], p);
            }
        }
    }
}

impl<T: Float> Var<'_, T> {
    /// Reverse-mode gradients of this one-element output with respect to lent parameters, swapped
    /// into `grads` (`grads[k]` = dL/d(parameter k), at its shape) without copying.
    ///
    /// Same contract as [`backward`](Var::backward) otherwise: a fresh result (whatever `grads`
    /// held is replaced, not accumulated), zeros for a parameter the output does not depend on,
    /// the tape left unchanged. Gradients of other parameters on the tape are computed but not
    /// returned.
    ///
    /// # Panics
    /// If the output does not have exactly one element, `grads.len()` differs from the number of
    /// lent parameters, or `lent` belongs to another tape.
    pub fn backward_to(self, lent: &LentParams<'_, '_, T>, grads: &mut [Tensor<T>]) {
        self.backward_to_groups(&[lent], grads);
    }

    /// [`backward_to`](Var::backward_to) for parameters lent in several groups (a network and a
    /// separate tensor, say), with one reverse pass: `grads` holds the gradients of `groups[0]`'s
    /// parameters, then `groups[1]`'s, and so on.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let (mut a, mut b) = (vec![Tensor::scalar(3.0f64)], vec![Tensor::scalar(2.0f64)]);
    /// let mut grads = vec![Tensor::empty(), Tensor::empty()];
    /// let tape = Tape::new();
    /// let (la, lb) = (tape.lend_params(&mut a), tape.lend_params(&mut b));
    /// (la.var(0) * lb.var(0)).backward_to_groups(&[&la, &lb], &mut grads); // L = a·b
    /// assert_eq!((grads[0].item(), grads[1].item()), (2.0, 3.0)); // dL/da = b, dL/db = a
    /// ```
    ///
    /// # Panics
    /// As [`backward_to`](Var::backward_to), with `grads.len()` the total over the groups.
    pub fn backward_to_groups(self, groups: &[&LentParams<'_, '_, T>], grads: &mut [Tensor<T>]) {
        let total: usize = groups.iter().map(|g| g.len()).sum();
        assert!(
            groups.iter().all(|g| std::ptr::eq(self.tape, g.tape)),
            "backward_to: the lent parameters belong to a different tape"
        );
        assert!(
            grads.len() == total,
            "backward_to: {} gradient buffers for {total} lent parameters",
            grads.len(),
        );
        let mut inner = self.tape.inner.borrow_mut();
        let n = self.reverse_pass(&mut inner);
        let nodes = groups
            .iter()
            .flat_map(|g| (0..g.len()).map(|k| g.first as usize + k));
        for (out, j) in grads.iter_mut().zip(nodes) {
            if j < n && inner.touched[j] && inner.nodes[j].requires_grad {
                std::mem::swap(out, &mut inner.grads[j]);
            } else {
                out.resize(inner.values[j].shape());
                out.fill(T::zero());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<Tensor<f64>> {
        vec![
            Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25], &[2, 2]),
            Tensor::from_vec(vec![0.1, -0.3], &[2]),
        ]
    }

    /// L = Σ tanh(x·W + b) on the given handles.
    fn loss<'t>(tape: &'t Tape<f64>, w: Var<'t, f64>, b: Var<'t, f64>) -> Var<'t, f64> {
        let x = tape.constant(&Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5], &[2, 2]));
        (x.matmul(w) + b).tanh().sum()
    }

    #[test]
    fn lent_gradients_equal_copied_ones_and_parameters_come_back() {
        let original = params();
        let copied = Tape::new();
        let (w, b) = (copied.param(&original[0]), copied.param(&original[1]));
        let want = loss(&copied, w, b).backward();

        let mut lent_params = params();
        let mut grads = vec![Tensor::empty(), Tensor::full(&[7], 9.0)];
        let mut tape = Tape::new();
        for _ in 0..2 {
            tape.reset();
            let lent = tape.lend_params(&mut lent_params);
            let l = loss(&tape, lent.var(0), lent.var(1));
            l.backward_to(&lent, &mut grads);
            // Twice: a fresh result, not an accumulation.
            l.backward_to(&lent, &mut grads);
        }
        assert_eq!(grads[0], want[w]);
        assert_eq!(grads[1], want[b]);
        assert_eq!(lent_params, original, "parameters returned unchanged");
    }

    #[test]
    fn unused_parameter_gets_zeros_and_no_grad_lends_constants() {
        let mut ps = params();
        let mut grads = vec![Tensor::empty(), Tensor::empty()];
        let tape = Tape::new();
        {
            let lent = tape.lend_params(&mut ps);
            let l = lent.var(0).sum();
            l.backward_to(&lent, &mut grads);
        }
        assert_eq!(grads[0].data(), &[1.0; 4]);
        assert_eq!(grads[1].data(), &[0.0, 0.0]);
        assert_eq!(grads[1].shape(), &[2]);
        tape.no_grad(|| {
            let lent = tape.lend_params(&mut ps);
            assert!(!lent.var(0).requires_grad());
        });
        assert_eq!(ps, params());
    }

    #[test]
    #[should_panic(expected = "gradient buffers for 2 lent parameters")]
    fn wrong_number_of_gradient_buffers_is_named() {
        let mut ps = params();
        let tape = Tape::new();
        let lent = tape.lend_params(&mut ps);
        lent.var(0).sum().backward_to(&lent, &mut [Tensor::empty()]);
    }
}
