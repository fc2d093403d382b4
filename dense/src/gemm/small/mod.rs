//! Small products without packing: `C = alpha·A·B + beta·C` read straight through the views'
//! strides, for products so small (an attention head's `[32×16]·[16×32]`) that packing A and B
//! and setting up the blocked driver cost about as much as the multiply-adds.
//!
//! **Same bits as the packed driver.** For `k ≤ KC` the packed driver on an AVX path computes
//! every element of C as one chain of fused multiply-adds over `p = 0, 1, …, k−1` in order,
//! starting from `+0`, then scales it and merges the old C:
//!
//! ```text
//! acc = 0;  acc = fma(A[i,p], B[p,j], acc)  for p in 0..k
//! t = alpha·acc
//! C[i,j] = t                        when beta = 0 (C is not read)
//!        = fma(beta, C[i,j], t)     when j is in a whole NR-wide strip (stored in place)
//!        = t + beta·C[i,j]          otherwise (the ragged last strip, merged from a scratch tile)
//! ```
//!
//! then the epilogue on the whole of C (one MC×NC block, since `m ≤ MC` and `n ≤ NC`). The
//! kernels here (`avx512.rs`, `avx2.rs`) do exactly those operations per element, so only the
//! speed differs: they keep R×W accumulators in registers (R rows of C, W columns) and read A
//! and B where they are, with no copy and no setup.
//!
//! Which products come here ([`fits`]): the AVX paths (on the portable path a plain-Rust unpacked
//! loop measured slower than the packed kernel), B and C with unit column stride (on AVX2 a
//! transposed B such as an attention head's `Kᵀ` is first copied into row-major order,
//! in [`gemm_small`]; on AVX-512 the packed driver takes it), `k ≤ 64`
//! and at most [`SMALL_MACS`] multiply-adds ([`SMALL_MACS_AVX2`] on AVX2), and on AVX-512 only a C
//! narrower than the driver's 32-column tile (with a whole strip the driver's 12×32 tile is as fast
//! or faster).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use super::driver::{MicroKernel, PackBuffers};
use super::pack::pack_b;
use super::{Epilogue, apply_epilogue_at};
use crate::kernel::Kernel;
use crate::view::{MatMut, MatRef};

/// Products of at most this many multiply-adds (and depth ≤ [`MAX_K`]) skip packing on
/// AVX-512, where the 12×32 packed tile is fast once a product is large.
pub(crate) const SMALL_MACS: usize = 1 << 15;
/// The same limit on AVX2, where the packed driver's 6×16 tile gains little over the blocks
/// here on small products. It was 2¹⁸ while the driver packed B for a 64-row product: then a
/// whole 4-64-64-2 training step at batch 64 took 33.2 µs here instead of 35.0 through the
/// driver. Since the driver reads such a B in place (`driver::NO_PACK_B_PANELS_SHORT_ROWS`), it
/// runs `64×64·64×64` at 79–80 GFLOP/s against 74 here, and `48×64·64×64` at 82 against 74,
/// while `32×64·64×64` (73.5 against 72), `64×16·16×64` (66 both) and `64×4·4×64` (41.5 against
/// 35) still do as well or better here: the same step took 32.5–32.7 µs with this limit and
/// 32.4–33.4 µs with 2¹⁸ (best of 20,000 steps, alternated four times; scratch programs on the
/// 2-core Xeon with AVX2 forced).
pub(crate) const SMALL_MACS_AVX2: usize = 1 << 17;
/// The deepest product the small path takes.
const MAX_K: usize = 64;

/// Whether the small path takes the `m×k · k×n` product into `c` on `kernel`'s path (`mk` its
/// micro-kernel): an AVX path, small enough, inside one cache block of the driver (so the
/// driver's arithmetic is the single chain of the module doc), C with unit column stride, and B
/// either with unit column stride or, on AVX2, read transposed (unit row stride, such as an
/// attention head's `Kᵀ` or `Vᵀ`), which [`gemm_small`] first copies into row-major order. On
/// AVX2 the `[32×16]·[16×32]` product `Q·Kᵀ` of an attention head then ran at 58.8 GFLOP/s
/// instead of the packed driver's 47.5, copy included (0.56 µs instead of 0.69; best of 4,000
/// rounds of five calls, a scratch program alternating the two builds on the 2-core AMD EPYC).
/// AVX-512, not measured, keeps the driver for a transposed B.
pub(crate) fn fits(
    kernel: Kernel,
    mk: &MicroKernel<f32>,
    b: &MatRef<'_, f32>,
    c: &MatMut<'_, f32>,
) -> bool {
    let b_rows = b.cs() == 1 || (kernel == Kernel::Avx2Fma && b.rs() == 1);
    b_rows && c.cs() == 1 && small_enough(kernel, mk, b, c)
}

