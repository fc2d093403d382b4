//! The verifiable task: multi-digit addition, `37+85=` → `122<eos>`.
//!
//! Prompts are two operands written with exactly `digits` digits each (leading zeros kept, so
//! every prompt has the same layout: `07+85=`); the answer is the sum written as an ordinary
//! number (no leading zeros) followed by the end token. The reward is 1 for an exact match of the
//! whole completion (end token included) and 0 otherwise: a verifier, not a judge.
//!
//! **Noisy training text.** [`Addition::demonstration`] writes the correct answer with probability
//! `1 - noise` and a wrong one with probability `noise`: the sum plus an offset drawn uniformly from
//! {-10, -1, +1, +10} (a slipped digit or a forgotten carry; offsets that would go below zero are
//! redrawn). A model trained to imitate this text learns to be wrong about `noise` of the time when
//! it samples, however long it trains: that is the gap RL on the verifier's reward closes.
//!
//! **Held-out split.** A fixed tenth of all operand pairs, chosen by a hash of the pair, never
//! appears in training text or RL prompts; accuracy on it measures whether the model learned to
//! add or memorised the table.

use super::{EOS, Split, Token, TokenError, TokenTask, Vocab};
use rand::{Rng, RngCore};

/// Default number of digits per operand.
pub const DEFAULT_DIGITS: u32 = 2;
/// Default fraction of training answers that are wrong.
pub const DEFAULT_NOISE: f64 = 0.3;
/// Largest supported number of digits per operand (keeps every pair's index in a `u64`).
pub const MAX_DIGITS: u32 = 9;
/// One pair in this many is held out (on average).
const HELD_OUT_ONE_IN: u64 = 10;
/// The characters of the vocabulary, in token order after the specials.
const CHARS: &str = "0123456789+=";
/// Offsets that turn a correct sum into a plausible wrong one.
const WRONG_OFFSETS: [i64; 4] = [-10, -1, 1, 10];

/// Addition of two `digits`-digit numbers with a noisy demonstrator (see the module docs).
///
/// ```
/// use envs::tokens::{Addition, TokenTask, EOS};
/// let task = Addition::new(2, 0.3).unwrap();
/// let prompt = task.prompt(37, 85);
/// assert_eq!(task.vocab().decode(&prompt), "37+85=");
/// let answer = task.answer(37, 85);
/// assert_eq!(task.vocab().render(&answer), "122<eos>");
/// assert_eq!(task.reward(&prompt, &answer), 1.0);
/// assert_eq!(task.reward(&prompt, &answer[..3]), 0.0); // no end token: not an exact match
/// ```
#[derive(Clone, Debug)]
pub struct Addition {
    digits: u32,
    noise: f64,
    /// 10^digits: operands lie in `0..modulus`.
    modulus: u64,
    vocab: Vocab,
}

impl Default for Addition {
    /// [`DEFAULT_DIGITS`] digits, [`DEFAULT_NOISE`] noise.
    fn default() -> Self {
        Self::new(DEFAULT_DIGITS, DEFAULT_NOISE).expect("the defaults are valid")
    }
}

impl Addition {
    /// A task with operands of `digits` digits (1 to [`MAX_DIGITS`]) and a demonstrator that is
    /// wrong with probability `noise` (in `[0, 1)`).
    pub fn new(digits: u32, noise: f64) -> Result<Self, TokenError> {
        if !(1..=MAX_DIGITS).contains(&digits) {
            return Err(TokenError::BadSetting {
                name: "digits",
                value: digits.to_string(),
                expected: "an integer from 1 to 9",
            });
        }
        check_noise(noise)?;
        Ok(Self {
            digits,
            noise,
            modulus: 10u64.pow(digits),
            vocab: Vocab::from_chars(CHARS).expect("the addition alphabet is valid"),
        })
    }

    /// Digits per operand.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Fraction of demonstrations whose answer is wrong.
    pub fn noise(&self) -> f64 {
        self.noise
    }

    /// The prompt `a+b=` with both operands zero-padded to [`Addition::digits`] digits.
    ///
    /// Panics if an operand has more digits than the task.
    pub fn prompt(&self, a: u64, b: u64) -> Vec<Token> {
        assert!(
            a < self.modulus && b < self.modulus,
            "Addition::prompt: operands {a} and {b} must be below {}",
            self.modulus
        );
        let width = self.digits as usize;
        let text = format!("{a:0width$}+{b:0width$}=");
        self.vocab.encode(&text).expect("digits, '+' and '='")
    }

