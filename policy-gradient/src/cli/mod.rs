//! The `pg` command: argument parsing (clap) and one module per subcommand.
//!
//! Adding a subcommand (or a family such as `pg lm ...`) is done in this one place: a module with
//! an `Args` type deriving `clap::Args` (or `clap::Subcommand` for a family) and a
//! `run(args) -> Result<()>` function, plus one variant in [`Command`] and one arm in
//! [`Command::run`]. Errors of another type can be returned through [`PgError::Other`].

use crate::error::{PgError, Result};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod envs;
pub mod eval;
pub mod plot;
pub mod render;
pub mod sweep;
pub mod train;

/// Policy-gradient reinforcement learning from scratch: train, evaluate, render and plot.
#[derive(Debug, Parser)]
#[command(name = "pg", version, about, long_about = None)]
pub struct Cli {
    /// Threads the dense kernels may use (0: every core); default: the PG_THREADS environment
    /// variable, else every core. Results are the same for any count. (The kernels' path is
    /// chosen by DENSE_KERNEL: avx512, avx2fma or portable; default the fastest the CPU has.
    /// Results depend on the path.)
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `pg`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a policy on an environment (its preset, overridden by --config and --set).
    Train(train::TrainArgs),
    /// Evaluate a trained policy: average return over fresh episodes.
    Eval(eval::EvalArgs),
    /// Write an animated SVG of one episode of a trained policy.
    Render(render::RenderArgs),
    /// Plot learning curves as SVG: one curve per configuration (mean ± sd across seeds), with a legend.
    Plot(plot::PlotArgs),
    /// Run a grid of seeds and --set values in parallel processes, then summarise it per configuration.
    Sweep(sweep::SweepArgs),
    /// List the environments: ids, spaces, time limits and solved thresholds.
    Envs(envs::EnvsArgs),
    /// Language models: pretrain a tiny LM, fine-tune it with REINFORCE, RLOO or GRPO, sample.
    #[command(subcommand)]
    Lm(crate::lm::cli::LmCommand),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Train(a) => train::run(a),
            Command::Eval(a) => eval::run(a),
            Command::Render(a) => render::run(a),
            Command::Plot(a) => plot::run(a),
            Command::Sweep(a) => sweep::run(a),
            Command::Envs(a) => envs::run(a),
            Command::Lm(c) => crate::lm::cli::run(c),
        }
    }
}

/// The whole program: parse, run, print any error as one clean line, and return the exit status.
/// `pg` never shows a panic or a backtrace: a bug that panics is reported as an internal error.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        // A reader that stopped reading (`pg envs | head`) is not a bug: exit as `yes | head` does.
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{at}: {msg} (this is a bug in pg; please report it)");
    }));
    let cli = Cli::parse();
    if let Err(e) = crate::run::threads::configure(cli.threads) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // A `DENSE_KERNEL` that names no path this CPU runs stops the command here, before any
    // number is computed on a path the user did not ask for.
    if let Err(e) = dense::Kernel::from_env() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match std::panic::catch_unwind(|| cli.command.run()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e @ (PgError::Interrupted { .. } | PgError::SweepInterrupted { .. }))) => {
            // 130 after Ctrl-C, 143 after SIGTERM (128 + the signal).
            eprintln!("{}: {e}", crate::run::signal::signal_name());
            ExitCode::from(crate::run::signal::exit_status())
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}
