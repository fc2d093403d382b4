//! Ctrl-C (SIGINT) and SIGTERM: the handlers only raise a flag; the training loop checks it at
//! each epoch or step boundary, saves a checkpoint, says so, and returns, so an interrupted run
//! resumes exactly. The process then exits with `128 + signal`: 130 after Ctrl-C, 143 after
//! SIGTERM ([`exit_status`]). A second signal while the first is being honoured exits at once,
//! without saving (the run directory's lock is then stale and reclaimed by the next process).
//!
//! A process that runs others (`pg sweep`) passes the signal on with [`forward`], once, to each
//! child it started in a process group of its own; so whether Ctrl-C came from the terminal or
//! `kill` reached the parent alone, every child receives exactly one signal and saves. It starts
//! them with the two signals blocked ([`block_in_child`]), and [`install`] unblocks them once the
//! handlers are in place: a signal forwarded while a child is still starting waits for its
//! handler instead of killing it.
//!
//! SIGINT is handled by the `ctrlc` crate. Its SIGTERM support cannot tell the two signals
//! apart, so SIGTERM gets its own handler through the C library's `signal` function (std links
//! the C library on Unix; no extra dependency). The handler only does async-signal-safe work:
//! atomic stores and `_exit`.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicU8 = AtomicU8::new(0);
static INSTALL: Once = Once::new();

/// The number of SIGINT.
pub const SIGINT: u8 = 2;
/// The number of SIGTERM.
pub const SIGTERM: u8 = 15;

/// Records signal `signal` as the reason to stop; returns whether a stop was already requested.
fn raise(signal: u8) -> bool {
    SIGNAL.store(signal, Ordering::SeqCst);
    REQUESTED.swap(true, Ordering::SeqCst)
}

#[cfg(unix)]
mod term {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn _exit(status: i32) -> !;
        fn kill(pid: i32, signum: i32) -> i32;
        fn sigemptyset(set: *mut SigSet) -> i32;
        fn sigaddset(set: *mut SigSet, signum: i32) -> i32;
        fn sigprocmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    }

    /// Room for the C library's `sigset_t` (128 bytes with glibc and musl, 4 on macOS), filled
    /// only through `sigemptyset` and `sigaddset`.
    #[repr(C)]
    struct SigSet([u64; 16]);

    #[cfg(target_os = "linux")]
    const SIG_BLOCK: i32 = 0;
    #[cfg(target_os = "linux")]
    const SIG_UNBLOCK: i32 = 1;
    #[cfg(not(target_os = "linux"))]
    const SIG_BLOCK: i32 = 1;
    #[cfg(not(target_os = "linux"))]
    const SIG_UNBLOCK: i32 = 2;

    /// Blocks (holds pending) or unblocks SIGINT and SIGTERM in the calling thread. Only
    /// async-signal-safe calls, so it may run between `fork` and `exec`.
    pub fn set_blocked(blocked: bool) -> std::io::Result<()> {
        let mut set = SigSet([0; 16]);
        let how = if blocked { SIG_BLOCK } else { SIG_UNBLOCK };
        // SAFETY: `set` is larger than any `sigset_t` and initialised by `sigemptyset` before
        // use; a null `old` is allowed.
        let ok = unsafe {
            sigemptyset(&mut set) == 0
                && sigaddset(&mut set, super::SIGINT as i32) == 0
                && sigaddset(&mut set, super::SIGTERM as i32) == 0
                && sigprocmask(how, &set, std::ptr::null_mut()) == 0
        };
        if ok {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Sends signal `signum` to process `pid`; false if it could not be sent (the process has
    /// already exited and been reaped, or `pid` does not fit a `pid_t`).
    pub fn send(pid: u32, signum: u8) -> bool {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        // SAFETY: `kill` takes any pid and signal number and reports failure by its result; a
        // positive pid addresses that one process only.
        pid > 0 && unsafe { kill(pid, signum as i32) } == 0
    }

    extern "C" fn on_term(_: i32) {
        if super::raise(super::SIGTERM) {
            // SAFETY: `_exit` is async-signal-safe and never returns.
            unsafe { _exit(128 + super::SIGTERM as i32) }
        }
    }

    /// Routes SIGTERM to `on_term`.
    pub fn install() {
        let handler: extern "C" fn(i32) = on_term;
        // SAFETY: `signal` is given a valid signal number and an `extern "C" fn(i32)`, the
        // handler type it expects; the handler touches only atomics and `_exit`.
        unsafe {
            signal(super::SIGTERM as i32, handler as usize);
        }
    }
}

#[cfg(not(unix))]
mod term {
    /// SIGTERM does not exist here.
    pub fn install() {}

    /// Signals cannot be sent here: the child keeps running to its end.
    pub fn send(_pid: u32, _signum: u8) -> bool {
        false
    }

    /// Nothing to block.
    pub fn set_blocked(_blocked: bool) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the SIGINT and SIGTERM handlers (once per process; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        // If another handler was installed by the embedding program, keep it: the flag can still
        // be raised with `request`.
        let _ = ctrlc::set_handler(|| {
            if raise(SIGINT) {
                eprintln!("\ninterrupted twice: exiting without saving");
                std::process::exit(128 + SIGINT as i32);
            }
        });
        term::install();
    });
    // A child started by `block_in_child` receives the signals from here on.
    let _ = term::set_blocked(false);
}

/// Makes `command` start its process with SIGINT and SIGTERM blocked, so that a signal sent to
/// it before it has called [`install`] is held until then (a `pg` child unblocks them there).
pub fn block_in_child(command: &mut std::process::Command) {
    #[cfg(unix)]
    // SAFETY: the closure runs in the child between `fork` and `exec` and makes only the
    // async-signal-safe calls of `set_blocked`.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || term::set_blocked(true));
    }
    #[cfg(not(unix))]
    let _ = command;
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Requests a stop as Ctrl-C would (used by tests and embedding programs).
pub fn request() {
    raise(SIGINT);
}

/// Clears a request (the signal that caused it is kept for [`exit_status`]).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Passes the signal that stopped this process (SIGINT for a [`request`]) on to child process
/// `pid`; false if it could not be sent. Call it once per child: a second signal makes a `pg`
/// run exit without saving.
pub fn forward(pid: u32) -> bool {
    term::send(pid, exit_status() - 128)
}

/// The exit status of a run stopped by a signal: `128 + signal` (130 for Ctrl-C or a request,
/// 143 for SIGTERM).
pub fn exit_status() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 128 + SIGINT,
        s => 128 + s,
    }
}

/// The name of the signal that stopped the run, for messages.
pub fn signal_name() -> &'static str {
    match SIGNAL.load(Ordering::SeqCst) {
        SIGTERM => "SIGTERM",
        _ => "Ctrl-C",
    }
}
