//! Chapter 1 of the course (`docs/01-chain-rule-and-tape.md`): reverse-mode differentiation of
//! scalars with a tape, in about a hundred lines, before the crate's tensor tape.
//!
//! Every operation appends one node to a list. A node remembers which earlier nodes it was
//! computed from and, for each, the local derivative ∂(node)/∂(input) evaluated during the forward
//! pass. Backward is the chain rule as one loop over the list in reverse: each node's adjoint
//! n̄ = ∂f/∂n is complete when the loop reaches it, and it passes n̄ · ∂n/∂input to its inputs.
//!
//! The program differentiates f(x, y) = x·y + tanh(x) with this tape, by hand and by finite
//! differences, then with `autograd`'s tape, then runs a chain of a million nodes to show that a
//! reverse loop has no recursion to overflow.
//!
//! Run: `cargo run --release -p autograd --example scalar_tape`

use std::cell::RefCell;
use std::ops::{Add, Mul};

/// One recorded operation: up to two inputs, each with the local derivative ∂(this)/∂(input).
/// A leaf (an input variable) has none.
struct Node {
    inputs: Vec<(usize, f64)>,
}

/// The list of nodes, in the order the operations ran. Inputs always come before their users.
#[derive(Default)]
struct ScalarTape {
    nodes: RefCell<Vec<Node>>,
}

/// A value together with its place on the tape. `Copy`, so `x * y` does not consume anything.
#[derive(Clone, Copy)]
struct Scalar<'t> {
    tape: &'t ScalarTape,
    index: usize,
    value: f64,
}

impl ScalarTape {
    /// A new input variable (a leaf).
    fn var(&self, value: f64) -> Scalar<'_> {
        self.record(value, Vec::new())
    }

    fn record(&self, value: f64, inputs: Vec<(usize, f64)>) -> Scalar<'_> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { inputs });
        Scalar {
            tape: self,
            index: nodes.len() - 1,
            value,
        }
    }
}

impl<'t> Scalar<'t> {
    /// tanh: d tanh(a)/da = 1 − tanh(a)².
    fn tanh(self) -> Scalar<'t> {
        let t = self.value.tanh();
        self.tape.record(t, vec![(self.index, 1.0 - t * t)])
    }

    /// ∂self/∂(every node), by one reverse loop: adjoint[self] = 1, then each node, from the last
    /// to the first, adds adjoint[node] · ∂node/∂input into adjoint[input] (the chain rule).
    fn gradients(self) -> Vec<f64> {
        let nodes = self.tape.nodes.borrow();
        let mut adjoint = vec![0.0; nodes.len()];
        adjoint[self.index] = 1.0;
        for i in (0..=self.index).rev() {
            for &(input, local) in &nodes[i].inputs {
                adjoint[input] += adjoint[i] * local;
            }
        }
        adjoint
    }
}

/// a + b: ∂/∂a = 1, ∂/∂b = 1.
impl<'t> Add for Scalar<'t> {
    type Output = Scalar<'t>;
    fn add(self, b: Scalar<'t>) -> Scalar<'t> {
        self.tape.record(
            self.value + b.value,
            vec![(self.index, 1.0), (b.index, 1.0)],
        )
    }
}

/// a · b: ∂/∂a = b, ∂/∂b = a.
impl<'t> Mul for Scalar<'t> {
    type Output = Scalar<'t>;
    fn mul(self, b: Scalar<'t>) -> Scalar<'t> {
        self.tape.record(
            self.value * b.value,
            vec![(self.index, b.value), (b.index, self.value)],
        )
    }
}

fn f(x: f64, y: f64) -> f64 {
    x * y + x.tanh()
}

fn main() {
    let (x0, y0) = (2.0, 3.0);
    println!("f(x, y) = x·y + tanh(x) at x = {x0}, y = {y0}");

    let tape = ScalarTape::default();
    let (x, y) = (tape.var(x0), tape.var(y0));
    let out = x * y + x.tanh();
    let grads = out.gradients();
    println!("  value                       {:.12}", out.value);
    println!(
        "  this tape:  ∂f/∂x = {:.12}   ∂f/∂y = {:.12}",
        grads[x.index], grads[y.index]
    );
    println!(
        "  by hand:    ∂f/∂x = {:.12}   ∂f/∂y = {:.12}",
        y0 + 1.0 - x0.tanh().powi(2),
        x0
    );
    let h = 1e-6; // central differences: (f(x + h) − f(x − h)) / 2h
    let dx = (f(x0 + h, y0) - f(x0 - h, y0)) / (2.0 * h);
    let dy = (f(x0, y0 + h) - f(x0, y0 - h)) / (2.0 * h);
    println!("  finite diff ∂f/∂x = {dx:.12}   ∂f/∂y = {dy:.12}");

    // The same function on autograd's arena tape: tensors instead of scalars, same answer.
    use autograd::{Tape, Tensor};
    let arena = Tape::<f64>::new();
    let (xa, ya) = (
        arena.param(&Tensor::scalar(x0)),
        arena.param(&Tensor::scalar(y0)),
    );
    let outa = xa * ya + xa.tanh();
    let ga = outa.backward();
    println!(
        "  autograd:   ∂f/∂x = {:.12}   ∂f/∂y = {:.12}",
        ga[xa].item(),
        ga[ya].item()
    );

    // A million nested tanh: the reverse loop runs a million times; nothing recurses.
    let n = 1_000_000;
    let deep = ScalarTape::default();
    let start = deep.var(0.5);
    let mut v = start;
    let mut forward_product = 1.0; // d(tanh∘…∘tanh)/dx = Π (1 − tanh²) along the chain
    for _ in 0..n {
        v = v.tanh();
        forward_product *= 1.0 - v.value * v.value;
    }
    let chain = v.gradients()[start.index];
    println!("\n{n} nested tanh from 0.5: value {:.6e}", v.value);
    println!("  tape derivative {chain:.6e}, product of local derivatives {forward_product:.6e}");
}
