//! AVX2+FMA `exp` and `tanh`, 8 lanes at a time; the algorithms are documented in the parent
//! module and mirror `exp_approx` / `tanh_approx` line by line. The ragged tail of a slice is
//! read and written with masked loads and stores.

use std::arch::x86_64::*;

use super::{EXP_HI, EXP_LO, EXP_POLY, LN2_HI, LN2_LO, LOG2_E, TANH_CAP, TANH_DEN, TANH_NUM};

/// `v` rounded to the nearest integer (ties to even), as a float and as an integer, for
/// `|v| < 2²²`: adding `M = 1.5·2²³`, where the spacing of floats is exactly 1, rounds `v` once in
/// the current (nearest-even) mode, and `M` is even so ties go where `round_ties_even` sends them;
/// subtracting `M` back is exact, and the integer is the sum's bit pattern minus `M`'s. Two cheap
/// instructions instead of `round` (two micro-ops on the same ports as the FMAs) and a conversion.
#[target_feature(enable = "avx2,fma")]
fn round_to_integer(v: __m256) -> (__m256, __m256i) {
    const M: f32 = 12_582_912.0; // 1.5·2²³
    let big = _mm256_add_ps(v, _mm256_set1_ps(M));
    let n = _mm256_sub_ps(big, _mm256_set1_ps(M));
    let ni = _mm256_sub_epi32(
        _mm256_castps_si256(big),
        _mm256_set1_epi32(M.to_bits() as i32),
    );
    (n, ni)
}

/// eˣ for 8 lanes.
#[target_feature(enable = "avx2,fma")]
fn exp8(x: __m256) -> __m256 {
    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
    let xc = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(EXP_LO)),
        _mm256_set1_ps(EXP_HI),
    );
    let (n, ni) = round_to_integer(_mm256_mul_ps(xc, _mm256_set1_ps(LOG2_E)));
    // r = x - n·LN2_HI - n·LN2_LO
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    // 2ⁿ = 2^n1 · 2^n2 with n1 = n >> 1, built in the exponent field.
    let n1 = _mm256_srai_epi32::<1>(ni);
    let n2 = _mm256_sub_epi32(ni, n1);
    let bias = _mm256_set1_epi32(127);
    let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
    let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
    let y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    _mm256_blendv_ps(y, x, nan)
}

/// tanh for 8 lanes: `a·P(a²)/Q(a²)` with `a = |x|` capped at `TANH_CAP`, at most 1, the sign
/// of `x` copied back (see the parent module: 16 instructions where the `e^{2|x|}` route takes
/// about 24).
#[target_feature(enable = "avx2,fma")]
fn tanh8(x: __m256) -> __m256 {
    let [t] = tanh8s([x]);
    t
}

/// [`tanh8`] for `U` vectors at once, each step done for all `U` before the next. One vector's
/// steps form a chain of dependent instructions about 45 cycles long (six multiply-adds for `P`,
/// a division); written step by step across `U` independent vectors, the chains reach the
/// scheduler side by side and overlap. Every lane goes through the same operations as in
/// [`tanh8`], so the bits are the same.
#[target_feature(enable = "avx2,fma")]
fn tanh8s<const U: usize>(x: [__m256; U]) -> [__m256; U] {
    let sign = _mm256_set1_ps(-0.0);
    let one = _mm256_set1_ps(1.0);
    // `min` returns its second operand when either is NaN, so a NaN `a` (and then the quotient)
    // stays NaN through both.
    let a = x.map(|v| _mm256_min_ps(_mm256_set1_ps(TANH_CAP), _mm256_andnot_ps(sign, v)));
    let s = a.map(|v| _mm256_mul_ps(v, v));
    let (p, q) = (horner8s(&TANH_NUM, s), horner8s(&TANH_DEN, s));
    std::array::from_fn(|u| {
        let ratio = _mm256_div_ps(_mm256_mul_ps(a[u], p[u]), q[u]);
        _mm256_or_ps(_mm256_min_ps(one, ratio), _mm256_and_ps(x[u], sign))
    })
}

