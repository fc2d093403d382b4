//! The register-blocked micro-kernels, one per instruction set, and their block sizes.
//!
//! | path      | tile MR×NR | accumulators              | per step of `p`                 |
//! |-----------|------------|---------------------------|---------------------------------|
//! | AVX-512F  | 12×32      | 24 zmm (of 32)            | 2 loads of B, 12 broadcasts of A, 24 FMAs |
//! | AVX2+FMA  | 6×16       | 12 ymm (of 16)            | 2 loads of B, 6 broadcasts of A, 12 FMAs  |
//! | portable  | 4×8 (f32), 4×4 (f64) | arrays the compiler keeps in registers | 4 + 8 loads, 32 multiply-adds |
//!
//! An FMA has a latency of about 4 cycles and two can start per cycle, so at least 8
//! independent accumulators are needed to keep both FMA units busy; the tiles above have 12-24.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

use super::driver::MicroKernel;
use crate::kernel::Kernel;

static PORTABLE_F32: MicroKernel<f32> = MicroKernel {
    mr: 4,
    nr: 8,
    kc: 256,
    mc: 64,
    nc: 4096,
    run_packed: portable::micro::<f32, 4, 8, true>,
    run_rowa: portable::micro::<f32, 4, 8, false>,
};

static PORTABLE_F64: MicroKernel<f64> = MicroKernel {
    mr: 4,
    nr: 4,
    kc: 256,
    mc: 64,
    nc: 4096,
    run_packed: portable::micro::<f64, 4, 4, true>,
    run_rowa: portable::micro::<f64, 4, 4, false>,
};

#[cfg(target_arch = "x86_64")]
static AVX2_F32: MicroKernel<f32> = MicroKernel {
    mr: avx2::MR,
    nr: avx2::NR,
    kc: 256,
    mc: 120,
    nc: 4096,
    run_packed: avx2::micro_packed,
    run_rowa: avx2::micro_rowa,
};

#[cfg(target_arch = "x86_64")]
static AVX512_F32: MicroKernel<f32> = MicroKernel {
    mr: avx512::MR,
    nr: avx512::NR,
    kc: 256,
    mc: 240,
    nc: 4096,
    run_packed: avx512::micro_packed,
    run_rowa: avx512::micro_rowa,
};

/// The `f32` micro-kernel of a path (whose availability the caller checked).
pub(crate) fn for_f32(kernel: Kernel) -> &'static MicroKernel<f32> {
    match kernel {
        Kernel::Portable => &PORTABLE_F32,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2Fma => &AVX2_F32,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => &AVX512_F32,
        #[cfg(not(target_arch = "x86_64"))]
        _ => &PORTABLE_F32,
    }
}

/// The `f64` micro-kernel (portable on every CPU).
pub(crate) fn for_f64() -> &'static MicroKernel<f64> {
    &PORTABLE_F64
}