    /// The operands of a well-formed prompt, or `None`.
    pub fn parse_prompt(&self, prompt: &[Token]) -> Option<(u64, u64)> {
        let text = self.vocab.decode(prompt);
        let (a, rest) = text.split_once('+')?;
        let b = rest.strip_suffix('=')?;
        let d = self.digits as usize;
        let is_operand = |s: &str| s.len() == d && s.bytes().all(|c| c.is_ascii_digit());
        if prompt.len() != 2 * d + 2 || !is_operand(a) || !is_operand(b) {
            return None;
        }
        Some((a.parse().ok()?, b.parse().ok()?))
    }

    /// The correct completion: the digits of `a + b` and the end token.
    pub fn answer(&self, a: u64, b: u64) -> Vec<Token> {
        self.number(a + b)
    }

    /// Whether the pair belongs to the held-out split (about one pair in ten, fixed by a hash).
    pub fn is_held_out(&self, a: u64, b: u64) -> bool {
        splitmix64(a * self.modulus + b).is_multiple_of(HELD_OUT_ONE_IN)
    }

    /// `n` written in decimal followed by the end token.
    fn number(&self, n: u64) -> Vec<Token> {
        let mut tokens = self.vocab.encode(&n.to_string()).expect("decimal digits");
        tokens.push(EOS);
        tokens
    }
}

impl TokenTask for Addition {
    fn id(&self) -> &str {
        "addition"
    }

    fn describe(&self) -> String {
        format!(
            "{d}-digit addition ({ex}), reward 1 for an exact answer; training text wrong {p:.0}% of the time",
            d = self.digits,
            ex = if self.digits == 2 {
                "37+85=122"
            } else {
                "a+b=sum"
            },
            p = self.noise * 100.0
        )
    }

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The longest answer (`digits + 1` digits) plus the end token plus one token of slack, so
    /// that a model that runs on is visibly truncated rather than stopped at the right length.
    fn max_completion_len(&self) -> usize {
        self.digits as usize + 3
    }

    fn sample_prompt(&self, split: Split, rng: &mut dyn RngCore) -> Vec<Token> {
        loop {
            let a = rng.gen_range(0..self.modulus);
            let b = rng.gen_range(0..self.modulus);
            if self.is_held_out(a, b) == (split == Split::HeldOut) {
                return self.prompt(a, b);
            }
        }
    }

    /// Correct with probability `1 - noise`; otherwise the sum plus an offset from
    /// {-10, -1, +1, +10}, redrawn while it would be negative.
    ///
    /// Panics on a malformed prompt (the demonstrator only answers its own prompts).
    fn demonstration(&self, prompt: &[Token], rng: &mut dyn RngCore) -> Vec<Token> {
        let (a, b) = self.parse_prompt(prompt).unwrap_or_else(|| {
            panic!(
                "Addition::demonstration: {:?} is not a prompt of this task",
                self.vocab.render(prompt)
            )
        });
        let sum = a + b;
        if rng.gen_bool(self.noise) {
            loop {
                let offset = WRONG_OFFSETS[rng.gen_range(0..WRONG_OFFSETS.len())];
                if let Some(wrong) = sum.checked_add_signed(offset) {
                    return self.number(wrong);
                }
            }
        }
        self.number(sum)
    }

    /// 1 if `completion` is exactly the answer followed by the end token, else 0 (and 0 for a
    /// malformed prompt).
    fn reward(&self, prompt: &[Token], completion: &[Token]) -> f64 {
        if self.is_success(prompt, completion) {
            1.0
        } else {
            0.0
        }
    }

    fn is_success(&self, prompt: &[Token], completion: &[Token]) -> bool {
        self.parse_prompt(prompt)
            .is_some_and(|(a, b)| completion == self.answer(a, b).as_slice())
    }

    fn success_name(&self) -> &'static str {
        "exact match"
    }
}

/// `Ok` for a demonstrator's error rate in `[0, 1)`, else the error naming it.
pub(super) fn check_noise(noise: f64) -> Result<(), TokenError> {
    if (0.0..1.0).contains(&noise) {
        Ok(())
    } else {
        Err(TokenError::BadSetting {
            name: "noise",
            value: noise.to_string(),
            expected: "a fraction in [0, 1)",
        })
    }
}

