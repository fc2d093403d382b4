//! The task where attention matters: reversing a digit string, `4821=` → `1284<eos>`.
//!
//! Prompts are strings of 1 to `max_digits` digits (leading zeros allowed: `0071=` → `1700<eos>`)
//! followed by `=`; the answer is the same digits in reverse order and the end token. The reward
//! is 1 for an exact match of the whole completion, else 0.
//!
//! **Why a fixed window fails.** The `i`-th answer digit (from 0) is the prompt digit `n − 1 − i`
//! of a string of `n`. When it is written, the text so far is the `n` digits, `=` and `i` answer
//! digits, so the digit to copy lies `2 + 2i` tokens back: up to `2n` tokens. The MLP policy
//! reads only its last `C` tokens (10 by default), so for strings of more than 5 digits the last
//! answer digits depend on prompt digits it cannot see; it can only guess them. A transformer
//! reads the whole prompt and learns *where* to look: the position `n − 1 − i` is found by
//! content (how far back the `=` is), which is what attention computes.
//!
//! **Noisy training text.** [`Reverse::demonstration`] writes the correct answer with probability
//! `1 − noise`, and otherwise the answer with one digit, at a uniformly chosen place, replaced by
//! a different digit (a slip of the copy).
//!
//! **Held-out split.** A fixed tenth of all strings (of every length), chosen by a hash of the
//! string and its length, never appears in training text or RL prompts.

use super::addition::{check_noise, splitmix64};
use super::{EOS, Split, Token, TokenError, TokenTask, Vocab};
use rand::{Rng, RngCore};

/// Default length of the longest digit string.
pub const DEFAULT_REVERSE_DIGITS: usize = 8;
/// Default fraction of training answers with a slipped digit.
pub const DEFAULT_REVERSE_NOISE: f64 = 0.1;
/// Largest supported length (keeps every string's value and length in one `u64` key).
pub const MAX_REVERSE_DIGITS: usize = 16;
/// One string in this many is held out (on average).
const HELD_OUT_ONE_IN: u64 = 10;
/// The characters of the vocabulary, in token order after the specials: digit `k` is token
/// `k + 2`.
const CHARS: &str = "0123456789=";

/// Reversing strings of 1 to `max_digits` digits with a noisy demonstrator (see the module docs).
///
/// ```
/// use envs::tokens::{Reverse, TokenTask};
/// let task = Reverse::new(8, 0.1).unwrap();
/// let v = task.vocab();
/// let prompt = v.encode("4821=").unwrap();
/// assert_eq!(v.render(&task.answer(&prompt).unwrap()), "1284<eos>");
/// assert_eq!(task.reward(&prompt, &task.answer(&prompt).unwrap()), 1.0);
/// assert_eq!(task.reward(&prompt, &v.encode("1284").unwrap()), 0.0); // no end token
/// ```
#[derive(Clone, Debug)]
pub struct Reverse {
    max_digits: usize,
    noise: f64,
    vocab: Vocab,
}

impl Default for Reverse {
    /// [`DEFAULT_REVERSE_DIGITS`] digits at most, [`DEFAULT_REVERSE_NOISE`] noise.
    fn default() -> Self {
        Self::new(DEFAULT_REVERSE_DIGITS, DEFAULT_REVERSE_NOISE).expect("the defaults are valid")
    }
}

impl Reverse {
    /// A task over strings of 1 to `max_digits` digits (1 to [`MAX_REVERSE_DIGITS`]) whose
    /// demonstrator slips a digit with probability `noise` (in `[0, 1)`).
    pub fn new(max_digits: usize, noise: f64) -> Result<Self, TokenError> {
        if !(1..=MAX_REVERSE_DIGITS).contains(&max_digits) {
            return Err(TokenError::BadSetting {
                name: "max_digits",
                value: max_digits.to_string(),
                expected: "an integer from 1 to 16",
            });
        }
        check_noise(noise)?;
        Ok(Self {
            max_digits,
            noise,
            vocab: Vocab::from_chars(CHARS).expect("the reverse alphabet is valid"),
        })
    }

