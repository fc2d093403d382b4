//! Spaces (what observations and actions look like) and the action types passed to `step`.

/// The set of valid observations or actions, after Gymnasium's `spaces`.
///
/// Only the two kinds the classic-control environments need: a finite set of integers and a
/// one-dimensional box of `f32` with per-component bounds (infinite bounds allowed).
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// The integers `0..n`.
    Discrete {
        /// Number of elements.
        n: usize,
    },
    /// Vectors `x` with `low[i] <= x[i] <= high[i]`.
    Box {
        /// Lower bounds, one per component.
        low: Vec<f32>,
        /// Upper bounds, one per component.
        high: Vec<f32>,
    },
}

impl Space {
    /// Number of components of an element: 1 for `Discrete`, the length of the bounds for `Box`.
    pub fn dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { low, .. } => low.len(),
        }
    }

    /// Whether `x` lies inside a `Box` space (always `false` for `Discrete`, and for a wrong length).
    ///
    /// ```
    /// let s = envs::Space::Box { low: vec![-1.0], high: vec![1.0] };
    /// assert!(s.contains(&[0.5]));
    /// assert!(!s.contains(&[1.5]));
    /// ```
    pub fn contains(&self, x: &[f32]) -> bool {
        match self {
            Space::Discrete { .. } => false,
            Space::Box { low, high } => {
                x.len() == low.len()
                    && x.iter()
                        .zip(low.iter().zip(high))
                        .all(|(&v, (&lo, &hi))| lo <= v && v <= hi)
            }
        }
    }

    /// Whether `a` is an element of a `Discrete` space.
    pub fn contains_discrete(&self, a: usize) -> bool {
        matches!(self, Space::Discrete { n } if a < *n)
    }
}

/// One action for one environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// An index into a `Discrete` action space.
    Discrete(usize),
    /// A vector for a `Box` action space (length 1 for the classic-control envs).
    Continuous(&'a [f32]),
}

/// Actions for all copies of a [`crate::VecEnv`], in one buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VecAction<'a> {
    /// One index per copy: length `n`.
    Discrete(&'a [usize]),
    /// One action vector per copy, row-major: length `n * action_dim`.
    Continuous(&'a [f32]),
}

/// What one step returns besides the observation (written into the caller's buffer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The reward for this transition.
    pub reward: f64,
    /// The task ended (the pole fell, the car reached the flag): bootstrap with 0.
    pub terminated: bool,
    /// A time limit cut the episode: the state is not terminal, bootstrap with V(s').
    /// Can be `true` together with `terminated`, as in Gymnasium's `TimeLimit`.
    pub truncated: bool,
}

impl Step {
    /// `terminated || truncated`: the episode is over and the env needs a reset.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}
