//! SIMD dense layers, optimisers and parameter files.
#![warn(missing_docs)]
