//! MountainCar: drive an under-powered car out of a valley by rocking it (Moore 1990; Gymnasium's
//! `MountainCar-v0`).
//!
//! **State** `[x, v]` (f64): position on the track and velocity. **Observation**: the state as f32.
//!
//! **Actions** `Discrete(3)`: 0 accelerate left, 1 coast, 2 accelerate right.
//!
//! **Constants**: force 0.001, gravity 0.0025, x ∈ [−1.2, 0.6], |v| ≤ 0.07, goal x ≥ 0.5.
//! The hill's height is `sin(3x)`.
//!
//! **Dynamics** (one step, in this order, as Gymnasium):
//!
//! ```text
//! v ← v + (a − 1)·force + cos(3x)·(−gravity)
//! v ← clip(v, −0.07, 0.07)
//! x ← x + v
//! x ← clip(x, −1.2, 0.6)
//! if x = −1.2 and v < 0: v ← 0      (the left wall stops the car)
//! ```
//!
//! **Reward** −1 per step. **Termination** when `x ≥ 0.5` and `v ≥ 0`.
//! **Truncation** after 200 steps (registry time limit).
//!
//! **Reset**: `x` uniform in `[−0.6, −0.4)`, `v = 0`.

use crate::core::EpisodeCore;
use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::render::{svg, text::Canvas};
use crate::space::{Action, Space, Step};

/// Left end of the track.
pub const MIN_POSITION: f64 = -1.2;
/// Right end of the track.
pub const MAX_POSITION: f64 = 0.6;
/// Bound on |v|.
pub const MAX_SPEED: f64 = 0.07;
/// Position of the flag.
pub const GOAL_POSITION: f64 = 0.5;
/// Velocity the car must have (at least) at the flag.
pub const GOAL_VELOCITY: f64 = 0.0;
/// Acceleration of a push.
pub const FORCE: f64 = 0.001;
/// Gravity's coefficient.
pub const GRAVITY: f64 = 0.0025;

/// NumPy's `np.clip(x, lo, hi)` on a scalar: `min(max(x, lo), hi)`.
fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

/// One MountainCar transition: next state and whether it is terminal. Pure; no RNG.
///
/// ```
/// use envs::classic_control::mountain_car::transition;
/// let (next, _) = transition(&[-0.5, 0.0], 2);
/// assert!(next[1] > 0.0);
/// ```
pub fn transition(s: &[f64; 2], action: usize) -> ([f64; 2], bool) {
    let [mut position, mut velocity] = *s;
    // v ← v + (a − 1)·force + cos(3x)·(−gravity)
    velocity += (action as f64 - 1.0) * FORCE + (3.0 * position).cos() * (-GRAVITY);
    velocity = clip(velocity, -MAX_SPEED, MAX_SPEED);
    position += velocity;
    position = clip(position, MIN_POSITION, MAX_POSITION);
    if position == MIN_POSITION && velocity < 0.0 {
        velocity = 0.0;
    }
    let terminated = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
    ([position, velocity], terminated)
}

/// The MountainCar environment (without a time limit; [`crate::make`] adds it).
#[derive(Debug, Clone)]
pub struct MountainCar {
    core: EpisodeCore,
    state: [f64; 2],
}

impl Default for MountainCar {
    fn default() -> Self {
        Self::new()
    }
}

impl MountainCar {
    /// A new `MountainCar-v0`.
    pub fn new() -> Self {
        Self {
            core: EpisodeCore::new("MountainCar-v0"),
            state: [0.0; 2],
        }
    }
}

impl Env for MountainCar {
    fn id(&self) -> &'static str {
        self.core.id
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 3 }
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.core.begin_reset(seed, obs, 2)?;
        self.state = [self.core.rng.uniform(-0.6, -0.4), 0.0];
        obs[0] = self.state[0] as f32;
        obs[1] = self.state[1] as f32;
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.core.begin_step(obs, 2)?;
        let a = self.core.discrete(action, 3)?;
        let (next, terminated) = transition(&self.state, a);
        self.state = next;
        self.core.needs_reset = terminated;
        obs[0] = next[0] as f32;
        obs[1] = next[1] as f32;
        Ok(Step {
            reward: -1.0,
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
        self.core.snapshot(&self.state, Vec::new())
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        self.core.restore(s, 2, 0)?;
        self.state.copy_from_slice(&s.state);
        Ok(())
    }
}

/// Height of the hill at `x`, as drawn: `0.45 sin(3x) + 0.55`.
fn height(x: f64) -> f64 {
    (3.0 * x).sin() * 0.45 + 0.55
}

/// A line with the id and the state `[x, v]`, then the valley, the car at `x` and the flag at
/// `goal`, as ASCII (both mountain cars draw this).
pub(crate) fn text_scene(id: &str, state: &[f64; 2], goal: f64) -> String {
    let [pos, velocity] = *state;
    let mut c = Canvas::new(61, 13);
    // Map x ∈ [−1.2, 0.6] and height ∈ [0, 1.1] onto [−1, 1]².
    let fx = |x: f64| (x - MIN_POSITION) / (MAX_POSITION - MIN_POSITION) * 2.0 - 1.0;
    let fy = |h: f64| h / 1.1 * 2.0 - 1.0;
    for i in 0..=120 {
        let x = MIN_POSITION + (MAX_POSITION - MIN_POSITION) * i as f64 / 120.0;
        c.plot(fx(x), fy(height(x)), '.');
    }
    c.plot(fx(goal), fy(height(goal) + 0.1), 'F');
    c.plot(fx(pos), fy(height(pos)), 'C');
    format!("{id}  x={pos:+.4} v={velocity:+.5}\n{}", c.render())
}

/// Gymnasium's picture: 600×400, the hill as a polyline of 100 points, a 40×20 car tilted by
/// `cos(3x)` radians (as Gymnasium tilts it) riding 10 px above the track, a flag at `goal`.
pub(crate) fn svg_scene(pos: f64, goal: f64) -> String {
    let scale = 600.0 / (MAX_POSITION - MIN_POSITION);
    let to_px = |x: f64, h: f64| ((x - MIN_POSITION) * scale, 400.0 - h * scale);
    let pts: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let x = MIN_POSITION + (MAX_POSITION - MIN_POSITION) * i as f64 / 99.0;
            to_px(x, height(x))
        })
        .collect();
    let mut b = svg::polyline(&pts, "#000", 2.0);
    let (fx, fy) = to_px(goal, height(goal));
    b += &svg::line(fx, fy, fx, fy - 50.0, "#000", 1.0);
    b += &svg::polygon(
        &[(fx, fy - 50.0), (fx, fy - 40.0), (fx + 25.0, fy - 45.0)],
        "#cc0",
    );
    let (cx, cy) = to_px(pos, height(pos));
    // Rotation in a y-down picture is clockwise, Gymnasium's is counter-clockwise: negate.
    b += &format!(
        "<g transform=\"translate({cx:.2} {:.2}) rotate({:.3})\">{}{}{}</g>",
        cy - 10.0,
        -(3.0 * pos).cos().to_degrees(),
        svg::rect(-20.0, -20.0, 40.0, 20.0, "#000"),
        svg::circle(10.0, 0.0, 8.0, "#808080"),
        svg::circle(-10.0, 0.0, 8.0, "#808080"),
    );
    b
}
