//! The AVX2+FMA micro-kernel: a 6×16 tile of C in twelve 256-bit registers.
//!
//! Each step of `p` loads two 8-wide vectors of the B panel row, broadcasts each of the six A
//! values, and issues twelve fused multiply-adds `acc[i][h] += a[i] · b[h]`.

use std::arch::x86_64::*;

/// Tile rows.
pub(crate) const MR: usize = 6;
/// Tile columns (two vectors of 8).
pub(crate) const NR: usize = 16;

/// See `driver::MicroFn`.
///
/// # Safety
/// As `MicroFn`, and the CPU must support AVX2 and FMA.
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
    // SAFETY: forwarded contract; the caller checked AVX2+FMA.
    unsafe { micro_impl(k, alpha, a, b, ldb, beta, c, rs_c) }
}

#[target_feature(enable = "avx2,fma")]
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
    let mut acc0 = [_mm256_setzero_ps(); MR];
    let mut acc1 = [_mm256_setzero_ps(); MR];
    for p in 0..k {
        // SAFETY: p < k: b[p·ldb .. p·ldb + 16] and a[p·MR .. p·MR + 6] are in range.
        unsafe {
            let bp = b.add(p * ldb);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            let ap = a.add(p * MR);
            for i in 0..MR {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
            }
        }
    }
    let va = _mm256_set1_ps(alpha);
    let vb = _mm256_set1_ps(beta);
    for i in 0..MR {
        // SAFETY: row i of the tile is c[i·rs_c .. i·rs_c + 16], inside the caller's range.
        unsafe {
            let cp = c.add(i * rs_c);
            let mut r0 = _mm256_mul_ps(va, acc0[i]);
            let mut r1 = _mm256_mul_ps(va, acc1[i]);
            if beta != 0.0 {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cp), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cp.add(8)), r1);
            }
            _mm256_storeu_ps(cp, r0);
            _mm256_storeu_ps(cp.add(8), r1);
        }
    }
}
