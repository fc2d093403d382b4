//! `pg train ENV_ID [--preset NAME] [--config FILE] [--seed N] [--out DIR] [--set key=value ...]
//! [--force]` and `pg train --resume DIR`.

use crate::config::Config;
use crate::error::Result;
use crate::run::args::RunArgs;
use crate::run::config::RunConfig;
use crate::run::train::default_dir;
use crate::run::{RunOptions, signal, train_new, train_resume};
use clap::Args;

/// Arguments of `pg train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Print a table row every N epochs (default: every epoch, or about 200 rows for long runs).
    #[arg(long)]
    pub print_every: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
}

/// Runs `pg train`.
pub fn run(args: TrainArgs) -> Result<()> {
    signal::install();
    let opts = RunOptions {
        print_every: args.print_every.unwrap_or(0),
        ..args.run.options()
    };
    let summary = if let Some(dir) = &args.run.resume {
        train_resume(dir, &opts)?
    } else {
        let config = Config::assemble(args.run.subject.as_deref(), &args.run.layers(&[])?)?;
        train_new(
            config.clone(),
            &args.run.dir(|| default_dir(&config)),
            &opts,
        )?
    };
    println!("{summary}");
    Ok(())
}
