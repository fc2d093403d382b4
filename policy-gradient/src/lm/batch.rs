//! Laying out completions for one forward pass: a row per completion token.
//!
//! A completion `y_1..y_L` after prompt `x` is scored by the chain rule of probability,
//! `log π(y | x) = Σ_t log π(y_t | x, y_<t)`. Each factor needs the context window ending just
//! before `y_t`, so a [`TokenBatch`] holds, for every completion token of every sequence, its
//! `C` context tokens (a row of `contexts`), the token itself (`targets`), and which sequence it
//! belongs to (`seq_of`). One batched forward pass over all rows then gives every per-token
//! log-probability at once (teacher forcing); prompt tokens are context only, never targets.

use super::config::LossAveraging;
use envs::tokens::{Token, context_window};

/// The rows of one forward pass over many (prompt, completion) pairs.
///
/// ```
/// use policy_gradient::lm::batch::TokenBatch;
/// use envs::tokens::{BOS, EOS};
/// let mut b = TokenBatch::new(3);
/// b.push(&[5, 6], &[7, EOS]);
/// assert_eq!(b.contexts(), &[BOS, 5, 6, 5, 6, 7]);
/// assert_eq!(b.targets(), &[7, EOS]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenBatch {
    context: usize,
    contexts: Vec<Token>,
    targets: Vec<Token>,
    seq_of: Vec<usize>,
    seq_lens: Vec<usize>,
    scratch: Vec<Token>,
}

impl TokenBatch {
    /// An empty batch for a policy with a window of `context` tokens.
    pub fn new(context: usize) -> Self {
        Self {
            context,
            ..Self::default()
        }
    }

    /// Forgets every row, keeping the buffers.
    pub fn clear(&mut self) {
        self.contexts.clear();
        self.targets.clear();
        self.seq_of.clear();
        self.seq_lens.clear();
    }

    /// Appends one sequence: a row for each completion token (none for an empty completion).
    pub fn push(&mut self, prompt: &[Token], completion: &[Token]) {
        let seq = self.seq_lens.len();
        self.scratch.clear();
        self.scratch.extend_from_slice(prompt);
        self.scratch.extend_from_slice(completion);
        for (t, &y) in completion.iter().enumerate() {
            // Row for y_t: the C tokens before it in prompt ++ completion, written in place.
            let start = self.contexts.len();
            self.contexts.resize(start + self.context, 0);
            context_window(&self.scratch, prompt.len() + t, &mut self.contexts[start..]);
            self.targets.push(y);
            self.seq_of.push(seq);
        }
        self.seq_lens.push(completion.len());
    }

    /// The context window size `C`.
    pub fn context(&self) -> usize {
        self.context
    }

    /// `[rows × C]` context tokens, row-major.
    pub fn contexts(&self) -> &[Token] {
        &self.contexts
    }

    /// The token each row predicts.
    pub fn targets(&self) -> &[Token] {
        &self.targets
    }

    /// The sequence each row belongs to.
    pub fn seq_of(&self) -> &[usize] {
        &self.seq_of
    }

    /// Completion length of each sequence (its number of rows).
    pub fn seq_lens(&self) -> &[usize] {
        &self.seq_lens
    }

    /// Number of rows (completion tokens).
    pub fn rows(&self) -> usize {
        self.targets.len()
    }

    /// Number of sequences pushed.
    pub fn sequences(&self) -> usize {
        self.seq_lens.len()
    }

    /// Sums per-row values into per-sequence totals: `out_i = Σ_{rows t of i} values_t`
    /// (e.g. token log-probabilities into `log π(y_i | x_i)`).
    ///
    /// Panics unless there is one value per row.
    pub fn sum_per_sequence(&self, values: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        self.sum_per_sequence_into(values, &mut out);
        out
    }

    /// [`TokenBatch::sum_per_sequence`] into `out` (resized; its buffer reused).
    pub fn sum_per_sequence_into(&self, values: &[f64], out: &mut Vec<f64>) {
        assert_eq!(
            values.len(),
            self.rows(),
            "sum_per_sequence: {} values for {} rows",
            values.len(),
            self.rows()
        );
        out.clear();
        out.resize(self.sequences(), 0.0);
        for (&s, &v) in self.seq_of.iter().zip(values) {
            out[s] += v;
        }
    }

