//! One episode of text generation, stepped one token at a time.
//!
//! This is the bridge from control tasks to language models. The *state* is the prefix written so
//! far (prompt plus completion), the *action* is the next token, and the episode
//!
//! - **terminates** when the policy emits [`EOS`] (the text is finished), or
//! - is **truncated** when the completion reaches the task's maximum length without an end token.
//!
//! Every step before the last has reward 0; the whole return is the reward the task gives the
//! finished text ([`TokenTask::reward`](super::TokenTask::reward)). A policy that only looks at the
//! last `C` tokens reads its state through [`Episode::context_into`] / [`context_window`].

use super::{BOS, EOS, Token, TokenError};

/// Where an episode stands after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// More tokens may follow.
    Running,
    /// The policy emitted [`EOS`]: the text is finished.
    Terminated,
    /// The completion reached the maximum length without [`EOS`]: a time limit cut it.
    Truncated,
}

impl Status {
    /// True for [`Status::Terminated`] and [`Status::Truncated`].
    pub fn is_done(self) -> bool {
        self != Status::Running
    }
}

/// A prompt and the completion generated after it so far.
///
/// ```
/// use envs::tokens::{Episode, Status, BOS, EOS};
/// let mut ep = Episode::new(&[5, 6], 3, 10);
/// assert_eq!(ep.step(7).unwrap(), Status::Running);
/// let mut ctx = [0; 4];
/// ep.context_into(&mut ctx);
/// assert_eq!(ctx, [BOS, 5, 6, 7]);
/// assert_eq!(ep.step(EOS).unwrap(), Status::Terminated);
/// assert_eq!(ep.completion(), &[7, EOS]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Episode {
    tokens: Vec<Token>,
    prompt_len: usize,
    max_completion_len: usize,
    vocab_len: usize,
    status: Status,
}

impl Episode {
    /// Starts an episode from a prompt. `max_completion_len` (at least 1) counts the end token;
    /// `vocab_len` bounds the token ids [`Episode::step`] accepts.
    ///
    /// Panics if `max_completion_len` is 0 or a prompt token is outside the vocabulary.
    pub fn new(prompt: &[Token], max_completion_len: usize, vocab_len: usize) -> Self {
        let mut ep = Self {
            tokens: Vec::with_capacity(prompt.len() + max_completion_len),
            prompt_len: 0,
            max_completion_len,
            vocab_len,
            status: Status::Running,
        };
        ep.reset(prompt);
        ep
    }

    /// Starts over from a new prompt, keeping the buffer (no allocation once it is large enough).
    pub fn reset(&mut self, prompt: &[Token]) {
        assert!(
            self.max_completion_len >= 1,
            "Episode: max_completion_len must be at least 1 (room for the end token), got 0"
        );
        if let Some(&bad) = prompt.iter().find(|&&t| t >= self.vocab_len) {
            panic!(
                "Episode: prompt token {bad} is outside the vocabulary of {} tokens",
                self.vocab_len
            );
        }
        self.tokens.clear();
        self.tokens.extend_from_slice(prompt);
        self.prompt_len = prompt.len();
        self.status = Status::Running;
    }

    /// Appends one token (the action) and says whether the episode goes on.
    ///
    /// Errors: the episode has already finished, or the token is outside the vocabulary.
    pub fn step(&mut self, token: Token) -> Result<Status, TokenError> {
        if self.status.is_done() {
            return Err(TokenError::EpisodeDone);
        }
        if token >= self.vocab_len {
            return Err(TokenError::InvalidToken {
                token,
                vocab_len: self.vocab_len,
            });
        }
        self.tokens.push(token);
        self.status = if token == EOS {
            Status::Terminated
        } else if self.completion().len() >= self.max_completion_len {
            Status::Truncated
        } else {
            Status::Running
        };
        Ok(self.status)
    }

    /// The prompt followed by the completion so far.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The prompt.
    pub fn prompt(&self) -> &[Token] {
        &self.tokens[..self.prompt_len]
    }

