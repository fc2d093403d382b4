//! One way to configure every run: a typed configuration assembled from a named preset, a TOML
//! file and `--set key=value` arguments, saved as `config.toml` and read back unchanged.
//!
//! `pg train` ([`crate::config::Config`]), `pg lm pretrain` and `pg lm rl`
//! ([`crate::lm::config`]) implement [`RunConfig`] and get everything else from here:
//!
//! 1. the preset of the environment or task, by name (`--preset NAME`, default [`DEFAULT_PRESET`]);
//! 2. a TOML file (`--config FILE`) setting any subset of the keys;
//! 3. `--set key=value` arguments in order (the value read as TOML; a bare word is a string).
//!
//! Unknown keys and mistyped values are one-line errors naming the key; a key that was renamed
//! is still read under its old name ([`RunConfig::RENAMED`]), so old `config.toml` files load.
//!
//! # One vocabulary
//!
//! Keys that mean the same thing are spelled the same in every configuration, and keys added
//! later take the name reserved for them here:
//!
//! | key | meaning |
//! |---|---|
//! | `seed` | seed of everything random (any u64) |
//! | `estimator` | what weights `∇log π`: `reinforce`, `reward_to_go`, `vpg`, `gae` (control); `reinforce`, `rloo`, `grpo` (LM) |
//! | `lr` | learning rate of the policy (`value_lr`: of the value function) |
//! | `lr_schedule` | `constant` or `linear` decay to 0 at the end of the budget ([`crate::run::schedule`]) |
//! | `max_grad_norm` | clip of the global gradient norm before each step, 0 disables ([`crate::run::update`]) |
//! | `checkpoint_every` | save a checkpoint every this many epochs or steps (0: only at the end and on a signal) |
//! | `hidden_sizes`, `activation` | the MLP |
//! | reserved: `optimizer` | `adam` or `sgd` |
//! | reserved: `update_epochs`, `clip_range` | PPO's passes over a batch and its ratio clip |
//! | reserved: `model` | the LM architecture (`mlp`, `transformer`) |
//!
//! # Floats as written
//!
//! Rates and coefficients are `f32`. Serialised as they are, `0.99f32` would be written as its
//! widening `0.9900000095367432`; [`short_f32`] writes the shortest decimal that reads back as
//! the same `f32` instead, so `config.toml` holds `0.99`.

use crate::error::{PgError, Result};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserializer, Serialize, Serializer};

/// The preset `pg train ENV` and `pg lm ... TASK` use when no `--preset` is given.
pub const DEFAULT_PRESET: &str = "default";

/// Serialises an `f32` as the shortest decimal that reads back as the same `f32` (`0.99`, not
/// `0.9900000095367432`). Use with `#[serde(serialize_with = "...")]`.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct S {
///     #[serde(serialize_with = "policy_gradient::run::config::short_f32")]
///     gamma: f32,
/// }
/// assert_eq!(toml::to_string(&S { gamma: 0.99 }).unwrap(), "gamma = 0.99\n");
/// ```
pub fn short_f32<S: Serializer>(x: &f32, s: S) -> std::result::Result<S::Ok, S::Error> {
    // `Display` of an f32 is the shortest text that parses back to it; read as an f64 that text
    // is the decimal the user wrote.
    let shortest: f64 = x.to_string().parse().unwrap_or(*x as f64);
    s.serialize_f64(shortest)
}

/// Serialises a seed: an integer up to `i64::MAX` (TOML's largest), a string of digits above.
pub fn seed_to_toml<S: Serializer>(x: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if i64::try_from(*x).is_ok() {
        s.serialize_u64(*x)
    } else {
        s.serialize_str(&x.to_string())
    }
}

