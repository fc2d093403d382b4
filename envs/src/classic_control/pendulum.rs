//! Pendulum: swing a pendulum up and hold it upright with a limited torque (Gymnasium's
//! `Pendulum-v1`).
//!
//! **State** `[θ, θ̇]` (f64): angle from upright (rad, unbounded: it is not wrapped) and angular
//! velocity. **Observation** (f32): `[cos θ, sin θ, θ̇]`.
//!
//! **Action** `Box([−2], [2])`: torque `u`, clipped to `[−2, 2]` (as Gymnasium's `np.clip`) before
//! it is used anywhere, the cost included.
//!
//! **Constants**: g = 10, m = 1, l = 1, Δt = 0.05, |θ̇| ≤ 8, |u| ≤ 2.
//!
//! **Cost and dynamics** (the cost is computed on the state *before* the step):
//!
//! ```text
//! cost = normalize(θ)² + 0.1·θ̇² + 0.001·u²      normalize(θ) = ((θ + π) mod 2π) − π
//! θ̇'  = clip(θ̇ + (3g/(2l)·sin θ + 3/(m l²)·u)·Δt, −8, 8)
//! θ'   = θ + θ̇'·Δt                                 (semi-implicit Euler: the new velocity)
//! ```
//!
//! **Reward** `−cost`. **Termination** never. **Truncation** after 200 steps (registry time limit).
//!
//! **Reset**: θ uniform in `[−π, π)`, θ̇ uniform in `[−1, 1)`.
//!
//! # Precision of the torque terms
//!
//! The torque is a float32 and NumPy 2 keeps `3.0·u` and `0.001·u**2` in float32 (NEP 50).
//! We do the same. NumPy's scalar `u**2` calls the C library's `powf`, which is not always
//! correctly rounded (glibc's misses by one f32 ulp in rare near-halfway cases), so we call
//! `powf` too rather than writing `u*u`: on glibc targets the cost matches Gymnasium's bit for bit.

use crate::core::EpisodeCore;
use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::numpy::{square, square_f32};
use crate::render::{svg, text::Canvas};
use crate::space::{Action, Space, Step};
use std::f64::consts::PI;

/// Bound on |θ̇|.
pub const MAX_SPEED: f64 = 8.0;
/// Bound on |u|.
pub const MAX_TORQUE: f32 = 2.0;
/// Seconds per step.
pub const DT: f64 = 0.05;
/// Gravity.
pub const G: f64 = 10.0;
/// Mass.
pub const M: f64 = 1.0;
/// Length.
pub const L: f64 = 1.0;

/// `((x + π) mod 2π) − π`, with NumPy's floating `%` (the result takes the divisor's sign).
pub fn angle_normalize(x: f64) -> f64 {
    let b = 2.0 * PI;
    let mut m = (x + PI) % b; // C fmod: the sign of the dividend
    if m != 0.0 && (m < 0.0) != (b < 0.0) {
        m += b;
    }
    m - PI
}

/// One Pendulum transition on a clipped-or-not torque `u`: next state and reward. Pure; no RNG.
///
/// ```
/// use envs::classic_control::pendulum::transition;
/// let (next, reward) = transition(&[0.0, 0.0], 0.0); // upright and still
/// assert_eq!(next, [0.0, 0.0]);
/// assert_eq!(reward, 0.0);
/// ```
pub fn transition(s: &[f64; 2], u: f32) -> ([f64; 2], f64) {
    let [th, thdot] = *s;
    let u = u.clamp(-MAX_TORQUE, MAX_TORQUE);
    // 0.001·u² in float32; u² through powf as NumPy's float32 scalar power does.
    let u_sq = square_f32(u);
    let torque_cost = 0.001f32 * u_sq;
    let an = angle_normalize(th);
    // cost = normalize(θ)² + 0.1·θ̇² + 0.001·u²
    let costs = square(an) + 0.1 * square(thdot) + torque_cost as f64;
    // θ̇' = θ̇ + (3g/(2l)·sin θ + 3/(m l²)·u)·Δt, with 3/(m l²)·u in float32
    let torque_acc = (3.0 / (M * (L * L))) as f32 * u;
    let mut newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + torque_acc as f64) * DT;
    newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
    let newth = th + newthdot * DT;
    ([newth, newthdot], -costs)
}

