//! The [`Env`] trait (Gymnasium's `Env` in Rust shape) and [`EnvSnapshot`], the saved state of one
//! environment with its byte encoding.

use crate::error::EnvError;
use crate::rng::RngState;
use crate::space::{Action, Space, Step};

/// An environment: Gymnasium's `reset` / `step` contract with caller-provided buffers.
///
/// * `reset(seed, obs)` starts an episode and writes its first observation into `obs`
///   (length [`Env::obs_dim`]). `Some(seed)` reseeds the reset generator; `None` continues its stream.
/// * `step(action, obs)` advances one transition, writes the next observation into `obs` and
///   returns the reward and the two end flags. It allocates nothing on the heap.
/// * After `terminated` or `truncated`, `step` fails with [`EnvError::NeedsReset`] until `reset`.
///
/// ```
/// use envs::{Action, Env};
/// let mut env = envs::make("CartPole-v1").unwrap();
/// let mut obs = vec![0.0f32; env.obs_dim()];
/// env.reset(Some(42), &mut obs).unwrap();
/// let mut ret = 0.0;
/// loop {
///     let push_right = obs[2] > 0.0; // push the cart under the falling pole
///     let step = env.step(Action::Discrete(push_right as usize), &mut obs).unwrap();
///     ret += step.reward;
///     if step.terminated || step.truncated { break; }
/// }
/// assert!(ret >= 1.0);
/// ```
pub trait Env: Send {
    /// The registry id, e.g. `"CartPole-v1"`.
    fn id(&self) -> &'static str;
    /// The space observations live in.
    fn observation_space(&self) -> Space;
    /// The space actions live in.
    fn action_space(&self) -> Space;
    /// Length of an observation (the length of the `obs` buffers).
    fn obs_dim(&self) -> usize;
    /// Start an episode; write its first observation into `obs`.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError>;
    /// Advance one step; write the next observation into `obs`. No heap allocation.
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError>;

    /// The physical state, in f64, laid out as Gymnasium's `env.unwrapped.state`
    /// (each env's module doc gives the layout). Empty for environments without one.
    fn state(&self) -> &[f64] {
        &[]
    }
    /// Replace the physical state (for tests and teaching). This neither starts nor ends an
    /// episode: call `reset` first if the env needs one, then `set_state`.
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(EnvError::BadBufferLength {
                env: self.id(),
                buffer: "state",
                got: state.len(),
                expected: 0,
            })
        }
    }
    /// Steps taken in the current episode, when a time limit counts them.
    fn elapsed_steps(&self) -> Option<u64> {
        None
    }
    /// The time limit, when there is one.
    fn max_episode_steps(&self) -> Option<u64> {
        None
    }

    /// A text picture of the current state, for the terminal.
    fn render_text(&self) -> String;
    /// Width and height of the SVG picture, in SVG user units.
    fn svg_size(&self) -> (f64, f64) {
        (600.0, 60.0)
    }
    /// The SVG elements that draw the current state (no `<svg>` wrapper): one animation frame.
    /// The default writes the text rendering.
    fn svg_body(&self) -> String {
        crate::render::svg::text_block(&self.render_text(), 10.0, 20.0)
    }
    /// A complete SVG document of the current state.
    fn render_svg(&self) -> String {
        let (w, h) = self.svg_size();
        crate::render::svg::document(w, h, &self.svg_body())
    }

    /// Everything needed to continue bit-exactly: physics, episode status, elapsed steps, RNG state.
    fn snapshot(&self) -> EnvSnapshot;
    /// Continue from a snapshot taken from an environment with the same id.
    fn restore(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError>;
}

/// A boxed env is an env, so wrappers take `Box<dyn Env>` too, e.g. a custom time limit:
///
/// ```
/// use envs::{Env, TimeLimit};
/// let raw = envs::spec("CartPole-v1").unwrap().make_unlimited();
/// let env = TimeLimit::new(raw, 1000);
/// assert_eq!(env.max_episode_steps(), Some(1000));
/// ```
impl<E: Env + ?Sized> Env for Box<E> {
    fn id(&self) -> &'static str {
        (**self).id()
    }
    fn observation_space(&self) -> Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> Space {
        (**self).action_space()
    }
    fn obs_dim(&self) -> usize {
        (**self).obs_dim()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        (**self).reset(seed, obs)
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        (**self).step(action, obs)
    }
    fn state(&self) -> &[f64] {
        (**self).state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        (**self).set_state(state)
    }
    fn elapsed_steps(&self) -> Option<u64> {
        (**self).elapsed_steps()
    }
    fn max_episode_steps(&self) -> Option<u64> {
        (**self).max_episode_steps()
    }
    fn render_text(&self) -> String {
        (**self).render_text()
    }
    fn svg_size(&self) -> (f64, f64) {
        (**self).svg_size()
    }
    fn svg_body(&self) -> String {
        (**self).svg_body()
    }
    fn render_svg(&self) -> String {
        (**self).render_svg()
    }
    fn snapshot(&self) -> EnvSnapshot {
        (**self).snapshot()
    }
    fn restore(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        (**self).restore(snapshot)
    }
}

