//! The blocked GEMM driver (the BLIS loop nest), shared by every kernel path.
//!
//! ```text
//! for jc in 0..n step NC            B block  KC×NC  → packed once, lives in L3
//!   for pc in 0..k step KC          (beta applies to the first KC slice only)
//!     pack B[pc.., jc..]
//!     for ic in 0..m step MC        A block  MC×KC  → packed, lives in L2
//!       pack A[ic.., pc..]
//!       for jr in 0..NC step NR     B micro-panel KC×NR stays in L1
//!         for ir in 0..MC step MR   A micro-panel MR×KC streams from L2
//!           micro-kernel: C[MR×NR] (registers) += A panel · B panel
//! ```
//!
//! Why this is fast: the `MR×NR` tile of C lives in registers for the whole `KC` loop, so each
//! step of the innermost loop loads `MR + NR` numbers and does `MR·NR` fused multiply-adds. The
//! blocks are sized so what is reused most sits in the closest cache. Bias, activation and residual
//! are applied to each MC×NC block of C as soon as its last KC slice is done, while it is in cache.
//!
//! When the row count is small (a few micro-panels, more when B's rows are short) and B has unit
//! column stride, packing B would cost more than it saves: the kernel then reads B in place
//! (`ldb = rs_b`), and only a ragged last column strip is packed. A is read in place when it is
//! row-major and C has at most 256 columns, or when it is column-major with a short column stride
//! (a transposed matrix, like the `xᵀ` of a weight gradient): there the MR values of each step
//! already lie side by side, as a packed panel holds them. Edge tiles (fewer than `MR` rows or `NR`
//! columns) and C views without unit column stride go through a small scratch tile.

use std::cell::RefCell;

use super::pack::{pack_a, pack_b};
use super::{Epilogue, apply_epilogue_at};
use crate::kernel::Kernel;
use crate::scalar::Scalar;
use crate::view::{MatMut, MatRef};

/// A micro-kernel: `C[i, j] = alpha·Σ_p A[i, p]·b[p·ldb + j] + beta·C[i, j]` for
/// `i < rows ≤ MR`, `j < NR` (C has unit column stride and row stride `rs_c`; when
/// `beta == 0` C is not read). A is either a packed panel, `A[i, p] = a[p·MR + i]`, zero-padded
/// to MR rows so a short last panel costs no special case (the kernel just stores fewer rows),
/// or a row-major block read in place, `A[i, p] = a[i·rs_a + p]`, of which only `rows` rows exist.
///
/// # Safety
/// `a` must point to `k·MR` readable values (packed) or `rows` rows of `k` values at stride
/// `rs_a` (in place), `b` to `(k-1)·ldb + NR` (or none when `k == 0`), `c` to
/// `(rows-1)·rs_c + NR` writable values, and the CPU must support the kernel's features.
pub(crate) type MicroFn<T> = unsafe fn(
    k: usize,
    alpha: T,
    a: *const T,
    rs_a: usize,
    b: *const T,
    ldb: usize,
    beta: T,
    c: *mut T,
    rs_c: usize,
    rows: usize,
);

/// A micro-kernel with its register tile and cache block sizes.
pub(crate) struct MicroKernel<T> {
    /// Rows of the register tile.
    pub mr: usize,
    /// Columns of the register tile.
    pub nr: usize,
    /// Depth of one packed block (B micro-panel `KC×NR` should fit L1).
    pub kc: usize,
    /// Rows of one packed A block (`MC×KC` should fit L2); a multiple of `mr`.
    pub mc: usize,
    /// Columns of one packed B block (`KC×NC` should fit L3); a multiple of `nr`.
    pub nc: usize,
    /// The kernel reading packed A.
    pub run_packed: MicroFn<T>,
    /// The kernel reading a row-major A in place.
    pub run_rowa: MicroFn<T>,
    /// The kernel reading a column-major A in place (its `rs_a` argument is A's column stride).
    pub run_cola: MicroFn<T>,
}

