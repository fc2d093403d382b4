//! Recording: the [`Tape`] methods that add a node and hand back its [`Var`].
//!
//! Leaves (parameters and constants) copy their data into a reused value slot; every op goes
//! through [`Tape::record`], which computes the value, decides whether a gradient will flow
//! through the node, and stores its [`Op`] only then. [`Var::detach`] records a leaf from a value.

use crate::custom::CustomOp;
use crate::float::Float;
use crate::node::{Node, Op};
use crate::tape::Tape;
use crate::tensor::{Tensor, numel_of};
use crate::var::Var;
use std::rc::Rc;

impl<T: Float> Tape<T> {
    /// Records a leaf holding a copy of `data`, reusing a spare value buffer.
    fn leaf(&self, data: &[T], shape: &[usize], requires_grad: bool, what: &str) -> Var<'_, T> {
        assert!(
            data.len() == numel_of(shape),
            "{what}: data of length {} does not fit shape {shape:?}, which holds {} elements",
            data.len(),
            numel_of(shape)
        );
        let mut inner = self.inner.borrow_mut();
        let i = inner.next_slot();
        let out = &mut inner.values[i];
        out.shape.clear();
        out.shape.extend_from_slice(shape);
        out.data.clear();
        out.data.extend_from_slice(data);
        inner.nodes.push(Node {
            op: Op::Leaf,
            requires_grad: requires_grad && !self.no_grad.get(),
        });
        Var::new(self, i)
    }

    /// A parameter: a leaf whose gradient [`Var::backward`] reports. The values are copied into
    /// a buffer the tape reuses across resets.
    pub fn param(&self, t: &Tensor<T>) -> Var<'_, T> {
        self.leaf(&t.data, &t.shape, true, "Tape::param")
    }

    /// A constant: a leaf no gradient flows into (inputs, targets, advantages).
    pub fn constant(&self, t: &Tensor<T>) -> Var<'_, T> {
        self.leaf(&t.data, &t.shape, false, "Tape::constant")
    }

    /// A parameter from row-major data and a shape.
    ///
    /// # Panics
    /// If the data does not fit the shape.
    pub fn param_from_slice(&self, data: &[T], shape: &[usize]) -> Var<'_, T> {
        self.leaf(data, shape, true, "Tape::param_from_slice")
    }

    /// A constant from row-major data and a shape.
    ///
    /// # Panics
    /// If the data does not fit the shape.
    pub fn constant_from_slice(&self, data: &[T], shape: &[usize]) -> Var<'_, T> {
        self.leaf(data, shape, false, "Tape::constant_from_slice")
    }

    /// A constant scalar (shape `[]`).
    pub fn scalar(&self, x: T) -> Var<'_, T> {
        self.leaf(&[x], &[], false, "Tape::scalar")
    }

    /// Records an op: checks that every input is on this tape, lets `compute` write the output
    /// value into a reused slot (it sees all earlier values), then stores the node. `make_op`
    /// builds the node's [`Op`], pushing any integer data it needs onto the pool (and a custom op
    /// onto the custom list); it runs only when a gradient will flow, so under `no_grad` nothing
    /// but the value is kept.
    pub(crate) fn record(
        &self,
        name: &str,
        inputs: &[Var<'_, T>],
        compute: impl FnOnce(&[Tensor<T>], &mut Tensor<T>),
        make_op: impl FnOnce(&mut Vec<usize>, &mut Vec<Rc<dyn CustomOp<T>>>) -> Op<T>,
    ) -> Var<'_, T> {
        self.record_saving(name, inputs, |v, out, _| compute(v, out), make_op)
    }

    /// [`record`](Tape::record) for an op whose forward keeps values for its backward: `compute`
    /// also gets the node's saved buffer (reused across steps, stale contents), which backward
    /// hands back to the rule.
    pub(crate) fn record_saving(
        &self,
        name: &str,
        inputs: &[Var<'_, T>],
        compute: impl FnOnce(&[Tensor<T>], &mut Tensor<T>, &mut Vec<T>),
        make_op: impl FnOnce(&mut Vec<usize>, &mut Vec<Rc<dyn CustomOp<T>>>) -> Op<T>,
    ) -> Var<'_, T> {
        let mut inner = self.inner.borrow_mut();
        let mut requires_grad = false;
        for v in inputs {
            assert!(
                std::ptr::eq(v.tape, self),
                "{name}: an operand belongs to a different tape"
            );
            requires_grad |= inner.nodes[v.index as usize].requires_grad;
        }
        requires_grad &= !self.no_grad.get();
        let i = inner.next_slot();
        let inner = &mut *inner;
        let (done, rest) = inner.values.split_at_mut(i);
        compute(done, &mut rest[0], &mut inner.saved[i]);
        let op = if requires_grad {
            make_op(&mut inner.pool, &mut inner.customs)
        } else {
            Op::Leaf
        };
        inner.nodes.push(Node { op, requires_grad });
        Var::new(self, i)
    }

    /// Records a custom op (the extension point; see [`CustomOp`]): its output shape comes from
    /// [`CustomOp::output_shape`], its value (and what it saves for backward) from
    /// [`CustomOp::forward`], and backward calls [`CustomOp::backward`].
    pub fn custom(&self, op: Rc<dyn CustomOp<T>>, inputs: &[Var<'_, T>]) -> Var<'_, T> {
        self.record_saving(
            op.name(),
            inputs,
            |values, out, saved| {
                crate::custom::with_inputs(values, inputs.iter().map(|v| v.index as usize), |ins| {
                    crate::custom::with_shapes(ins, |shapes| {
                        out.shape.clear();
                        op.output_shape(shapes, &mut out.shape);
                        let numel = crate::tensor::numel_of(&out.shape);
                        out.data.resize(numel, T::zero());
                    });
                    op.forward(ins, out, saved);
                })
            },
            |pool, customs| {
                let start = pool.len() as u32;
                pool.extend(inputs.iter().map(|v| v.index as usize));
                customs.push(op.clone());
                Op::Custom {
                    op: (customs.len() - 1) as u32,
                    start,
                    len: inputs.len() as u32,
                }
            },
        )
    }
}

impl<T: Float> Var<'_, T> {
    /// The same value as a new constant leaf: no gradient flows back through it.
    ///
    /// d detach(x)/dx = 0 (by definition).
    pub fn detach(self) -> Self {
        // Recorded with no inputs, so it is a leaf that needs no gradient.
        let i = self.index as usize;
        self.tape.record(
            "detach",
            &[],
            |v, out| out.copy_from(&v[i]),
            |_, _| Op::Leaf,
        )
    }
}
