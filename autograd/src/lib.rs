//! Reverse-mode automatic differentiation over `f32`/`f64` tensors, from scratch, with a public
//! gradient checker.
//!
//! # Reverse mode on a worked example
//!
//! Take `L = tanh(w·x + b)` with `w = 0.5`, `x = 2`, `b = −0.5`. Running it records one node per
//! operation, in order, on a [`Tape`]:
//!
//! ```text
//! node  op            value
//! 0     w (param)     0.5
//! 1     x (constant)  2
//! 2     b (param)    −0.5
//! 3     u = w·x       1.0
//! 4     z = u + b     0.5
//! 5     L = tanh z    0.46211716
//! ```
//!
//! Reverse mode walks the nodes backwards carrying `n̄ = ∂L/∂n` (the "adjoint"), starting from
//! `L̄ = 1`. Each node passes its adjoint to its inputs multiplied by its local derivative:
//!
//! ```text
//! node 5  L = tanh z : z̄ += L̄ · (1 − L²)  = 1 · (1 − 0.4621²) = 0.78644773
//! node 4  z = u + b  : ū += z̄ · 1,  b̄ += z̄ · 1               = 0.78644773 each
//! node 3  u = w·x    : w̄ += ū · x = 1.57289546,  x̄ += ū · w (skipped: x is a constant)
//! ```
//!
//! One backward sweep gives the gradient with respect to every parameter, at a cost of a small
//! multiple of the forward pass, however many parameters there are. That is why reverse mode
//! trains neural networks: one scalar loss, many parameters. Because every node's inputs come
//! before it on the tape, walking the tape backwards is already the right order; no graph search
//! is needed, and a chain of a million nodes is just a loop of a million steps.
//!
//! In code:
//!
//! ```
//! use autograd::{Tape, Tensor};
//!
//! let tape = Tape::<f64>::new();
//! let w = tape.param(&Tensor::scalar(0.5));
//! let x = tape.constant(&Tensor::scalar(2.0));
//! let b = tape.param(&Tensor::scalar(-0.5));
//! let loss = (w * x + b).tanh();
//! let grads = loss.backward();
//! assert!((grads[w].item() - 1.57289546).abs() < 1e-8);
//! assert!((grads[b].item() - 0.78644773).abs() < 1e-8);
//! ```
//!
//! # Tensors, broadcasting, training loops
//!
//! Values are [`Tensor`]s (row-major, n-dimensional). Elementwise ops broadcast like NumPy
//! (`[batch, n] + [n]` adds a bias to every row), and the backward pass sums a broadcast input's
//! gradient back to its shape in a single helper. A typical training step:
//!
//! ```
//! use autograd::{Gradients, Tape, Tensor};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mut w = Tensor::<f32>::randn(&[4, 2], &mut rng);
//! let obs = Tensor::<f32>::randn(&[8, 4], &mut rng);
//! let actions = [0, 1, 1, 0, 1, 0, 0, 1];
//! let adv = Tensor::<f32>::randn(&[8], &mut rng);
//!
//! let mut tape = Tape::new();
//! let mut grads = Gradients::new();
//! for _step in 0..10 {
//!     tape.reset(); // reuse last step's buffers
//!     let wv = tape.param(&w);
//!     let x = tape.constant(&obs);
//!     let logp = x.matmul(wv).log_softmax(1).gather(1, &actions); // log π(aₜ|sₜ), shape [8]
//!     let loss = -(logp * tape.constant(&adv)).mean();           // REINFORCE surrogate
//!     loss.backward_into(&mut grads);                              // reuses grads' buffers
//!     for (p, g) in w.data_mut().iter_mut().zip(grads[wv].data()) {
//!         *p -= 0.1 * g;                                           // plain SGD
//!     }
//! }
//! ```
//!
//! From its second step on, a loop like this performs no heap allocation at all: every value and
//! gradient buffer is reused (`tests/no_alloc.rs` counts allocations to hold this).
//!
//! # What lives where
//!
//! - [`Tensor`], [`Float`]: the data.
//! - [`Tape`], [`Var`]: recording; every op is a method of `Var` (see [`ops`] for the list).
//! - [`Var::backward`] and [`Gradients`]: the reverse pass and its contract.
//! - [`Tape::no_grad`] and [`Var::detach`]: computing without recording.
//! - [`Tape::lend_params`], [`Var::backward_to`]: parameters and their gradients moved on and off
//!   the tape without copying (module [`lend`]).
//! - [`CustomOp`]: the extension point for ops with a hand-written backward; [`GradSlot`] and
//!   [`Store`], how its backward writes gradients.
//! - [`gradcheck`](mod@gradcheck): the finite-difference checker every crate's tests use.
//!
//! # Non-goals
//!
//! Higher-order gradients (gradients of gradients): backward records nothing on the tape. Views
//! and in-place ops: every node owns a fresh (reused) buffer.
//!
//! # Changes from the agreed API (`notes/autograd-api.md`)
//!
//! Only additions; nothing agreed was removed or renamed:
//! - `Var::backward_into(&mut Gradients)` refills an existing `Gradients`, reusing its buffers.
//! - `gradcheck::gradcheck(f, inputs, &GradcheckConfig) -> GradcheckReport`, generic over `T`, with
//!   `f: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>`; a non-scalar output is checked
//!   through a fixed random weighting `Σ cₖ yₖ`. `GradcheckConfig::default()` is for `f64`,
//!   `GradcheckConfig::for_f32()` for `f32`.
//! - `gradcheck::compare_f32_to_f64(f32_fn, f64_fn, inputs, &config)`: holds an `f32` tape's
//!   gradient to the `f64` tape's gradient of the same (generic) function; finite differences of
//!   `f32` evaluations are too noisy to judge an `f32` gradient at 1e-2.
//! - Transformer ops (issue 13): `bmm`, `permute`, `layer_norm(gain, bias, eps)`, `gelu`,
//!   `causal_softmax`, `embed(ids)`.
//! - Extra ops: `square`, `affine(a, b)`, `rdiv_scalar(c)`, `select(axis, index)`; extra accessors
//!   `Var::requires_grad`, `Var::numel`, `Tape::is_no_grad`, `Tape::capacity_bytes`,
//!   `Tensor::{resize, copy_from, fill, set, empty, capacity_bytes}`, `Gradients::{new, iter, len}`.
//! - `Tensor::resize(&mut self, shape)` is "the way to reuse a buffer: resize to a shape".
//! - `CustomOp` is object-safe and is passed as `Rc<dyn CustomOp<T>>`, as agreed. Its `forward`
//!   also gets the node's saved buffer (values kept for backward, owned by the tape and reused
//!   every step), and `backward` gets that buffer back and each input's gradient as a
//!   [`GradSlot`]: add into it, or overwrite it on its first write in the pass ([`Store`]),
//!   which spares the tape zero-filling it.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod backward;
pub mod custom;
pub mod float;
pub mod gradcheck;
pub mod gradients;
pub mod lend;
mod node;
pub mod ops;
mod record;
pub(crate) mod shape;
mod sink;
pub mod tape;
pub mod tensor;
pub mod var;

pub use custom::{CustomOp, GradSlot, Store};
pub use float::Float;
pub use gradcheck::{GradcheckConfig, GradcheckReport, compare_f32_to_f64, gradcheck};
pub use gradients::Gradients;
pub use lend::LentParams;
pub use tape::Tape;
pub use tensor::{ShapeError, Tensor};
pub use var::Var;
