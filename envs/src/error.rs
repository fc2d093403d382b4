//! Errors of the `envs` crate.
//!
//! Every error names the environment, the offending value and what was expected, so that a message
//! read in a log is enough to find the bug.

use std::fmt;

/// Everything that can go wrong when making, stepping, resetting or restoring an environment.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvError {
    /// `make` was given an id that is not in the registry.
    UnknownId {
        /// The id that was asked for.
        id: String,
        /// Every id the registry knows.
        known: Vec<&'static str>,
    },
    /// A discrete action outside `0..n`, a non-finite continuous action, or an action of the wrong kind.
    InvalidAction {
        /// The environment that rejected the action.
        env: &'static str,
        /// The action as it was given, formatted.
        action: String,
        /// What the environment accepts, e.g. `"a discrete action in 0..2"`.
        expected: String,
    },
    /// A caller-provided buffer (observation, action, state) has the wrong length.
    BadBufferLength {
        /// The environment that rejected the buffer.
        env: &'static str,
        /// Which buffer: `"observation"`, `"action"`, `"state"`, ...
        buffer: &'static str,
        /// The length that was given.
        got: usize,
        /// The length that was expected.
        expected: usize,
    },
    /// `step` was called before the first `reset`, or after the episode terminated or was truncated.
    NeedsReset {
        /// The environment.
        env: &'static str,
        /// Why the episode cannot continue.
        reason: &'static str,
    },
    /// A physical state given to `set_state` has a value outside what the environment can hold.
    InvalidState {
        /// The environment.
        env: &'static str,
        /// Index of the bad component.
        index: usize,
        /// The bad value.
        value: f64,
        /// What was expected, e.g. `"a finite number"`.
        expected: &'static str,
    },
    /// A snapshot could not be decoded or does not belong to this environment.
    BadSnapshot {
        /// What is wrong with it.
        reason: String,
    },
    /// A vector environment was asked for zero copies.
    EmptyVecEnv {
        /// The id of the environment.
        id: String,
    },
    /// A vector environment was given copies of different environments.
    MixedVecEnv {
        /// The id of the first copy.
        first: &'static str,
        /// An id that differs from it.
        other: &'static str,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::UnknownId { id, known } => {
                write!(
                    f,
                    "unknown environment id {id:?}; known ids: {}",
                    known.join(", ")
                )
            }
            EnvError::InvalidAction {
                env,
                action,
                expected,
            } => {
                write!(f, "{env}: invalid action {action}; expected {expected}")
            }
            EnvError::BadBufferLength {
                env,
                buffer,
                got,
                expected,
            } => write!(
                f,
                "{env}: {buffer} buffer has length {got}; expected length {expected}"
            ),
            EnvError::NeedsReset { env, reason } => {
                write!(f, "{env}: step called {reason}; call reset first")
            }
            EnvError::InvalidState {
                env,
                index,
                value,
                expected,
            } => write!(
                f,
                "{env}: state component {index} is {value}; expected {expected}"
            ),
            EnvError::BadSnapshot { reason } => write!(f, "bad environment snapshot: {reason}"),
            EnvError::EmptyVecEnv { id } => {
                write!(f, "vector env of {id} needs at least one copy; got 0")
            }
            EnvError::MixedVecEnv { first, other } => write!(
                f,
                "vector env copies must share one id; got {first} and {other}"
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// A failed check of [`crate::check_env`]: which check, and what it saw.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckError {
    /// A space is malformed (empty discrete space, `low > high`, mismatched bound lengths, NaN bounds).
    BadSpace {
        /// The environment.
        env: String,
        /// `"observation"` or `"action"`.
        which: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An observation returned by `reset` or `step` lies outside the observation space.
    ObservationOutOfSpace {
        /// The environment.
        env: String,
        /// `"reset"`, `"reset without a seed"` or `"step"`.
        during: &'static str,
        /// The observation.
        obs: Vec<f32>,
    },
    /// The same seed and actions gave two different trajectories.
    NotDeterministic {
        /// The environment.
        env: String,
        /// What differed.
        detail: String,
    },
    /// Two different seeds left the reset generator in the same state: `reset` ignores its seed.
    SeedIgnored {
        /// The environment.
        env: String,
        /// The two seeds.
        seeds: (u64, u64),
    },
    /// `step` returned a NaN or infinite reward.
    NonFiniteReward {
        /// The environment.
        env: String,
        /// The step of the checker's episode (counted from 0) that returned it.
        step: usize,
        /// The reward.
        reward: f64,
    },
    /// An invalid input was accepted, or rejected with the wrong error.
    MissingError {
        /// The environment.
        env: String,
        /// The invalid input that should have been rejected.
        case: &'static str,
        /// What happened instead.
        got: String,
    },
    /// `render_text` returned nothing or `render_svg` is not an `<svg>` document.
    BadRendering {
        /// The environment.
        env: String,
        /// The first characters of the SVG.
        svg_start: String,
    },
    /// A call that should have succeeded returned an error.
    Unexpected(EnvError),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::BadSpace { env, which, reason } => {
                write!(f, "{env}: bad {which} space: {reason}")
            }
            CheckError::ObservationOutOfSpace { env, during, obs } => write!(
                f,
                "{env}: observation {obs:?} returned by {during} is outside the observation space"
            ),
            CheckError::NotDeterministic { env, detail } => {
                write!(f, "{env}: same seed gave different trajectories: {detail}")
            }
            CheckError::SeedIgnored { env, seeds } => write!(
                f,
                "{env}: seeds {} and {} left the reset generator in the same state; reset must reseed it",
                seeds.0, seeds.1
            ),
            CheckError::NonFiniteReward { env, step, reward } => {
                write!(
                    f,
                    "{env}: step {step} returned the reward {reward}; expected a finite number"
                )
            }
            CheckError::MissingError { env, case, got } => {
                write!(f, "{env}: {case} should be an error; got {got}")
            }
            CheckError::BadRendering { env, svg_start } => write!(
                f,
                "{env}: empty text rendering or SVG that is not an <svg> document (starts {svg_start:?})"
            ),
            CheckError::Unexpected(e) => write!(f, "unexpected error: {e}"),
        }
    }
}

impl std::error::Error for CheckError {}

impl From<EnvError> for CheckError {
    fn from(e: EnvError) -> Self {
        CheckError::Unexpected(e)
    }
}
