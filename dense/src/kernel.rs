//! Which instruction set the kernels use: detected once at run time and cached.
//!
//! [`Kernel::selected`] is the fastest path this CPU supports (AVX-512F, else AVX2+FMA, else
//! portable Rust). Every public entry point has a `*_with(kernel, ..)` twin so tests and
//! benchmarks can force a path; forcing a path the CPU lacks panics with a message.
//! [`Kernel::force`] switches the path of everything that uses [`Kernel::selected`] (layers,
//! whole training runs) for the process, so a benchmark can time the AVX2 path on an AVX-512
//! machine. From outside the program, the environment variable `DENSE_KERNEL` (`avx512`,
//! `avx2fma` or `portable`) chooses the path before the first use: the paths sum in different
//! orders, so a run's bits depend on its path, and `DENSE_KERNEL=avx2fma` on an AVX-512 machine
//! reproduces, bit for bit, what an AVX2 machine prints.

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

/// The environment variable that chooses the path for a process (see [`Kernel::from_env`]).
pub const ENV_VAR: &str = "DENSE_KERNEL";

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
    /// else the one `DENSE_KERNEL` names, else the fastest available path; read on first use
    /// and cached for the process. A `DENSE_KERNEL` that names no path this CPU can run is
    /// reported on standard error, once, and the fastest path is used (a program that would
    /// rather stop checks [`Kernel::from_env`] first, as `pg` does).
    #[inline]
    pub fn selected() -> Kernel {
        match FORCED.load(Ordering::Relaxed) {
            0 => *SELECTED.get_or_init(|| match Kernel::from_env() {
                Ok(chosen) => chosen.unwrap_or_else(Kernel::detect),
                Err(message) => {
                    let fastest = Kernel::detect();
                    eprintln!("warning: {message}; using {}", fastest.name());
                    fastest
                }
            }),
            i => Self::ALL[i as usize - 1],
        }
    }

    /// The path called `name` (as [`Kernel::name`] spells it) if this CPU can run it, else an
    /// error that names the value and what was expected.
    ///
    /// ```
    /// use dense::Kernel;
    /// assert_eq!(Kernel::from_name("portable"), Ok(Kernel::Portable));
    /// assert!(Kernel::from_name("avx1024").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Kernel, String> {
        let names = |kernels: &[Kernel]| {
            kernels
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(kernel) = Self::ALL.into_iter().find(|k| k.name() == name) else {
            let expected = names(&Self::ALL);
            return Err(format!(
                "{name:?} is not a kernel path (expected one of {expected})"
            ));
        };
        if !kernel.is_available() {
            let runnable = names(&Self::available());
            return Err(format!(
                "{name:?}: this CPU cannot run that path (it can run {runnable})"
            ));
        }
        Ok(kernel)
    }

    /// The path `DENSE_KERNEL` asks for: `Ok(None)` when it is unset or empty, an error (from
    /// [`Kernel::from_name`]) when it names no path or one this CPU cannot run.
    pub fn from_env() -> Result<Option<Kernel>, String> {
        match std::env::var_os(ENV_VAR) {
            Some(name) if !name.is_empty() => Self::from_name(&name.to_string_lossy())
                .map(Some)
                .map_err(|e| format!("{ENV_VAR}={e}")),
            _ => Ok(None),
        }
    }

    /// Makes [`Kernel::selected`] return `kernel` for the whole process (`None`: back to the
    /// path it chose before anything was forced, the one `DENSE_KERNEL` names or else the
    /// detected one). For benchmarks and experiments: the paths sum in different orders, so a
    /// run's bits depend on it. Panics, naming the path, if the CPU cannot run it.
    ///
    /// ```
    /// use dense::Kernel;
    /// let chosen = Kernel::selected();
    /// Kernel::force(Some(Kernel::Portable));
    /// assert_eq!(Kernel::selected(), Kernel::Portable);
    /// Kernel::force(None);
    /// assert_eq!(Kernel::selected(), chosen);
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
        let chosen = Kernel::from_env().ok().flatten();
        assert_eq!(k, chosen.unwrap_or_else(Kernel::detect));
        assert!(Kernel::available().contains(&Kernel::Portable));
    }

    /// Every path's name leads back to it (or, for a path this CPU lacks, to an error naming
    /// it); any other name is an error that names the value and the expected ones.
    #[test]
    fn names_lead_to_their_paths() {
        for kernel in Kernel::ALL {
            match Kernel::from_name(kernel.name()) {
                Ok(k) => assert_eq!(k, kernel),
                Err(e) => {
                    assert!(!kernel.is_available());
                    assert!(e.contains(kernel.name()) && e.contains("cannot run"), "{e}");
                }
            }
        }
        let e = Kernel::from_name("avx1024").unwrap_err();
        assert!(e.contains("\"avx1024\"") && e.contains("avx2fma"), "{e}");
        assert!(
            Kernel::from_name("AVX2FMA").is_err(),
            "names are lower case"
        );
    }
}
