//! MountainCarContinuous: MountainCar with a continuous throttle and an energy penalty
//! (Gymnasium's `MountainCarContinuous-v0`).
//!
//! **State** `[x, v]`. **Observation**: the state as f32. **Action** `Box([−1], [1])`: throttle `u`.
//!
//! **Constants**: power 0.0015, gravity term 0.0025, x ∈ [−1.2, 0.6], |v| ≤ 0.07, goal x ≥ 0.45.
//!
//! **Dynamics**, with `f = clip(u, −1, 1)`:
//!
//! ```text
//! v ← v + f·power − 0.0025·cos(3x);   clip v to [−0.07, 0.07]
//! x ← x + v;                          clip x to [−1.2, 0.6]
//! if x = −1.2 and v < 0: v ← 0
//! ```
//!
//! **Reward** `−0.1·u²` on the **unclipped** action `u` (as Gymnasium computes it), plus 100 on
//! the step that reaches the goal. **Termination** when `x ≥ 0.45` and `v ≥ 0`.
//! **Truncation** after 999 steps (registry time limit).
//!
//! **Reset**: `x` uniform in `[−0.6, −0.4)`, `v = 0`.
//!
//! # Precision: this env is partly float32, like Gymnasium's
//!
//! Gymnasium stores this env's state as a float32 array after every step, and NumPy 2's promotion
//! rules (NEP 50: a Python float next to a NumPy float32 becomes float32) make part of the
//! arithmetic float32. To reproduce its numbers bit for bit we follow the same rules:
//!
//! * Right after `reset` the state is a float64 array (`x` is an f64 draw): the first step runs in
//!   f64 except `f·power − 0.0025·cos(3x)`, which is f32 when the action is not clipped.
//! * Afterwards `x` and `v` are f32: `3x` is computed in f32, `0.0025·cos(3x)` in f64 (Python
//!   `math.cos`), then rounded to f32; `f·power` and the subtraction are f32 (unless the action was
//!   clipped: then Python floats, f64, rounded to f32 when added to `v`); `v + …`, `x + v`, the
//!   clips and the comparisons are f32 against f32-rounded constants.
//! * The state is rounded to f32 at the end of each step.
//!
//! [`Env::state`] returns the values as f64. [`Env::set_state`] treats a state whose components are
//! all exactly representable in f32 as the f32 state of a running episode, and any other as the
//! f64 state `reset` produces. Snapshots record which one it is in `aux[0]` (1 = f64 reset state).

use crate::core::EpisodeCore;
use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::space::{Action, Space, Step};

use super::mountain_car::{MAX_POSITION, MAX_SPEED, MIN_POSITION, svg_scene, text_scene};

/// Position of the flag.
pub const GOAL_POSITION: f64 = 0.45;
/// Velocity the car must have (at least) at the flag.
pub const GOAL_VELOCITY: f64 = 0.0;
/// Acceleration per unit of throttle.
pub const POWER: f64 = 0.0015;
/// Coefficient of the gravity term.
pub const GRAVITY_TERM: f64 = 0.0025;
/// Smallest throttle.
pub const MIN_ACTION: f64 = -1.0;
/// Largest throttle.
pub const MAX_ACTION: f64 = 1.0;