/// Reads a seed written by [`seed_to_toml`]: a non-negative integer or a string of digits, so
/// every u64 is a valid seed.
pub fn seed_from_toml<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    struct SeedVisitor;
    impl Visitor<'_> for SeedVisitor {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an integer from 0 to {}", u64::MAX)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative; {}", self.msg())))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<u64, E> {
            v.parse()
                .map_err(|_| E::custom(format!("`{v}` is not {}", self.msg())))
        }
    }
    impl SeedVisitor {
        fn msg(&self) -> String {
            format!("an integer from 0 to {}", u64::MAX)
        }
    }
    d.deserialize_any(SeedVisitor)
}

/// Parses TOML text into a table; a syntax error is one line naming the origin, the line and
/// column, and what the parser expected.
pub fn parse_table(text: &str, origin: &str) -> Result<toml::Table> {
    toml::from_str::<toml::Table>(text).map_err(|e| syntax_error(&e, text, origin))
}

/// A TOML error as one line: `origin`, line and column of the error, the parser's message.
pub fn syntax_error(e: &toml::de::Error, text: &str, origin: &str) -> PgError {
    let at = e
        .span()
        .map(|s| {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" (line {line}, column {col})")
        })
        .unwrap_or_default();
    PgError::ConfigSyntax {
        origin: format!("{origin}{at}"),
        message: e.message().replace('\n', " ").trim().to_string(),
    }
}

