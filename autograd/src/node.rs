//! What the tape records for each node: the [`Op`] kind with its inputs' indices and constants.
//!
//! This is the vocabulary shared by recording (`tape.rs`, `record.rs` and the op methods of
//! `ops/`) and the reverse pass (`backward.rs`). It names every kind of op but implements none:
//! the forwards and backward rules live in `ops/`, which import this module, never the other way
//! round.

use crate::float::Float;

/// What a node is and what its backward rule needs: the indices of its inputs and the few
/// constants of the op. Values are not stored here; they sit in the tape's value slots.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op<T: Float> {
    /// A parameter or constant leaf, or any node recorded under `no_grad`.
    Leaf,
    /// Elementwise `y = f(x)` of node `x`: op number `kind` of the table in `ops/unary.rs`, with
    /// its constants (`p` of `xᵖ`, `lo` and `hi` of clamp; unused ones zero). Only the number is
    /// kept here, so this module names no elementwise op: adding one touches `ops/unary.rs` alone.
    Unary { x: u32, kind: u8, consts: [T; 2] },
    /// Elementwise, broadcasting `y = f(a, b)`.
    Binary(Binary, u32, u32),
    /// 2-d `a · b`.
    MatMul(u32, u32),
    /// 2-d transpose.
    Transpose(u32),
    /// Same data, new shape.
    Reshape(u32),
    /// Sum of all elements.
    SumAll(u32),
    /// Mean of all elements.
    MeanAll(u32),
    /// An op working along one axis (sum, mean, max, logsumexp, softmax, log_softmax).
    Axis(AxisOp, u32, u32),
    /// `x` indexed along `axis` by `indices[start .. start + numel(output)]` of the tape's pool.
    Gather { x: u32, axis: u32, start: u32 },
    /// Inputs `pool[start .. start + len]` joined along `axis`.
    Concat { axis: u32, start: u32, len: u32 },
    /// Custom op number `op` of the tape, applied to inputs `pool[start .. start + len]`.
    Custom { op: u32, start: u32, len: u32 },
    /// 3-d batched `a · b`.
    BatchMatMul(u32, u32),
    /// `x` with its axes reordered by `pool[start .. start + ndim]`.
    Permute { x: u32, start: u32 },
    /// Layer normalisation of `x` over its last axis, then `gain ⊙ x̂ + bias` (each row's mean
    /// and `1/σ` are in the node's saved slot).
    LayerNorm { x: u32, gain: u32, bias: u32 },
    /// softmax over the last axis with a causal mask.
    CausalSoftmax(u32),
    /// Rows of `table` picked by the ids `pool[start .. start + rows of the output]`.
    Embed { table: u32, start: u32 },
}

/// One recorded node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<T: Float> {
    pub(crate) op: Op<T>,
    /// True when a gradient must flow into this node: it is a parameter, or an op with at least
    /// one input that needs a gradient, recorded outside `no_grad`.
    pub(crate) requires_grad: bool,
}

/// Which two-input op a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

impl Binary {
    /// The op's name, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
        }
    }
}

/// Which op works along an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AxisOp {
    Sum,
    Mean,
    Max,
    LogSumExp,
    Softmax,
    LogSoftmax,
}

impl AxisOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AxisOp::Sum => "sum_axis",
            AxisOp::Mean => "mean_axis",
            AxisOp::Max => "max_axis",
            AxisOp::LogSumExp => "logsumexp",
            AxisOp::Softmax => "softmax",
            AxisOp::LogSoftmax => "log_softmax",
        }
    }
}
