//! The `metrics.csv` of `pg lm` runs: one row per logged step, indexed by sampled completions.
//!
//! Pretraining and RL share the columns so the same plotting reads both; a column that does not
//! apply to a row (no RL reward during pretraining, no held-out evaluation at this step) holds
//! `nan`. Numbers use Rust's shortest round-trip formatting, so identical runs write identical
//! text except in the wall-clock columns. Files are read back with [`crate::metrics::Table`].
//!
//! Columns are only ever added at the end, so scripts that read a column by its position keep
//! working on new files.

use super::generate::Completion;
use crate::metrics::{CsvRow, csv_line};
use envs::tokens::TokenTask;

/// Column names, in order.
pub const COLUMNS: &[&str] = &[
    "step",
    "samples",
    "tokens",
    "loss",
    "reward",
    "reward_std",
    "train_success",
    "heldout_accuracy",
    "heldout_greedy_accuracy",
    "heldout_reward",
    "kl",
    "entropy",
    "mean_length",
    "grad_norm",
    "gold",
    "heldout_gold",
    "clip_fraction",
    "samples_per_second",
    "elapsed_seconds",
    "length_right",
    "length_wrong",
];

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct LmMetrics {
    /// Gradient steps taken so far.
    pub step: u64,
    /// Training sequences consumed so far: generated training texts in pretraining, sampled
    /// completions in RL (the sample budget).
    pub samples: u64,
    /// Completion tokens in those sequences.
    pub tokens: u64,
    /// The step's loss: mean negative log-likelihood per token in pretraining; the surrogate
    /// (plus the k3 term, if any) in RL.
    pub loss: f64,
    /// Mean task reward of the step's training completions (RL only).
    pub reward: f64,
    /// Population standard deviation of those rewards (RL only).
    pub reward_std: f64,
    /// Fraction of the step's training completions that succeed (RL only).
    pub train_success: f64,
    /// Success rate on the held-out prompts, completions sampled at temperature 1 (evaluation
    /// steps only).
    pub heldout_accuracy: f64,
    /// Success rate on the held-out prompts with greedy decoding (evaluation steps only).
    pub heldout_greedy_accuracy: f64,
    /// Mean reward on the held-out prompts at temperature 1 (evaluation steps only).
    pub heldout_reward: f64,
    /// Mean per-completion KL to the reference, `Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))` summed exactly
    /// over the vocabulary along each training completion (RL only).
    pub kl: f64,
    /// Mean per-token entropy of the policy over the step's completion tokens.
    pub entropy: f64,
    /// Mean completion length (end token included) of the step's training completions in RL, or
    /// of the held-out samples in pretraining evaluation rows.
    pub mean_length: f64,
    /// Global gradient L2 norm before clipping.
    pub grad_norm: f64,
    /// Mean gold score ([`envs::tokens::TokenTask::gold`]) of the step's training completions
    /// (RL only): what a careful rater would give them, logged beside `reward` (which is the
    /// learned model's score with `reward = "model:DIR"`) and never optimised.
    pub gold: f64,
    /// Mean gold score of the held-out samples (evaluation rows of RL).
    pub heldout_gold: f64,
    /// PPO: the fraction of completion tokens whose ratio `π/π_old` is outside `[1 − ε, 1 + ε]`,
    /// averaged over the update's passes after the first (which is at ratio 1); `nan` with
    /// `update = "pg"` or a single pass.
    pub clip_fraction: f64,
    /// Training sequences per second of wall-clock time.
    pub samples_per_second: f64,
    /// Seconds since the run started.
    pub elapsed_seconds: f64,
    /// Mean length of the completions counted in `mean_length` that succeed
    /// ([`TokenTask::is_success`]); `nan` if none does. See [`LengthSplit`].
    pub length_right: f64,
    /// Mean length of the completions counted in `mean_length` that do not succeed; `nan` if
    /// all do.
    pub length_wrong: f64,
}

impl Default for LmMetrics {
    /// Every measurement `nan`, counters 0.
    fn default() -> Self {
        Self {
            step: 0,
            samples: 0,
            tokens: 0,
            loss: f64::NAN,
            reward: f64::NAN,
            reward_std: f64::NAN,
            train_success: f64::NAN,
            heldout_accuracy: f64::NAN,
            heldout_greedy_accuracy: f64::NAN,
            heldout_reward: f64::NAN,
            kl: f64::NAN,
            entropy: f64::NAN,
            mean_length: f64::NAN,
            grad_norm: f64::NAN,
            gold: f64::NAN,
            heldout_gold: f64::NAN,
            clip_fraction: f64::NAN,
            samples_per_second: f64::NAN,
            elapsed_seconds: f64::NAN,
            length_right: f64::NAN,
            length_wrong: f64::NAN,
        }
    }
}

