//! Acrobot: swing a two-link pendulum, actuated only at the elbow, until its tip rises a link's
//! length above the shoulder (Sutton 1996; Gymnasium's `Acrobot-v1`, "book" dynamics).
//!
//! **State** `[θ₁, θ₂, θ̇₁, θ̇₂]` (f64): shoulder angle from hanging straight down, elbow angle
//! relative to link 1, and their angular velocities. **Observation** (f32):
//! `[cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂]`.
//!
//! **Actions** `Discrete(3)`: torque `a ∈ {−1, 0, +1}` N·m on the elbow.
//!
//! **Constants**: link lengths l₁ = l₂ = 1, masses m₁ = m₂ = 1, centres of mass l_c1 = l_c2 = 0.5,
//! moments of inertia I₁ = I₂ = 1, g = 9.8, Δt = 0.2 s, |θ̇₁| ≤ 4π, |θ̇₂| ≤ 9π.
//!
//! **Dynamics** (the book / Java version, with the term in θ̇₁² in θ̈₂):
//!
//! ```text
//! d₁ = m₁l_c1² + m₂(l₁² + l_c2² + 2 l₁ l_c2 cos θ₂) + I₁ + I₂
//! d₂ = m₂(l_c2² + l₁ l_c2 cos θ₂) + I₂
//! φ₂ = m₂ l_c2 g cos(θ₁ + θ₂ − π/2)
//! φ₁ = −m₂ l₁ l_c2 θ̇₂² sin θ₂ − 2 m₂ l₁ l_c2 θ̇₂ θ̇₁ sin θ₂ + (m₁ l_c1 + m₂ l₁) g cos(θ₁ − π/2) + φ₂
//! θ̈₂ = (a + d₂/d₁ φ₁ − m₂ l₁ l_c2 θ̇₁² sin θ₂ − φ₂) / (m₂ l_c2² + I₂ − d₂²/d₁)
//! θ̈₁ = −(d₂ θ̈₂ + φ₁) / d₁
//! ```
//!
//! integrated by **one classical RK4 step** of length Δt over the state augmented with the torque
//! (whose derivative is 0): `y ← y + Δt/6 (k₁ + 2k₂ + 2k₃ + k₄)` with `k₂` taken at `y + Δt/2 k₁`
//! and so on. Then the angles are **wrapped** into `[−π, π]` by adding or subtracting 2π (Gymnasium's
//! `wrap`, a loop, not a modulo) and the velocities **bounded** (clipped) to their limits.
//!
//! **Reward** −1 per step, 0 on the terminating step.
//!
//! **Termination** when the tip is above the bar: `−cos θ₁ − cos(θ₂ + θ₁) > 1`.
//! **Truncation** after 500 steps (registry time limit).
//!
//! **Reset**: each component uniform in `[−0.1, 0.1)`, then rounded to f32 as Gymnasium does
//! (`.astype(np.float32)`), so the first state holds f32 values.

use crate::core::EpisodeCore;
use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::numpy::square;
use crate::render::{svg, text::Canvas};
use crate::space::{Action, Space, Step};
use std::f64::consts::PI;

/// Seconds per step.
pub const DT: f64 = 0.2;
/// Length of link 1, m.
pub const LINK_LENGTH_1: f64 = 1.0;
/// Length of link 2, m.
pub const LINK_LENGTH_2: f64 = 1.0;
/// Mass of link 1, kg.
pub const LINK_MASS_1: f64 = 1.0;
/// Mass of link 2, kg.
pub const LINK_MASS_2: f64 = 1.0;
/// Position of the centre of mass of link 1, m.
pub const LINK_COM_POS_1: f64 = 0.5;
/// Position of the centre of mass of link 2, m.
pub const LINK_COM_POS_2: f64 = 0.5;
/// Moment of inertia of each link.
pub const LINK_MOI: f64 = 1.0;
/// Gravity, m/s².
pub const GRAVITY: f64 = 9.8;
/// Bound on |θ̇₁|: 4π.
pub const MAX_VEL_1: f64 = 4.0 * PI;
/// Bound on |θ̇₂|: 9π.
pub const MAX_VEL_2: f64 = 9.0 * PI;
/// Torque of each action.
pub const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];

