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

/// How a micro-kernel reads its `MR×k` panel of A (a const parameter, so each way is compiled
/// separately): value `(i, p)` is at `a[i·row_step + p·p_step]`.
pub(crate) mod read_a {
    /// Packed by `pack_a`: `a[p·MR + i]` (zero-padded to MR rows).
    pub(crate) const PACKED: u8 = 0;
    /// In place from a row-major block: `a[i·rs_a + p]`.
    pub(crate) const ROWS: u8 = 1;
    /// In place from a column-major block (a transposed row-major matrix): `a[i + p·rs_a]`, where
    /// the `rs_a` argument carries A's column stride. The MR values of one step of `p` are then
    /// contiguous, as in a packed panel.
    pub(crate) const COLUMNS: u8 = 2;

    /// `(row_step, p_step)` of a way of reading, with `stride` the `rs_a` argument.
    pub(crate) const fn steps(how: u8, mr: usize, stride: usize) -> (usize, usize) {
        match how {
            PACKED => (1, mr),
            ROWS => (stride, 1),
            _ => (1, stride),
        }
    }
}

static PORTABLE_F32: MicroKernel<f32> = MicroKernel {
    mr: 4,
    nr: 8,
    kc: 256,
    mc: 64,
    nc: 4096,
    run_packed: portable::micro::<f32, 4, 8, { read_a::PACKED }>,
    run_rowa: portable::micro::<f32, 4, 8, { read_a::ROWS }>,
    run_cola: portable::micro::<f32, 4, 8, { read_a::COLUMNS }>,
};

static PORTABLE_F64: MicroKernel<f64> = MicroKernel {
    mr: 4,
    nr: 4,
    kc: 256,
    mc: 64,
    nc: 4096,
    run_packed: portable::micro::<f64, 4, 4, { read_a::PACKED }>,
    run_rowa: portable::micro::<f64, 4, 4, { read_a::ROWS }>,
    run_cola: portable::micro::<f64, 4, 4, { read_a::COLUMNS }>,
};

#[cfg(target_arch = "x86_64")]
static AVX2_F32: MicroKernel<f32> = MicroKernel {
    mr: avx2::MR,
    nr: avx2::NR,
    kc: 256,
    mc: 120,
    nc: 4096,
    run_packed: avx2::micro::<{ read_a::PACKED }>,
    run_rowa: avx2::micro::<{ read_a::ROWS }>,
    run_cola: avx2::micro::<{ read_a::COLUMNS }>,
};

#[cfg(target_arch = "x86_64")]
static AVX512_F32: MicroKernel<f32> = MicroKernel {
    mr: avx512::MR,
    nr: avx512::NR,
    kc: 256,
    mc: 240,
    nc: 4096,
    run_packed: avx512::micro::<{ read_a::PACKED }>,
    run_rowa: avx512::micro::<{ read_a::ROWS }>,
    run_cola: avx512::micro::<{ read_a::COLUMNS }>,
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
