//! Periodic evaluation of a `pg train` run (SB3's `EvalCallback`): every `eval_every` env steps,
//! `eval_episodes` episodes with the most likely action on a separate environment with its own
//! seeds, one row of `eval.csv` each time, and `checkpoints/best.ckpt` replaced whenever the mean
//! evaluation return beats every earlier one. Also the checkpoint history (`keep_checkpoints`).
//!
//! | `eval.csv` column | meaning |
//! |---|---|
//! | `evaluation` | 1 for the first evaluation of the run |
//! | `env_steps` | environment steps of the run when it was evaluated |
//! | `mean_return`, `std_return`, `min_return`, `max_return` | over the evaluation episodes |
//! | `mean_length` | mean episode length |
//!
//! Evaluation episode `j` resets its env with seed `seed + 2^32 + j`, the same seeds at every
//! evaluation (so evaluations compare policies, not luck) and never those of the training envs
//! (`seed + i`, `i < num_envs`). Evaluation draws nothing from the training RNG, so a run with
//! evaluation trains exactly as one without.

use crate::checkpoint;
use crate::config::Config;
use crate::error::{PgError, Result};
use crate::evaluate::{Agent, make_env};
use crate::metrics::{CsvRow, MetricsWriter, Table, csv_line, summary};
use crate::run::bounds;
use crate::run::config::check_size;
use crate::run::dir::RunDir;
use crate::trainer::Trainer;
use std::path::PathBuf;

/// Added to the run's seed to seed the evaluation episodes.
pub const EVAL_SEED_OFFSET: u64 = 1 << 32;

/// Column names of `eval.csv`, in order.
pub const EVAL_COLUMNS: &[&str] = &[
    "evaluation",
    "env_steps",
    "mean_return",
    "std_return",
    "min_return",
    "max_return",
    "mean_length",
];

/// The most episodes one evaluation may run.
pub const EVAL_EPISODES: u64 = 100_000;

/// Checks the evaluation keys of `c` (called by [`Config::validate`]).
pub fn validate(c: &Config, origin: &str) -> Result<()> {
    check_size(
        "eval_episodes",
        c.eval_episodes as u64,
        1,
        EVAL_EPISODES,
        origin,
    )?;
    check_size(
        "keep_checkpoints",
        c.keep_checkpoints as u64,
        0,
        bounds::SOLVED_WINDOW,
        origin,
    )
}

/// One row of `eval.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalRow {
    /// 1 for the first evaluation.
    pub evaluation: u64,
    /// Env steps of the run when evaluated.
    pub env_steps: u64,
    /// Mean return over the episodes.
    pub mean_return: f64,
    /// Their standard deviation.
    pub std_return: f64,
    /// Their minimum.
    pub min_return: f64,
    /// Their maximum.
    pub max_return: f64,
    /// Mean episode length.
    pub mean_length: f64,
}

impl CsvRow for EvalRow {
    const COLUMNS: &'static [&'static str] = EVAL_COLUMNS;
    fn csv_row(&self) -> String {
        csv_line(
            &[self.evaluation, self.env_steps],
            &[
                self.mean_return,
                self.std_return,
                self.min_return,
                self.max_return,
                self.mean_length,
            ],
        )
    }
}

/// Plays `c.eval_episodes` episodes of `agent` with the most likely action, episode `j` seeded
/// `c.seed + 2^32 + j`; returns the row (numbered `evaluation`).
pub fn evaluate(agent: &Agent, c: &Config, evaluation: u64) -> Result<EvalRow> {
    let mut env = make_env(&c.env_id)?;
    let mut returns = Vec::with_capacity(c.eval_episodes);
    let mut lengths = 0u64;
    for j in 0..c.eval_episodes as u64 {
        let seed = c.seed.wrapping_add(EVAL_SEED_OFFSET).wrapping_add(j);
        let (r, len) = agent.episode(env.as_mut(), seed, true, |_| {})?;
        returns.push(r);
        lengths += len;
    }
    let (mean, sd, min, max) = summary(&returns);
    Ok(EvalRow {
        evaluation,
        env_steps: agent.env_steps,
        mean_return: mean,
        std_return: sd,
        min_return: min,
        max_return: max,
        mean_length: lengths as f64 / returns.len() as f64,
    })
}

