//! Run directories: where a run of `pg train`, `pg lm pretrain` or `pg lm rl` keeps its
//! configuration, metrics, checkpoint and curve, the same layout for all three.
//!
//! ```text
//! DIR/config.toml              the full configuration (reloads to the same value)
//! DIR/metrics.csv              one row per epoch or step
//! DIR/episodes.csv             (pg train) one row per finished episode
//! DIR/checkpoints/latest.ckpt  the most recent checkpoint: one file, replaced by one rename
//! DIR/checkpoints/best.ckpt    (pg train, eval_every > 0) the checkpoint of the best evaluation
//! DIR/checkpoints/step-N.ckpt  (pg train, keep_checkpoints > 0) the most recent periodic ones
//! DIR/eval.csv                 (pg train, eval_every > 0) one row per evaluation
//! DIR/curve.svg                the learning curve of this run
//! DIR/samples.txt              (LM) held-out completions of the final model
//! DIR/lock                     the pid of the process writing the run, while it runs
//! ```
//!
//! A process that writes a run holds its [lock](crate::run::lock) from creation or resumption
//! until it returns. Creating a run in a directory that already holds one (a config, metrics or
//! anything in `checkpoints/`) is refused unless `force` is set, so a typo never overwrites a
//! day of training; `force` itself is refused while another live process holds the directory.
//! Temporary files a killed process left in `checkpoints/` are removed when the lock is taken.

use crate::error::{PgError, Result};
use crate::run::config::RunConfig;
use crate::run::lock::RunLock;
use std::path::{Path, PathBuf};

/// The files a run writes at the top of its directory (all removed by `--force`).
pub const RUN_FILES: &[&str] = &[
    "config.toml",
    "metrics.csv",
    "episodes.csv",
    "eval.csv",
    "curve.svg",
    "samples.txt",
];

/// A run directory and the paths inside it; holds the directory's lock when opened for writing.
#[derive(Debug)]
pub struct RunDir {
    root: PathBuf,
    lock: Option<RunLock>,
}

impl RunDir {
    /// Takes `root` for a new run (clearing an old run there with `force`) and writes
    /// `config_toml` as its `config.toml`. The directory stays locked while the value lives.
    pub fn create(root: &Path, config_toml: &str, force: bool) -> Result<RunDir> {
        std::fs::create_dir_all(root).map_err(|e| PgError::io(root, e))?;
        let mut run = RunDir {
            root: root.to_path_buf(),
            lock: None,
        };
        // Checked before taking the lock, so that a plain typo says "already holds a run".
        if run.holds_run() && !force {
            return Err(PgError::RunExists(root.to_path_buf()));
        }
        run.lock = Some(RunLock::acquire(root)?);
        if run.holds_run() {
            if !force {
                return Err(PgError::RunExists(root.to_path_buf()));
            }
            for f in RUN_FILES {
                let p = root.join(f);
                if p.exists() {
                    std::fs::remove_file(&p).map_err(|e| PgError::io(&p, e))?;
                }
            }
            let c = run.checkpoints_dir();
            if c.exists() {
                std::fs::remove_dir_all(&c).map_err(|e| PgError::io(&c, e))?;
            }
        }
        std::fs::create_dir_all(run.checkpoints_dir()).map_err(|e| PgError::io(root, e))?;
        let p = run.config_path();
        write_atomically(&p, config_toml.as_bytes())?;
        Ok(run)
    }

    /// Opens an existing run for reading (no lock), checking that its config is there.
    pub fn open(root: &Path) -> Result<RunDir> {
        let run = RunDir {
            root: root.to_path_buf(),
            lock: None,
        };
        if !run.config_path().is_file() {
            return Err(PgError::NotARun {
                dir: root.to_path_buf(),
                missing: "config.toml".into(),
            });
        }
        Ok(run)
    }

    /// Opens an existing run to continue it: takes its lock and removes stale temporary files.
    pub fn resume(root: &Path) -> Result<RunDir> {
        let mut run = RunDir::open(root)?;
        run.lock = Some(RunLock::acquire(root)?);
        run.remove_stale_temporaries()?;
        Ok(run)
    }