/// A `--set key=value` argument split into its key and its TOML value (a bare word that is not
/// TOML, such as `gae`, is taken as a string).
pub fn parse_set(arg: &str) -> Result<(String, toml::Value)> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| PgError::BadSetArgument(arg.to_string()))?;
    let (key, raw) = (key.trim(), raw.trim());
    if key.is_empty() {
        return Err(PgError::BadSetArgument(arg.to_string()));
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or(toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    Ok((key.to_string(), value))
}

/// An error about a configuration key's value.
pub fn bad_value(key: &str, origin: &str, message: impl Into<String>) -> PgError {
    PgError::BadConfigValue {
        key: key.to_string(),
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// The layers of a new run's configuration, as the command line gives them.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    /// `--preset NAME` (None: [`DEFAULT_PRESET`]).
    pub preset: Option<String>,
    /// `--config FILE`: its text and its name (for messages).
    pub file: Option<(String, String)>,
    /// `--set key=value` arguments, in order (`--seed N` comes first as `seed=N`).
    pub sets: Vec<String>,
}

/// A typed run configuration: its keys, presets and checks. Everything else (TOML in and out,
/// overlays, `--set`, renamed keys) is provided.
pub trait RunConfig: Serialize + DeserializeOwned + Clone + PartialEq {
    /// The keys, in declaration order (a test checks them against the struct).
    const KEYS: &'static [&'static str];
    /// The key naming what the run trains on (`env_id` or `task`).
    const SUBJECT_KEY: &'static str;
    /// Keys renamed since configs were first saved: `(old, new)`. The old name is read as the
    /// new one, so old `config.toml` files and checkpoints still load.
    const RENAMED: &'static [(&'static str, &'static str)] = &[];
    /// Keys added after configs were first saved: a saved config without them takes the preset's
    /// value.
    const ADDED: &'static [&'static str] = &[];

    /// The names of the presets of `subject` (the first is the default), or an error naming the
    /// known subjects.
    fn preset_names(subject: &str) -> Result<&'static [&'static str]>;

    /// The preset `name` of `subject`.
    fn preset_named(subject: &str, name: &str) -> Result<Self>;

    /// A complete configuration for a subject without a preset, to be overwritten key by key by
    /// a complete file (e.g. CartPole-v0 from a full `--config`).
    fn template(subject: &str) -> Result<Self>;

    /// Checks ranges and size bounds TOML types cannot express; the error names the key.
    fn validate(&self, origin: &str) -> Result<()>;

    /// The configuration as TOML text (what `config.toml` holds).
    fn to_toml(&self) -> String {
        toml::to_string(self).expect("a run configuration serialises to TOML")
    }

    /// Parses a complete configuration (a saved `config.toml`): every key must be present
    /// (those in [`RunConfig::ADDED`] excepted).
    fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let table = parse_table(text, origin)?;
        let subject = match table.get(Self::SUBJECT_KEY) {
            Some(toml::Value::String(s)) => s.clone(),
            _ => {
                return Err(bad_value(
                    Self::SUBJECT_KEY,
                    origin,
                    "missing or not a string",
                ));
            }
        };
        let base =
            Self::preset_named(&subject, DEFAULT_PRESET).or_else(|_| Self::template(&subject))?;
        let c = base.overlay(&table, origin)?;
        for key in Self::KEYS {
            let present = table.contains_key(*key)
                || Self::RENAMED
                    .iter()
                    .any(|(old, new)| new == key && table.contains_key(*old));
            if !present && !Self::ADDED.contains(key) {
                return Err(bad_value(
                    key,
                    origin,
                    "missing (a saved config lists every key)",
                ));
            }
        }
        Ok(c)
    }

    /// Overrides the keys present in `table`, then validates.
    fn overlay(&self, table: &toml::Table, origin: &str) -> Result<Self> {
        let mut current = self.clone();
        for (key, value) in table {
            current = current.with_value(key, value.clone(), origin)?;
        }
        current.validate(origin)?;
        Ok(current)
    }

    /// Applies `--set key=value` arguments in order, validating after each.
    fn apply_sets(&self, sets: &[String]) -> Result<Self> {
        let mut current = self.clone();
        for arg in sets {
            let (key, value) = parse_set(arg)?;
            let origin = format!("--set {arg}");
            current = current.with_value(&key, value, &origin)?;
            current.validate(&origin)?;
        }
        Ok(current)
    }

    /// Replaces one key (an old name is read as its new one), checking that it exists and that
    /// the value has the key's type.
    fn with_value(&self, key: &str, value: toml::Value, origin: &str) -> Result<Self> {
        let key = Self::RENAMED
            .iter()
            .find(|(old, _)| *old == key)
            .map_or(key, |(_, new)| new);
        if !Self::KEYS.contains(&key) {
            return Err(PgError::UnknownConfigKey {
                key: key.to_string(),
                origin: origin.to_string(),
                known: Self::KEYS.to_vec(),
            });
        }
        let mut table = toml::Table::try_from(self).expect("a run configuration is a table");
        table.insert(key.to_string(), value);
        toml::Value::Table(table)
            .try_into::<Self>()
            .map_err(|e| bad_value(key, origin, e.message().replace('\n', " ")))
    }

    /// Builds a new run's configuration from `subject`'s preset (by name), a file and `--set`
    /// arguments. `subject` comes from the command line; when `None` it is read from the file.
    /// A subject without a preset is accepted with a file that sets every key.
    fn assemble(subject: Option<&str>, layers: &Layers) -> Result<Self> {
        let table = match &layers.file {
            Some((text, origin)) => Some((parse_table(text, origin)?, origin.as_str())),
            None => None,
        };
        let file_subject = table
            .as_ref()
            .and_then(|(t, _)| t.get(Self::SUBJECT_KEY))
            .and_then(|v| v.as_str());
        let subject = match (subject, file_subject) {
            (Some(s), _) | (None, Some(s)) => s.to_string(),
            (None, None) => {
                return Err(bad_value(
                    Self::SUBJECT_KEY,
                    "the command line",
                    format!(
                        "none given: name it on the command line or set {} in --config",
                        Self::SUBJECT_KEY
                    ),
                ));
            }
        };
        let name = layers.preset.as_deref().unwrap_or(DEFAULT_PRESET);
        let complete_file = table.as_ref().is_some_and(|(t, _)| {
            Self::KEYS
                .iter()
                .all(|k| *k == Self::SUBJECT_KEY || t.contains_key(*k))
        });
        let mut c = match Self::preset_named(&subject, name) {
            Ok(c) => c,
            Err(e) if complete_file && layers.preset.is_none() => {
                // No preset, but the file says everything: start from any complete config.
                Self::template(&subject).map_err(|_| e)?
            }
            Err(e) => return Err(e),
        };
        if let Some((mut t, origin)) = table {
            // The command line's subject wins over the file's.
            t.insert(
                Self::SUBJECT_KEY.to_string(),
                toml::Value::String(subject.clone()),
            );
            c = c.overlay(&t, origin)?;
        }
        c.apply_sets(&layers.sets)
    }
}

