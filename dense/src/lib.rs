//! SIMD dense layers, optimisers and parameter files.
#![warn(missing_docs)]

pub mod activation;
mod element;
pub mod gemm;
mod gemv;
pub mod init;
pub mod kernel;
pub mod linear;
pub mod mlp;
pub mod optim;
pub mod paramfile;
pub mod scalar;
pub mod view;
pub mod vmath;

pub use activation::Activation;
pub use element::Element;
pub use gemm::{Epilogue, gemm, gemm_fused, gemm_fused_with, gemm_reference, gemm_with};
pub use init::Init;
pub use kernel::Kernel;
pub use linear::{LinearOp, linear};
pub use mlp::{Mlp, MlpVars};
pub use scalar::Scalar;
pub use view::{MatMut, MatRef};