/// The trainer's current policy as an [`Agent`].
pub fn agent_of(t: &Trainer) -> Agent {
    Agent {
        env_id: t.config().env_id.clone(),
        policy: t.policy().clone(),
        obs_norm: t.obs_norm().cloned(),
        env_steps: t.env_steps(),
    }
}

/// Whether an evaluation is due after an epoch that took the run from `before` to `after` env
/// steps: a multiple of `every` was reached or passed.
pub fn due(before: u64, after: u64, every: u64) -> bool {
    every > 0 && after / every > before / every
}

/// Evaluations a run has done after `epochs` epochs (each of `per_epoch` env steps).
pub fn done_after(epochs: u64, per_epoch: u64, every: u64) -> u64 {
    (1..=epochs)
        .filter(|k| due((k - 1) * per_epoch, k * per_epoch, every))
        .count() as u64
}

/// The evaluation state of a run: its `eval.csv`, the evaluations done and the best mean return.
pub struct Evaluator {
    csv: MetricsWriter<EvalRow>,
    done: u64,
    best: f64,
}

impl Evaluator {
    /// Opens `eval.csv` for `t`'s run if evaluation is on: created for a new run; for a resumed
    /// one cut back to the evaluations done before its checkpoint, the best return read back.
    pub fn open(run: &RunDir, t: &Trainer, resume: bool) -> Result<Option<Evaluator>> {
        let c = t.config();
        if c.eval_every == 0 {
            return Ok(None);
        }
        let p = run.eval_path();
        let done = done_after(t.epochs_done(), c.steps_per_epoch(), c.eval_every);
        if !(resume && p.exists()) {
            return Ok(Some(Evaluator {
                csv: MetricsWriter::create(&p)?,
                done: 0,
                best: f64::NEG_INFINITY,
            }));
        }
        let csv = MetricsWriter::resume(&p, done)?;
        let best = Table::read(&p)?
            .column("mean_return", &p)?
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(Some(Evaluator { csv, done, best }))
    }

    /// After an epoch that began at `before` env steps: evaluates if due, appends the row, and
    /// saves `best.ckpt` when the mean return is the best so far.
    pub fn after_epoch(&mut self, run: &RunDir, t: &Trainer, before: u64) -> Result<()> {
        let c = t.config();
        if !due(before, t.env_steps(), c.eval_every) {
            return Ok(());
        }
        self.done += 1;
        let row = evaluate(&agent_of(t), c, self.done)?;
        self.csv.append(&row)?;
        if row.mean_return > self.best {
            self.best = row.mean_return;
            checkpoint::save(t, &run.best_checkpoint())?;
        }
        Ok(())
    }
}

/// Saves `t` as `checkpoints/step-N.ckpt` and removes the oldest such files beyond `keep`.
pub fn save_history(run: &RunDir, t: &Trainer, keep: usize) -> Result<()> {
    if keep == 0 {
        return Ok(());
    }
    checkpoint::save(t, &run.history_checkpoint(t.env_steps()))?;
    let dir = run.checkpoints_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| PgError::io(&dir, e))?;
    let mut history: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let steps = name
                .strip_prefix("step-")?
                .strip_suffix(".ckpt")?
                .parse()
                .ok()?;
            Some((steps, e.path()))
        })
        .collect();
    history.sort();
    let excess = history.len().saturating_sub(keep);
    for (_, p) in &history[..excess] {
        std::fs::remove_file(p).map_err(|e| PgError::io(p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluations_are_due_at_each_multiple_passed() {
        assert!(!due(0, 100, 0));
        assert!(due(0, 100, 100) && !due(100, 150, 100) && due(150, 250, 100));
        // One epoch of 300 steps passing two multiples of 100 evaluates once.
        assert_eq!(done_after(3, 300, 100), 3);
        assert_eq!(done_after(4, 100, 250), 1);
        assert_eq!(done_after(0, 100, 100), 0);
    }
}