/// The Pendulum environment (without a time limit; [`crate::make`] adds it).
///
/// `aux[0]` of its snapshots holds the bits of the last (clipped) torque, used for rendering,
/// or `u64::MAX` when no step was taken since the reset.
#[derive(Debug, Clone)]
pub struct Pendulum {
    core: EpisodeCore,
    state: [f64; 2],
    last_u: Option<f32>,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Pendulum {
    /// A new `Pendulum-v1`.
    pub fn new() -> Self {
        Self {
            core: EpisodeCore::new("Pendulum-v1"),
            state: [0.0; 2],
            last_u: None,
        }
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let [th, thdot] = self.state;
        obs[0] = th.cos() as f32;
        obs[1] = th.sin() as f32;
        obs[2] = thdot as f32;
    }
}

impl Env for Pendulum {
    fn id(&self) -> &'static str {
        self.core.id
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![-1.0, -1.0, -MAX_SPEED as f32],
            high: vec![1.0, 1.0, MAX_SPEED as f32],
        }
    }
    /// `Box([−2], [2])`; actions outside are clipped.
    fn action_space(&self) -> Space {
        Space::Box {
            low: vec![-MAX_TORQUE],
            high: vec![MAX_TORQUE],
        }
    }
    fn obs_dim(&self) -> usize {
        3
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.core.begin_reset(seed, obs, 3)?;
        self.state = [
            self.core.rng.uniform(-PI, PI),
            self.core.rng.uniform(-1.0, 1.0),
        ];
        self.last_u = None;
        self.write_obs(obs);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.core.begin_step(obs, 3)?;
        let u = self.core.scalar(action, -MAX_TORQUE, MAX_TORQUE)?;
        let (next, reward) = transition(&self.state, u);
        self.state = next;
        self.last_u = Some(u.clamp(-MAX_TORQUE, MAX_TORQUE));
        self.write_obs(obs);
        Ok(Step {
            reward,
            terminated: false,
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
        let [th, thdot] = self.state;
        let mut c = Canvas::new(31, 15);
        let k = 1.0 / 1.2;
        c.segment((0.0, 0.0), (-th.sin() * k, th.cos() * k), '#');
        c.plot(0.0, 0.0, 'O');
        let u = self.last_u.map_or("-".to_string(), |u| format!("{u:+.3}"));
        format!(
            "{}  θ={th:+.3} θ̇={thdot:+.3} u={u}\n{}",
            self.core.id,
            c.render()
        )
    }
    fn svg_size(&self) -> (f64, f64) {
        (500.0, 500.0)
    }
    /// Gymnasium's picture: 500×500, the world `[−2.2, 2.2]²`, a rod of length 1 and width 0.2
    /// pointing up at θ = 0 and turning counter-clockwise with θ; the last torque as an arc.
    fn svg_body(&self) -> String {
        let scale = 500.0 / 4.4;
        let th = self.state[0];
        let (ex, ey) = (250.0 - th.sin() * scale, 250.0 - th.cos() * scale);
        let mut b = format!(
            "<line x1=\"250\" y1=\"250\" x2=\"{ex:.2}\" y2=\"{ey:.2}\" stroke=\"#cc4d4d\" \
             stroke-width=\"{:.2}\" stroke-linecap=\"round\"/>",
            0.2 * scale
        );
        if let Some(u) = self.last_u.filter(|u| *u != 0.0) {
            // An arc of (|u| / 2)·120° around the axle; counter-clockwise for positive torque.
            let r = 0.45 * scale;
            let sweep = (u.abs() as f64 / 2.0) * 120f64.to_radians();
            let dir = if u > 0.0 { -1.0 } else { 1.0 };
            let (x0, y0) = (250.0 + r, 250.0);
            let (x1, y1) = (250.0 + r * sweep.cos(), 250.0 + dir * r * sweep.sin());
            b += &format!(
                "<path d=\"M {x0:.2} {y0:.2} A {r:.2} {r:.2} 0 0 {} {x1:.2} {y1:.2}\" fill=\"none\" \
                 stroke=\"#555\" stroke-width=\"4\"/>",
                if u > 0.0 { 0 } else { 1 }
            );
        }
        b += &svg::circle(250.0, 250.0, 0.05 * scale, "#000");
        b
    }
    fn snapshot(&self) -> EnvSnapshot {
        let aux = self.last_u.map_or(u64::MAX, |u| u.to_bits() as u64);
        self.core.snapshot(&self.state, vec![aux])
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        self.core.restore(s, 2, 1)?;
        self.state.copy_from_slice(&s.state);
        self.last_u = (s.aux[0] != u64::MAX).then(|| f32::from_bits(s.aux[0] as u32));
        Ok(())
    }
}
