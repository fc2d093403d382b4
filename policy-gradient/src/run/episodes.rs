//! `episodes.csv`: one row per finished episode of a `pg train` run (SB3's Monitor file), written
//! after each epoch and cut back with `metrics.csv` when a run resumes.
//!
//! | column | meaning |
//! |---|---|
//! | `episode` | index of the episode, from 0, in the order episodes ended |
//! | `env_steps` | environment steps of the run (all envs together) when it ended |
//! | `return` | its undiscounted return |
//! | `length` | its number of steps |
//! | `wall_seconds` | seconds of training when it ended (time while stopped excluded); wall clock |

use crate::episodes::EpisodeTracker;
use crate::error::Result;
use crate::metrics::{CsvRow, MetricsWriter, csv_line};
use std::path::Path;
use std::time::Instant;

/// Column names of `episodes.csv`, in order.
pub const EPISODE_COLUMNS: &[&str] = &["episode", "env_steps", "return", "length", "wall_seconds"];

/// One row of `episodes.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeRow {
    /// Index of the episode (0 for the first of the run).
    pub episode: u64,
    /// Environment steps of the run when it ended.
    pub env_steps: u64,
    /// Undiscounted return.
    pub episode_return: f64,
    /// Steps in the episode.
    pub length: u64,
    /// Seconds of training when it ended.
    pub wall_seconds: f64,
}

impl CsvRow for EpisodeRow {
    const COLUMNS: &'static [&'static str] = EPISODE_COLUMNS;
    fn csv_row(&self) -> String {
        csv_line(
            &[self.episode, self.env_steps],
            &[self.episode_return, self.length as f64, self.wall_seconds],
        )
    }
}

/// Where an epoch started: the run's env steps and seconds of training, and the instant.
#[derive(Clone, Copy, Debug)]
pub struct EpochStart {
    /// Env steps of the run before the epoch.
    pub env_steps: u64,
    /// Seconds of training before the epoch.
    pub seconds: f64,
    /// When the epoch started.
    pub at: Instant,
}

/// The rows of the episodes the tracker saw finish this epoch, in order.
pub fn epoch_rows(tracker: &EpisodeTracker, start: EpochStart) -> Vec<EpisodeRow> {
    let first = tracker.total_episodes() - tracker.finished_returns().len() as u64;
    tracker
        .finished_returns()
        .iter()
        .zip(tracker.finished_lens())
        .zip(tracker.finished_at())
        .enumerate()
        .map(|(k, ((&r, &len), &(steps, when)))| EpisodeRow {
            episode: first + k as u64,
            env_steps: start.env_steps + steps,
            episode_return: r,
            length: len,
            wall_seconds: start.seconds + when.saturating_duration_since(start.at).as_secs_f64(),
        })
        .collect()
}

/// Opens `episodes.csv` for a run: created for a new run; for a resumed one, cut back to the
/// `episodes` rows written before its checkpoint (one rename) and appended to. A run begun
/// before this file existed gets a new one holding the episodes from the resumption on.
pub fn open(path: &Path, resume_at: Option<u64>) -> Result<MetricsWriter<EpisodeRow>> {
    match resume_at {
        Some(episodes) if path.exists() => MetricsWriter::resume(path, episodes),
        _ => MetricsWriter::create(path),
    }
}