impl LmMetrics {
    /// Fills the held-out columns (sampled and greedy accuracy, reward) from an evaluation.
    pub fn record_heldout(&mut self, e: &super::eval::Evaluation) {
        self.heldout_accuracy = e.accuracy;
        self.heldout_greedy_accuracy = e.greedy_accuracy;
        self.heldout_reward = e.reward;
    }

    /// Fills the three length columns (`mean_length`, `length_right`, `length_wrong`).
    pub fn record_lengths(&mut self, lengths: LengthSplit) {
        self.mean_length = lengths.all;
        self.length_right = lengths.right;
        self.length_wrong = lengths.wrong;
    }

    /// The measurements after the three counters, in [`COLUMNS`] order.
    fn measurements(&self) -> [f64; 18] {
        [
            self.loss,
            self.reward,
            self.reward_std,
            self.train_success,
            self.heldout_accuracy,
            self.heldout_greedy_accuracy,
            self.heldout_reward,
            self.kl,
            self.entropy,
            self.mean_length,
            self.grad_norm,
            self.gold,
            self.heldout_gold,
            self.clip_fraction,
            self.samples_per_second,
            self.elapsed_seconds,
            self.length_right,
            self.length_wrong,
        ]
    }
}

impl CsvRow for LmMetrics {
    const COLUMNS: &'static [&'static str] = COLUMNS;
    fn csv_row(&self) -> String {
        csv_line(
            &[self.step, self.samples, self.tokens],
            &self.measurements(),
        )
    }
}

/// Mean completion lengths (end token included), of all completions and separately of the right
/// and the wrong ones: the measurements that show a length bias of the loss averaging
/// (`sequence` lets wrong answers grow longer; see docs/11-ppo.md).
///
/// ```text
/// all   = Σ_i |y_i| / N
/// right = Σ_{i right} |y_i| / #right      (nan if no completion is right)
/// wrong = Σ_{i wrong} |y_i| / #wrong      (nan if every completion is right)
/// ```
///
/// "Right" is the task's own success ([`TokenTask::is_success`]: an exact answer in `addition`
/// and `reverse`, a well-formed sentence in `reviews`, a correct, on-topic and concise reply in
/// `dialogue`), the judgement `train_success` counts.
///
/// ```
/// use policy_gradient::lm::metrics::LengthSplit;
/// let l = LengthSplit::from_pairs([(3, true), (5, false), (9, false)]);
/// assert_eq!((l.all, l.right, l.wrong), (17.0 / 3.0, 3.0, 7.0));
/// assert!(LengthSplit::from_pairs([(4, true)]).wrong.is_nan());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LengthSplit {
    /// Mean length of every completion.
    pub all: f64,
    /// Mean length of the successful completions.
    pub right: f64,
    /// Mean length of the others.
    pub wrong: f64,
}

impl LengthSplit {
    /// The split of `(length, success)` pairs (every mean `nan` where it has no pair).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (usize, bool)>) -> Self {
        // [length sum, count] of the wrong (index 0) and the right (index 1) completions.
        let mut sums = [[0usize; 2]; 2];
        for (len, right) in pairs {
            sums[right as usize][0] += len;
            sums[right as usize][1] += 1;
        }
        let mean = |[sum, count]: [usize; 2]| sum as f64 / count as f64;
        Self {
            all: mean([sums[0][0] + sums[1][0], sums[0][1] + sums[1][1]]),
            right: mean(sums[1]),
            wrong: mean(sums[0]),
        }
    }

    /// The split of `completions`, judged by `task`.
    pub fn of(task: &dyn TokenTask, completions: &[Completion]) -> Self {
        Self::from_pairs(completions.iter().map(|c| {
            (
                c.completion.len(),
                task.is_success(&c.prompt, &c.completion),
            )
        }))
    }
}

