//! CartPole: balance a pole on a cart that moves along a frictionless track
//! (Barto, Sutton and Anderson 1983; Gymnasium's `CartPole-v1` and `CartPole-v0`).
//!
//! **State** `[x, ẋ, θ, θ̇]` (f64): cart position (m), cart velocity, pole angle from upright
//! (rad, positive leaning right), pole angular velocity. The observation is the state as f32.
//!
//! **Actions** `Discrete(2)`: 0 pushes the cart left with force `F = -10` N, 1 pushes right, `F = +10`.
//!
//! **Constants**: g = 9.8, cart mass m_c = 1.0, pole mass m_p = 0.1, total mass M = m_p + m_c,
//! half pole length l = 0.5, m_p·l = 0.05, τ = 0.02 s per step.
//!
//! **Dynamics** (Florian 2005, the "coneural" note), with the same order of floating-point
//! operations as Gymnasium:
//!
//! ```text
//! temp = (F + m_p·l · θ̇² · sin θ) / M
//! θ̈    = (g·sin θ − cos θ · temp) / (l · (4/3 − m_p · cos²θ / M))
//! ẍ    = temp − m_p·l · θ̈ · cos θ / M
//! ```
//!
//! then one explicit Euler step (Gymnasium's default `kinematics_integrator = "euler"`): positions
//! move with the *old* velocities, `x ← x + τ·ẋ`, `ẋ ← ẋ + τ·ẍ`, `θ ← θ + τ·θ̇`, `θ̇ ← θ̇ + τ·θ̈`.
//!
//! **Reward** +1 for every step, the terminating one included.
//!
//! **Termination** when `x < −2.4`, `x > 2.4`, `θ < −12°` or `θ > 12°`, with
//! 12° = `12·2·π/360` rad. **Truncation** after 500 steps (v1) or 200 (v0), by the registry's time limit.
//!
//! **Reset**: each state component uniform in `[−0.05, 0.05)`.

use crate::core::EpisodeCore;
use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::numpy::square;
use crate::render::{svg, text};
use crate::space::{Action, Space, Step};

/// Gravity, m/s².
pub const GRAVITY: f64 = 9.8;
/// Mass of the cart, kg.
pub const MASS_CART: f64 = 1.0;
/// Mass of the pole, kg.
pub const MASS_POLE: f64 = 0.1;
/// `MASS_POLE + MASS_CART`.
pub const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Half the pole's length, m.
pub const LENGTH: f64 = 0.5;
/// `MASS_POLE * LENGTH`.
pub const POLEMASS_LENGTH: f64 = MASS_POLE * LENGTH;
/// Magnitude of the push, N.
pub const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// Termination angle: 12 degrees, computed as Gymnasium does (`12 * 2 * π / 360`).
pub const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// Termination position, m.
pub const X_THRESHOLD: f64 = 2.4;

/// One CartPole transition: the next state and whether it is terminal. Pure; no RNG.
///
/// ```
/// let s = [0.0, 0.0, 0.0, 0.0];
/// let (next, terminated) = envs::classic_control::cartpole::transition(&s, 1);
/// assert!(next[1] > 0.0 && next[3] < 0.0 && !terminated); // cart moves right, pole tips left
/// ```
pub fn transition(s: &[f64; 4], action: usize) -> ([f64; 4], bool) {
    let [x, x_dot, theta, theta_dot] = *s;
    let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
    let costheta = theta.cos();
    let sintheta = theta.sin();
    // temp = (F + m_p l θ̇² sin θ) / M
    let temp = (force + POLEMASS_LENGTH * square(theta_dot) * sintheta) / TOTAL_MASS;
    // θ̈ = (g sin θ − cos θ · temp) / (l (4/3 − m_p cos²θ / M))
    let thetaacc = (GRAVITY * sintheta - costheta * temp)
        / (LENGTH * (4.0 / 3.0 - MASS_POLE * square(costheta) / TOTAL_MASS));
    // ẍ = temp − m_p l θ̈ cos θ / M
    let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    // Explicit Euler: every update uses the values from the start of the step.
    let next = [
        x + TAU * x_dot,
        x_dot + TAU * xacc,
        theta + TAU * theta_dot,
        theta_dot + TAU * thetaacc,
    ];
    let terminated = next[0] < -X_THRESHOLD
        || next[0] > X_THRESHOLD
        || next[2] < -THETA_THRESHOLD_RADIANS
        || next[2] > THETA_THRESHOLD_RADIANS;
    (next, terminated)
}