/// The size part of [`fits`]: an AVX path, at most the path's multiply-adds, depth at most
/// [`MAX_K`], and inside one cache block of the driver.
fn small_enough(
    kernel: Kernel,
    mk: &MicroKernel<f32>,
    b: &MatRef<'_, f32>,
    c: &MatMut<'_, f32>,
) -> bool {
    let (m, n, k) = (c.rows(), c.cols(), b.rows());
    let avx = matches!(kernel, Kernel::Avx512 | Kernel::Avx2Fma);
    let limit = if kernel == Kernel::Avx2Fma {
        SMALL_MACS_AVX2
    } else {
        SMALL_MACS
    };
    let small = k <= MAX_K && m * n * k <= limit;
    // On AVX-512 the driver's 12×32 tile beats the 8×16 blocks here once C has a whole 32-wide
    // strip (measured unpacked/packed: 32×32×16 1.08, 32×32×32 1.28); a narrower C (a head's
    // 16 columns) fills half that tile, and skipping the packing pays (2.3-3× faster).
    let whole_tile = kernel == Kernel::Avx512 && n >= mk.nr;
    avx && small && !whole_tile && k <= mk.kc && m <= mk.mc && n <= mk.nc
}

/// One strip of W columns of C, all of its rows: what a kernel computes in one call.
struct Strip {
    /// Depth of the product.
    k: usize,
    /// Rows of C (and A).
    m: usize,
    /// Columns of this strip actually in C (≤ W; the kernel masks the rest).
    cols: usize,
    alpha: f32,
    beta: f32,
    /// Whether the packed driver merges the old C of these columns with one FMA.
    fused_beta: bool,
    /// A[0, 0], and A's row and column strides.
    a: *const f32,
    rs_a: usize,
    cs_a: usize,
    /// B[0, j0] of the strip, and its row stride (its column stride is 1).
    b: *const f32,
    ldb: usize,
    /// C[0, j0] of the strip, and its row stride (its column stride is 1).
    c: *mut f32,
    rs_c: usize,
}

/// `C = act(alpha·A·B + beta·C + bias) + residual` for a product that [`fits`], with the bits of
/// the packed driver on `kernel`'s path (`mk`, the micro-kernel chosen for it). A transposed B is
/// first copied into row-major order in this thread's packing buffer (the driver's B packing with
/// one panel as wide as B, whose layout is then B's row-major one; eight columns at a time through
/// an 8×8 transpose on AVX2), and the kernels read the copy: the same values, the same arithmetic.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_small(
    kernel: Kernel,
    mk: &MicroKernel<f32>,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    mut c: MatMut<'_, f32>,
    epilogue: &Epilogue<'_, f32>,
) {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    if b.cs() != 1 {
        return <f32 as PackBuffers>::with_buffers(|_, copy| {
            let region = pack_b(kernel, b, n, copy);
            let b = MatRef::row_major(&copy[region], k, n);
            gemm_small(kernel, mk, alpha, a, b, beta, c, epilogue);
        });
    }
    let w = strip_width(kernel);
    // Columns before this one lie in whole NR-wide strips, which the driver stores in place.
    let direct_end = n - n % mk.nr;
    let (rs_c, a_ptr) = (c.rs(), a.as_slice().as_ptr());
    let c_ptr = c.as_mut_slice().as_mut_ptr();
    for j0 in (0..n).step_by(w) {
        let cols = w.min(n - j0);
        let strip = Strip {
            k,
            m,
            cols,
            alpha,
            beta,
            fused_beta: j0 + w <= direct_end,
            a: a_ptr,
            rs_a: a.rs(),
            cs_a: a.cs(),
            b: b.sub(0, j0, k, cols).as_slice().as_ptr(),
            ldb: b.rs(),
            c: c_ptr.wrapping_add(j0),
            rs_c,
        };
        // SAFETY: A is m×k inside its view; the strip of B has k rows of `cols` readable values
        // at stride ldb inside B's view; C's strip has m rows of `cols` values at
        // stride rs_c inside C's view, which no one else borrows during the call; `fits` checked
        // that the path is an AVX one, whose availability the caller checked.
        unsafe { run_strip(kernel, &strip) };
    }
    apply_epilogue_at(kernel, &mut c, 0, 0, epilogue);
}

/// Columns per strip on `kernel`'s path (an AVX one, see [`fits`]).
fn strip_width(kernel: Kernel) -> usize {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => avx512::W,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2Fma => avx2::W,
        _ => unreachable!("the small path runs on AVX paths only (see `fits`)"),
    }
}

/// Runs one strip on `kernel`'s path.
///
/// # Safety
/// As [`gemm_small`]'s call: the strip's pointers cover what [`Strip`] says, and the CPU has the
/// path, which is an AVX one.
unsafe fn run_strip(kernel: Kernel, strip: &Strip) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded.
        Kernel::Avx512 => unsafe { avx512::strip(strip) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded.
        Kernel::Avx2Fma => unsafe { avx2::strip(strip) },
        _ => unreachable!("the small path runs on AVX paths only (see `fits`)"),
    }
}