/// Checks that the `metrics.csv` at `path`, which a run is about to continue, has the header
/// `columns`: a run started by an older `pg` (before `gold`, `heldout_gold`, `clip_fraction`,
/// `length_right` and `length_wrong` were logged) cannot be continued into a file whose rows would not match its
/// header, and says so in one line.
pub fn check_columns(path: &std::path::Path, columns: &[&str]) -> crate::error::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::PgError::io(path, e))?;
    let header = text.lines().next().unwrap_or("");
    if header != columns.join(",") {
        return Err(crate::error::PgError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "its columns `{header}` are not this pg's `{}`: the run was started by another version; start a new run",
                columns.join(",")
            ),
        });
    }
    Ok(())
}

/// Mean and population standard deviation (`nan` for an empty slice).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MetricsWriter, Table};

    #[test]
    fn rows_round_trip_through_the_table_reader() {
        let dir = std::env::temp_dir().join(format!("pg-lm-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.csv");
        let mut w = MetricsWriter::<LmMetrics>::create(&path).unwrap();
        let m = LmMetrics {
            step: 3,
            samples: 768,
            tokens: 3000,
            loss: 0.25,
            heldout_accuracy: 0.875,
            ..LmMetrics::default()
        };
        w.append(&m).unwrap();
        w.append(&LmMetrics {
            step: 4,
            ..m.clone()
        })
        .unwrap();
        let t = Table::read(&path).unwrap();
        assert_eq!(t.columns, COLUMNS);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.column("heldout_accuracy", &path).unwrap(), vec![0.875; 2]);
        assert_eq!(t.column("step", &path).unwrap(), vec![3.0, 4.0]);
        assert!(t.column("kl", &path).unwrap()[0].is_nan());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_of_other_columns_cannot_be_continued() {
        let dir = crate::run::dir::fresh_test_dir("lm-metrics-columns");
        let path = dir.join("metrics.csv");
        std::fs::write(&path, "step,samples,tokens,loss\n1,2,3,0.5\n").unwrap();
        let e = check_columns(&path, COLUMNS).unwrap_err().to_string();
        assert!(e.contains("another version") && !e.contains('\n'), "{e}");
        MetricsWriter::<LmMetrics>::create(&path).unwrap();
        check_columns(&path, COLUMNS).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn length_split_worked_example() {
        // Right: 3 and 5 tokens; wrong: 2, 4 and 9 tokens.
        let l = LengthSplit::from_pairs([(3, true), (2, false), (5, true), (4, false), (9, false)]);
        assert_eq!(l.all, 23.0 / 5.0);
        assert_eq!(l.right, 4.0);
        assert_eq!(l.wrong, 5.0);
        // A side with no completion has no mean; an empty batch has none at all.
        let all_wrong = LengthSplit::from_pairs([(2, false), (6, false)]);
        assert!(all_wrong.right.is_nan());
        assert_eq!((all_wrong.all, all_wrong.wrong), (4.0, 4.0));
        let empty = LengthSplit::from_pairs([]);
        assert!(empty.all.is_nan() && empty.right.is_nan() && empty.wrong.is_nan());
    }

    #[test]
    fn length_split_judges_completions_by_the_task() {
        let task = envs::tokens::Reverse::default();
        let v = task.vocab();
        let prompt = v.encode("4821=").unwrap();
        let completion = |text: &str, end: bool| {
            let mut c = v.encode(text).unwrap();
            if end {
                c.push(envs::tokens::EOS);
            }
            Completion {
                prompt: prompt.clone(),
                completion: c,
                status: if end {
                    envs::tokens::Status::Terminated
                } else {
                    envs::tokens::Status::Truncated
                },
            }
        };
        let batch = [
            completion("1284", true),        // right, 5 tokens
            completion("12", true),          // stopped early: wrong, 3 tokens
            completion("1284128412", false), // ran on to the limit: wrong, 10 tokens
            completion("1284", false),       // the right digits without the end: wrong, 4 tokens
        ];
        let l = LengthSplit::of(&task, &batch);
        assert_eq!(l.right, 5.0);
        assert_eq!(l.wrong, 17.0 / 3.0);
        assert_eq!(l.all, 22.0 / 4.0);
        let mut m = LmMetrics::default();
        m.record_lengths(l);
        assert_eq!(
            (m.mean_length, m.length_right, m.length_wrong),
            (l.all, l.right, l.wrong)
        );
        assert!(
            m.csv_row().ends_with(&format!(",5,{}", 17.0 / 3.0)),
            "{}",
            m.csv_row()
        );
    }

    #[test]
    fn mean_std_worked_example() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert!(mean_std(&[]).0.is_nan());
    }
}
