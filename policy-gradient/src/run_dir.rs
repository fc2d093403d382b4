//! Run directories: where a training run keeps its configuration, metrics, checkpoints and curve.
//!
//! ```text
//! DIR/config.toml          the full configuration (reload with `Config::from_toml`)
//! DIR/metrics.csv          one row per epoch (see `metrics::COLUMNS`)
//! DIR/checkpoints/latest.ckpt  the most recent checkpoint (periodic, final, or on Ctrl-C)
//! DIR/curve.svg            the learning curve of this run
//! ```
//!
//! Creating a run in a directory that already holds one is refused unless `force` is set, so a
//! typo never overwrites a day of training.

use crate::config::Config;
use crate::error::{PgError, Result};
use std::path::{Path, PathBuf};

/// A run directory and the paths inside it.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates (or, with `force`, clears) `root` for a new run and writes `config.toml`.
    pub fn create(root: &Path, config: &Config, force: bool) -> Result<RunDir> {
        let run = RunDir {
            root: root.to_path_buf(),
        };
        if run.holds_run() {
            if !force {
                return Err(PgError::RunExists(root.to_path_buf()));
            }
            for f in [run.config_path(), run.metrics_path(), run.curve_path()] {
                if f.exists() {
                    std::fs::remove_file(&f).map_err(|e| PgError::io(&f, e))?;
                }
            }
            let c = run.checkpoints_dir();
            if c.exists() {
                std::fs::remove_dir_all(&c).map_err(|e| PgError::io(&c, e))?;
            }
        }
        std::fs::create_dir_all(run.checkpoints_dir()).map_err(|e| PgError::io(root, e))?;
        let p = run.config_path();
        std::fs::write(&p, config.to_toml()).map_err(|e| PgError::io(&p, e))?;
        Ok(run)
    }

    /// Opens an existing run, checking that its config is there.
    pub fn open(root: &Path) -> Result<RunDir> {
        let run = RunDir {
            root: root.to_path_buf(),
        };
        if !run.config_path().is_file() {
            return Err(PgError::NotARun {
                dir: root.to_path_buf(),
                missing: "config.toml".into(),
            });
        }
        Ok(run)
    }

    /// Loads the run's saved configuration.
    pub fn config(&self) -> Result<Config> {
        let p = self.config_path();
        let text = std::fs::read_to_string(&p).map_err(|e| PgError::io(&p, e))?;
        Config::from_toml(&text, &p.display().to_string())
    }

    /// Whether the directory already holds a run (a config or metrics file).
    pub fn holds_run(&self) -> bool {
        self.config_path().exists() || self.metrics_path().exists()
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

    /// `curve.svg`.
    pub fn curve_path(&self) -> PathBuf {
        self.root.join("curve.svg")
    }

    /// `checkpoints/`.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `checkpoints/latest.ckpt`, the checkpoint `--resume`, `eval` and `render` use.
    pub fn latest_checkpoint(&self) -> PathBuf {
        self.checkpoints_dir().join("latest.ckpt")
    }
}

/// The default output directory of a run: `runs/ENV_ID-seedN`.
pub fn default_dir(config: &Config) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-seed{}", config.env_id, config.seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_existing_run_unless_forced() {
        let dir = std::env::temp_dir().join(format!("pg-rundir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Config::preset("CartPole-v1").unwrap();
        let run = RunDir::create(&dir, &c, false).unwrap();
        assert_eq!(run.config().unwrap(), c);
        let e = RunDir::create(&dir, &c, false).unwrap_err();
        assert!(matches!(e, PgError::RunExists(_)), "{e}");
        assert!(e.to_string().contains("--force"));
        let c2 = Config { seed: 9, ..c };
        let run = RunDir::create(&dir, &c2, true).unwrap();
        assert_eq!(run.config().unwrap().seed, 9);
        assert!(RunDir::open(&dir.join("nope")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
