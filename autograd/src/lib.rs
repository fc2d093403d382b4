//! Reverse-mode automatic differentiation over `f32`/`f64` tensors.
#![warn(missing_docs)]
