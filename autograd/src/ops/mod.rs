//! Every differentiable op, one concept per module, each with its backward rule beside its
//! forward.
//!
//! | module | ops |
//! |---|---|
//! | [`unary`] | neg, square, powf, sqrt, exp, ln, tanh, sigmoid, relu, gelu, softplus, abs, clamp, scalar affine maps |
//! | [`binary`] | add, sub, mul, div, maximum, minimum (NumPy broadcasting) |
//! | [`matmul`] | 2-d matrix product (the plain reference kernel) |
//! | [`batched`] | 3-d batched matrix product, permute (multi-head products) |
//! | [`shape_ops`] | transpose, reshape, concat |
//! | [`reduce`] | sum, mean (all or along an axis), max along an axis |
//! | [`softmax`] | logsumexp, softmax, log_softmax (numerically stable) |
//! | [`layer_norm`] | layer normalisation over the last axis, with gain and bias |
//! | [`causal_softmax`] | softmax over the last axis with a causal mask (attention weights) |
//! | [`embedding`] | embed: rows of a table picked by ids (token and position embeddings) |
//! | [`gather`] | gather / select along an axis by integer indices |
//! | [`loss`] | mean squared error |
//! | [`operators`] | `+ - * /` and unary `-` on `Var`s and scalars |

pub mod batched;
pub mod binary;
pub mod causal_softmax;
pub mod embedding;
pub mod gather;
pub mod layer_norm;
pub mod loss;
pub mod matmul;
pub mod operators;
pub mod reduce;
pub mod shape_ops;
pub mod softmax;
pub mod unary;
