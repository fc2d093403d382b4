//! Laying out (prompt, completion) pairs for the GPT: one padded row of positions per sequence.
//!
//! The MLP's [`crate::lm::batch::TokenBatch`] makes a context window per completion token. The
//! GPT instead reads each whole sequence `x = prompt ++ completion` once: position `i` reads
//! `x_0..x_i` and predicts `x_{i+1}`, so its input is `x[..n−1]` and its targets `x[1..]`, and
//! only the positions whose target is a completion token are scored (prompt tokens are context,
//! never targets). Sequences are padded on the right to the longest one: causality means a pad
//! after a sequence never changes its earlier positions, and pad rows have weight 0.
//!
//! ```
//! use policy_gradient::lm::gpt::batch::SeqBatch;
//! use envs::tokens::{BOS, EOS};
//! let mut b = SeqBatch::default();
//! b.push(&[5, 6], &[7, EOS]);
//! b.push(&[5], &[EOS]);
//! assert_eq!(b.len(), 3); // the longest input: 5 6 7
//! assert_eq!(b.tokens(), &[5, 6, 7, 5, BOS, BOS]);
//! assert_eq!(b.targets(), &[6, 7, EOS, EOS, BOS, BOS]);
//! // Scored rows (completion targets): row 1 and 2 of sequence 0, row 0 of sequence 1.
//! assert_eq!(b.nll_weights(), vec![0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0, 0.0]);
//! ```

use envs::tokens::{BOS, Token};

/// Sequences laid out as `[batch, len]` padded rows (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqBatch {
    /// Each sequence's tokens, end to end.
    text: Vec<Token>,
    /// Where each sequence starts in `text`, its prompt length, and its length.
    seqs: Vec<(usize, usize, usize)>,
    /// The padded inputs and targets, `[batch, len]`, rebuilt on each push.
    tokens: Vec<Token>,
    targets: Vec<Token>,
    len: usize,
}

impl SeqBatch {
    /// Forgets every sequence, keeping the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.seqs.clear();
        self.tokens.clear();
        self.targets.clear();
        self.len = 0;
    }

    /// Appends one sequence. Panics if the prompt is empty (position 0 needs a token to read).
    pub fn push(&mut self, prompt: &[Token], completion: &[Token]) {
        assert!(!prompt.is_empty(), "SeqBatch::push: an empty prompt");
        let start = self.text.len();
        self.text.extend_from_slice(prompt);
        self.text.extend_from_slice(completion);
        let n = prompt.len() + completion.len();
        self.seqs.push((start, prompt.len(), n));
        self.len = self.len.max(n - 1);
        self.layout();
    }

    /// Rebuilds the padded rows: input `x[..n−1]`, target `x[1..]`, then `BOS` to `len`.
    fn layout(&mut self) {
        self.tokens.clear();
        self.targets.clear();
        for &(start, _, n) in &self.seqs {
            let x = &self.text[start..start + n];
            self.tokens.extend_from_slice(&x[..n - 1]);
            self.targets.extend_from_slice(&x[1..]);
            let pad = self.len - (n - 1);
            self.tokens.extend(std::iter::repeat_n(BOS, pad));
            self.targets.extend(std::iter::repeat_n(BOS, pad));
        }
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.seqs.len()
    }

    /// Positions per row: the longest input.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no position.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The inputs, `[batch, len]` row-major.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The targets, `[batch, len]` row-major.
    pub fn targets(&self) -> &[Token] {
        &self.targets
    }

    /// For each position, the sequence it scores (its target is a completion token), or `None`.
    pub fn scored(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.seqs
            .iter()
            .enumerate()
            .flat_map(move |(s, &(_, p, n))| {
                // Position i predicts x_{i+1}: a completion token when i + 1 ≥ p and i + 1 < n.
                (0..self.len).map(move |i| (i + 1 >= p && i + 1 < n).then_some(s))
            })
    }

    /// Completion tokens in the batch (scored positions).
    pub fn scored_rows(&self) -> usize {
        self.seqs.iter().map(|&(_, p, n)| n - p).sum()
    }

    /// Weights of the mean negative log-likelihood of the completion tokens: `1/R` on each of
    /// the `R` scored positions, 0 elsewhere.
    pub fn nll_weights(&self) -> Vec<f32> {
        let mut out = Vec::new();
        self.nll_weights_into(&mut out);
        out
    }

    /// [`SeqBatch::nll_weights`] written into `out` (replaced; its buffer reused).
    pub fn nll_weights_into(&self, out: &mut Vec<f32>) {
        let w = 1.0 / self.scored_rows().max(1) as f32;
        out.clear();
        out.extend(self.scored().map(|s| if s.is_some() { w } else { 0.0 }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::tokens::EOS;

    #[test]
    fn rows_are_padded_and_only_completion_targets_are_scored() {
        let mut b = SeqBatch::default();
        b.push(&[4], &[5, 6, EOS]);
        b.push(&[7, 8, 9], &[EOS]);
        b.push(&[4], &[]);
        assert_eq!((b.batch(), b.len()), (3, 3));
        assert_eq!(b.tokens(), &[4, 5, 6, 7, 8, 9, BOS, BOS, BOS]);
        assert_eq!(b.targets(), &[5, 6, EOS, 8, 9, EOS, BOS, BOS, BOS]);
        let scored: Vec<_> = b.scored().collect();
        let (y, n) = (Some, None);
        assert_eq!(scored, vec![y(0), y(0), y(0), n, n, y(1), n, n, n]);
        assert_eq!(b.scored_rows(), 4);
        b.clear();
        assert!(b.is_empty() && b.batch() == 0);
    }
}
