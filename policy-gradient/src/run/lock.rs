//! An exclusive lock on a run directory, held for as long as a process writes to it.
//!
//! The lock is the file `DIR/lock` holding the owner's process id. It is created by hard-linking
//! a private file that already holds the pid (the operating system lets exactly one link of that
//! name be made, and the file never exists empty). It is removed when the [`RunLock`]
//! is dropped, which every exit path of a run does: normal end, error, Ctrl-C and SIGTERM (both
//! stop the loop, save, and return). A process killed outright (SIGKILL, a second Ctrl-C) leaves
//! the file behind; the next process finds that its pid is no longer alive and takes the lock
//! over.
//!
//! Whether a pid is alive is read from `/proc/PID` (Linux; std only, no `kill(pid, 0)` without a
//! libc binding). Where `/proc` does not exist every recorded owner counts as alive, so a stale
//! lock must then be removed by hand; the error names the file. A pid reused by an unrelated
//! process after a crash also keeps the lock until that process ends.

use crate::error::{PgError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The held lock of one run directory; dropping it releases the directory.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// The lock file of run directory `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join("lock")
}

/// Whether process `pid` is alive, as far as this platform can tell (see the module docs).
pub fn pid_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true;
    }
    proc_root.join(pid.to_string()).exists()
}

/// The live process holding `dir`, if any.
pub fn holder(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(lock_path(dir)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    pid_alive(pid).then_some(pid)
}

/// Removes `lock.tmp-PID` files of processes that died while taking the lock.
fn remove_dead_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("lock.tmp-"))
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !pid_alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl RunLock {
    /// Takes the lock of `dir` (which must exist), reclaiming a stale one left by a dead
    /// process. Refuses, naming the owner, while another live process holds it.
    ///
    /// The lock file appears with its content in one step: the pid is written to
    /// `lock.tmp-PID` and hard-linked to `lock`, which fails if `lock` exists. A reader never
    /// sees an empty lock.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let path = lock_path(dir);
        remove_dead_temporaries(dir);
        let tmp = dir.join(format!("lock.tmp-{}", std::process::id()));
        std::fs::File::create(&tmp)
            .and_then(|mut f| {
                writeln!(f, "{}", std::process::id())?;
                f.sync_all()
            })
            .map_err(|e| PgError::io(&tmp, e))?;
        // Two rounds: the second after removing a stale lock (another process may win it).
        let mut result = Err(PgError::RunLocked {
            dir: dir.to_path_buf(),
            pid: 0,
        });
        for _ in 0..2 {
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => {
                    result = Ok(RunLock { path: path.clone() });
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if pid_alive(pid) => {
                            result = Err(PgError::RunLocked {
                                dir: dir.to_path_buf(),
                                pid,
                            });
                            break;
                        }
                        // A dead owner (or a file that is not ours to read): stale.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => {
                    result = Err(PgError::io(&path, e));
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Only remove a lock that is still ours.
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        crate::run::dir::fresh_test_dir(&format!("lock-{name}"))
    }

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let d = tmp("one");
        let lock = RunLock::acquire(&d).unwrap();
        assert_eq!(holder(&d), Some(std::process::id()));
        let e = RunLock::acquire(&d).unwrap_err();
        assert!(matches!(e, PgError::RunLocked { .. }), "{e}");
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(lock);
        assert!(!lock_path(&d).exists());
        assert_eq!(holder(&d), None);
        drop(RunLock::acquire(&d).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stale_lock_is_reclaimed() {
        let d = tmp("stale");
        // A pid above the kernel's maximum (2^22) is never alive.
        std::fs::write(lock_path(&d), "4194305\n").unwrap();
        assert_eq!(holder(&d), None);
        let lock = RunLock::acquire(&d).unwrap();
        assert_eq!(holder(&d), Some(std::process::id()));
        drop(lock);
        // An unreadable lock and a dead process's temporary file are both cleaned up.
        std::fs::write(lock_path(&d), "").unwrap();
        std::fs::write(d.join("lock.tmp-4194305"), "4194305\n").unwrap();
        drop(RunLock::acquire(&d).unwrap());
        assert!(!d.join("lock.tmp-4194305").exists());
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            0,
            "nothing is left behind"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