    /// Length of the longest string.
    pub fn max_digits(&self) -> usize {
        self.max_digits
    }

    /// The digits of a well-formed prompt (1 to `max_digits` digit tokens, then `=`), or `None`.
    pub fn digits_of<'p>(&self, prompt: &'p [Token]) -> Option<&'p [Token]> {
        let (&last, digits) = prompt.split_last()?;
        let ok = last == self.equals()
            && (1..=self.max_digits).contains(&digits.len())
            && digits.iter().all(|&t| self.is_digit(t));
        ok.then_some(digits)
    }

    /// The correct completion of a well-formed prompt: its digits reversed and the end token.
    pub fn answer(&self, prompt: &[Token]) -> Option<Vec<Token>> {
        let digits = self.digits_of(prompt)?;
        Some(digits.iter().rev().copied().chain([EOS]).collect())
    }

    /// Whether the string of `digits` (tokens) belongs to the held-out split (about one in ten,
    /// fixed by a hash of its value and length).
    pub fn is_held_out(&self, digits: &[Token]) -> bool {
        let value = digits
            .iter()
            .fold(0u64, |v, &t| v * 10 + (t - self.digit(0)) as u64);
        let key = value * (MAX_REVERSE_DIGITS as u64 + 1) + digits.len() as u64;
        splitmix64(key).is_multiple_of(HELD_OUT_ONE_IN)
    }

    /// The token of digit `k`.
    fn digit(&self, k: usize) -> Token {
        EOS + 1 + k
    }

    fn is_digit(&self, t: Token) -> bool {
        (self.digit(0)..=self.digit(9)).contains(&t)
    }

    fn equals(&self) -> Token {
        self.digit(10)
    }
}

impl TokenTask for Reverse {
    fn id(&self) -> &str {
        "reverse"
    }

    fn describe(&self) -> String {
        format!(
            "reversing strings of 1 to {} digits (4821= -> 1284), reward 1 for an exact answer; training text slips a digit {:.0}% of the time",
            self.max_digits,
            self.noise * 100.0
        )
    }

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The longest answer plus the end token plus one token of slack.
    fn max_completion_len(&self) -> usize {
        self.max_digits + 2
    }

    /// A length uniform in `1..=max_digits`, then uniform digits; redrawn until the string is in
    /// the split.
    fn sample_prompt(&self, split: Split, rng: &mut dyn RngCore) -> Vec<Token> {
        loop {
            let n = rng.gen_range(1..=self.max_digits);
            let mut prompt: Vec<Token> = (0..n).map(|_| self.digit(rng.gen_range(0..10))).collect();
            if self.is_held_out(&prompt) == (split == Split::HeldOut) {
                prompt.push(self.equals());
                return prompt;
            }
        }
    }

    /// Correct with probability `1 − noise`; otherwise one digit of the answer, at a uniform
    /// place, replaced by one of the nine other digits.
    ///
    /// Panics on a malformed prompt (the demonstrator only answers its own prompts).
    fn demonstration(&self, prompt: &[Token], rng: &mut dyn RngCore) -> Vec<Token> {
        let mut answer = self.answer(prompt).unwrap_or_else(|| {
            panic!(
                "Reverse::demonstration: {:?} is not a prompt of this task",
                self.vocab.render(prompt)
            )
        });
        if rng.gen_bool(self.noise) {
            let at = rng.gen_range(0..answer.len() - 1);
            let old = answer[at] - self.digit(0);
            answer[at] = self.digit((old + rng.gen_range(1..10)) % 10);
        }
        answer
    }

    /// 1 if `completion` is exactly the reversed digits followed by the end token, else 0 (and 0
    /// for a malformed prompt).
    fn reward(&self, prompt: &[Token], completion: &[Token]) -> f64 {
        if self.is_success(prompt, completion) {
            1.0
        } else {
            0.0
        }
    }

    fn is_success(&self, prompt: &[Token], completion: &[Token]) -> bool {
        self.answer(prompt).is_some_and(|a| a == completion)
    }

