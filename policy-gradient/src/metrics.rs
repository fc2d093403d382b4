//! Per-epoch metrics and the `metrics.csv` file of a run (Spinning Up's `progress.txt` columns,
//! plus CleanRL's steps per second and explained variance), indexed by environment steps.
//!
//! Numbers are written with Rust's shortest round-trip formatting, so two runs whose learning is
//! bit-identical write identical text in every column except the two wall-clock ones
//! ([`WALL_CLOCK_COLUMNS`]). A value that does not exist in an epoch (no episode finished, no value
//! function) is written as `nan`.

use crate::error::{PgError, Result};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// What one epoch measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// Environment steps taken so far, summed over all environments.
    pub env_steps: u64,
    /// Episodes that finished during this epoch.
    pub episodes: u64,
    /// Mean return of the episodes that finished this epoch.
    pub avg_return: f64,
    /// Their standard deviation.
    pub std_return: f64,
    /// Their minimum.
    pub min_return: f64,
    /// Their maximum.
    pub max_return: f64,
    /// Mean return of the last `solved_window` finished episodes (the "100-episode average").
    pub moving_avg_return: f64,
    /// Mean length of the episodes that finished this epoch.
    pub avg_ep_len: f64,
    /// The policy loss before the update, without the entropy term: the surrogate
    /// `−mean(Â log π)` for `update = "pg"`; PPO's `−mean(min(r Â, clip(r) Â))` averaged over its
    /// minibatch steps for `update = "ppo"` (at r = 1 that is `−mean(Â)`, about 0 when the
    /// advantages are normalised: the two have the same gradient, not the same value).
    pub policy_loss: f64,
    /// The value loss `mean((V − target)²)` before the value updates.
    pub value_loss: f64,
    /// Mean entropy of the policy over the batch, before the update.
    pub entropy: f64,
    /// Approximate KL divergence between the policies before and after the update, `mean(log π_old − log π_new)`.
    pub approx_kl: f64,
    /// Fraction of samples whose probability ratio left PPO's clip range, averaged over the
    /// update's minibatch steps (0 for the vanilla update).
    pub clip_fraction: f64,
    /// Explained variance of the value targets by V before the update: `1 − Var(target − V) / Var(target)`.
    pub explained_variance: f64,
    /// Global gradient norm of the policy before clipping.
    pub grad_norm: f64,
    /// Environment steps per second of this epoch (collection plus updates). Wall clock.
    pub steps_per_second: f64,
    /// Seconds since the run started (excluding time while stopped). Wall clock.
    pub elapsed_seconds: f64,
}

/// Column names of `metrics.csv`, in order.
pub const COLUMNS: &[&str] = &[
    "epoch",
    "env_steps",
    "episodes",
    "avg_return",
    "std_return",
    "min_return",
    "max_return",
    "moving_avg_return",
    "avg_ep_len",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "explained_variance",
    "grad_norm",
    "steps_per_second",
    "elapsed_seconds",
];

/// The columns measured with the wall clock: the only ones that differ between identical runs.
pub const WALL_CLOCK_COLUMNS: &[&str] = &["steps_per_second", "elapsed_seconds"];

/// A number as `metrics.csv` writes it: Rust's shortest round-trip text, `nan` for NaN.
pub(crate) fn csv_number(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else {
        format!("{x}")
    }
}

/// A row type of a `metrics.csv`: its column names and how one row is written.
pub trait CsvRow {
    /// The header's column names, in order.
    const COLUMNS: &'static [&'static str];
    /// One CSV line (without the newline), its fields in [`CsvRow::COLUMNS`] order.
    fn csv_row(&self) -> String;
}