    /// Per-row loss weights from per-sequence advantages: `w_t = A_{seq(t)} / N` with `N` the
    /// number of sequences, so that `-Σ_t w_t log π(y_t | ·)` is the REINFORCE surrogate
    /// `-(1/N) Σ_i A_i log π(y_i | x_i)` (the `sum` averaging of [`Self::averaged_weights`]).
    ///
    /// Panics unless there is one advantage per sequence.
    pub fn row_weights(&self, advantages: &[f64]) -> Vec<f32> {
        self.averaged_weights(advantages, LossAveraging::Sum)
    }

    /// Per-row loss weights `w_t = A_{seq(t)} · c_t` for an averaging of the token terms
    /// ([`LossAveraging`]): `c_t = 1/N` (`sum`), `1/(N |y_{seq(t)}|)` (`sequence`) or `1/T`
    /// (`token`), with `N` sequences and `T` rows.
    ///
    /// Panics unless there is one advantage per sequence.
    pub fn averaged_weights(&self, advantages: &[f64], averaging: LossAveraging) -> Vec<f32> {
        let mut out = Vec::new();
        self.averaged_weights_into(advantages, averaging, &mut out);
        out
    }

    /// [`TokenBatch::averaged_weights`] into `out` (resized; its buffer reused).
    pub fn averaged_weights_into(
        &self,
        advantages: &[f64],
        averaging: LossAveraging,
        out: &mut Vec<f32>,
    ) {
        assert_eq!(
            advantages.len(),
            self.sequences(),
            "row_weights: {} advantages for {} sequences",
            advantages.len(),
            self.sequences()
        );
        let n = self.sequences() as f64;
        let t = self.rows() as f64;
        out.clear();
        out.extend(self.seq_of.iter().map(|&s| {
            let a = advantages[s];
            (match averaging {
                LossAveraging::Sum => a / n,
                LossAveraging::Sequence => a / (n * self.seq_lens[s] as f64),
                LossAveraging::Token => a / t,
            }) as f32
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::tokens::{BOS, EOS};

    #[test]
    fn rows_follow_the_chain_rule() {
        let mut b = TokenBatch::new(2);
        b.push(&[4], &[5, 6, EOS]);
        b.push(&[7, 8, 9], &[EOS]);
        b.push(&[4], &[]);
        assert_eq!(b.rows(), 4);
        assert_eq!(b.sequences(), 3);
        // Sequence 0: contexts (BOS 4), (4 5), (5 6). Sequence 1: (8 9).
        assert_eq!(b.contexts(), &[BOS, 4, 4, 5, 5, 6, 8, 9]);
        assert_eq!(b.targets(), &[5, 6, EOS, EOS]);
        assert_eq!(b.seq_of(), &[0, 0, 0, 1]);
        assert_eq!(b.seq_lens(), &[3, 1, 0]);
        b.clear();
        assert_eq!(b.rows(), 0);
        assert_eq!(b.sequences(), 0);
        assert_eq!(b.context(), 2);
    }

    #[test]
    fn sums_and_weights_worked_example() {
        let mut b = TokenBatch::new(1);
        b.push(&[4], &[5, EOS]);
        b.push(&[4], &[EOS]);
        assert_eq!(b.sum_per_sequence(&[-0.5, -0.25, -2.0]), vec![-0.75, -2.0]);
        // Advantages (1, -3) over N = 2 sequences: weights 0.5, 0.5, -1.5.
        assert_eq!(b.row_weights(&[1.0, -3.0]), vec![0.5, 0.5, -1.5]);
        // Two rows of sequence 0, one of sequence 1: per-sequence means, then per-token means.
        let seq = b.averaged_weights(&[1.0, -3.0], LossAveraging::Sequence);
        assert_eq!(seq, vec![0.25, 0.25, -1.5]);
        let tok = b.averaged_weights(&[1.0, -3.0], LossAveraging::Token);
        assert_eq!(tok, vec![1.0 / 3.0, 1.0 / 3.0, -1.0]);
    }

    #[test]
    #[should_panic(expected = "row_weights: 1 advantages for 2 sequences")]
    fn weights_need_one_advantage_per_sequence() {
        let mut b = TokenBatch::new(1);
        b.push(&[4], &[EOS]);
        b.push(&[4], &[EOS]);
        b.row_weights(&[1.0]);
    }
}
