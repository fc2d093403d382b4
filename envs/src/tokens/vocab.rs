//! The vocabulary of a token task: two special tokens and a set of ASCII characters.
//!
//! Token ids are small integers. Id 0 is [`BOS`], the padding that fills the model's context window
//! before the text starts; id 1 is [`EOS`], the end token that finishes a completion. Ids 2.. are the
//! task's characters in the order they were given, so a vocabulary built from `"0123456789+="`
//! has 14 tokens and `'0'` is token 2.

use super::TokenError;

/// A token id: an index into the vocabulary (and into the policy's logits).
pub type Token = usize;

/// Beginning of text: pads the context window to the left of the first real token. A policy may
/// emit it, but no task rewards it; it is part of the vocabulary so that every context position
/// holds a real token id.
pub const BOS: Token = 0;

/// End of sequence: the action that finishes an episode (the episode *terminates*).
pub const EOS: Token = 1;

/// Number of special tokens before the first character.
const SPECIALS: usize = 2;

/// Marks an ASCII code that is not in the vocabulary in the lookup table.
const ABSENT: u8 = u8::MAX;

/// A character-level vocabulary: [`BOS`], [`EOS`], then one token per ASCII character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    /// `lookup[c]` is the token of ASCII code `c`, or [`ABSENT`].
    lookup: [u8; 128],
}

impl Vocab {
    /// Builds a vocabulary from distinct printable ASCII characters (space included).
    ///
    /// ```
    /// use envs::tokens::{Vocab, EOS};
    /// let v = Vocab::from_chars("ab ").unwrap();
    /// assert_eq!(v.len(), 5);
    /// assert_eq!(v.encode("ba").unwrap(), vec![3, 2]);
    /// assert_eq!(v.render(&[2, 3, EOS]), "ab<eos>");
    /// ```
    pub fn from_chars(chars: &str) -> Result<Self, TokenError> {
        let mut lookup = [ABSENT; 128];
        let mut list = Vec::new();
        for ch in chars.chars() {
            if !(ch == ' ' || ch.is_ascii_graphic()) {
                return Err(TokenError::BadVocabulary {
                    ch,
                    reason: "expected a printable ASCII character or a space",
                });
            }
            let slot = &mut lookup[ch as usize];
            if *slot != ABSENT {
                return Err(TokenError::BadVocabulary {
                    ch,
                    reason: "the character appears twice",
                });
            }
            if SPECIALS + list.len() >= ABSENT as usize {
                return Err(TokenError::BadVocabulary {
                    ch,
                    reason: "too many characters (at most 253)",
                });
            }
            *slot = (SPECIALS + list.len()) as u8;
            list.push(ch);
        }
        Ok(Self {
            chars: list,
            lookup,
        })
    }

    /// Number of tokens, specials included: the width of the policy's output layer.
    pub fn len(&self) -> usize {
        SPECIALS + self.chars.len()
    }

    /// Always false: every vocabulary holds at least [`BOS`] and [`EOS`].
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The token of one character, if the vocabulary has it.
    pub fn token(&self, ch: char) -> Option<Token> {
        if !ch.is_ascii() {
            return None;
        }
        match self.lookup[ch as usize] {
            ABSENT => None,
            t => Some(t as Token),
        }
    }

    /// The character of a token, or `None` for the specials and for ids outside the vocabulary.
    pub fn char_of(&self, token: Token) -> Option<char> {
        token
            .checked_sub(SPECIALS)
            .and_then(|i| self.chars.get(i).copied())
    }

    /// Encodes text one character per token. Fails on the first character not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<Token>, TokenError> {
        text.chars()
            .map(|ch| {
                self.token(ch).ok_or_else(|| TokenError::UnknownChar {
                    ch,
                    text: text.to_string(),
                })
            })
            .collect()
    }

    /// The text of the character tokens, stopping at the first [`EOS`] and skipping [`BOS`].
    /// Ids outside the vocabulary are skipped too; use [`Vocab::render`] to see everything.
    pub fn decode(&self, tokens: &[Token]) -> String {
        tokens
            .iter()
            .take_while(|&&t| t != EOS)
            .filter_map(|&t| self.char_of(t))
            .collect()
    }

    /// Every token visible: characters as themselves, `<bos>`, `<eos>`, and `<?N>` for an id
    /// outside the vocabulary. For sample tables and debugging.
    pub fn render(&self, tokens: &[Token]) -> String {
        let mut out = String::new();
        for &t in tokens {
            match (t, self.char_of(t)) {
                (BOS, _) => out.push_str("<bos>"),
                (EOS, _) => out.push_str("<eos>"),
                (_, Some(ch)) => out.push(ch),
                (_, None) => out.push_str(&format!("<?{t}>")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_after_the_specials_in_the_given_order() {
        let v = Vocab::from_chars("0123456789+=").unwrap();
        assert_eq!(v.len(), 14);
        assert_eq!(v.token('0'), Some(2));
        assert_eq!(v.token('='), Some(13));
        assert_eq!(v.char_of(13), Some('='));
        assert_eq!(v.char_of(BOS), None);
        assert_eq!(v.char_of(EOS), None);
        assert_eq!(v.char_of(14), None);
        assert_eq!(v.token('x'), None);
        assert_eq!(v.token('é'), None);
    }

    #[test]
    fn encode_then_decode_is_the_identity() {
        let v = Vocab::from_chars("abc ").unwrap();
        let text = "cab a";
        let mut tokens = v.encode(text).unwrap();
        assert_eq!(v.decode(&tokens), text);
        tokens.push(EOS);
        tokens.extend(v.encode("ccc").unwrap());
        assert_eq!(v.decode(&tokens), text, "decode stops at the end token");
    }

    #[test]
    fn unknown_characters_are_named() {
        let v = Vocab::from_chars("ab").unwrap();
        let err = v.encode("abz").unwrap_err();
        assert_eq!(
            err,
            TokenError::UnknownChar {
                ch: 'z',
                text: "abz".into()
            }
        );
        assert!(err.to_string().contains("'z'"), "{err}");
    }

    #[test]
    fn bad_vocabularies_are_rejected() {
        assert!(matches!(
            Vocab::from_chars("aba"),
            Err(TokenError::BadVocabulary { ch: 'a', .. })
        ));
        assert!(matches!(
            Vocab::from_chars("a\n"),
            Err(TokenError::BadVocabulary { ch: '\n', .. })
        ));
    }

    #[test]
    fn render_shows_specials_and_strays() {
        let v = Vocab::from_chars("x").unwrap();
        assert_eq!(v.render(&[BOS, 2, EOS, 9]), "<bos>x<eos><?9>");
    }
}
