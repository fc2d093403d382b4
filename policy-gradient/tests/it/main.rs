//! The integration tests of `policy-gradient`, one module per subject, built as one test binary:
//! each binary links the whole crate and its dependencies, so one binary instead of one per file
//! saves a link per file in every clean `cargo test`. (`tests/lm_alloc.rs` stays a binary of its
//! own: it installs a counting global allocator, which would apply to every test here.)
//!
//! A new integration test goes in a module here (`mod NAME;` below and `NAME.rs` beside this
//! file), unless it needs a process of its own in the same way.

mod bounds;
mod cli;
mod common;
mod config_roundtrip;
mod damaged_checkpoints;
mod determinism;
mod episode_batches;
mod errors;
mod evaluation;
mod faults;
mod plot_groups;
mod ppo;
mod rlhf;
mod sweep;
