//! AVX2+FMA GEMV kernels (8 lanes); see the module above for the two forms.

use std::arch::x86_64::*;

/// Columns per register block in the axpy form: 8 vectors of 8 for one row of x, 2 for two to
/// four rows (at most 8 accumulators and 2 loads of B among the 16 registers).
const fn block_for(rows: usize) -> usize {
    if rows == 1 { 8 } else { 2 }
}

/// `acc[r·n + j] = Σ_p x[r·xrs + p·xcs]·b[p·rs + j]` for the `R` rows of x at once (r < R,
/// j < n, p < k): each row of B, once loaded, serves every row of x. Whole vectors use one fused
/// multiply-add per term; the last `n % 8` columns are summed in scalar code, a multiply and
/// an add per term.
///
/// # Safety
/// `x[r·xrs + p·xcs]` readable for r < R, p < k; `b[p·rs + j]` readable for p < k, j < n;
/// `acc.len() == R·n`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
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
    // SAFETY (every call below): the block's columns j .. j + 8v lie below n; the rest is the
    // forwarded contract.
    let run = |j: usize, v: usize| unsafe {
        let (b, out) = (b.add(j), out.add(j));
        match v {
            8 => block::<R, 8>(x, k, b, rs, out, n),
            2 => block::<R, 2>(x, k, b, rs, out, n),
            _ => block::<R, 1>(x, k, b, rs, out, n),
        }
    };
    let wide = block_for(R);
    let mut j = 0;
    while j + 8 * wide <= n {
        run(j, wide);
        j += 8 * wide;
    }
    while j + 16 <= n {
        run(j, 2);
        j += 16;
    }
    while j + 8 <= n {
        run(j, 1);
        j += 8;
    }
    // Fewer than 8 columns left: scalar.
    let (x, xrs, xcs) = x;
    for r in 0..R {
        for jj in j..n {
            let mut s = 0.0;
            for p in 0..k {
                // SAFETY: r < R, p < k, jj < n (contract).
                s += unsafe { *x.add(r * xrs + p * xcs) * *b.add(p * rs + jj) };
            }
            acc[r * n + jj] = s;
        }
    }
}

/// `V` full vectors of columns for `R` rows of x; row r's sums go to `acc[r·n ..]`.
///
/// # Safety
/// `b[p·rs .. p·rs + 8V)` readable for every row p < k; `acc[r·n .. r·n + 8V)` writable for
/// r < R; x as in [`axpy_rows`].
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const R: usize, const V: usize>(
    (x, xrs, xcs): (*const f32, usize, usize),
    k: usize,
    b: *const f32,
    rs: usize,
    acc: *mut f32,
    n: usize,
) {
    let mut sums = [[_mm256_setzero_ps(); V]; R];
    for p in 0..k {
        let mut bv = [_mm256_setzero_ps(); V];
        for (v, b_v) in bv.iter_mut().enumerate() {
            // SAFETY: row p, columns 8v .. 8v + 8 are in range.
            *b_v = unsafe { _mm256_loadu_ps(b.add(p * rs + 8 * v)) };
        }
        for (r, row) in sums.iter_mut().enumerate() {
            // SAFETY: x[r, p] is readable (contract).
            let xv = _mm256_set1_ps(unsafe { *x.add(r * xrs + p * xcs) });
            for (s, &b_v) in row.iter_mut().zip(&bv) {
                *s = _mm256_fmadd_ps(xv, b_v, *s);
            }
        }
    }
    for (r, row) in sums.iter().enumerate() {
        for (v, s) in row.iter().enumerate() {
            // SAFETY: acc row r, columns 8v .. 8v + 8, are in range.
            unsafe { _mm256_storeu_ps(acc.add(r * n + 8 * v), *s) };
        }
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