/// The CartPole environment (without a time limit; [`crate::make`] adds it).
#[derive(Debug, Clone)]
pub struct CartPole {
    core: EpisodeCore,
    state: [f64; 4],
}

impl CartPole {
    /// A CartPole reporting the given registry id (`"CartPole-v1"` or `"CartPole-v0"`).
    pub fn new(id: &'static str) -> Self {
        Self {
            core: EpisodeCore::new(id),
            state: [0.0; 4],
        }
    }

    fn write_obs(&self, obs: &mut [f32]) {
        for (o, s) in obs.iter_mut().zip(&self.state) {
            *o = *s as f32;
        }
    }
}

impl Env for CartPole {
    fn id(&self) -> &'static str {
        self.core.id
    }
    /// Gymnasium's bounds: `±4.8` for x, `±24°` for θ, `±f32::MAX` for the velocities.
    fn observation_space(&self) -> Space {
        let high = [
            (X_THRESHOLD * 2.0) as f32,
            f32::MAX,
            (THETA_THRESHOLD_RADIANS * 2.0) as f32,
            f32::MAX,
        ];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 2 }
    }
    fn obs_dim(&self) -> usize {
        4
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.core.begin_reset(seed, obs, 4)?;
        for s in &mut self.state {
            *s = self.core.rng.uniform(-0.05, 0.05);
        }
        self.write_obs(obs);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.core.begin_step(obs, 4)?;
        let a = self.core.discrete(action, 2)?;
        let (next, terminated) = transition(&self.state, a);
        self.state = next;
        self.core.needs_reset = terminated;
        self.write_obs(obs);
        Ok(Step {
            reward: 1.0,
            terminated,
            truncated: false,
        })
    }
    fn state(&self) -> &[f64] {
        &self.state
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.core.check_state(state, 4)?;
        self.state.copy_from_slice(state);
        Ok(())
    }
    fn render_text(&self) -> String {
        let [x, x_dot, theta, theta_dot] = self.state;
        let mut out = format!(
            "{}  x={x:+.3} ẋ={x_dot:+.3} θ={:+.2}° θ̇={theta_dot:+.3}\n",
            self.core.id,
            theta.to_degrees()
        );
        out += &text::cart_and_pole(x / X_THRESHOLD, theta, 61);
        out
    }
    fn svg_size(&self) -> (f64, f64) {
        (600.0, 400.0)
    }
    /// Gymnasium's picture: 600×400, 125 px per metre, cart 50×30 with its top 100 px above the
    /// bottom, pole 10 px wide and 2l long, pivot a quarter of the cart height above its centre.
    fn svg_body(&self) -> String {
        let scale = 600.0 / (X_THRESHOLD * 2.0);
        let cart_x = self.state[0] * scale + 300.0;
        let cart_y = 400.0 - 100.0; // SVG y grows downwards
        let axle_y = cart_y - 30.0 / 4.0;
        let pole_len = scale * 2.0 * LENGTH;
        let mut b = String::new();
        b += &svg::line(0.0, cart_y, 600.0, cart_y, "#000", 1.0);
        b += &svg::rect(cart_x - 25.0, cart_y - 15.0, 50.0, 30.0, "#000");
        b += &format!(
            "<rect x=\"-5\" y=\"{:.2}\" width=\"10\" height=\"{:.2}\" fill=\"#ca9865\" \
             transform=\"translate({cart_x:.2} {axle_y:.2}) rotate({:.3})\"/>",
            -(pole_len - 5.0),
            pole_len,
            self.state[2].to_degrees()
        );
        b += &svg::circle(cart_x, axle_y, 5.0, "#8184cb");
        b
    }
    fn snapshot(&self) -> EnvSnapshot {
        self.core.snapshot(&self.state, Vec::new())
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        self.core.restore(s, 4, 0)?;
        self.state.copy_from_slice(&s.state);
        Ok(())
    }
}