/// `c[0]·sᵏ + … + c[k]` by Horner's rule, one multiply-add per coefficient after the first, for
/// `U` vectors: each coefficient for all of them before the next.
#[target_feature(enable = "avx2,fma")]
fn horner8s<const U: usize>(c: &[f32], s: [__m256; U]) -> [__m256; U] {
    let mut acc = [_mm256_set1_ps(c[0]); U];
    for &k in &c[1..] {
        for (a, &v) in acc.iter_mut().zip(&s) {
            *a = _mm256_fmadd_ps(*a, v, _mm256_set1_ps(k));
        }
    }
    acc
}

/// Applies `f(x + bias)` to every element (bias optional, same length), `8U` at a time while
/// they last (`f` works on `U` vectors), then 8 at a time, the tail through masked loads and
/// stores; a step of fewer than `U` vectors fills `f`'s other inputs with copies of its first
/// and stores only its own results.
#[target_feature(enable = "avx2,fma")]
fn map8<const U: usize>(
    xs: &mut [f32],
    bias: Option<&[f32]>,
    f: impl Fn([__m256; U]) -> [__m256; U],
) {
    let n = xs.len();
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "bias length");
    }
    let ptr = xs.as_mut_ptr();
    let load = |j: usize| {
        // SAFETY (for every caller below): j + 8 ≤ n for xs and bias.
        unsafe {
            let v = _mm256_loadu_ps(ptr.add(j));
            match bias {
                Some(b) => _mm256_add_ps(v, _mm256_loadu_ps(b.as_ptr().add(j))),
                None => v,
            }
        }
    };
    let mut j = 0;
    while j + 8 * U <= n {
        let y = f(std::array::from_fn(|u| load(j + 8 * u)));
        for (u, yv) in y.into_iter().enumerate() {
            // SAFETY: j + 8u + 8 ≤ j + 8U ≤ n.
            unsafe { _mm256_storeu_ps(ptr.add(j + 8 * u), yv) };
        }
        j += 8 * U;
    }
    while j + 8 <= n {
        let y = f([load(j); U])[0];
        // SAFETY: j + 8 ≤ n.
        unsafe { _mm256_storeu_ps(ptr.add(j), y) };
        j += 8;
    }
    if j < n {
        let mask = tail_mask(n - j);
        // SAFETY: the mask selects lanes j + l < n only; masked-off lanes are neither read
        // (they load as 0.0) nor written.
        unsafe {
            let mut v = _mm256_maskload_ps(ptr.add(j), mask);
            if let Some(b) = bias {
                v = _mm256_add_ps(v, _mm256_maskload_ps(b.as_ptr().add(j), mask));
            }
            _mm256_maskstore_ps(ptr.add(j), mask, f([v; U])[0]);
        }
    }
}

/// The mask of the first `len` of 8 lanes (`len ≤ 8`): all ones there, zeros after, read from
/// a sliding window over 8 ones and 8 zeros.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn tail_mask(len: usize) -> __m256i {
    const WINDOW: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(len <= 8, "tail of {len} lanes");
    // SAFETY: 8 − len ≥ 0 and (8 − len) + 8 ≤ 16 values of WINDOW are read.
    unsafe { _mm256_loadu_si256(WINDOW.as_ptr().add(8 - len).cast()) }
}

/// The 8 values at `p`, or with `Some(mask)` only the lanes the mask selects (the others read
/// as 0.0). Masked loads and stores cost little on Intel cores but are slow on AMD's, so callers
/// pass a mask only for a ragged tail.
///
/// # Safety
/// The lanes read lie inside one allocation, and the CPU supports AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn load8(p: *const f32, mask: Option<__m256i>) -> __m256 {
    // SAFETY: forwarded.
    unsafe {
        match mask {
            None => _mm256_loadu_ps(p),
            Some(mask) => _mm256_maskload_ps(p, mask),
        }
    }
}