impl EpochMetrics {
    /// The values in [`COLUMNS`] order.
    pub fn values(&self) -> [f64; 18] {
        [
            self.epoch as f64,
            self.env_steps as f64,
            self.episodes as f64,
            self.avg_return,
            self.std_return,
            self.min_return,
            self.max_return,
            self.moving_avg_return,
            self.avg_ep_len,
            self.policy_loss,
            self.value_loss,
            self.entropy,
            self.approx_kl,
            self.clip_fraction,
            self.explained_variance,
            self.grad_norm,
            self.steps_per_second,
            self.elapsed_seconds,
        ]
    }
}

/// One CSV line: integer counters as integers, then measurements in shortest round-trip form
/// (`nan` for NaN).
pub fn csv_line(counters: &[u64], values: &[f64]) -> String {
    let counters = counters.iter().map(u64::to_string);
    let values = values.iter().map(|&v| csv_number(v));
    counters.chain(values).collect::<Vec<_>>().join(",")
}

impl CsvRow for EpochMetrics {
    const COLUMNS: &'static [&'static str] = COLUMNS;
    fn csv_row(&self) -> String {
        csv_line(
            &[self.epoch, self.env_steps, self.episodes],
            &self.values()[3..],
        )
    }
}

/// Mean, population standard deviation, minimum and maximum of `xs` (all NaN when empty).
pub fn summary(xs: &[f64]) -> (f64, f64, f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let min = xs.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (mean, var.sqrt(), min, max)
}

/// Explained variance `1 − Var(y − ŷ) / Var(y)`: 1 is a perfect value function, 0 no better than
/// the mean, negative worse. NaN when `y` is constant.
pub fn explained_variance(pred: &[f32], target: &[f32]) -> f64 {
    let t: Vec<f64> = target.iter().map(|&x| x as f64).collect();
    let r: Vec<f64> = target
        .iter()
        .zip(pred)
        .map(|(&y, &p)| (y - p) as f64)
        .collect();
    let (_, sd_t, _, _) = summary(&t);
    let (_, sd_r, _, _) = summary(&r);
    if sd_t == 0.0 {
        f64::NAN
    } else {
        1.0 - (sd_r * sd_r) / (sd_t * sd_t)
    }
}

/// Appends rows of `R` (epochs of `pg train`, steps of `pg lm`) to a run's `metrics.csv`,
/// flushing after each so a killed run keeps them.
pub struct MetricsWriter<R: CsvRow> {
    path: PathBuf,
    file: std::fs::File,
    row: PhantomData<fn(&R)>,
}

impl<R: CsvRow> MetricsWriter<R> {
    /// Creates `path` with the header line (truncating any old file).
    pub fn create(path: &Path) -> Result<Self> {
        let mut file = std::fs::File::create(path).map_err(|e| PgError::io(path, e))?;
        writeln!(file, "{}", R::COLUMNS.join(",")).map_err(|e| PgError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            row: PhantomData,
        })
    }

    /// Reopens `path` for a resumed run, keeping the header and the first `rows` rows and
    /// dropping rows written after the checkpoint the run resumes from. The shortened file
    /// replaces the old one by one rename, so a kill meanwhile loses no row.
    pub fn resume(path: &Path, rows: u64) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| PgError::io(path, e))?;
        let keep: Vec<&str> = text.lines().take(1 + rows as usize).collect();
        if keep.len() != 1 + rows as usize {
            return Err(PgError::Csv {
                path: path.to_path_buf(),
                line: keep.len() + 1,
                message: format!(
                    "expected {rows} rows before the checkpoint, found {}",
                    keep.len().saturating_sub(1)
                ),
            });
        }
        let text: String = keep.iter().map(|l| format!("{l}\n")).collect();
        crate::run::dir::write_atomically(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| PgError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            row: PhantomData,
        })
    }

    /// Appends one row (in one write, so a kill leaves at most one partial last line, which a
    /// resume drops with the rows after its checkpoint).
    pub fn append(&mut self, m: &R) -> Result<()> {
        let line = format!("{}\n", m.csv_row());
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| PgError::io(&self.path, e))
    }
}