    /// The tokens generated after the prompt (ending with [`EOS`] once terminated).
    pub fn completion(&self) -> &[Token] {
        &self.tokens[self.prompt_len..]
    }

    /// Where the episode stands.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Writes the state as a policy with a window of `out.len()` tokens sees it: the last
    /// `out.len()` tokens, padded on the left with [`BOS`].
    pub fn context_into(&self, out: &mut [Token]) {
        context_window(&self.tokens, self.tokens.len(), out);
    }
}

/// The `out.len()` tokens just before position `end` of `tokens`, padded with [`BOS`] where the
/// window reaches before the start: `out[j] = tokens[end - C + j]`, or `BOS` if that index is
/// negative, for `C = out.len()`.
///
/// Teacher forcing uses this for every position of a training text; sampling uses it at the end.
///
/// ```
/// use envs::tokens::{context_window, BOS};
/// let mut out = [9; 3];
/// context_window(&[4, 5, 6, 7], 2, &mut out);
/// assert_eq!(out, [BOS, 4, 5]);
/// ```
///
/// Panics if `end > tokens.len()`.
pub fn context_window(tokens: &[Token], end: usize, out: &mut [Token]) {
    assert!(
        end <= tokens.len(),
        "context_window: end {end} is past the {} tokens",
        tokens.len()
    );
    let c = out.len();
    let available = end.min(c);
    let pad = c - available;
    out[..pad].fill(BOS);
    out[pad..].copy_from_slice(&tokens[end - available..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_token_terminates() {
        let mut ep = Episode::new(&[2], 5, 4);
        assert_eq!(ep.step(3).unwrap(), Status::Running);
        assert_eq!(ep.step(EOS).unwrap(), Status::Terminated);
        assert_eq!(ep.completion(), &[3, EOS]);
        assert_eq!(ep.prompt(), &[2]);
        assert_eq!(ep.step(3), Err(TokenError::EpisodeDone));
    }

    #[test]
    fn max_length_truncates_and_counts_the_end_token() {
        let mut ep = Episode::new(&[2], 2, 4);
        assert_eq!(ep.step(3).unwrap(), Status::Running);
        assert_eq!(ep.step(3).unwrap(), Status::Truncated);
        assert!(ep.status().is_done());
        // An end token at the last allowed position terminates rather than truncates.
        let mut ep = Episode::new(&[2], 2, 4);
        ep.step(3).unwrap();
        assert_eq!(ep.step(EOS).unwrap(), Status::Terminated);
    }

    #[test]
    fn invalid_token_is_an_error_and_changes_nothing() {
        let mut ep = Episode::new(&[2], 3, 4);
        assert_eq!(
            ep.step(4),
            Err(TokenError::InvalidToken {
                token: 4,
                vocab_len: 4
            })
        );
        assert_eq!(ep.completion(), &[] as &[Token]);
        assert_eq!(ep.status(), Status::Running);
    }

    #[test]
    fn reset_starts_over() {
        let mut ep = Episode::new(&[2], 1, 4);
        ep.step(3).unwrap();
        ep.reset(&[3, 3]);
        assert_eq!(ep.tokens(), &[3, 3]);
        assert_eq!(ep.status(), Status::Running);
    }

    #[test]
    #[should_panic(expected = "outside the vocabulary")]
    fn prompt_outside_vocabulary_panics() {
        let _ = Episode::new(&[7], 3, 4);
    }

    #[test]
    fn context_window_pads_and_slides() {
        let tokens = [4, 5, 6, 7];
        let mut out = [9; 3];
        context_window(&tokens, 0, &mut out);
        assert_eq!(out, [BOS, BOS, BOS]);
        context_window(&tokens, 4, &mut out);
        assert_eq!(out, [5, 6, 7]);
        let mut wide = [9; 6];
        context_window(&tokens, 4, &mut wide);
        assert_eq!(wide, [BOS, BOS, 4, 5, 6, 7]);
        let mut none: [Token; 0] = [];
        context_window(&tokens, 4, &mut none);
    }
}