/// Writes `v` to the 8 values at `p`, or with `Some(mask)` to the lanes the mask selects (the
/// others untouched); see [`load8`].
///
/// # Safety
/// The lanes written lie inside one allocation that no one else accesses meanwhile, and the CPU
/// supports AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn store8(p: *mut f32, mask: Option<__m256i>, v: __m256) {
    // SAFETY: forwarded.
    unsafe {
        match mask {
            None => _mm256_storeu_ps(p, v),
            Some(mask) => _mm256_maskstore_ps(p, mask, v),
        }
    }
}

/// The 8×8 transpose (the layer norm's rows side by side, the GEMM's packing of a transposed B):
/// `out[l]` lane k is `rows[k]` lane l. Pairs of rows interleave their 32-bit elements, then
/// 64-bit ones (rows 4g…4g+3 of column `4q + c` now share 128-bit lane q of `u[4g + c]`), then
/// the 128-bit halves are exchanged.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn transpose8(rows: [__m256; 8]) -> [__m256; 8] {
    let t: [__m256; 8] = std::array::from_fn(|i| {
        let (a, b) = (rows[i / 2 * 2], rows[i / 2 * 2 + 1]);
        match i % 2 {
            0 => _mm256_unpacklo_ps(a, b),
            _ => _mm256_unpackhi_ps(a, b),
        }
    });
    let u: [__m256; 8] = std::array::from_fn(|i| {
        let (g, c) = (i / 4, i % 4);
        let (a, b) = (t[4 * g + c / 2], t[4 * g + c / 2 + 2]);
        match c % 2 {
            0 => _mm256_shuffle_ps::<0x44>(a, b),
            _ => _mm256_shuffle_ps::<0xEE>(a, b),
        }
    });
    // out[4q + c] = [u[c] half q, u[4 + c] half q]
    std::array::from_fn(|i| {
        let (q, c) = (i / 4, i % 4);
        match q {
            0 => _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c]),
            _ => _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c]),
        }
    })
}

/// `row = tanh(row + bias)` for `rows` rows of `cols` values, `rs` apart, in one call.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn bias_tanh_rows(
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: Option<&[f32]>,
) {
    for i in 0..rows {
        map8(&mut data[i * rs..i * rs + cols], bias, |v: [__m256; 4]| {
            tanh8s(v)
        });
    }
}

/// `row += bias` for `rows` rows of `cols` values, `rs` apart.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn bias_rows(
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: &[f32],
) {
    for i in 0..rows {
        map8(
            &mut data[i * rs..i * rs + cols],
            Some(bias),
            |v: [__m256; 4]| v,
        );
    }
}

/// `xs[i] = exp(xs[i])`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map8(xs, None, |[v]| [exp8(v)]);
}

/// `xs[i] = tanh(xs[i])`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tanh_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map8(xs, None, |v: [__m256; 4]| tanh8s(v));
}

/// `dz[i] = g[i]·(1 − y[i]²)`, the tanh backward rule from the output `y`, as `g − (g·y)·y`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the three slices have the same length.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tanh_grad(g: &[f32], y: &[f32], dz: &mut [f32]) {
    let n = dz.len();
    assert!(
        g.len() == n && y.len() == n,
        "tanh_grad: slice lengths differ"
    );
    let full = n / 8 * 8;
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ n for all three slices.
        unsafe {
            let gv = _mm256_loadu_ps(g.as_ptr().add(i));
            let yv = _mm256_loadu_ps(y.as_ptr().add(i));
            _mm256_storeu_ps(
                dz.as_mut_ptr().add(i),
                _mm256_fnmadd_ps(_mm256_mul_ps(gv, yv), yv, gv),
            );
        }
    }
    for i in full..n {
        dz[i] = super::tanh_grad_fused(g[i], y[i]);
    }
}