    fn success_name(&self) -> &'static str {
        "exact match"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn answers_reverse_the_digits_and_leading_zeros_stay() {
        let task = Reverse::new(8, 0.0).unwrap();
        let v = task.vocab();
        let ans = |text: &str| v.render(&task.answer(&v.encode(text).unwrap()).unwrap());
        assert_eq!(ans("4821="), "1284<eos>");
        assert_eq!(ans("0071="), "1700<eos>");
        assert_eq!(ans("5="), "5<eos>");
        assert_eq!(ans("12345678="), "87654321<eos>");
        assert_eq!(task.max_completion_len(), 10);
        assert_eq!(v.len(), 13);
    }

    #[test]
    fn malformed_prompts_have_no_answer_and_score_zero() {
        let task = Reverse::new(4, 0.0).unwrap();
        let v = task.vocab();
        for bad in ["=", "12", "1=2=", "12345=", "=12"] {
            let p = v.encode(bad).unwrap();
            assert_eq!(task.answer(&p), None, "{bad}");
            assert_eq!(task.reward(&p, &[EOS]), 0.0, "{bad}");
        }
        let p = v.encode("123=").unwrap();
        let score = |text: &str, end: bool| {
            let mut c = v.encode(text).unwrap();
            if end {
                c.push(EOS);
            }
            task.reward(&p, &c)
        };
        assert_eq!(score("321", true), 1.0);
        assert_eq!(score("123", true), 0.0);
        assert_eq!(score("3210", true), 0.0);
        assert_eq!(score("32", true), 0.0);
        assert_eq!(score("321", false), 0.0);
    }

    #[test]
    fn noise_slips_exactly_one_digit_that_often() {
        let task = Reverse::new(8, 0.3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let mut wrong = 0;
        for _ in 0..n {
            let p = task.sample_prompt(Split::Train, &mut rng);
            let demo = task.demonstration(&p, &mut rng);
            let right = task.answer(&p).unwrap();
            let differ = demo.iter().zip(&right).filter(|(a, b)| a != b).count();
            assert_eq!(demo.len(), right.len());
            assert!(differ <= 1, "{differ} digits slipped");
            wrong += differ;
        }
        let frac = wrong as f64 / n as f64;
        // Binomial sd is sqrt(0.3 · 0.7 / 20000) ≈ 0.0032; 5 sd of slack.
        assert!((frac - 0.3).abs() < 0.016, "wrong fraction {frac}");
    }

    #[test]
    fn lengths_cover_the_range_and_splits_are_disjoint() {
        let task = Reverse::new(8, 0.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = [0usize; 9];
        for _ in 0..2000 {
            let p = task.sample_prompt(Split::Train, &mut rng);
            let digits = task.digits_of(&p).unwrap();
            assert!(!task.is_held_out(digits));
            seen[digits.len()] += 1;
            let p = task.sample_prompt(Split::HeldOut, &mut rng);
            assert!(task.is_held_out(task.digits_of(&p).unwrap()));
        }
        assert!(seen[1..].iter().all(|&c| c > 150), "{seen:?}");
        // About a tenth of all 4-digit strings is held out; "0012" and "12" are different strings.
        let v = task.vocab();
        let held = (0..10_000)
            .filter(|k| task.is_held_out(&v.encode(&format!("{k:04}")).unwrap()))
            .count();
        assert!((800..1200).contains(&held), "{held} of 10000 held out");
        let split = |s: &str| task.is_held_out(&v.encode(s).unwrap());
        let differ = (0..100).any(|k| split(&format!("{k:04}")) != split(&k.to_string()));
        assert!(differ, "the length is part of the key");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = Reverse::new(0, 0.1).unwrap_err().to_string();
        assert!(e.contains("max_digits 0"), "{e}");
        let e = Reverse::new(17, 0.1).unwrap_err().to_string();
        assert!(e.contains("max_digits 17"), "{e}");
        let e = Reverse::new(4, 1.0).unwrap_err().to_string();
        assert!(e.contains("noise 1"), "{e}");
    }
}
