//! REINFORCE and its variance-reduced relatives.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod episodes;
pub mod error;
pub mod interrupt;
pub mod lm;
pub mod metrics;
pub mod obs_norm;
pub mod plot;
pub mod policy;
pub mod progress;
pub mod returns;
pub mod run_dir;

pub use error::{PgError, Result};
