//! AVX-512F GEMV kernels (16 lanes); see the module above for the two forms.

use std::arch::x86_64::*;

use crate::vmath::avx512::{load16, store16, tail};

/// Columns per register block in the axpy form: 8 vectors of 16 for one row of x, 4 for two
/// to four rows (16 accumulators and 4 loads of B among the 32 registers).
const fn block_for(rows: usize) -> usize {
    if rows == 1 { 8 } else { 4 }
}

/// `acc[r·n + j] = Σ_p x[r·xrs + p·xcs]·b[p·rs + j]` for the `R` rows of x at once (r < R,
/// j < n, p < k): each row of B, once loaded, serves every row of x.
///
/// # Safety
/// `x[r·xrs + p·xcs]` readable for r < R, p < k; `b[p·rs + j]` readable for p < k, j < n;
/// `acc.len() == R·n`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn axpy_rows<const R: usize>(
    x: (*const f32, usize, usize),
    k: usize,
    b: *const f32,
    rs: usize,
    n: usize,
    acc: &mut [f32],
) {
    debug_assert_eq!(acc.len(), R * n);
    let out = acc.as_mut_ptr();
    // SAFETY (every call below): the block's columns j .. (masked) lie below n; the rest is the
    // forwarded contract.
    let run = |j: usize, v: usize, mask: Option<u16>| unsafe {
        let (b, out) = (b.add(j), out.add(j));
        match v {
            8 => block::<R, 8>(x, k, b, rs, out, n, mask),
            4 => block::<R, 4>(x, k, b, rs, out, n, mask),
            2 => block::<R, 2>(x, k, b, rs, out, n, mask),
            _ => block::<R, 1>(x, k, b, rs, out, n, mask),
        }
    };
    let wide = block_for(R);
    let mut j = 0;
    while j + 16 * wide <= n {
        run(j, wide, None);
        j += 16 * wide;
    }
    while j + 32 <= n {
        run(j, 2, None);
        j += 32;
    }
    if j < n {
        // Up to 31 columns left: one or two vectors, the last one masked if it is not whole.
        let rem = n - j;
        if rem > 16 {
            run(j, 2, tail(rem - 16));
        } else {
            run(j, 1, tail(rem));
        }
    }
}

/// `V` vectors of columns for `R` rows of x; the last vector's lanes are limited by `last_mask`
/// (`None`: a whole vector). Row r's sums go to `acc[r·n ..]`.
///
/// # Safety
/// Lanes selected by the masks are readable in every row p < k of B and writable in each of
/// the R rows of `acc`; x as in [`axpy_rows`].
#[target_feature(enable = "avx512f")]
unsafe fn block<const R: usize, const V: usize>(
    (x, xrs, xcs): (*const f32, usize, usize),
    k: usize,
    b: *const f32,
    rs: usize,
    acc: *mut f32,
    n: usize,
    last_mask: Option<u16>,
) {
    let mut sums = [[_mm512_setzero_ps(); V]; R];
    let mask = |v: usize| if v + 1 == V { last_mask } else { None };
    for p in 0..k {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, b_v) in bv.iter_mut().enumerate() {
            // SAFETY: row p, lanes within the mask (masked loads never touch other lanes).
            *b_v = unsafe { load16(b.add(p * rs + 16 * v), mask(v)) };
        }
        for (r, row) in sums.iter_mut().enumerate() {
            // SAFETY: x[r, p] is readable (contract).
            let xv = _mm512_set1_ps(unsafe { *x.add(r * xrs + p * xcs) });
            for (s, &b_v) in row.iter_mut().zip(&bv) {
                *s = _mm512_fmadd_ps(xv, b_v, *s);
            }
        }
    }
    for (r, row) in sums.iter().enumerate() {
        for (v, s) in row.iter().enumerate() {
            // SAFETY: acc row r, lanes within the mask, are in range.
            unsafe { store16(acc.add(r * n + 16 * v), mask(v), *s) };
        }
    }
}

/// `acc[c] = Σ_p x[p]·b[c·cs + p]` for the `C` columns c < C, each with its own accumulator so
/// that their chains of fused multiply-adds overlap (`C` a constant, so the loop over the
/// columns unrolls). The rows go 16 at a time, the last `k % 16` through a mask (its other lanes
/// add `0·0`), and each column's 16 lanes are summed at the end.
///
/// # Safety
/// `b[c·cs + p]` readable for c < C, p < x.len(); `acc.len() == C`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot_block<const C: usize>(
    x: &[f32],
    b: *const f32,
    cs: usize,
    acc: &mut [f32],
) {
    let k = x.len();
    let mut r = [_mm512_setzero_ps(); C];
    for p in (0..k).step_by(16) {
        let mask = tail(k - p);
        // SAFETY: p + 16 ≤ k, or the mask selects rows p + l < k only.
        let xv = unsafe { load16(x.as_ptr().add(p), mask) };
        for (c, rc) in r.iter_mut().enumerate() {
            // SAFETY: column c < C, rows as for x.
            let bv = unsafe { load16(b.add(c * cs + p), mask) };
            *rc = _mm512_fmadd_ps(xv, bv, *rc);
        }
    }
    for (out, rc) in acc.iter_mut().zip(r) {
        *out = _mm512_reduce_add_ps(rc);
    }
}