/// Reusable packing buffers, one set per thread and element type, so steady-state GEMMs do not
/// allocate.
pub(crate) trait PackBuffers: Sized {
    /// Runs `f` with this thread's (A, B) buffers, which keep their capacity between calls.
    fn with_buffers<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R;
}

thread_local! {
    static BUF_F32: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    static BUF_F64: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

macro_rules! impl_pack_buffers {
    ($t:ty, $cell:ident) => {
        impl PackBuffers for $t {
            fn with_buffers<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R {
                // Take the buffers out while in use: a nested call (none today) would simply
                // start from empty buffers instead of failing a RefCell borrow.
                let (mut a, mut b) = $cell.with(|c| std::mem::take(&mut *c.borrow_mut()));
                let r = f(&mut a, &mut b);
                $cell.with(|c| *c.borrow_mut() = (a, b));
                r
            }
        }
    };
}
impl_pack_buffers!(f32, BUF_F32);
impl_pack_buffers!(f64, BUF_F64);

/// Row counts up to this many micro-panels read B in place instead of packing it (B is then
/// reused at most this many times, and its rows are read where they are).
const NO_PACK_B_PANELS: usize = 8;
/// When B's rows lie at most [`SHORT_B_ROW_STRIDE`] elements apart, row counts up to this many
/// micro-panels read B in place too. A weight gradient `xᵀ·z̄` over a batch has as many rows as
/// the layer has inputs (64 is 11 AVX2 panels of 6) and thousands of steps of depth, so packing
/// B copies the whole `z̄`, a megabyte at batch 4096, for 11 uses of each panel. Reading it in
/// place measured 1.07–1.10× as fast on AVX2 at `64×1024ᵀ·1024×64` and `64×4096ᵀ·4096×64`, and
/// 1.04–1.06× on AVX-512 at `128×1024ᵀ·1024×64` and `480×1024ᵀ·1024×64`; from about 40 panels
/// on, packing is as fast or faster (best of 1,000, scratch program, both paths).
const NO_PACK_B_PANELS_SHORT_ROWS: usize = 40;
/// The longest row stride of B, in elements (1 KiB of `f32`), that [`NO_PACK_B_PANELS_SHORT_ROWS`]
/// applies to. With longer strides the `KC` rows of one in-place micro-panel fall on few cache
/// sets (at 1,024 elements, 4 KiB apart, all on the same ones) and evict each other: reading in
/// place ran `64×1024ᵀ·1024×1024` 0.91× and `128×1024ᵀ·1024×1024` 0.85× as fast as packing on
/// AVX2.
const SHORT_B_ROW_STRIDE: usize = 256;

/// Whether the micro-kernels read B where it lies (`ldb = rs_b`) instead of packing it: its rows
/// must be contiguous, and C must have few enough micro-panels of rows that a packed copy of B
/// would not be reused enough to repay the copy.
fn read_b_in_place<T: Copy>(b: &MatRef<'_, T>, m: usize, mr: usize) -> bool {
    let panel_limit = if b.rs() <= SHORT_B_ROW_STRIDE {
        NO_PACK_B_PANELS_SHORT_ROWS
    } else {
        NO_PACK_B_PANELS
    };
    b.cs() == 1 && m.div_ceil(mr) <= panel_limit
}
/// A row-major A is read in place instead of packed when C has at most this many columns (each
/// row panel of A is then used by at most 256/NR column strips: 8 on AVX-512, 16 on AVX2). It
/// was 4 strips (128 and 64 columns). With 256 columns, `1024×64·64×256` (a transformer's MLP
/// layer) ran 1.05× as fast on AVX-512 and 1.02× on AVX2, `1024×1024·1024×256` 1.08× on AVX-512,
/// `1024×64·64×128` 1.05× on AVX2 (best of 1,000, scratch program). Beyond it packing pays: at
/// 16 strips of 32 (`2048×64·64×512`) the in-place read ran 0.94× as fast on AVX-512.
const NO_PACK_A_MAX_COLS: usize = 256;

/// A column-major A is read in place (not packed) up to this column stride, in elements: one
/// micro-panel's `KC` steps then span at most 256 KiB, 64 pages of 4 KiB. Longer strides spread
/// each panel over more pages than the first-level TLB holds: at 512 the in-place read ran the
/// 512³ product 10% slower than packing on AVX-512 and 15% slower on AVX2 (at 64 and 256 it
/// was as fast or faster).
const COLUMN_MAJOR_A_MAX_STRIDE: usize = 256;
/// On AVX2, a column-major A is read in place only when C has at most this many columns (8
/// strips of NR = 16): every strip re-reads the whole A block, and when A is read in place each
/// of its micro-panels touches a cache line per step of depth, 256 lines per `KC`, which the L1
/// cannot keep for the next strip. A wider C packs A once per block instead. The weight
/// gradients of a transformer block: `64×1024ᵀ·1024×192` ran at 85.5 and 88.3 GFLOP/s packed
/// against 79.4 and 81.7 in place, `64×1024ᵀ·1024×256` at 79.3–85.1 against 78.3–83.4 (two runs
/// each, a scratch program); the GPT training step of `benches/benches/transformer.rs`, 32 × 32
/// on one thread, took 10.49–10.72 ms against 10.64–10.81 in six alternated runs, faster in five
/// (the 2-core AMD EPYC, 1 Dec). AVX-512 was not measured, and keeps reading such an A in place.
const COLUMN_MAJOR_A_MAX_COLS_AVX2: usize = 128;

/// The blocked loop nest; shapes were checked by the caller and `k > 0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed<T: Scalar + PackBuffers>(
    kernel: Kernel,
    mk: &MicroKernel<T>,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    epilogue: &Epilogue<'_, T>,
) {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    let (mr, nr) = (mk.mr, mk.nr);
    let pack_all_b = !read_b_in_place(&b, m, mr);
    let direct_c = c.cs() == 1;
    // A is read in place when its rows are reused too few times to repay a copy, or when it is
    // column-major (a transposed matrix) with short columns: then the MR values of each step
    // already lie side by side, as packing would place them, and the copy would only transpose
    // it (on AVX2 only while C is narrow, `COLUMN_MAJOR_A_MAX_COLS_AVX2`).
    // (The kernel, and for an A read in place the stride its `rs_a` argument carries.)
    let (run, in_place_stride) = if a.cs() == 1 && n.div_ceil(nr) * nr <= NO_PACK_A_MAX_COLS {
        (mk.run_rowa, Some(a.rs()))
    } else if a.rs() == 1
        && a.cs() != 1
        && a.cs() <= COLUMN_MAJOR_A_MAX_STRIDE
        && (kernel != Kernel::Avx2Fma || n <= COLUMN_MAJOR_A_MAX_COLS_AVX2)
    {
        (mk.run_cola, Some(a.cs()))
    } else {
        (mk.run_packed, None)
    };
    let in_place_a = in_place_stride.is_some();
    T::with_buffers(|abuf, bbuf| {
        let mut tile = [T::ZERO; 16 * 32];
        debug_assert!(mr * nr <= tile.len());
        for jc in (0..n).step_by(mk.nc) {
            let nc = mk.nc.min(n - jc);
            for pc in (0..k).step_by(mk.kc) {
                let kc = mk.kc.min(k - pc);
                let beta_eff = if pc == 0 { beta } else { T::ONE };
                let last_k = pc + kc == k;
                let bsub = b.sub(pc, jc, kc, nc);
                let b0 = if pack_all_b {
                    pack_b(kernel, bsub, nr, bbuf).start
                } else if nc % nr != 0 {
                    // Only the ragged last strip needs zero padding.
                    let j_last = nc - nc % nr;
                    pack_b(kernel, bsub.sub(0, j_last, kc, nc - j_last), nr, bbuf).start
                } else {
                    0
                };
                for ic in (0..m).step_by(mk.mc) {
                    let mc = mk.mc.min(m - ic);
                    let ablock = a.sub(ic, pc, mc, kc);
                    let a0 = if in_place_a {
                        0
                    } else {
                        pack_a(ablock, mr, abuf).start
                    };
                    // Tile pointers by offset from each operand's first element (`sub` per tile,
                    // with its bounds check, cost several percent of a thin product's time).
                    let a_first = ablock.as_slice().as_ptr();
                    for (q, jr) in (0..nc).step_by(nr).enumerate() {
                        let nrr = nr.min(nc - jr);
                        // (pointer to the B panel, its row stride)
                        let (bptr, ldb) = if pack_all_b {
                            (bbuf[b0 + q * kc * nr..].as_ptr(), nr)
                        } else if nrr == nr {
                            (bsub.sub(0, jr, kc, nr).as_slice().as_ptr(), b.rs())
                        } else {
                            (bbuf[b0..].as_ptr(), nr)
                        };
                        for (p, ir) in (0..mc).step_by(mr).enumerate() {
                            let mrr = mr.min(mc - ir);
                            // (pointer to the A panel, its row stride when read in place)
                            let (aptr, rs_a) = match in_place_stride {
                                // SAFETY: row ir < mc of the A block lies inside its view.
                                Some(stride) => (unsafe { a_first.add(ir * ablock.rs()) }, stride),
                                None => (abuf[a0 + p * kc * mr..].as_ptr(), 0),
                            };
                            let (i, j) = (ic + ir, jc + jr);
                            if direct_c && nrr == nr {
                                let rs_c = c.rs();
                                // SAFETY: element (i, j) lies inside C's view (i < m, j < n).
                                let cptr =
                                    unsafe { c.as_mut_slice().as_mut_ptr().add(i * rs_c + j) };
                                // SAFETY: the A panel holds kc·mr packed values (or is the
                                // mrr×kc block in place, row- or column-major, inside A's view,
                                // rows past mrr reading row 0) and the B panel kc rows of
                                // stride ldb with nr readable values each (packed, or in place
                                // because this strip has all nr columns); the C tile is the
                                // mrr×nr block at (i, j) of C, whose column stride is 1, so its
                                // (mrr-1)·rs_c + nr elements from `cptr` are inside C's slice;
                                // `mk` was chosen for `kernel`, whose availability the caller
                                // checked.
                                unsafe {
                                    run(kc, alpha, aptr, rs_a, bptr, ldb, beta_eff, cptr, rs_c, mrr)
                                };
                            } else {
                                let mut ctile = c.sub(i, j, mrr, nrr);
                                let scratch = tile.as_mut_ptr();
                                // SAFETY: same operands; C is the local scratch tile of
                                // mr·nr ≥ mrr·nr values with row stride nr.
                                unsafe {
                                    run(kc, alpha, aptr, rs_a, bptr, ldb, T::ZERO, scratch, nr, mrr)
                                };
                                merge_tile(&tile[..mrr * nr], nr, beta_eff, &mut ctile);
                            }
                        }
                    }
                    if last_k {
                        // The fused epilogue: bias, activation and residual on this MC×NC block
                        // of C right after its last update, while it is still in cache (one call
                        // per block, so the activation's constants are set up once, not once per
                        // tile).
                        let mut block = c.sub(ic, jc, mc, nc);
                        apply_epilogue_at(kernel, &mut block, ic, jc, epilogue);
                    }
                }
            }
        }
    });
}

/// `C = tile + beta·C` for an edge tile held in the scratch buffer (row stride `ld`).
fn merge_tile<T: Scalar>(tile: &[T], ld: usize, beta: T, c: &mut MatMut<'_, T>) {
    let cols = c.cols();
    for i in 0..c.rows() {
        let src = &tile[i * ld..i * ld + cols];
        if let Some(row) = c.row_mut(i) {
            if beta == T::ZERO {
                row.copy_from_slice(src);
            } else {
                row.iter_mut()
                    .zip(src)
                    .for_each(|(x, &t)| *x = t + beta * *x);
            }
        } else {
            for (j, &t) in src.iter().enumerate() {
                let v = if beta == T::ZERO {
                    t
                } else {
                    t + beta * c.get(i, j)
                };
                c.set(i, j, v);
            }
        }
    }
}
