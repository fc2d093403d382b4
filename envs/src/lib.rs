//! Gymnasium-faithful classic-control environments: CartPole, Acrobot, MountainCar,
//! MountainCarContinuous and Pendulum, with the dynamics of Gymnasium 1.4 reproduced to the bit
//! where floating point allows, vectorised and allocation-free.
//!
//! # Map
//!
//! | module | what lives there |
//! |---|---|
//! | [`env`](mod@env) | the [`Env`] trait and [`EnvSnapshot`] (save and resume exactly) |
//! | [`space`] | [`Space`], [`Action`], [`VecAction`], [`Step`] |
//! | [`classic_control`] | the five environments, each with its equations and a pure `transition` |
//! | [`registry`] | [`make`], [`specs`]: ids, time limits, reward thresholds |
//! | [`time_limit`] | [`TimeLimit`], Gymnasium's truncation wrapper |
//! | [`vec_env`] | [`VecEnv`]: N copies, one observation buffer, same-step autoreset |
//! | [`vec_snapshot`] | [`VecEnvSnapshot`] and its byte encoding |
//! | [`check`] | [`check_env`], after Gymnasium's env checker |
//! | [`render`] | text frames, SVG frames and animated SVG episodes |
//! | [`rng`] | the ChaCha8 reset generator and its saved state |
//! | [`tokens`] | token-sequence tasks for language-model policy gradients: vocabulary, prompts, end token, reward |
//! | [`numpy`] | `x**2` exactly as NumPy computes it (the C library's `pow`) |
//! | [`error`] | [`EnvError`], [`CheckError`] |
//!
//! # Fidelity and speed
//!
//! All 9,584 transitions of the 25 episodes recorded from Gymnasium 1.4.0
//! (`tests/data/gymnasium-classic-control.jsonl`) are reproduced bit for bit on glibc targets:
//! next states, f32 observations, rewards, flags and episode ends (`tests/replay.rs`). That takes
//! Gymnasium's order of operations, NumPy 2's float32 promotion rules where Gymnasium mixes
//! precisions, and `x**2` computed as NumPy computes it ([`numpy::square`]).
//! A step costs tens of nanoseconds (hundreds for Acrobot's RK4); `envs/README.md` lists the
//! figures and the `benches/benches/envs.rs` command that measures them.
//!
//! # Contract
//!
//! * `reset(seed, obs)` writes the first observation; `step(action, obs)` writes the next one and
//!   returns a [`Step`] with the reward and the two separate end flags: `terminated` (the task
//!   ended, bootstrap with 0) and `truncated` (a time limit cut it, bootstrap with V(s')).
//!   Both can be true on the same step, as with Gymnasium's `TimeLimit`.
//! * Physics is f64 and observations f32, as in Gymnasium (MountainCarContinuous and Pendulum's
//!   torque terms are partly f32 *because Gymnasium's are*; their module docs explain).
//! * Steps allocate nothing on the heap, for one env or a [`VecEnv`].
//! * Resets draw from a seeded ChaCha8 stream with Gymnasium's distributions. They are **not the
//!   same numbers** as Gymnasium's for the same seed (NumPy's PCG64 cannot be matched); the replay
//!   tests therefore start from recorded states. An env reset with `None` before any seed uses
//!   seed [`rng::DEFAULT_SEED`] (Gymnasium would use OS entropy), so every run is reproducible.
//! * Continuous actions are clipped to the action space as Gymnasium clips them (Pendulum before
//!   everything, MountainCarContinuous for the dynamics only: its penalty uses the raw action).
//!   NaN actions are an error.
//! * Stepping before the first reset, or after the episode ended, is [`EnvError::NeedsReset`]
//!   (Gymnasium warns and continues; we refuse).
//!
//! # Differences from the API sketch in `notes/envs-api.md`
//!
//! Additions only; the sketched signatures are kept:
//! * `Env::id` returns `&'static str` (it fits `&str` callers).
//! * `Env` gained `obs_dim`, `state`/`set_state` (physical state, f64), `elapsed_steps`,
//!   `max_episode_steps`, `svg_size`/`svg_body` (one SVG frame, used by
//!   [`render::EpisodeSvg`] for animations), with defaults where an env may not have them.
//! * `EnvSnapshot` has plain pub fields plus `to_bytes`/`from_bytes`; `VecEnvSnapshot` likewise.
//! * `Box<E: Env + ?Sized>` is an `Env`, so `TimeLimit::new(spec.make_unlimited(), n)` sets a
//!   custom limit.
//! * [`spec`] looks one id up; [`EnvSpec::make_unlimited`] builds an env without its time limit;
//!   [`VecEnv::from_envs`] vectorises envs that are not in the registry.
//! * `EnvError` also has `InvalidState`, `BadSnapshot`, `EmptyVecEnv` and `MixedVecEnv`.
//! * `VecEnv::restore` takes a `&VecEnvSnapshot` and returns `Result<(), EnvError>`; it clears the
//!   per-step results (rewards, flags, final observations) and keeps the observation buffer.
//!
//! # Example
//!
//! ```
//! use envs::{Action, Env};
//! let mut env = envs::make("Pendulum-v1").unwrap();
//! let mut obs = vec![0.0f32; env.obs_dim()];
//! env.reset(Some(0), &mut obs).unwrap();
//! let mut steps = 0;
//! loop {
//!     let s = env.step(Action::Continuous(&[0.5]), &mut obs).unwrap();
//!     steps += 1;
//!     if s.terminated || s.truncated { break; }
//! }
//! assert_eq!(steps, 200); // Pendulum never terminates; its time limit truncates at 200
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod classic_control;
mod core;
pub mod env;
pub mod error;
pub mod numpy;
pub mod registry;
pub mod render;
pub mod rng;
pub mod space;
pub mod time_limit;
pub mod tokens;
pub mod vec_env;
pub mod vec_snapshot;

pub use check::check_env;
pub use env::{Env, EnvSnapshot};
pub use error::{CheckError, EnvError};
pub use registry::{EnvSpec, make, spec, specs};
pub use space::{Action, Space, Step, VecAction};
pub use time_limit::TimeLimit;
pub use vec_env::VecEnv;
pub use vec_snapshot::VecEnvSnapshot;
