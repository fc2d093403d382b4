//! [`TimeLimit`]: Gymnasium's `TimeLimit` wrapper. It counts steps and sets `truncated` on the
//! step that reaches the limit.
//!
//! As in Gymnasium, `truncated` is decided independently of `terminated`: on the limit's step both
//! can be `true`. A truncated episode needs a reset like a terminated one.

use crate::env::{Env, EnvSnapshot};
use crate::error::EnvError;
use crate::space::{Action, Space, Step};

/// An env whose episodes are cut after `max_episode_steps` steps.
#[derive(Debug, Clone)]
pub struct TimeLimit<E> {
    inner: E,
    max_episode_steps: u64,
    elapsed_steps: u64,
    truncated: bool,
}

impl<E: Env> TimeLimit<E> {
    /// Wrap `inner`, cutting its episodes after `max_episode_steps` steps (at least 1).
    pub fn new(inner: E, max_episode_steps: u64) -> Self {
        assert!(
            max_episode_steps >= 1,
            "max_episode_steps must be at least 1, got 0"
        );
        Self {
            inner,
            max_episode_steps,
            elapsed_steps: 0,
            truncated: false,
        }
    }

    /// The wrapped env.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The wrapped env, mutably.
    pub fn inner_mut(&mut self) -> &mut E {
        &mut self.inner
    }
}

impl<E: Env> Env for TimeLimit<E> {
    fn id(&self) -> &'static str {
        self.inner.id()
    }
    fn observation_space(&self) -> Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> Space {
        self.inner.action_space()
    }
    fn obs_dim(&self) -> usize {
        self.inner.obs_dim()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.elapsed_steps = 0;
        self.truncated = false;
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        if self.truncated {
            return Err(EnvError::NeedsReset {
                env: self.inner.id(),
                reason: "after the episode was truncated by its time limit",
            });
        }
        let mut step = self.inner.step(action, obs)?;
        self.elapsed_steps += 1;
        if self.elapsed_steps >= self.max_episode_steps {
            step.truncated = true;
            self.truncated = true;
        }
        Ok(step)
    }
    fn state(&self) -> &[f64] {
        self.inner.state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.inner.set_state(state)
    }
    fn elapsed_steps(&self) -> Option<u64> {
        Some(self.elapsed_steps)
    }
    fn max_episode_steps(&self) -> Option<u64> {
        Some(self.max_episode_steps)
    }
    fn render_text(&self) -> String {
        format!(
            "step {}/{}  {}",
            self.elapsed_steps,
            self.max_episode_steps,
            self.inner.render_text()
        )
    }
    fn svg_size(&self) -> (f64, f64) {
        self.inner.svg_size()
    }
    fn svg_body(&self) -> String {
        self.inner.svg_body()
    }
    fn render_svg(&self) -> String {
        self.inner.render_svg()
    }
    fn snapshot(&self) -> EnvSnapshot {
        let mut s = self.inner.snapshot();
        s.elapsed_steps = Some(self.elapsed_steps);
        s.needs_reset |= self.truncated;
        s
    }
    /// Restores the inner env and the step count. A snapshot without a step count (taken from an
    /// unwrapped env) is an error: the time limit could not continue exactly.
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        let elapsed = s.elapsed_steps.ok_or_else(|| EnvError::BadSnapshot {
            reason: format!(
                "{}: snapshot has no elapsed step count for the time limit",
                s.id
            ),
        })?;
        if elapsed > self.max_episode_steps {
            return Err(EnvError::BadSnapshot {
                reason: format!(
                    "{}: {elapsed} elapsed steps exceed the time limit of {}",
                    s.id, self.max_episode_steps
                ),
            });
        }
        self.inner.restore(s)?;
        self.elapsed_steps = elapsed;
        self.truncated = elapsed >= self.max_episode_steps;
        Ok(())
    }
}