    /// Removes `*.tmp-PID` files (writes a killed process never renamed) from `checkpoints/`
    /// and from the run directory itself (a config or a shortened metrics file). Only called
    /// with the lock held, so no live writer owns them; the lock's own temporary files are the
    /// lock's business.
    fn remove_stale_temporaries(&self) -> Result<()> {
        for dir in [self.checkpoints_dir(), self.root.clone()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.contains(".tmp-") && !name.starts_with("lock.tmp-") {
                    let p = entry.path();
                    std::fs::remove_file(&p).map_err(|e| PgError::io(&p, e))?;
                }
            }
        }
        Ok(())
    }

    /// Loads the run's saved configuration.
    pub fn config<C: RunConfig>(&self) -> Result<C> {
        let p = self.config_path();
        let text = std::fs::read_to_string(&p).map_err(|e| PgError::io(&p, e))?;
        C::from_toml(&text, &p.display().to_string())
    }

    /// Whether the directory already holds a run: a config, a metrics file, or anything in
    /// `checkpoints/`.
    pub fn holds_run(&self) -> bool {
        let any_checkpoint = std::fs::read_dir(self.checkpoints_dir())
            .is_ok_and(|mut entries| entries.next().is_some());
        self.config_path().exists() || self.metrics_path().exists() || any_checkpoint
    }

    /// Whether this value holds the directory's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `metrics.csv`.
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// `episodes.csv` (`pg train` runs).
    pub fn episodes_path(&self) -> PathBuf {
        self.root.join("episodes.csv")
    }

    /// `eval.csv` (`pg train` runs with `eval_every > 0`).
    pub fn eval_path(&self) -> PathBuf {
        self.root.join("eval.csv")
    }

    /// `checkpoints/best.ckpt`: the checkpoint with the best mean evaluation return.
    pub fn best_checkpoint(&self) -> PathBuf {
        self.checkpoints_dir().join("best.ckpt")
    }

    /// `checkpoints/step-N.ckpt`: the periodic checkpoint at `env_steps` N.
    pub fn history_checkpoint(&self, env_steps: u64) -> PathBuf {
        self.checkpoints_dir()
            .join(format!("step-{env_steps}.ckpt"))
    }

    /// `curve.svg`.
    pub fn curve_path(&self) -> PathBuf {
        self.root.join("curve.svg")
    }

    /// `samples.txt` (LM runs).
    pub fn samples_path(&self) -> PathBuf {
        self.root.join("samples.txt")
    }

    /// `checkpoints/`.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `checkpoints/latest.ckpt`, the checkpoint `--resume`, `eval`, `render` and `sample` use.
    pub fn latest_checkpoint(&self) -> PathBuf {
        self.checkpoints_dir().join("latest.ckpt")
    }

    /// The latest checkpoint if the run has saved one: what a run that must stop can offer.
    pub fn saved_checkpoint(&self) -> Option<PathBuf> {
        let p = self.latest_checkpoint();
        p.exists().then_some(p)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and one rename, so a
/// reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| PgError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| PgError::io(path, e))
}

/// The checkpoint a user means by `path`: a run directory's latest checkpoint, or a file.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        Ok(RunDir::open(path)?.latest_checkpoint())
    } else if path.exists() {
        Ok(path.to_path_buf())
    } else {
        Err(PgError::NotARun {
            dir: path.to_path_buf(),
            missing: "the directory or checkpoint file".into(),
        })
    }
}

/// An empty directory for a unit test, unique to this process and `name`.
#[cfg(test)]
pub(crate) fn fresh_test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pg-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("the temporary directory is writable");
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn tmp(name: &str) -> PathBuf {
        fresh_test_dir(&format!("rundir-{name}"))
    }

    #[test]
    fn refuses_existing_run_unless_forced() {
        let dir = tmp("exists");
        let c = Config::preset("CartPole-v1").unwrap();
        let run = RunDir::create(&dir, &c.to_toml(), false).unwrap();
        assert_eq!(run.config::<Config>().unwrap(), c);
        drop(run);
        let e = RunDir::create(&dir, &c.to_toml(), false).unwrap_err();
        assert!(matches!(e, PgError::RunExists(_)), "{e}");
        assert!(e.to_string().contains("--force"));
        std::fs::write(dir.join("samples.txt"), "x").unwrap();
        let c2 = Config { seed: 9, ..c };
        let run = RunDir::create(&dir, &c2.to_toml(), true).unwrap();
        assert_eq!(run.config::<Config>().unwrap().seed, 9);
        assert!(!dir.join("samples.txt").exists());
        assert!(RunDir::open(&dir.join("nope")).is_err());
        drop(run);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_holding_only_checkpoints_is_not_free() {
        let dir = tmp("only-ckpt");
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(dir.join("checkpoints/latest.ckpt"), "x").unwrap();
        let e = RunDir::create(&dir, "a = 1\n", false).unwrap_err();
        assert!(matches!(e, PgError::RunExists(_)), "{e}");
        // An empty checkpoints/ is free.
        std::fs::remove_file(dir.join("checkpoints/latest.ckpt")).unwrap();
        drop(RunDir::create(&dir, "a = 1\n", false).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn force_never_takes_a_locked_directory_and_resume_cleans_temporaries() {
        let dir = tmp("locked");
        let c = Config::preset("CartPole-v1").unwrap().to_toml();
        let run = RunDir::create(&dir, &c, false).unwrap();
        assert!(run.is_locked());
        let e = RunDir::create(&dir, &c, true).unwrap_err();
        assert!(matches!(e, PgError::RunLocked { .. }), "{e}");
        assert!(RunDir::resume(&dir).is_err());
        assert!(dir.join("config.toml").exists(), "nothing was deleted");
        drop(run);
        let stale = dir.join("checkpoints/latest.ckpt.tmp-4194305");
        std::fs::write(&stale, "half").unwrap();
        let stale_csv = dir.join("metrics.csv.tmp-4194305");
        std::fs::write(&stale_csv, "half").unwrap();
        let run = RunDir::resume(&dir).unwrap();
        assert!(!stale.exists() && !stale_csv.exists());
        drop(run);
        assert!(!dir.join("lock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
