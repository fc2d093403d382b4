//! Hooks into training for library users (SB3's callbacks in one method): after every epoch a
//! [`Callback`] sees the trainer and the epoch's metrics, and may log its own numbers, save a
//! checkpoint where it chooses ([`crate::checkpoint::save`]), or stop training.
//!
//! Unused, it costs nothing: `()` is the callback that does nothing, and a closure is a callback.
//! The hook runs once per epoch (thousands of env steps), never inside the step loop.
//!
//! ```
//! use policy_gradient::callback::{train, Control};
//! use policy_gradient::config::Config;
//! use policy_gradient::trainer::Trainer;
//! let config = Config { num_envs: 2, steps_per_env: 50, hidden_sizes: vec![8],
//!     ..Config::preset("CartPole-v1").unwrap() };
//! let mut trainer = Trainer::new(config).unwrap();
//! let mut lengths = Vec::new(); // a metric of our own
//! train(&mut trainer, &mut |_: &Trainer, m: &policy_gradient::metrics::EpochMetrics| {
//!     lengths.push(m.avg_ep_len);
//!     Ok(if m.epoch == 3 { Control::Stop } else { Control::Continue })
//! })
//! .unwrap();
//! assert_eq!((trainer.epochs_done(), lengths.len()), (3, 3));
//! ```

use crate::error::Result;
use crate::metrics::EpochMetrics;
use crate::trainer::Trainer;

/// What training does after a callback returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on to the next epoch.
    Continue,
    /// Stop now (a `pg train`-style run then saves its checkpoint and curve as at the end).
    Stop,
}

/// Called after every epoch with the trainer and that epoch's metrics.
pub trait Callback {
    /// Runs after an epoch; an error ends training with that error.
    fn on_epoch(&mut self, trainer: &Trainer, metrics: &EpochMetrics) -> Result<Control>;
}

/// The callback that does nothing.
impl Callback for () {
    fn on_epoch(&mut self, _: &Trainer, _: &EpochMetrics) -> Result<Control> {
        Ok(Control::Continue)
    }
}

/// A closure is a callback.
impl<F: FnMut(&Trainer, &EpochMetrics) -> Result<Control>> Callback for F {
    fn on_epoch(&mut self, trainer: &Trainer, metrics: &EpochMetrics) -> Result<Control> {
        self(trainer, metrics)
    }
}

/// Trains until the trainer's budget is spent (or its goal reached with `stop_when_solved`) or
/// `callback` says stop.
pub fn train(trainer: &mut Trainer, callback: &mut impl Callback) -> Result<()> {
    while !trainer.finished() {
        let m = trainer.epoch()?;
        if callback.on_epoch(trainer, &m)? == Control::Stop {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A callback with its own state: saves a checkpoint after epoch 2 and stops after epoch 4.
    struct SaveAtTwo {
        path: std::path::PathBuf,
        seen: u64,
    }

    impl Callback for SaveAtTwo {
        fn on_epoch(&mut self, t: &Trainer, m: &EpochMetrics) -> Result<Control> {
            self.seen += 1;
            if m.epoch == 2 {
                crate::checkpoint::save(t, &self.path)?;
            }
            Ok(if m.epoch == 4 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }

    #[test]
    fn a_callback_saves_where_it_chooses_and_stops() {
        let dir = crate::run::dir::fresh_test_dir("callback");
        let c = Config {
            num_envs: 2,
            steps_per_env: 50,
            hidden_sizes: vec![8],
            ..Config::preset("CartPole-v1").unwrap()
        };
        let mut t = Trainer::new(c.clone()).unwrap();
        let mut cb = SaveAtTwo {
            path: dir.join("two.ckpt"),
            seen: 0,
        };
        train(&mut t, &mut cb).unwrap();
        assert_eq!((t.epochs_done(), cb.seen), (4, 4));
        let saved = crate::checkpoint::load(&cb.path, Some(&c)).unwrap();
        assert_eq!(saved.epochs_done(), 2);
        // The do-nothing callback trains to the end of the budget.
        let mut short = Trainer::new(Config {
            total_env_steps: 300,
            ..c
        })
        .unwrap();
        train(&mut short, &mut ()).unwrap();
        assert_eq!(short.env_steps(), 300);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_managed_run_stopped_by_a_callback_is_saved_and_resumable() {
        use crate::run::{QUIET, train_new_with, train_resume};
        let dir = crate::run::dir::fresh_test_dir("callback-run");
        let c = Config {
            num_envs: 2,
            steps_per_env: 50,
            total_env_steps: 500,
            hidden_sizes: vec![8],
            ..Config::preset("CartPole-v1").unwrap()
        };
        let mut stop_at_two = |_: &Trainer, m: &EpochMetrics| {
            Ok(if m.epoch == 2 {
                Control::Stop
            } else {
                Control::Continue
            })
        };
        let s = train_new_with(c, &dir, &QUIET, &mut stop_at_two).unwrap();
        assert_eq!(s.epochs, 2);
        let rows = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        assert_eq!(rows.lines().count(), 3);
        assert_eq!(train_resume(&dir, &QUIET).unwrap().epochs, 5);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
