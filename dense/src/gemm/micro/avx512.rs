//! The AVX-512F micro-kernel: a 12×32 tile of C in twenty-four 512-bit registers.
//!
//! Each step of `p` loads two 16-wide vectors of the B panel row, broadcasts each of the twelve
//! A values, and issues twenty-four fused multiply-adds `acc[i][h] += a[i] · b[h]`: 24 FMAs for
//! 14 loads, enough independent chains to hide the FMA latency on both ports.

use std::arch::x86_64::*;

/// Tile rows.
pub(crate) const MR: usize = 12;
/// Tile columns (two vectors of 16).
pub(crate) const NR: usize = 32;

/// See `driver::MicroFn`.
///
/// # Safety
/// As `MicroFn`, and the CPU must support AVX-512F.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn micro(
    k: usize,
    alpha: f32,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    rs_c: usize,
) {
    // SAFETY: forwarded contract; the caller checked AVX-512F.
    unsafe { micro_impl(k, alpha, a, b, ldb, beta, c, rs_c) }
}

#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_impl(
    k: usize,
    alpha: f32,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    rs_c: usize,
) {
    let mut acc0 = [_mm512_setzero_ps(); MR];
    let mut acc1 = [_mm512_setzero_ps(); MR];
    for p in 0..k {
        // SAFETY: p < k: b[p·ldb .. p·ldb + 32] and a[p·MR .. p·MR + 12] are in range.
        unsafe {
            let bp = b.add(p * ldb);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            let ap = a.add(p * MR);
            for i in 0..MR {
                let ai = _mm512_set1_ps(*ap.add(i));
                acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
            }
        }
    }
    let va = _mm512_set1_ps(alpha);
    let vb = _mm512_set1_ps(beta);
    for i in 0..MR {
        // SAFETY: row i of the tile is c[i·rs_c .. i·rs_c + 32], inside the caller's range.
        unsafe {
            let cp = c.add(i * rs_c);
            let mut r0 = _mm512_mul_ps(va, acc0[i]);
            let mut r1 = _mm512_mul_ps(va, acc1[i]);
            if beta != 0.0 {
                r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r0);
                r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp.add(16)), r1);
            }
            _mm512_storeu_ps(cp, r0);
            _mm512_storeu_ps(cp.add(16), r1);
        }
    }
}