/// The error for a preset name that `subject` does not have, listing the names it has.
pub fn unknown_preset(subject: &str, name: &str, known: &[&str]) -> PgError {
    bad_value(
        "preset",
        "--preset",
        format!(
            "`{subject}` has no preset `{name}`; its presets: {}",
            known.join(", ")
        ),
    )
}

/// Checks a size against its documented upper bound (see [`crate::run::bounds`]) and that it is
/// at least `min`.
pub fn check_size(key: &str, value: u64, min: u64, max: u64, origin: &str) -> Result<()> {
    if value < min {
        return Err(bad_value(
            key,
            origin,
            format!("{value}; expected at least {min}"),
        ));
    }
    if value > max {
        return Err(bad_value(
            key,
            origin,
            format!("{value} exceeds the upper bound {max}"),
        ));
    }
    Ok(())
}

/// Checks that `value` is a finite number `>= 0`.
pub fn check_non_negative(key: &str, value: f64, origin: &str) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(bad_value(
            key,
            origin,
            format!("{value}; expected a finite number >= 0"),
        ))
    }
}

/// Checks the PPO keys control and LM runs share: `update_epochs` in `1..=`
/// [`bounds::UPDATE_EPOCHS`](crate::run::bounds::UPDATE_EPOCHS) and `clip_range` in `[0, 1)`.
pub fn check_ppo_keys(update_epochs: usize, clip_range: f32, origin: &str) -> Result<()> {
    check_size(
        "update_epochs",
        update_epochs as u64,
        1,
        crate::run::bounds::UPDATE_EPOCHS,
        origin,
    )?;
    if !(0.0..1.0).contains(&clip_range) {
        return Err(bad_value(
            "clip_range",
            origin,
            format!("{clip_range} is outside [0, 1)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_arguments_are_split_and_typed() {
        assert_eq!(
            parse_set("gamma=0.9").unwrap(),
            ("gamma".into(), toml::Value::Float(0.9))
        );
        assert_eq!(
            parse_set(" estimator = gae ").unwrap(),
            ("estimator".into(), toml::Value::String("gae".into()))
        );
        assert!(matches!(
            parse_set("gamma"),
            Err(PgError::BadSetArgument(_))
        ));
        assert!(matches!(parse_set("=1"), Err(PgError::BadSetArgument(_))));
    }

    #[test]
    fn syntax_errors_are_one_line_with_the_place() {
        let e = parse_table("a = 1\nb = = 2\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("f.toml (line 2, column"), "{e}");
    }

    #[test]
    fn seeds_round_trip_over_the_whole_u64_range() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct S {
            #[serde(serialize_with = "seed_to_toml", deserialize_with = "seed_from_toml")]
            seed: u64,
        }
        for seed in [0, 7, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            let text = toml::to_string(&S { seed }).unwrap();
            assert_eq!(toml::from_str::<S>(&text).unwrap(), S { seed }, "{text}");
        }
        assert!(toml::from_str::<S>("seed = -1").is_err());
        assert!(toml::from_str::<S>("seed = \"x\"").is_err());
    }

    #[test]
    fn floats_are_written_as_the_user_wrote_them() {
        #[derive(serde::Serialize)]
        struct S {
            #[serde(serialize_with = "short_f32")]
            x: f32,
        }
        for (x, text) in [
            (0.99f32, "0.99"),
            (3e-3, "0.003"),
            (1.0, "1.0"),
            (1e-4, "0.0001"),
        ] {
            assert_eq!(toml::to_string(&S { x }).unwrap(), format!("x = {text}\n"));
        }
    }
}