/// SplitMix64 finaliser: a fixed, well-mixed hash of a `u64` (Steele, Lea and Flood 2014).
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn prompts_are_zero_padded_and_answers_are_not() {
        let task = Addition::new(3, 0.0).unwrap();
        let v = task.vocab();
        assert_eq!(v.decode(&task.prompt(7, 45)), "007+045=");
        assert_eq!(v.render(&task.answer(7, 45)), "52<eos>");
        assert_eq!(v.render(&task.answer(999, 999)), "1998<eos>");
        assert_eq!(v.render(&task.answer(0, 0)), "0<eos>");
        assert_eq!(task.max_completion_len(), 6);
    }

    #[test]
    fn parse_prompt_inverts_prompt_and_rejects_the_rest() {
        let task = Addition::new(2, 0.0).unwrap();
        for (a, b) in [(0, 0), (37, 85), (99, 9)] {
            assert_eq!(task.parse_prompt(&task.prompt(a, b)), Some((a, b)));
        }
        let v = task.vocab();
        for bad in ["37+85", "3+85=", "37+85==", "37=85+", "+3785=", "378+5="] {
            assert_eq!(task.parse_prompt(&v.encode(bad).unwrap()), None, "{bad}");
        }
    }

    #[test]
    fn reward_is_exact_match_only() {
        let task = Addition::new(2, 0.0).unwrap();
        let v = task.vocab();
        let p = task.prompt(37, 85);
        let score = |text: &str, end: bool| {
            let mut c = v.encode(text).unwrap();
            if end {
                c.push(EOS);
            }
            task.reward(&p, &c)
        };
        assert_eq!(score("122", true), 1.0);
        assert_eq!(score("122", false), 0.0);
        assert_eq!(score("0122", true), 0.0);
        assert_eq!(score("121", true), 0.0);
        assert_eq!(score("1220", true), 0.0);
        assert_eq!(score("", true), 0.0);
        assert!(task.is_success(&p, &task.answer(37, 85)));
        // A malformed prompt scores 0 whatever follows.
        assert_eq!(
            task.reward(&v.encode("37+85").unwrap(), &task.answer(37, 85)),
            0.0
        );
    }

    #[test]
    fn noise_is_the_fraction_of_wrong_demonstrations() {
        let task = Addition::new(2, 0.3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let mut wrong = 0;
        for _ in 0..n {
            let p = task.sample_prompt(Split::Train, &mut rng);
            let (a, b) = task.parse_prompt(&p).unwrap();
            let demo = task.demonstration(&p, &mut rng);
            if task.reward(&p, &demo) == 0.0 {
                wrong += 1;
                // Every wrong answer is the sum off by one of the documented offsets.
                let got: i64 = task.vocab().decode(&demo).parse().unwrap();
                let off = got - (a + b) as i64;
                assert!(WRONG_OFFSETS.contains(&off), "offset {off}");
            }
        }
        let frac = wrong as f64 / n as f64;
        // Binomial sd is sqrt(0.3 * 0.7 / 20000) ~ 0.0032; 5 sd of slack.
        assert!((frac - 0.3).abs() < 0.016, "wrong fraction {frac}");
    }

    #[test]
    fn clean_demonstrator_is_always_right_even_at_zero() {
        let task = Addition::new(1, 0.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..500 {
            let p = task.sample_prompt(Split::Train, &mut rng);
            let d = task.demonstration(&p, &mut rng);
            assert_eq!(task.reward(&p, &d), 1.0);
        }
        // A noisy demonstrator never writes a negative number for 0+0.
        let noisy = Addition::new(1, 0.99).unwrap();
        let p = noisy.prompt(0, 0);
        for _ in 0..200 {
            let d = noisy.demonstration(&p, &mut rng);
            let text = noisy.vocab().decode(&d);
            assert!(text == "1" || text == "10" || text == "0", "{text}");
        }
    }

    #[test]
    fn splits_are_disjoint_and_about_a_tenth_is_held_out() {
        let task = Addition::new(2, 0.0).unwrap();
        let held = (0..100u64)
            .flat_map(|a| (0..100u64).map(move |b| (a, b)))
            .filter(|&(a, b)| task.is_held_out(a, b))
            .count();
        assert!((800..1200).contains(&held), "{held} of 10000 held out");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..300 {
            let (a, b) = task
                .parse_prompt(&task.sample_prompt(Split::Train, &mut rng))
                .unwrap();
            assert!(!task.is_held_out(a, b));
            let (a, b) = task
                .parse_prompt(&task.sample_prompt(Split::HeldOut, &mut rng))
                .unwrap();
            assert!(task.is_held_out(a, b));
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let e = Addition::new(0, 0.1).unwrap_err().to_string();
        assert!(e.contains("digits 0"), "{e}");
        let e = Addition::new(2, 1.0).unwrap_err().to_string();
        assert!(e.contains("noise 1"), "{e}");
        assert!(Addition::new(2, f64::NAN).is_err());
    }
}
