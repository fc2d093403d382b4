//! Which instruction set the kernels use: detected once at run time and cached.
//!
//! [`Kernel::selected`] is the fastest path this CPU supports (AVX-512F, else AVX2+FMA, else
//! portable Rust). Every public entry point has a `*_with(kernel, ..)` twin so tests and
//! benchmarks can force a path; forcing a path the CPU lacks panics with a message.
//! [`Kernel::force`] switches the path of everything that uses [`Kernel::selected`] (layers,
//! whole training runs) for the process, so a benchmark can time the AVX2 path on an AVX-512
//! machine.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A kernel path (instruction set) for the `f32` kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// 512-bit vectors, 32 registers: GEMM micro-kernel 12×32, 16 lanes everywhere else.
    Avx512,
    /// 256-bit vectors with fused multiply-add, 16 registers: GEMM micro-kernel 6×16.
    Avx2Fma,
    /// Plain Rust, no intrinsics (the compiler may still vectorise it): micro-kernel 4×8.
    Portable,
}

static SELECTED: OnceLock<Kernel> = OnceLock::new();
/// 0: no override; else 1 + the forced path's index in [`Kernel::ALL`].
static FORCED: AtomicU8 = AtomicU8::new(0);

impl Kernel {
    /// All paths, fastest first.
    pub const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2Fma, Kernel::Portable];

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The paths this CPU can run, fastest first.
    pub fn available() -> Vec<Kernel> {
        Self::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// Detects the fastest available path (not cached; see [`Kernel::selected`]).
    pub fn detect() -> Kernel {
        Self::ALL
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Portable)
    }

    /// The path every non-`_with` entry point uses: the one set by [`Kernel::force`] if any,
    /// else the fastest available path, detected on first use and cached for the process.
    #[inline]
    pub fn selected() -> Kernel {
        match FORCED.load(Ordering::Relaxed) {
            0 => *SELECTED.get_or_init(Kernel::detect),
            i => Self::ALL[i as usize - 1],
        }
    }

    /// Makes [`Kernel::selected`] return `kernel` for the whole process (`None`: back to the
    /// detected path). For benchmarks and experiments: the paths sum in different orders, so a
    /// run's bits depend on it. Panics, naming the path, if the CPU cannot run it.
    ///
    /// ```
    /// use dense::Kernel;
    /// Kernel::force(Some(Kernel::Portable));
    /// assert_eq!(Kernel::selected(), Kernel::Portable);
    /// Kernel::force(None);
    /// assert_eq!(Kernel::selected(), Kernel::detect());
    /// ```
    #[track_caller]
    pub fn force(kernel: Option<Kernel>) {
        let code = match kernel {
            None => 0,
            Some(k) => {
                k.assert_available();
                1 + Self::ALL.iter().position(|&x| x == k).expect("in ALL") as u8
            }
        };
        FORCED.store(code, Ordering::Relaxed);
    }

    /// Panics with a clear message unless this CPU can run the path.
    #[track_caller]
    pub fn assert_available(self) {
        assert!(
            self.is_available(),
            "kernel path {self:?} was forced but this CPU does not support it (available: {:?})",
            Self::available()
        );
    }

    /// A short lower-case name for reports and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2Fma => "avx2fma",
            Kernel::Portable => "portable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_is_available_and_cached() {
        let k = Kernel::selected();
        assert!(k.is_available());
        assert_eq!(k, Kernel::selected());
        assert_eq!(k, Kernel::detect());
        assert!(Kernel::available().contains(&Kernel::Portable));
    }
}