/// A parsed CSV: the header and the rows as numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of numbers, one per epoch.
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// Reads a `metrics.csv`.
    pub fn read(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path).map_err(|e| PgError::io(path, e))?;
        Table::parse(&text, path)
    }

    /// Parses CSV text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Table> {
        let mut lines = text.lines();
        let columns: Vec<String> = match lines.next() {
            Some(h) => h.split(',').map(|s| s.trim().to_string()).collect(),
            None => {
                return Err(PgError::Csv {
                    path: path.into(),
                    line: 1,
                    message: "empty file, expected a header".into(),
                });
            }
        };
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: Vec<f64> = line
                .split(',')
                .map(|s| s.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| PgError::Csv {
                    path: path.into(),
                    line: i + 2,
                    message: format!("{e} in `{line}`"),
                })?;
            if row.len() != columns.len() {
                return Err(PgError::Csv {
                    path: path.into(),
                    line: i + 2,
                    message: format!("{} fields, expected {}", row.len(), columns.len()),
                });
            }
            rows.push(row);
        }
        Ok(Table { columns, rows })
    }

    /// The values of one column, or an error naming it and the columns that exist.
    pub fn column(&self, name: &str, path: &Path) -> Result<Vec<f64>> {
        let j = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| PgError::Csv {
                path: path.into(),
                line: 1,
                message: format!("no column `{name}`; columns: {}", self.columns.join(", ")),
            })?;
        Ok(self.rows.iter().map(|r| r[j]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_has_one_field_per_column_and_parses_back() {
        let m = EpochMetrics {
            epoch: 3,
            env_steps: 6000,
            avg_return: 21.5,
            value_loss: f64::NAN,
            ..Default::default()
        };
        let text = format!("{}\n{}\n", COLUMNS.join(","), m.csv_row());
        let t = Table::parse(&text, Path::new("m.csv")).unwrap();
        assert_eq!(t.rows[0].len(), COLUMNS.len());
        assert_eq!(
            t.column("avg_return", Path::new("m.csv")).unwrap(),
            vec![21.5]
        );
        assert!(t.column("value_loss", Path::new("m.csv")).unwrap()[0].is_nan());
        let e = t
            .column("nope", Path::new("m.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nope`"));
    }

    #[test]
    fn round_trip_formatting_is_exact() {
        let x = 0.1f64 + 0.2;
        let m = EpochMetrics {
            policy_loss: x,
            ..Default::default()
        };
        let t = Table::parse(
            &format!("{}\n{}", COLUMNS.join(","), m.csv_row()),
            Path::new("m"),
        )
        .unwrap();
        assert_eq!(
            t.column("policy_loss", Path::new("m")).unwrap()[0].to_bits(),
            x.to_bits()
        );
    }

    #[test]
    fn bad_rows_are_errors_with_line_numbers() {
        let e = Table::parse("a,b\n1,2\n3\n", Path::new("m.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = Table::parse("a,b\n1,x\n", Path::new("m.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn summary_and_explained_variance() {
        assert_eq!(summary(&[1.0, 3.0]), (2.0, 1.0, 1.0, 3.0));
        assert!(summary(&[]).0.is_nan());
        assert_eq!(explained_variance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(explained_variance(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn resume_drops_rows_after_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("pg-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("metrics.csv");
        let mut w = MetricsWriter::<EpochMetrics>::create(&p).unwrap();
        for e in 1..=4 {
            w.append(&EpochMetrics {
                epoch: e,
                ..Default::default()
            })
            .unwrap();
        }
        drop(w);
        let mut w = MetricsWriter::<EpochMetrics>::resume(&p, 2).unwrap();
        w.append(&EpochMetrics {
            epoch: 3,
            env_steps: 9,
            ..Default::default()
        })
        .unwrap();
        let t = Table::read(&p).unwrap();
        assert_eq!(t.column("epoch", &p).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(t.column("env_steps", &p).unwrap(), vec![0.0, 0.0, 9.0]);
        assert!(MetricsWriter::<EpochMetrics>::resume(&p, 9).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
