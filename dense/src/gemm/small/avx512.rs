//! The AVX-512F small-product kernel: a strip of 16 columns of C (one zmm per row), 8 rows at a
//! time, so 8 independent FMA chains hide the FMA latency.
//!
//! Per step `p`: one load of B's row `p` (masked in a strip narrower than 16), 8 broadcasts of
//! `A[i, p]`, 8 FMAs `acc[r] = fma(A[i0 + r, p], B[p, ·], acc[r])`, the packed kernel's chain
//! (see `super`).

use std::arch::x86_64::*;

use super::Strip;
use crate::vmath::avx512::{load16, store16, tail};

/// Columns per strip.
pub(super) const W: usize = 16;
/// Rows per block.
const R: usize = 8;

/// Computes the strip's `m × cols` block of C (see `Strip`).
///
/// # Safety
/// The strip's pointers cover what `Strip` says, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn strip(s: &Strip) {
    let mask = tail(s.cols);
    for i0 in (0..s.m).step_by(R) {
        let rows = R.min(s.m - i0);
        // SAFETY: forwarded contract; rows i0..i0 + rows exist.
        unsafe {
            let acc = chains(s, i0, rows, mask);
            store(s, i0, rows, mask, &acc);
        }
    }
}

/// `acc[r] = Σ_p A[i0 + r, p]·B[p, ·]` in order of p from +0, one FMA per step. Rows past `rows`
/// re-read row `i0` (their sums are never stored).
///
/// # Safety
/// As `strip`.
#[target_feature(enable = "avx512f")]
unsafe fn chains(s: &Strip, i0: usize, rows: usize, mask: Option<u16>) -> [__m512; R] {
    let arow: [*const f32; R] = std::array::from_fn(|r| {
        let i = i0 + if r < rows { r } else { 0 };
        s.a.wrapping_add(i * s.rs_a)
    });
    let mut acc = [_mm512_setzero_ps(); R];
    for p in 0..s.k {
        // SAFETY: p < k, so B's row p has `cols` readable values (the mask loads no others), and
        // A[i, p] exists for every row i read.
        unsafe {
            let bp = load16(s.b.add(p * s.ldb), mask);
            for r in 0..R {
                let ap = _mm512_set1_ps(*arow[r].add(p * s.cs_a));
                acc[r] = _mm512_fmadd_ps(ap, bp, acc[r]);
            }
        }
    }
    acc
}

/// `C = alpha·acc`, or merged with the old C as the packed driver merges these columns
/// (`fma(beta, C, t)` or `t + beta·C`), rows `i0..i0 + rows`.
///
/// # Safety
/// As `strip`.
#[target_feature(enable = "avx512f")]
unsafe fn store(s: &Strip, i0: usize, rows: usize, mask: Option<u16>, acc: &[__m512; R]) {
    let (va, vb) = (_mm512_set1_ps(s.alpha), _mm512_set1_ps(s.beta));
    for (r, &sum) in acc.iter().enumerate().take(rows) {
        // SAFETY: row i0 + r < m of the strip has `cols` writable values (the mask touches no
        // others).
        unsafe {
            let cp = s.c.add((i0 + r) * s.rs_c);
            let mut v = _mm512_mul_ps(va, sum);
            if s.beta != 0.0 {
                let old = load16(cp, mask);
                v = if s.fused_beta {
                    _mm512_fmadd_ps(vb, old, v)
                } else {
                    _mm512_add_ps(v, _mm512_mul_ps(vb, old))
                };
            }
            store16(cp, mask, v);
        }
    }
}