/// [`tanh_grad`] on a row-major `[rows, cols]` block, adding each column of `dz` into `sums`
/// (rows in order) in the same pass: strips of up to 32 columns (four whole vectors), whose sums
/// stay in registers while the strip walks down the rows; the last `cols % 8` columns one by one.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `g`, `y`, `dz` have the same length, a multiple of
/// `cols = sums.len() ≥ 1`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tanh_grad_colsum(g: &[f32], y: &[f32], dz: &mut [f32], sums: &mut [f32]) {
    let (n, cols) = (dz.len(), sums.len());
    assert!(
        g.len() == n && y.len() == n && cols > 0 && n.is_multiple_of(cols),
        "tanh_grad_colsum: slice lengths do not form rows of {cols}"
    );
    let vector_cols = cols / 8 * 8;
    for j0 in (0..vector_cols).step_by(32) {
        // SAFETY: the strip's columns j0..j0 + 8V ≤ vector_cols lie inside every row and `sums`.
        unsafe {
            match (vector_cols - j0).min(32) / 8 {
                1 => strip::<1>(g, y, dz, sums, j0),
                2 => strip::<2>(g, y, dz, sums, j0),
                3 => strip::<3>(g, y, dz, sums, j0),
                _ => strip::<4>(g, y, dz, sums, j0),
            }
        }
    }
    for (j, sum) in sums.iter_mut().enumerate().skip(vector_cols) {
        for i in (j..n).step_by(cols) {
            dz[i] = super::tanh_grad_fused(g[i], y[i]);
            *sum += dz[i];
        }
    }
}

/// One strip of `V` whole vectors (the `8V` columns from `j0`) of [`tanh_grad_colsum`].
///
/// # Safety
/// As [`tanh_grad_colsum`], and `j0 + 8V ≤ sums.len()`.
#[target_feature(enable = "avx2,fma")]
unsafe fn strip<const V: usize>(g: &[f32], y: &[f32], dz: &mut [f32], sums: &mut [f32], j0: usize) {
    let cols = sums.len();
    // SAFETY (every access below): columns j0 + 8k .. j0 + 8k + 8 ≤ j0 + 8V ≤ cols of a row
    // inside the slices.
    let mut acc = [_mm256_setzero_ps(); V];
    for (k, a) in acc.iter_mut().enumerate() {
        *a = unsafe { _mm256_loadu_ps(sums.as_ptr().add(j0 + 8 * k)) };
    }
    for base in (j0..dz.len()).step_by(cols) {
        for (k, a) in acc.iter_mut().enumerate() {
            let o = base + 8 * k;
            unsafe {
                let gv = _mm256_loadu_ps(g.as_ptr().add(o));
                let yv = _mm256_loadu_ps(y.as_ptr().add(o));
                let d = _mm256_fnmadd_ps(_mm256_mul_ps(gv, yv), yv, gv);
                _mm256_storeu_ps(dz.as_mut_ptr().add(o), d);
                *a = _mm256_add_ps(*a, d);
            }
        }
    }
    for (k, a) in acc.iter().enumerate() {
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr().add(j0 + 8 * k), *a) };
    }
}

/// Runs `f` on every 8 consecutive elements of `N` input slices and one output slice (all of
/// the same length; `f` also receives the output's old values); the ragged tail is read and
/// written with masked loads and stores (zeros past the end).
#[target_feature(enable = "avx2,fma")]
fn zip8<const N: usize>(
    inputs: [&[f32]; N],
    out: &mut [f32],
    mut f: impl FnMut([__m256; N], __m256) -> __m256,
) {
    let n = out.len();
    let full = n / 8 * 8;
    for j in (0..full).step_by(8) {
        // SAFETY: j + 8 ≤ n for every slice.
        unsafe {
            let v = inputs.map(|s| _mm256_loadu_ps(s.as_ptr().add(j)));
            let o = _mm256_loadu_ps(out.as_ptr().add(j));
            _mm256_storeu_ps(out.as_mut_ptr().add(j), f(v, o));
        }
    }
    if full < n {
        let mask = tail_mask(n - full);
        // SAFETY: the mask selects lanes full + l < n only, inside every slice.
        unsafe {
            let v = inputs.map(|s| _mm256_maskload_ps(s.as_ptr().add(full), mask));
            let o = _mm256_maskload_ps(out.as_ptr().add(full), mask);
            _mm256_maskstore_ps(out.as_mut_ptr().add(full), mask, f(v, o));
        }
    }
}

