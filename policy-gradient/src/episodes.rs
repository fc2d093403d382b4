//! Episode bookkeeping across a vector env: the running return and length of each environment's
//! current episode, the episodes that finished in this epoch, and the window of most recent
//! returns whose mean is the "100-episode average" that decides whether a task is solved.
//!
//! Returns here are undiscounted sums of rewards, as Gymnasium reports them. Each episode that
//! ends is also recorded with the step count and the instant of its end, for `episodes.csv`
//! ([`crate::run::episodes`]).

use std::collections::VecDeque;
use std::time::Instant;

/// Tracks episodes of `n` environments stepped together.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeTracker {
    running_return: Vec<f64>,
    running_len: Vec<u64>,
    finished_returns: Vec<f64>,
    finished_lens: Vec<u64>,
    recent: VecDeque<f64>,
    window: usize,
    total_episodes: u64,
    /// Steps recorded since the last [`Self::start_epoch`], over all environments.
    steps_this_epoch: u64,
    /// For each episode finished this epoch: `steps_this_epoch` at its end, and when it ended.
    finished_at: Vec<(u64, Instant)>,
}

impl EpisodeTracker {
    /// A tracker for `n` environments, averaging over the last `window` episodes.
    pub fn new(n: usize, window: usize) -> Self {
        Self {
            running_return: vec![0.0; n],
            running_len: vec![0; n],
            finished_returns: Vec::new(),
            finished_lens: Vec::new(),
            recent: VecDeque::with_capacity(window),
            window,
            total_episodes: 0,
            steps_this_epoch: 0,
            finished_at: Vec::new(),
        }
    }

    /// Records one step of environment `i`: its reward and whether its episode ended (either flag).
    pub fn step(&mut self, i: usize, reward: f64, done: bool) {
        self.running_return[i] += reward;
        self.running_len[i] += 1;
        self.steps_this_epoch += 1;
        if done {
            self.finished_at
                .push((self.steps_this_epoch, Instant::now()));
            let r = std::mem::take(&mut self.running_return[i]);
            let l = std::mem::take(&mut self.running_len[i]);
            self.finished_returns.push(r);
            self.finished_lens.push(l);
            if self.recent.len() == self.window {
                self.recent.pop_front();
            }
            self.recent.push_back(r);
            self.total_episodes += 1;
        }
    }

    /// Returns of the episodes finished since the last [`Self::start_epoch`].
    pub fn finished_returns(&self) -> &[f64] {
        &self.finished_returns
    }

    /// Lengths of the episodes finished since the last [`Self::start_epoch`].
    pub fn finished_lens(&self) -> &[u64] {
        &self.finished_lens
    }

    /// For each episode finished since the last [`Self::start_epoch`]: the steps recorded since
    /// then (all environments together) up to and including its last one, and when it ended.
    pub fn finished_at(&self) -> &[(u64, Instant)] {
        &self.finished_at
    }

    /// Forgets the per-epoch lists (the running episodes and the window are kept).
    pub fn start_epoch(&mut self) {
        self.finished_returns.clear();
        self.finished_lens.clear();
        self.finished_at.clear();
        self.steps_this_epoch = 0;
    }

    /// Mean return of the last `window` finished episodes; NaN before the first one.
    pub fn moving_average(&self) -> f64 {
        if self.recent.is_empty() {
            f64::NAN
        } else {
            self.recent.iter().sum::<f64>() / self.recent.len() as f64
        }
    }

    /// Whether the window is full and its mean is at least `threshold`.
    pub fn solved(&self, threshold: f64) -> bool {
        self.recent.len() == self.window && self.moving_average() >= threshold
    }

    /// Number of environments tracked.
    pub fn num_envs(&self) -> usize {
        self.running_return.len()
    }

    /// Number of recent episodes in the moving average.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Episodes finished since training started.
    pub fn total_episodes(&self) -> u64 {
        self.total_episodes
    }

    /// The state as bit-exact numbers for a checkpoint (the per-epoch lists are not included:
    /// checkpoints are taken at epoch boundaries).
    pub fn to_bits(&self) -> Vec<u64> {
        let mut v = vec![
            self.running_return.len() as u64,
            self.window as u64,
            self.total_episodes,
            self.recent.len() as u64,
        ];
        v.extend(self.running_return.iter().map(|x| x.to_bits()));
        v.extend(self.running_len.iter().copied());
        v.extend(self.recent.iter().map(|x| x.to_bits()));
        v
    }

    /// Inverse of [`Self::to_bits`]; `None` when the numbers are inconsistent.
    pub fn from_bits(v: &[u64]) -> Option<Self> {
        let (n, window, total, k) = (
            *v.first()? as usize,
            *v.get(1)? as usize,
            *v.get(2)?,
            *v.get(3)? as usize,
        );
        // Checked: damaged numbers must not overflow the length arithmetic.
        let expected = n.checked_mul(2)?.checked_add(k)?.checked_add(4)?;
        if v.len() != expected || k > window {
            return None;
        }
        let rest = &v[4..];
        Some(Self {
            running_return: rest[..n].iter().map(|&b| f64::from_bits(b)).collect(),
            running_len: rest[n..2 * n].to_vec(),
            finished_returns: Vec::new(),
            finished_lens: Vec::new(),
            recent: rest[2 * n..].iter().map(|&b| f64::from_bits(b)).collect(),
            window,
            total_episodes: total,
            steps_this_epoch: 0,
            finished_at: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inconsistent_or_overflowing_bits_are_refused() {
        let t = EpisodeTracker::new(2, 3);
        let bits = t.to_bits();
        assert!(EpisodeTracker::from_bits(&bits).is_some());
        assert!(EpisodeTracker::from_bits(&bits[..3]).is_none());
        assert!(EpisodeTracker::from_bits(&[u64::MAX, 1, 0, 0]).is_none());
        assert!(EpisodeTracker::from_bits(&[1, 1, 0, u64::MAX]).is_none());
    }

    #[test]
    fn tracks_episodes_per_env_and_window() {
        let mut t = EpisodeTracker::new(2, 2);
        t.step(0, 1.0, false);
        t.step(1, 5.0, true);
        t.step(0, 1.0, true);
        assert_eq!(t.finished_returns(), &[5.0, 2.0]);
        assert_eq!(t.finished_lens(), &[1, 2]);
        let at: Vec<u64> = t.finished_at().iter().map(|e| e.0).collect();
        assert_eq!(at, [2, 3]);
        assert_eq!(t.moving_average(), 3.5);
        assert!(t.solved(3.5) && !t.solved(3.6));
        t.start_epoch();
        t.step(1, 10.0, true);
        assert_eq!(t.moving_average(), 6.0); // window of 2: [2, 10]
        assert_eq!(t.finished_returns(), &[10.0]);
        t.step(0, 0.5, false);
        let mut back = EpisodeTracker::from_bits(&t.to_bits()).unwrap();
        t.start_epoch();
        back.start_epoch();
        assert_eq!(back, t);
        assert!(EpisodeTracker::from_bits(&[2, 2, 0]).is_none());
    }
}