/// One transition. `f64_state` is true when `s` is the f64 state produced by `reset` (the first
/// step of an episode). Returns the next state (f32 values), the reward and termination.
///
/// ```
/// use envs::classic_control::mountain_car_continuous::transition;
/// let (next, reward, terminated) = transition(&[-0.5, 0.0], true, 2.0);
/// assert!(next[1] > 0.0 && !terminated);
/// assert_eq!(reward, -0.1 * 4.0); // the penalty uses the unclipped action
/// ```
pub fn transition(s: &[f64; 2], f64_state: bool, u: f32) -> ([f64; 2], f64, bool) {
    let clipped = !(MIN_ACTION as f32..=MAX_ACTION as f32).contains(&u);
    let (position, velocity, terminated) = if f64_state {
        let [mut position, mut velocity] = *s;
        let gravity = GRAVITY_TERM * (3.0 * position).cos();
        // f·power − 0.0025·cos(3x): Python floats if the action was clipped, else float32.
        let accel = if clipped {
            (u as f64).clamp(MIN_ACTION, MAX_ACTION) * POWER - gravity
        } else {
            (u * POWER as f32 - gravity as f32) as f64
        };
        velocity += accel;
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
        (position as f32, velocity as f32, terminated)
    } else {
        let (mut position, mut velocity) = (s[0] as f32, s[1] as f32);
        // 3x in float32, cos in float64 (math.cos), times 0.0025 in float64.
        let gravity = GRAVITY_TERM * ((3.0f32 * position) as f64).cos();
        let accel = if clipped {
            ((u as f64).clamp(MIN_ACTION, MAX_ACTION) * POWER - gravity) as f32
        } else {
            u * POWER as f32 - gravity as f32
        };
        velocity += accel;
        let (max_speed, min_pos, max_pos) =
            (MAX_SPEED as f32, MIN_POSITION as f32, MAX_POSITION as f32);
        velocity = velocity.clamp(-max_speed, max_speed);
        position += velocity;
        position = position.clamp(min_pos, max_pos);
        if position == min_pos && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= GOAL_POSITION as f32 && velocity >= GOAL_VELOCITY as f32;
        (position, velocity, terminated)
    };
    // The penalty is on the unclipped action: 0.1·u², computed in f64 (math.pow).
    let u = u as f64;
    let reward = if terminated { 100.0 } else { 0.0 } - u * u * 0.1;
    ([position as f64, velocity as f64], reward, terminated)
}

/// The MountainCarContinuous environment (without a time limit; [`crate::make`] adds it).
#[derive(Debug, Clone)]
pub struct MountainCarContinuous {
    core: EpisodeCore,
    state: [f64; 2],
    /// True while the state is the f64 array `reset` made (before the first step).
    f64_state: bool,
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        Self::new()
    }
}

impl MountainCarContinuous {
    /// A new `MountainCarContinuous-v0`.
    pub fn new() -> Self {
        Self {
            core: EpisodeCore::new("MountainCarContinuous-v0"),
            state: [0.0; 2],
            f64_state: true,
        }
    }
}

impl Env for MountainCarContinuous {
    fn id(&self) -> &'static str {
        self.core.id
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
        }
    }
    /// `Box([−1], [1])`; actions outside are clipped for the dynamics (not for the penalty).
    fn action_space(&self) -> Space {
        Space::Box {
            low: vec![MIN_ACTION as f32],
            high: vec![MAX_ACTION as f32],
        }
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.core.begin_reset(seed, obs, 2)?;
        self.state = [self.core.rng.uniform(-0.6, -0.4), 0.0];
        self.f64_state = true;
        obs[0] = self.state[0] as f32;
        obs[1] = self.state[1] as f32;
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.core.begin_step(obs, 2)?;
        let u = self
            .core
            .scalar(action, MIN_ACTION as f32, MAX_ACTION as f32)?;
        let (next, reward, terminated) = transition(&self.state, self.f64_state, u);
        self.state = next;
        self.f64_state = false;
        self.core.needs_reset = terminated;
        obs[0] = next[0] as f32;
        obs[1] = next[1] as f32;
        Ok(Step {
            reward,
            terminated,
            truncated: false,
        })
    }
    fn state(&self) -> &[f64] {
        &self.state
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.core.check_state(state, 2)?;
        self.state.copy_from_slice(state);
        self.f64_state = state.iter().any(|&v| v as f32 as f64 != v);
        Ok(())
    }
    fn render_text(&self) -> String {
        text_scene(self.core.id, &self.state, GOAL_POSITION)
    }
    fn svg_size(&self) -> (f64, f64) {
        (600.0, 400.0)
    }
    fn svg_body(&self) -> String {
        svg_scene(self.state[0], GOAL_POSITION)
    }
    fn snapshot(&self) -> EnvSnapshot {
        self.core.snapshot(&self.state, vec![self.f64_state as u64])
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        self.core.restore(s, 2, 1)?;
        self.state.copy_from_slice(&s.state);
        self.f64_state = s.aux[0] != 0;
        Ok(())
    }
}
