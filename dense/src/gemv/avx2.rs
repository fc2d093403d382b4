//! AVX2+FMA GEMV kernels (8 lanes); see the module above for the two forms.

use std::arch::x86_64::*;

/// Columns per register block in the axpy form: 8 vectors of 8.
const BLOCK: usize = 8;

/// `acc[j] = Σ_p x[p]·b[p·rs + j]`, j < n.
///
/// # Safety
/// `b[p·rs + j]` readable for p < x.len(), j < n; `acc.len() == n`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn axpy_rows(x: &[f32], b: *const f32, rs: usize, n: usize, acc: &mut [f32]) {
    let mut j = 0;
    while j + 8 * BLOCK <= n {
        // SAFETY: columns j .. j + 64 are < n; forwarded contract.
        unsafe { block::<BLOCK>(x, b.add(j), rs, acc.as_mut_ptr().add(j)) };
        j += 8 * BLOCK;
    }
    while j + 8 * 2 <= n {
        // SAFETY: columns j .. j + 16 are < n.
        unsafe { block::<2>(x, b.add(j), rs, acc.as_mut_ptr().add(j)) };
        j += 16;
    }
    while j + 8 <= n {
        // SAFETY: columns j .. j + 8 are < n.
        unsafe { block::<1>(x, b.add(j), rs, acc.as_mut_ptr().add(j)) };
        j += 8;
    }
    // Fewer than 8 columns left: scalar.
    for (jj, a) in acc.iter_mut().enumerate().skip(j) {
        let mut s = 0.0;
        for (p, &xp) in x.iter().enumerate() {
            // SAFETY: p < x.len(), jj < n.
            s += xp * unsafe { *b.add(p * rs + jj) };
        }
        *a = s;
    }
}

/// V full vectors of columns.
///
/// # Safety
/// `b[p·rs + 8V)` readable for every row p < x.len(); `acc[..8V]` writable.
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const V: usize>(x: &[f32], b: *const f32, rs: usize, acc: *mut f32) {
    let mut r = [_mm256_setzero_ps(); V];
    for (p, &xp) in x.iter().enumerate() {
        let xv = _mm256_set1_ps(xp);
        for (v, rv) in r.iter_mut().enumerate() {
            // SAFETY: row p, columns 8v .. 8v + 8 are in range.
            let bv = unsafe { _mm256_loadu_ps(b.add(p * rs + 8 * v)) };
            *rv = _mm256_fmadd_ps(xv, bv, *rv);
        }
    }
    for (v, rv) in r.iter().enumerate() {
        // SAFETY: acc[8v .. 8v + 8] is in range.
        unsafe { _mm256_storeu_ps(acc.add(8 * v), *rv) };
    }
}

/// Horizontal sum of the 8 lanes.
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// `acc[j] = Σ_p x[p]·b[j·cs + p]`, j < acc.len().
///
/// # Safety
/// `b[j·cs + p]` readable for j < acc.len(), p < x.len(); CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_cols(x: &[f32], b: *const f32, cs: usize, acc: &mut [f32]) {
    let k = x.len();
    let full = k / 8 * 8;
    let n = acc.len();
    let mut j = 0;
    while j < n {
        let cols = (n - j).min(4);
        let mut r = [_mm256_setzero_ps(); 4];
        for p in (0..full).step_by(8) {
            // SAFETY: p + 8 ≤ k.
            let xv = unsafe { _mm256_loadu_ps(x.as_ptr().add(p)) };
            for (c, rc) in r.iter_mut().enumerate().take(cols) {
                // SAFETY: column j + c < n, rows p .. p + 8 ≤ k.
                let bv = unsafe { _mm256_loadu_ps(b.add((j + c) * cs + p)) };
                *rc = _mm256_fmadd_ps(xv, bv, *rc);
            }
        }
        for c in 0..cols {
            let mut s = hsum(r[c]);
            for (p, &xp) in x.iter().enumerate().skip(full) {
                // SAFETY: column j + c < n, row p < k.
                s += xp * unsafe { *b.add((j + c) * cs + p) };
            }
            acc[j + c] = s;
        }
        j += cols;
    }
}
