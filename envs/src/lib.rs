//! Gymnasium-faithful classic-control environments.
#![warn(missing_docs)]
