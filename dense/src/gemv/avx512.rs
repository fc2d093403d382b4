//! AVX-512F GEMV kernels (16 lanes); see the module above for the two forms.

use std::arch::x86_64::*;

/// Columns per register block in the axpy form: 8 vectors of 16.
const BLOCK: usize = 8;

/// `acc[j] = Σ_p x[p]·b[p·rs + j]`, j < n.
///
/// # Safety
/// `b[p·rs + j]` readable for p < x.len(), j < n; `acc.len() == n`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn axpy_rows(x: &[f32], b: *const f32, rs: usize, n: usize, acc: &mut [f32]) {
    let mut j = 0;
    while j + 16 * BLOCK <= n {
        // SAFETY: columns j .. j + 128 are < n; forwarded contract.
        unsafe { block::<BLOCK>(x, b.add(j), rs, acc.as_mut_ptr().add(j), 0xFFFF) };
        j += 16 * BLOCK;
    }
    while j + 16 * 2 <= n {
        // SAFETY: columns j .. j + 32 are < n.
        unsafe { block::<2>(x, b.add(j), rs, acc.as_mut_ptr().add(j), 0xFFFF) };
        j += 32;
    }
    if j < n {
        // Up to 31 columns left: one or two vectors, the last one masked.
        let rem = n - j;
        if rem > 16 {
            let mask = ((1u32 << (rem - 16)) - 1) as u16;
            // SAFETY: 16 full columns then `rem - 16` masked ones, all < n.
            unsafe { block::<2>(x, b.add(j), rs, acc.as_mut_ptr().add(j), mask) };
        } else {
            let mask = ((1u32 << rem) - 1) as u16;
            // SAFETY: `rem` masked columns, all < n; masked-off lanes are never touched.
            unsafe { block::<1>(x, b.add(j), rs, acc.as_mut_ptr().add(j), mask) };
        }
    }
}

/// V vectors of columns; the last vector's lanes are limited by `last_mask`.
///
/// # Safety
/// Lanes selected by the masks are readable in every row p < x.len() and writable in `acc`.
#[target_feature(enable = "avx512f")]
unsafe fn block<const V: usize>(
    x: &[f32],
    b: *const f32,
    rs: usize,
    acc: *mut f32,
    last_mask: u16,
) {
    let mut r = [_mm512_setzero_ps(); V];
    let mask = |v: usize| if v + 1 == V { last_mask } else { 0xFFFF };
    for (p, &xp) in x.iter().enumerate() {
        let xv = _mm512_set1_ps(xp);
        for (v, rv) in r.iter_mut().enumerate() {
            // SAFETY: row p, lanes within the mask (masked loads never touch other lanes).
            let bv = unsafe { _mm512_maskz_loadu_ps(mask(v), b.add(p * rs + 16 * v)) };
            *rv = _mm512_fmadd_ps(xv, bv, *rv);
        }
    }
    for (v, rv) in r.iter().enumerate() {
        // SAFETY: acc lanes within the mask are in range.
        unsafe { _mm512_mask_storeu_ps(acc.add(16 * v), mask(v), *rv) };
    }
}

/// `acc[j] = Σ_p x[p]·b[j·cs + p]`, j < acc.len().
///
/// # Safety
/// `b[j·cs + p]` readable for j < acc.len(), p < x.len(); CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot_cols(x: &[f32], b: *const f32, cs: usize, acc: &mut [f32]) {
    let k = x.len();
    let full = k / 16 * 16;
    let tail = ((1u32 << (k - full)) - 1) as u16;
    let n = acc.len();
    let mut j = 0;
    while j < n {
        let cols = (n - j).min(4);
        let mut r = [_mm512_setzero_ps(); 4];
        let mut p = 0;
        while p < k {
            let m = if p < full { 0xFFFF } else { tail };
            // SAFETY: lanes p .. p + 16 masked to < k of x.
            let xv = unsafe { _mm512_maskz_loadu_ps(m, x.as_ptr().add(p)) };
            for (c, rc) in r.iter_mut().enumerate().take(cols) {
                // SAFETY: column j + c < n, lanes masked to rows < k.
                let bv = unsafe { _mm512_maskz_loadu_ps(m, b.add((j + c) * cs + p)) };
                *rc = _mm512_fmadd_ps(xv, bv, *rc);
            }
            p += 16;
        }
        for (c, rc) in r.iter().enumerate().take(cols) {
            acc[j + c] = _mm512_reduce_add_ps(*rc);
        }
        j += cols;
    }
}