/// Time derivative of the augmented state `[θ₁, θ₂, θ̇₁, θ̇₂, a]` (Gymnasium's `_dsdt`).
/// The operations are grouped exactly as Gymnasium's Python groups them.
pub fn dsdt(s: &[f64; 5]) -> [f64; 5] {
    let (m1, m2) = (LINK_MASS_1, LINK_MASS_2);
    let (l1, lc1, lc2) = (LINK_LENGTH_1, LINK_COM_POS_1, LINK_COM_POS_2);
    let (i1, i2, g) = (LINK_MOI, LINK_MOI, GRAVITY);
    let [theta1, theta2, dtheta1, dtheta2, a] = *s;
    let sin2 = theta2.sin();
    // d₁ = m₁l_c1² + m₂(l₁² + l_c2² + 2 l₁ l_c2 cos θ₂) + I₁ + I₂
    let d1 =
        m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    // d₂ = m₂(l_c2² + l₁ l_c2 cos θ₂) + I₂
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    // φ₂ = m₂ l_c2 g cos(θ₁ + θ₂ − π/2)
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    // φ₁ = −m₂ l₁ l_c2 θ̇₂² sin θ₂ − 2 m₂ l₁ l_c2 θ̇₂ θ̇₁ sin θ₂ + (m₁ l_c1 + m₂ l₁) g cos(θ₁ − π/2) + φ₂
    let phi1 = -m2 * l1 * lc2 * square(dtheta2) * sin2
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    // θ̈₂ = (a + d₂/d₁ φ₁ − m₂ l₁ l_c2 θ̇₁² sin θ₂ − φ₂) / (m₂ l_c2² + I₂ − d₂²/d₁)
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * square(dtheta1) * sin2 - phi2)
        / (m2 * (lc2 * lc2) + i2 - square(d2) / d1);
    // θ̈₁ = −(d₂ θ̈₂ + φ₁) / d₁
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// One classical Runge–Kutta step of length `dt`: `y + dt/6 (k₁ + 2k₂ + 2k₃ + k₄)`.
pub fn rk4(y0: &[f64; 5], dt: f64) -> [f64; 5] {
    let dt2 = dt / 2.0;
    let add =
        |y: &[f64; 5], h: f64, k: &[f64; 5]| std::array::from_fn::<f64, 5, _>(|i| y[i] + h * k[i]);
    let k1 = dsdt(y0);
    let k2 = dsdt(&add(y0, dt2, &k1));
    let k3 = dsdt(&add(y0, dt2, &k2));
    let k4 = dsdt(&add(y0, dt, &k3));
    let h = dt / 6.0;
    std::array::from_fn(|i| y0[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// Gymnasium's `wrap`: add or subtract `M − m` until `m ≤ x ≤ M`.
pub fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// Gymnasium's `bound`: `min(max(x, m), M)`.
pub fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let lo = if m > x { m } else { x };
    if big_m < lo { big_m } else { lo }
}

/// One Acrobot transition: next state and whether it is terminal. Pure; no RNG.
///
/// ```
/// use envs::classic_control::acrobot::transition;
/// let (next, terminated) = transition(&[0.0; 4], 2); // push at rest
/// assert!(next[3] > 0.0 && !terminated);
/// ```
pub fn transition(s: &[f64; 4], action: usize) -> ([f64; 4], bool) {
    let torque = AVAIL_TORQUE[action];
    let ns = rk4(&[s[0], s[1], s[2], s[3], torque], DT);
    let next = [
        wrap(ns[0], -PI, PI),
        wrap(ns[1], -PI, PI),
        bound(ns[2], -MAX_VEL_1, MAX_VEL_1),
        bound(ns[3], -MAX_VEL_2, MAX_VEL_2),
    ];
    (next, is_terminal(&next))
}

/// Whether the tip is more than one link length above the shoulder: `−cos θ₁ − cos(θ₂ + θ₁) > 1`.
pub fn is_terminal(s: &[f64; 4]) -> bool {
    -s[0].cos() - (s[1] + s[0]).cos() > 1.0
}

/// The Acrobot environment (without a time limit; [`crate::make`] adds it).
#[derive(Debug, Clone)]
pub struct Acrobot {
    core: EpisodeCore,
    state: [f64; 4],
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

impl Acrobot {
    /// A new `Acrobot-v1`.
    pub fn new() -> Self {
        Self {
            core: EpisodeCore::new("Acrobot-v1"),
            state: [0.0; 4],
        }
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let s = &self.state;
        let o = [s[0].cos(), s[0].sin(), s[1].cos(), s[1].sin(), s[2], s[3]];
        for (dst, v) in obs.iter_mut().zip(o) {
            *dst = v as f32;
        }
    }

    /// Link end points in metres, y up: shoulder at the origin, then the elbow, then the tip.
    pub fn joints(&self) -> [(f64, f64); 3] {
        let [t1, t2, ..] = self.state;
        let p1 = (LINK_LENGTH_1 * t1.sin(), -LINK_LENGTH_1 * t1.cos());
        let p2 = (
            p1.0 + LINK_LENGTH_2 * (t1 + t2).sin(),
            p1.1 - LINK_LENGTH_2 * (t1 + t2).cos(),
        );
        [(0.0, 0.0), p1, p2]
    }
}

impl Env for Acrobot {
    fn id(&self) -> &'static str {
        self.core.id
    }
    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 3 }
    }
    fn obs_dim(&self) -> usize {
        6
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.core.begin_reset(seed, obs, 6)?;
        for s in &mut self.state {
            *s = self.core.rng.uniform(-0.1, 0.1) as f32 as f64;
        }
        self.write_obs(obs);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.core.begin_step(obs, 6)?;
        let a = self.core.discrete(action, 3)?;
        let (next, terminated) = transition(&self.state, a);
        self.state = next;
        self.core.needs_reset = terminated;
        self.write_obs(obs);
        Ok(Step {
            reward: if terminated { 0.0 } else { -1.0 },
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
        let [t1, t2, d1, d2] = self.state;
        let mut c = Canvas::new(41, 21);
        let j = self.joints();
        let k = 1.0 / 2.2; // metres to [-1, 1]
        c.segment((-1.0, k), (1.0, k), '-'); // the bar to reach
        c.segment((j[0].0 * k, j[0].1 * k), (j[1].0 * k, j[1].1 * k), '1');
        c.segment((j[1].0 * k, j[1].1 * k), (j[2].0 * k, j[2].1 * k), '2');
        c.plot(0.0, 0.0, 'O');
        format!(
            "{}  θ1={t1:+.3} θ2={t2:+.3} θ̇1={d1:+.3} θ̇2={d2:+.3}\n{}",
            self.core.id,
            c.render()
        )
    }
    fn svg_size(&self) -> (f64, f64) {
        (500.0, 500.0)
    }
    /// Gymnasium's picture: 500×500, the world `[−2.2, 2.2]²`, links 0.2 wide, joints of radius 0.1,
    /// the goal bar one link length above the shoulder.
    fn svg_body(&self) -> String {
        let scale = 500.0 / (2.2 * 2.0);
        let to_px = |(x, y): (f64, f64)| (250.0 + x * scale, 250.0 - y * scale);
        let mut b = svg::line(0.0, 250.0 - scale, 500.0, 250.0 - scale, "#000", 1.0);
        let j = self.joints().map(to_px);
        for w in j.windows(2) {
            b += &format!(
                "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke=\"#0cc\" \
                 stroke-width=\"{:.2}\" stroke-linecap=\"round\"/>",
                w[0].0,
                w[0].1,
                w[1].0,
                w[1].1,
                0.2 * scale
            );
        }
        for p in &j[..2] {
            b += &svg::circle(p.0, p.1, 0.1 * scale, "#cc0");
        }
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
