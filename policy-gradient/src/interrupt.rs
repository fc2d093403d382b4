//! Ctrl-C handling: the handler only raises a flag; the training loop checks it at each epoch
//! boundary, saves a checkpoint and returns, so an interrupted run resumes exactly.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the Ctrl-C handler (once per process; later calls do nothing). A second Ctrl-C while
/// the first is being honoured exits at once with status 130.
pub fn install() {
    INSTALL.call_once(|| {
        // If another handler was installed by the embedding program, keep it: the flag can still
        // be raised with `request`.
        let _ = ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted twice: exiting without saving");
                std::process::exit(130);
            }
        });
    });
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Requests a stop as Ctrl-C would (used by tests and embedding programs).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Clears a request.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