/// The saved state of one environment. Plain public fields, plus a byte encoding
/// ([`EnvSnapshot::to_bytes`] / [`EnvSnapshot::from_bytes`]) so a trainer can store it in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSnapshot {
    /// The registry id of the environment it was taken from.
    pub id: String,
    /// The physical state, as [`Env::state`] returns it.
    pub state: Vec<f64>,
    /// Environment-specific extra words (each env's module doc says what they hold; often empty).
    pub aux: Vec<u64>,
    /// Whether the env was waiting for a `reset` (never reset, terminated or truncated).
    pub needs_reset: bool,
    /// Steps taken in the episode, when a time limit counts them.
    pub elapsed_steps: Option<u64>,
    /// The reset generator's state.
    pub rng: RngState,
}

/// First bytes of an encoded snapshot: the format name and version 1.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"ENVSNAP1";

impl EnvSnapshot {
    /// Encode as bytes, all integers and floats little-endian:
    ///
    /// | field | bytes |
    /// |---|---|
    /// | magic `ENVSNAP1` | 8 |
    /// | id length `L` (u32), id (UTF-8) | 4 + L |
    /// | state length `S` (u32), state (f64 each) | 4 + 8 S |
    /// | aux length `A` (u32), aux (u64 each) | 4 + 8 A |
    /// | needs_reset (0 or 1) | 1 |
    /// | has elapsed steps (0 or 1), elapsed steps (u64, 0 when absent) | 1 + 8 |
    /// | RNG seed, stream (u64), word position (u128) | 32 + 8 + 16 |
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b =
            Vec::with_capacity(96 + self.id.len() + 8 * (self.state.len() + self.aux.len()));
        b.extend_from_slice(SNAPSHOT_MAGIC);
        b.extend_from_slice(&(self.id.len() as u32).to_le_bytes());
        b.extend_from_slice(self.id.as_bytes());
        b.extend_from_slice(&(self.state.len() as u32).to_le_bytes());
        for v in &self.state {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(self.aux.len() as u32).to_le_bytes());
        for v in &self.aux {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(self.needs_reset as u8);
        b.push(self.elapsed_steps.is_some() as u8);
        b.extend_from_slice(&self.elapsed_steps.unwrap_or(0).to_le_bytes());
        b.extend_from_slice(&self.rng.seed);
        b.extend_from_slice(&self.rng.stream.to_le_bytes());
        b.extend_from_slice(&self.rng.word_pos.to_le_bytes());
        b
    }

    /// Decode bytes written by [`EnvSnapshot::to_bytes`]; a damaged buffer is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvError> {
        let mut r = Reader::new(bytes, "");
        if r.take(8)? != SNAPSHOT_MAGIC {
            return Err(r.bad("does not start with the magic bytes ENVSNAP1"));
        }
        let id_len = r.u32()? as usize;
        let id = std::str::from_utf8(r.take(id_len)?)
            .map_err(|_| r.bad("id is not UTF-8"))?
            .to_string();
        let n_state = r.u32()? as usize;
        let state = (0..n_state)
            .map(|_| r.u64().map(f64::from_bits))
            .collect::<Result<Vec<_>, _>>()?;
        let n_aux = r.u32()? as usize;
        let aux = (0..n_aux).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
        let needs_reset = r.flag("needs_reset")?;
        let has_elapsed = r.flag("has_elapsed_steps")?;
        let elapsed = r.u64()?;
        let seed: [u8; 32] = r.take(32)?.try_into().expect("take(32) returns 32 bytes");
        let stream = r.u64()?;
        let word_pos =
            u128::from_le_bytes(r.take(16)?.try_into().expect("take(16) returns 16 bytes"));
        r.finish()?;
        Ok(EnvSnapshot {
            id,
            state,
            aux,
            needs_reset,
            elapsed_steps: has_elapsed.then_some(elapsed),
            rng: RngState {
                seed,
                stream,
                word_pos,
            },
        })
    }
}

/// A cursor over encoded snapshot bytes (this file's and [`crate::VecEnvSnapshot`]'s) that reports
/// damage as [`EnvError::BadSnapshot`], never a panic. `context` starts every message.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    context: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], context: &'static str) -> Self {
        Self {
            bytes,
            pos: 0,
            context,
        }
    }

    /// The error for a damaged buffer, with this reader's context.
    pub(crate) fn bad(&self, reason: &str) -> EnvError {
        EnvError::BadSnapshot {
            reason: format!("{}{reason}", self.context),
        }
    }

    /// The next `n` bytes, or an error if fewer are left.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], EnvError> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.bad(&format!(
                "truncated: needed {n} bytes at offset {}, only {left} left",
                self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, EnvError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, EnvError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A byte that must be 0 (false) or 1 (true).
    pub(crate) fn flag(&mut self, name: &str) -> Result<bool, EnvError> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.bad(&format!("{name} byte is {v}; expected 0 or 1"))),
        }
    }

    /// Succeeds when every byte was read.
    pub(crate) fn finish(&self) -> Result<(), EnvError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            n => Err(self.bad(&format!("{n} trailing bytes after the snapshot"))),
        }
    }
}
