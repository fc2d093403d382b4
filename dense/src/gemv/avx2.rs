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
    // Fewer than 8 columns left: scalar, in strips of 4, 2 and 1 columns.
    let (x, xrs, xcs) = x;
    for r in 0..R {
        // SAFETY: row r < R of x (contract).
        let x_row = (unsafe { x.add(r * xrs) }, xcs);
        let mut jj = j;
        for width in [4, 2, 1] {
            while n - jj >= width {
                let out = &mut acc[r * n + jj..r * n + jj + width];
                // SAFETY: columns jj .. jj + width < n (contract).
                let b = unsafe { b.add(jj) };
                match width {
                    // SAFETY (each): as above.
                    4 => unsafe { scalar_strip::<4>(x_row, k, b, rs, out) },
                    2 => unsafe { scalar_strip::<2>(x_row, k, b, rs, out) },
                    _ => unsafe { scalar_strip::<1>(x_row, k, b, rs, out) },
                }
                jj += width;
            }
        }
    }
}

/// `out[c] = Σ_p x[p·xcs]·b[p·rs + c]` for the `W` columns c < W, a multiply and an add per
/// term, p in order. The `W` sums go down the rows side by side, so their chains of dependent
/// additions overlap; summed one column after another, each chain waited for the one before.
///
/// # Safety
/// `x[p·xcs]` and `b[p·rs + c]` readable for p < k, c < W; `out.len() == W`.
#[target_feature(enable = "avx2,fma")]
unsafe fn scalar_strip<const W: usize>(
    (x, xcs): (*const f32, usize),
    k: usize,
    b: *const f32,
    rs: usize,
    out: &mut [f32],
) {
    let mut s = [0.0f32; W];
    for p in 0..k {
        // SAFETY: p < k (contract).
        let xp = unsafe { *x.add(p * xcs) };
        for (c, sc) in s.iter_mut().enumerate() {
            // SAFETY: p < k, c < W (contract).
            *sc += xp * unsafe { *b.add(p * rs + c) };
        }
    }
    out.copy_from_slice(&s);
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

/// `acc[c] = Σ_p x[p]·b[c·cs + p]` for the `C` columns c < C (at most 8: eight accumulators and
/// a load of x among the 16 registers), each with its own accumulator so that their chains of
/// fused multiply-adds overlap. `C` is a constant so that the loop over the columns unrolls
/// (with a count known only at run time the compiler kept a loop, with a compare and a jump
/// around each multiply-add). The last `k % 8` terms are scalar, a multiply
/// and an add each, added after the lanes' sum (`+0.0` when k < 8, as the sum of zero lanes).
///
/// # Safety
/// `b[c·cs + p]` readable for c < C, p < x.len(); `acc.len() == C`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_block<const C: usize>(
    x: &[f32],
    b: *const f32,
    cs: usize,
    acc: &mut [f32],
) {
    let k = x.len();
    let full = k / 8 * 8;
    let mut r = [_mm256_setzero_ps(); C];
    for p in (0..full).step_by(8) {
        // SAFETY: p + 8 ≤ k.
        let xv = unsafe { _mm256_loadu_ps(x.as_ptr().add(p)) };
        for (c, rc) in r.iter_mut().enumerate() {
            // SAFETY: column c < C, rows p .. p + 8 ≤ k.
            let bv = unsafe { _mm256_loadu_ps(b.add(c * cs + p)) };
            *rc = _mm256_fmadd_ps(xv, bv, *rc);
        }
    }
    for (c, (out, rc)) in acc.iter_mut().zip(r).enumerate() {
        let mut s = if full == 0 { 0.0 } else { hsum(rc) };
        for (p, &xp) in x.iter().enumerate().skip(full) {
            // SAFETY: column c < C, row p < k.
            s += xp * unsafe { *b.add(c * cs + p) };
        }
        *out = s;
    }
}
