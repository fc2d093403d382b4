//! How many threads a `pg` process gives the dense kernels: `--threads N`, else the `PG_THREADS`
//! environment variable, else every core.
//!
//! The count changes speed only: `dense` splits a product over blocks of *output* rows and never
//! splits a sum, so every number a run computes is the same for any thread count
//! (`dense::threads`). That is why it is a setting of the process and not a key of the run's
//! `config.toml`: a run resumed on another machine, or one job of a `pg sweep` sharing the cores
//! with others, picks its own count without changing the run.

use crate::error::{PgError, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The count [`configure`] was given by `--threads` or [`ENV_VAR`]; `usize::MAX` when neither.
static CHOSEN: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The environment variable read when `--threads` is not given.
pub const ENV_VAR: &str = "PG_THREADS";

/// Most threads accepted (the kernels use at most `dense::threads::MAX_PARTS` of them).
pub const MAX_THREADS: usize = 4096;

/// Reads a thread count as `--threads` or `PG_THREADS` gives it: a whole number, 0 meaning
/// every core.
///
/// ```
/// use policy_gradient::run::threads::parse;
/// assert_eq!(parse("2", "--threads").unwrap(), 2);
/// assert!(parse("two", "PG_THREADS").unwrap_err().to_string().contains("`two`"));
/// ```
pub fn parse(text: &str, origin: &str) -> Result<usize> {
    let bad = || {
        PgError::Other(
            format!(
                "{origin} `{text}`: expected a whole number of threads from 0 (every core) to \
                 {MAX_THREADS}"
            )
            .into(),
        )
    };
    let n: usize = text.trim().parse().map_err(|_| bad())?;
    if n > MAX_THREADS {
        return Err(bad());
    }
    Ok(n)
}

/// Sets the kernels' thread count from `flag` (`--threads`), else from [`ENV_VAR`], else leaves
/// the default (every core). Returns the count in force.
pub fn configure(flag: Option<usize>) -> Result<usize> {
    let chosen = match flag {
        Some(n) if n > MAX_THREADS => return Err(parse(&n.to_string(), "--threads").unwrap_err()),
        Some(n) => Some(n),
        None => match std::env::var(ENV_VAR) {
            Ok(text) => Some(parse(&text, ENV_VAR)?),
            Err(_) => None,
        },
    };
    CHOSEN.store(chosen.unwrap_or(usize::MAX), Ordering::SeqCst);
    dense::threads::set_threads(chosen.unwrap_or(0));
    Ok(dense::threads::threads())
}

/// The count the user chose for this process (`--threads N` or `PG_THREADS`, 0 meaning every
/// core), as [`configure`] last read it; `None` if neither was given. `pg sweep` passes it on to
/// each of its jobs.
pub fn chosen() -> Option<usize> {
    match CHOSEN.load(Ordering::SeqCst) {
        usize::MAX => None,
        n => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_whole_numbers_within_the_bound() {
        assert_eq!(parse("0", "--threads").unwrap(), 0);
        assert_eq!(parse(" 3 ", "PG_THREADS").unwrap(), 3);
        for bad in ["", "-1", "1.5", "4097", "many"] {
            let e = parse(bad, "PG_THREADS").unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")) && e.contains("4096"), "{e}");
        }
        assert!(configure(Some(5000)).is_err());
        assert_eq!(configure(Some(1)).unwrap(), 1);
        assert_eq!(chosen(), Some(1));
        configure(Some(0)).unwrap();
        assert_eq!(chosen(), Some(0));
        assert!(dense::threads::threads() >= 1);
    }
}
