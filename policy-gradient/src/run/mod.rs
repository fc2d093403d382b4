//! The run machinery every training command shares: `pg train` (control) and `pg lm pretrain` /
//! `pg lm rl` (language models) are configured, saved, resumed, locked and stopped the same way,
//! by the same code.
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | the [`config::RunConfig`] trait: presets by name, TOML files, `--set`, renamed keys, floats as written |
//! | [`bounds`] | the documented upper bound of every size, checked before allocating |
//! | [`args`] | the command-line options of every training command |
//! | [`dir`] | run directories: layout, creation, `--force`, resumption |
//! | [`episodes`] | `episodes.csv`: one row per finished episode, cut back on resume like `metrics.csv` |
//! | [`evaluation`] | periodic deterministic evaluation, `eval.csv`, `best.ckpt`, the checkpoint history |
//! | [`group`] | runs grouped by configuration (seeds of one config together) for plots and sweeps |
//! | [`lock`] | the exclusive lock on a run directory, stale-lock reclaim |
//! | [`checkpoint`] | the checkpoint unit: one file replaced by one rename, shared encodings |
//! | [`signal`] | Ctrl-C and SIGTERM: save, say so, exit 130 or 143 |
//! | [`sweep`] | a grid of seeds and `--set` values: its run directories, what each needs, the summary table |
//! | [`schedule`] | the learning-rate schedule |
//! | [`update`] | clip the gradient norm, take one optimiser step |
//! | [`optimizer`] | the `optimizer` key: Adam or plain SGD, saved in checkpoints |
//! | [`train`] | the `pg train` epoch loop around a [`crate::trainer::Trainer`] |
//!
//! The metrics file ([`crate::metrics::MetricsWriter`]), the curves ([`crate::plot`]) and the
//! progress bar ([`crate::progress`]) are shared the same way.

pub mod args;
pub mod bounds;
pub mod checkpoint;
pub mod config;
pub mod dir;
pub mod episodes;
pub mod evaluation;
pub mod group;
pub mod lock;
pub mod optimizer;
pub mod schedule;
pub mod signal;
pub mod sweep;
pub mod threads;
pub mod train;
pub mod update;

pub use train::{
    RunSummary, train_new, train_new_with, train_resume, train_resume_with, write_curve,
};

/// How a training command runs (both `pg train` and `pg lm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Overwrite a run already in the output directory (never one another process holds).
    pub force: bool,
    /// No progress bar or table.
    pub quiet: bool,
    /// Continue the run in the output directory from its latest checkpoint.
    pub resume: bool,
    /// Print a table row every this many epochs (`pg train`; 0: choose, about 200 rows).
    pub print_every: u64,
    /// Save a checkpoint and stop (as Ctrl-C does) once this many epochs or steps are done: for
    /// tests and for splitting a long run.
    pub stop_after: Option<u64>,
}

/// The options of a quiet run (no display), as tests use them.
pub const QUIET: RunOptions = RunOptions {
    force: false,
    quiet: true,
    resume: false,
    print_every: 0,
    stop_after: None,
};
