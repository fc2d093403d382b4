//! What the test modules share: running the `pg` binary, a scratch directory per test, and the
//! checks of a clean failure. (One binary, one copy: these were written once per module.)

use policy_gradient::metrics::Table;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pg args` in `dir` with backtraces on (so a panic, which no test allows, would show).
fn pg_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pg"));
    command
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1");
    command
}

/// Runs `pg args` in `dir`.
pub fn pg_in(dir: &Path, args: &[&str]) -> Output {
    pg_command(dir, args).output().expect("pg runs")
}

/// Runs `pg args` in the system's temporary directory.
pub fn pg(args: &[&str]) -> Output {
    pg_in(&std::env::temp_dir(), args)
}

/// Runs `pg args` in the system's temporary directory with the environment variable `var` set
/// to `value`.
pub fn pg_with_env(var: &str, value: &str, args: &[&str]) -> Output {
    pg_command(&std::env::temp_dir(), args)
        .env(var, value)
        .output()
        .expect("pg runs")
}

/// The path `pg-MODULE-PID-NAME` in the temporary directory, emptied: unique to one test of one
/// test process (the tests of all modules run in one process, in parallel).
pub fn scratch(module: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pg-{module}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// [`scratch`], created.
pub fn scratch_dir(module: &str, name: &str) -> PathBuf {
    let d = scratch(module, name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The command's stdout, after checking it succeeded (else its stderr is the failure message).
pub fn succeeded(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Checks a failure that a user may meet: a non-zero exit, `needle` in stderr, no panic and no
/// backtrace. Returns stderr.
pub fn clean_failure(o: &Output, needle: &str) -> String {
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "expected a failure: {e}");
    assert!(e.contains(needle), "stderr should mention `{needle}`: {e}");
    assert!(
        !e.contains("panicked") && !e.contains("backtrace"),
        "a panic leaked: {e}"
    );
    e
}

/// A column of the CSV file at `path`, as numbers.
pub fn csv_column(path: &Path, name: &str) -> Vec<f64> {
    Table::read(path).unwrap().column(name, path).unwrap()
}
