//! Ctrl-C (SIGINT) and SIGTERM: the handlers only raise a flag; the training loop checks it at
//! each epoch or step boundary, saves a checkpoint, says so, and returns, so an interrupted run
//! resumes exactly. The process then exits with `128 + signal`: 130 after Ctrl-C, 143 after
//! SIGTERM ([`exit_status`]). A second signal while the first is being honoured exits at once,
//! without saving (the run directory's lock is then stale and reclaimed by the next process).
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