/// GELU's forward (see `super::gelu_forward_with`), 8 lanes at a time, the tail masked: the
/// element-by-element code's products and sums in its order, none fused into a multiply-add.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the three slices have the same length.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gelu_forward(x: &[f32], t: &mut [f32], y: &mut [f32]) {
    let (c, a, _) = super::gelu_constants();
    let (c, a) = (_mm256_set1_ps(c), _mm256_set1_ps(a));
    let (half, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
    // From x: t = tanh(c·(x + ((a·x)·x)·x)) and y = (½·x)·(1 + t).
    let step = |xv: __m256| {
        let cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(a, xv), xv), xv);
        let tv = tanh8(_mm256_mul_ps(c, _mm256_add_ps(xv, cube)));
        let yv = _mm256_mul_ps(_mm256_mul_ps(half, xv), _mm256_add_ps(one, tv));
        (tv, yv)
    };
    let n = x.len();
    let full = n / 8 * 8;
    for j in (0..full).step_by(8) {
        // SAFETY: j + 8 ≤ n for the three slices.
        unsafe {
            let (tv, yv) = step(_mm256_loadu_ps(x.as_ptr().add(j)));
            _mm256_storeu_ps(t.as_mut_ptr().add(j), tv);
            _mm256_storeu_ps(y.as_mut_ptr().add(j), yv);
        }
    }
    if full < n {
        let mask = tail_mask(n - full);
        // SAFETY: the mask selects lanes full + l < n only, inside the three slices.
        unsafe {
            let (tv, yv) = step(_mm256_maskload_ps(x.as_ptr().add(full), mask));
            _mm256_maskstore_ps(t.as_mut_ptr().add(full), mask, tv);
            _mm256_maskstore_ps(y.as_mut_ptr().add(full), mask, yv);
        }
    }
}

/// GELU's backward (see `super::gelu_backward_with`), 8 lanes at a time:
/// `x̄ = ȳ·(½(1 + t) + (((½x)(1 − t·t))·c)·(1 + (3a·x)·x))`, written, or added when `add`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the four slices have the same length.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gelu_backward(g: &[f32], x: &[f32], t: &[f32], gx: &mut [f32], add: bool) {
    let (c, _, a3) = super::gelu_constants();
    let (c, a3) = (_mm256_set1_ps(c), _mm256_set1_ps(a3));
    let (half, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
    zip8([g, x, t], gx, |[gv, xv, tv], old| {
        let outer = _mm256_mul_ps(half, _mm256_add_ps(one, tv));
        let slope = _mm256_sub_ps(one, _mm256_mul_ps(tv, tv));
        let inner = _mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(a3, xv), xv));
        let chain = _mm256_mul_ps(
            _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, xv), slope), c),
            inner,
        );
        let r = _mm256_mul_ps(gv, _mm256_add_ps(outer, chain));
        if add { _mm256_add_ps(old, r) } else { r }
    });
}

/// The largest value of `row` that is not NaN, −∞ if none (see `super::row_max`), 8 lanes at a
/// time.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn max(row: &[f32]) -> f32 {
    let full = row.len() / 8 * 8;
    let mut acc = _mm256_set1_ps(f32::NEG_INFINITY);
    for j in (0..full).step_by(8) {
        // SAFETY: j + 8 ≤ len.
        let v = unsafe { _mm256_loadu_ps(row.as_ptr().add(j)) };
        // `max` returns its second operand when either is NaN, so NaN lanes keep `acc`.
        acc = _mm256_max_ps(v, acc);
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds exactly 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    lanes
        .into_iter()
        .chain(row[full..].iter().copied())
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `row[i] = exp(row[i] − max)`, the subtraction and the exponential in one pass.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp_shifted(row: &mut [f32], max: f32) {
    let m = _mm256_set1_ps(max);
    map8(row, None, |[v]| [exp8(_mm256_sub_ps(v, m))]);
}
