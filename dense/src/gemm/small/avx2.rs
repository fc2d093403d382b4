//! The AVX2+FMA small-product kernel: a strip of 16 columns of C (two ymm per row), 4 rows at a
//! time, so 8 independent FMA chains hide the FMA latency.
//!
//! Per step `p`: two (masked) loads of B's row `p`, 4 broadcasts of `A[i, p]`, 8 FMAs
//! `acc[r][h] = fma(A[i0 + r, p], B[p, 8h..8h + 8], acc[r][h])`, the packed kernel's chain (see
//! `super`).

use std::arch::x86_64::*;

use super::Strip;
use crate::vmath::avx2::{load8, store8};

/// Columns per strip.
pub(super) const W: usize = 16;
/// Rows per block.
const R: usize = 4;

/// Lane masks of the strip's two halves: lane `l` of half `h` is loaded and stored iff
/// `8h + l < cols` (the sign bit of each lane).
type Masks = [__m256i; 2];

/// Computes the strip's `m × cols` block of C (see `Strip`).
///
/// # Safety
/// The strip's pointers cover what `Strip` says, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn strip(s: &Strip) {
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let cols = _mm256_set1_epi32(s.cols as i32);
    let mask: Masks = [
        _mm256_cmpgt_epi32(cols, lanes),
        _mm256_cmpgt_epi32(cols, _mm256_add_epi32(lanes, _mm256_set1_epi32(8))),
    ];
    for i0 in (0..s.m).step_by(R) {
        let rows = R.min(s.m - i0);
        // SAFETY: forwarded contract; rows i0..i0 + rows exist.
        unsafe {
            let acc = if s.cols == W {
                chains::<true>(s, i0, rows, mask)
            } else {
                chains::<false>(s, i0, rows, mask)
            };
            store(s, i0, rows, mask, &acc);
        }
    }
}

/// `acc[r] = Σ_p A[i0 + r, p]·B[p, ·]` in order of p from +0, one FMA per step (B's rows loaded
/// whole when `FULL`, else through the mask). Rows past `rows` re-read row `i0`.
///
/// # Safety
/// As `strip`.
#[target_feature(enable = "avx2,fma")]
unsafe fn chains<const FULL: bool>(
    s: &Strip,
    i0: usize,
    rows: usize,
    mask: Masks,
) -> [[__m256; 2]; R] {
    let arow: [*const f32; R] = std::array::from_fn(|r| {
        let i = i0 + if r < rows { r } else { 0 };
        s.a.wrapping_add(i * s.rs_a)
    });
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for p in 0..s.k {
        // SAFETY: p < k, so B's row p has `cols` readable values (all W when FULL; the mask loads
        // no others), and A[i, p] exists for every row i read.
        unsafe {
            let row = s.b.add(p * s.ldb);
            let bp: [__m256; 2] = if FULL {
                [_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8))]
            } else {
                [
                    _mm256_maskload_ps(row, mask[0]),
                    _mm256_maskload_ps(row.wrapping_add(8), mask[1]),
                ]
            };
            for r in 0..R {
                let ap = _mm256_set1_ps(*arow[r].add(p * s.cs_a));
                acc[r][0] = _mm256_fmadd_ps(ap, bp[0], acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(ap, bp[1], acc[r][1]);
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
#[target_feature(enable = "avx2,fma")]
unsafe fn store(s: &Strip, i0: usize, rows: usize, mask: Masks, acc: &[[__m256; 2]; R]) {
    let (va, vb) = (_mm256_set1_ps(s.alpha), _mm256_set1_ps(s.beta));
    for (r, sums) in acc.iter().enumerate().take(rows) {
        for (h, (&sum, &mask)) in sums.iter().zip(&mask).enumerate() {
            // SAFETY: row i0 + r < m of the strip has `cols` writable values (the mask touches
            // no others; a wholly masked half is never accessed).
            unsafe {
                // Whole half-rows plainly, only the ragged ones through the mask: on an EPYC a
                // batch-64 MLP step spent 5.7% of its time in this kernel's masked stores when
                // every half-row took them, and ran in 28–29 µs instead of 30–32 without.
                let whole = s.cols >= 8 * (h + 1);
                let cp = s.c.wrapping_add((i0 + r) * s.rs_c + 8 * h);
                store_half(s, cp, (!whole).then_some(mask), sum, va, vb)
            };
        }
    }
}

/// One half-row of C at `cp`: `alpha·sum`, merged with the old values as the packed driver
/// merges them; all 8 lanes, or with `Some(mask)` the lanes the mask selects.
///
/// # Safety
/// The lanes touched of `cp` are inside the strip's row, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn store_half(
    s: &Strip,
    cp: *mut f32,
    mask: Option<__m256i>,
    sum: __m256,
    va: __m256,
    vb: __m256,
) {
    let mut v = _mm256_mul_ps(va, sum);
    // SAFETY: forwarded: the lanes touched of `cp` are inside the strip's row.
    unsafe {
        if s.beta != 0.0 {
            let old = load8(cp, mask);
            v = if s.fused_beta {
                _mm256_fmadd_ps(vb, old, v)
            } else {
                _mm256_add_ps(v, _mm256_mul_ps(vb, old))
            };
        }
        store8(cp, mask, v);
    }
}
