//! SIMD dense layers, optimisers and parameter files.
#![warn(missing_docs)]

pub mod activation;
pub mod gemm;
mod gemv;
pub mod kernel;
pub mod scalar;
pub mod view;
pub mod vmath;

pub use activation::Activation;
pub use gemm::{Epilogue, gemm, gemm_fused, gemm_fused_with, gemm_reference, gemm_with};
pub use kernel::Kernel;
pub use scalar::Scalar;
pub use view::{MatMut, MatRef};
