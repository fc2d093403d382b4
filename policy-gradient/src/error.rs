//! The crate's error type: every way `pg` can fail, each with a message that names the bad value
//! and what was expected. `main` prints the message and exits non-zero; it never panics.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in training, evaluation, plotting and the `pg` command.
#[derive(Debug)]
pub enum PgError {
    /// The environment id is not registered.
    UnknownEnv {
        /// The id that was asked for.
        id: String,
        /// The ids that exist.
        known: Vec<String>,
    },
    /// An error reported by the environment library.
    Env(String),
    /// A configuration file or value is not valid TOML.
    ConfigSyntax {
        /// Where the text came from (a file path or `--set key=value`).
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A configuration key does not exist.
    UnknownConfigKey {
        /// The unknown key.
        key: String,
        /// Where it came from.
        origin: String,
        /// The keys that exist.
        known: Vec<&'static str>,
    },
    /// A configuration key holds a value of the wrong type or out of range.
    BadConfigValue {
        /// The key.
        key: String,
        /// Where it came from.
        origin: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A `--set` argument without `=`.
    BadSetArgument(String),
    /// The output directory already holds a run and `--force` was not given.
    RunExists(PathBuf),
    /// A directory that should hold a run does not.
    NotARun {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        missing: String,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A checkpoint is damaged or does not match the run's configuration.
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A metrics CSV file could not be parsed.
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Another live process holds the run directory's lock.
    RunLocked {
        /// The run directory.
        dir: PathBuf,
        /// The process holding it (0: one that is just taking it).
        pid: u32,
    },
    /// A loss or gradient became NaN or infinite; training stopped and the last good checkpoint was kept.
    NonFiniteLoss {
        /// The epoch or step whose update produced the non-finite value.
        at: u64,
        /// `epoch` (`pg train`) or `step` (`pg lm`).
        unit: &'static str,
        /// Which quantity (`policy loss`, `value loss`, `gradient norm`).
        what: &'static str,
        /// The last good checkpoint, if one was saved.
        checkpoint: Option<PathBuf>,
    },
    /// Training was interrupted by Ctrl-C after saving a checkpoint in a run directory.
    Interrupted {
        /// The run directory holding the checkpoint.
        dir: PathBuf,
        /// The command that continues the run, without `--resume DIR` (e.g. `pg train`,
        /// `pg lm rl`).
        command: &'static str,
    },
    /// A sweep was interrupted by Ctrl-C or SIGTERM after its running jobs had saved.
    SweepInterrupted {
        /// The sweep's directory.
        out: PathBuf,
    },
    /// Any other error, for subcommand families with their own error types (e.g. `pg lm`).
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl PgError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PgError::Io {
            path: path.into(),
            source,
        }
    }

    /// A checkpoint error about `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        PgError::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::UnknownEnv { id, known } => {
                write!(
                    f,
                    "unknown environment id `{id}`; known ids: {}",
                    known.join(", ")
                )
            }
            PgError::Env(m) => write!(f, "environment error: {m}"),
            PgError::ConfigSyntax { origin, message } => {
                let m = message.trim_end().replace('\n', " ");
                write!(f, "invalid TOML in {origin}: {m}")
            }
            PgError::UnknownConfigKey { key, origin, known } => write!(
                f,
                "unknown config key `{key}` in {origin}; known keys: {}",
                known.join(", ")
            ),
            PgError::BadConfigValue {
                key,
                origin,
                message,
            } => {
                let m = message.trim_end().replace('\n', " ");
                write!(f, "bad value for config key `{key}` in {origin}: {m}")
            }
            PgError::BadSetArgument(a) => {
                write!(
                    f,
                    "bad --set argument `{a}`: expected key=value, e.g. --set gamma=0.99"
                )
            }
            PgError::RunExists(d) => write!(
                f,
                "{} already holds a run; choose another --out, pass --force to overwrite it, or --resume it",
                d.display()
            ),
            PgError::NotARun { dir, missing } => {
                write!(
                    f,
                    "{} is not a run directory: {missing} is missing",
                    dir.display()
                )
            }
            PgError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            PgError::Checkpoint { path, message } => {
                let m = message.trim_end().replace('\n', " ");
                write!(f, "checkpoint {}: {m}", path.display())
            }
            PgError::Csv {
                path,
                line,
                message,
            } => {
                write!(f, "{} line {line}: {message}", path.display())
            }
            PgError::RunLocked { dir, pid } => {
                let who = match pid {
                    0 => "another process".to_string(),
                    p => format!("process {p}"),
                };
                write!(
                    f,
                    "{} is in use by {who} (its lock file is {}); wait for it to finish or stop it first",
                    dir.display(),
                    crate::run::lock::lock_path(dir).display()
                )
            }
            PgError::NonFiniteLoss {
                at,
                unit,
                what,
                checkpoint,
            } => {
                write!(f, "non-finite {what} at {unit} {at}; training stopped")?;
                match checkpoint {
                    Some(c) => write!(f, "; the last good checkpoint is {}", c.display()),
                    None => write!(f, "; no checkpoint had been saved yet"),
                }
            }
            PgError::Interrupted { dir, command } => write!(
                f,
                "interrupted; checkpoint saved; continue with `{command} --resume {}`",
                dir.display()
            ),
            PgError::SweepInterrupted { out } => write!(
                f,
                "interrupted; in {}, finished runs are kept and stopped ones checkpointed; \
                 run the same command to continue",
                out.display()
            ),
            PgError::Other(e) => write!(f, "{}", e.to_string().trim_end().replace('\n', " ")),
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgError::Io { source, .. } => Some(source),
            PgError::Other(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bad_value() {
        let e = PgError::UnknownEnv {
            id: "CartPol".into(),
            known: vec!["CartPole-v1".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown environment id `CartPol`; known ids: CartPole-v1"
        );
        let e = PgError::NonFiniteLoss {
            at: 7,
            unit: "epoch",
            what: "policy loss",
            checkpoint: None,
        };
        assert!(e.to_string().contains("epoch 7"));
        assert!(
            PgError::BadSetArgument("gamma".into())
                .to_string()
                .contains("`gamma`")
        );
    }
}
