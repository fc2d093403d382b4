//! AVX-512F `exp` and `tanh`, 16 lanes at a time; the algorithms are documented in the parent
//! module. `exp` mirrors `exp_approx` line by line; `tanh` takes the `e^{2|x|}` route, which has
//! no scalar twin (the portable and AVX2 `tanh` are the rational one). The ragged tail is handled
//! with masked loads and stores.

use std::arch::x86_64::*;

use super::{EXP_HI, EXP_LO, EXP_POLY, EXPM1_POLY, LN2_HI, LN2_LO, LOG2_E, TANH_ONE};

/// eˣ for 16 lanes.
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512) -> __m512 {
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    let xc = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(EXP_LO)),
        _mm512_set1_ps(EXP_HI),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(LOG2_E)),
    );
    // r = x - n·LN2_HI - n·LN2_LO
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    // p·2ⁿ in one instruction: `scalef` rounds the exact product once, as the portable code's
    // two multiplies by normal powers of two (2^⌊n/2⌋, then the rest) do.
    let y = _mm512_scalef_ps(p, n);
    _mm512_mask_blend_ps(nan, y, x)
}

/// `e^y − 1` for lanes `y` in `[0, 2·TANH_ONE]` (or NaN, which propagates through the
/// arithmetic): the range reduction of `exp16`, the polynomial of `e^r − 1`, then
/// `2ⁿ(e^r − 1) + (2ⁿ − 1)` (`n ≤ 28` here, so one scale factor suffices).
#[target_feature(enable = "avx512f")]
fn expm1_16_tanh_range(y: __m512) -> __m512 {
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(y, _mm512_set1_ps(LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), y);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut q = _mm512_set1_ps(EXPM1_POLY[0]);
    for &c in &EXPM1_POLY[1..] {
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(c));
    }
    let p = _mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r);
    // 2ⁿ = 1·2ⁿ by `scalef` (one instruction instead of converting n and shifting it into the
    // exponent field).
    let s = _mm512_scalef_ps(_mm512_set1_ps(1.0), n);
    _mm512_fmadd_ps(s, p, _mm512_sub_ps(s, _mm512_set1_ps(1.0)))
}

/// tanh for 16 lanes: `m / (m + 2)` with `m = e^{2|x|} − 1`, the sign of `x` copied back.
#[target_feature(enable = "avx512f")]
fn tanh16(x: __m512) -> __m512 {
    let sign = _mm512_set1_epi32(i32::MIN);
    let xi = _mm512_castps_si512(x);
    let a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, xi));
    // |x| is capped at TANH_ONE (where tanh rounds to 1) so m stays finite (`min` returns its
    // second operand, `a`, when that is NaN).
    let ac = _mm512_min_ps(_mm512_set1_ps(TANH_ONE), a);
    let m = expm1_16_tanh_range(_mm512_add_ps(ac, ac));
    let d = _mm512_add_ps(m, _mm512_set1_ps(2.0));
    // m / d: a 14-bit reciprocal estimate ρ, the quotient q = m·ρ, then q ← q + ρ·(m − q·d).
    let rho = _mm512_rcp14_ps(d);
    let q = _mm512_mul_ps(m, rho);
    let t = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, m), rho, q);
    // Copy the sign of x back: t | (x & sign) in one three-input bitwise instruction (0xF8 is
    // the truth table of `a | (b & c)`).
    _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xF8>(
        _mm512_castps_si512(t),
        xi,
        sign,
    ))
}

/// The lanes of a step of 16 that hold one of the `left` values still to do.
pub(crate) fn lanes(left: usize) -> u16 {
    if left >= 16 {
        0xFFFF
    } else {
        ((1u32 << left) - 1) as u16
    }
}

/// The mask of a step of 16 with `left` values still to do: `None` for a whole step (`left ≥
/// 16`), else the first `left` lanes. Masked loads and stores cost little on Intel cores but are
/// slow on AMD's, so callers pass a mask only for a ragged tail.
pub(crate) fn tail(left: usize) -> Option<u16> {
    (left < 16).then(|| lanes(left))
}

/// The 16 values at `p`, or with `Some(mask)` only the lanes the mask selects (the others read
/// as 0.0); see [`tail`].
///
/// # Safety
/// The lanes read lie inside one allocation, and the CPU supports AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn load16(p: *const f32, mask: Option<u16>) -> __m512 {
    // SAFETY: forwarded.
    unsafe {
        match mask {
            None => _mm512_loadu_ps(p),
            Some(mask) => _mm512_maskz_loadu_ps(mask, p),
        }
    }
}

/// Writes `v` to the 16 values at `p`, or with `Some(mask)` to the lanes the mask selects (the
/// others untouched); see [`tail`].
///
/// # Safety
/// The lanes written lie inside one allocation that no one else accesses meanwhile, and the CPU
/// supports AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn store16(p: *mut f32, mask: Option<u16>, v: __m512) {
    // SAFETY: forwarded.
    unsafe {
        match mask {
            None => _mm512_storeu_ps(p, v),
            Some(mask) => _mm512_mask_storeu_ps(p, mask, v),
        }
    }
}

/// Applies `f(x + bias)` to every element (bias optional, same length), 16 at a time, the tail
/// masked.
#[target_feature(enable = "avx512f")]
fn map16(xs: &mut [f32], bias: Option<&[f32]>, f: impl Fn(__m512) -> __m512) {
    let n = xs.len();
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "bias length");
    }
    // Plain 16-lane steps from the start of the slice. (Aligning to cache lines first was tried:
    // with a masked head and tail in every short row, the next row's masked load hits the line
    // the last masked store is still writing, store forwarding fails, and the fused epilogue
    // got 2× slower.)
    let mut j = 0;
    // Two vectors per step while they last: two independent evaluations in flight hide the
    // latency of each one's long dependency chain.
    while j + 32 <= n {
        // SAFETY: j + 32 ≤ n for xs and bias.
        unsafe {
            let mut v0 = _mm512_loadu_ps(xs.as_ptr().add(j));
            let mut v1 = _mm512_loadu_ps(xs.as_ptr().add(j + 16));
            if let Some(b) = bias {
                v0 = _mm512_add_ps(v0, _mm512_loadu_ps(b.as_ptr().add(j)));
                v1 = _mm512_add_ps(v1, _mm512_loadu_ps(b.as_ptr().add(j + 16)));
            }
            let (y0, y1) = (f(v0), f(v1));
            _mm512_storeu_ps(xs.as_mut_ptr().add(j), y0);
            _mm512_storeu_ps(xs.as_mut_ptr().add(j + 16), y1);
        }
        j += 32;
    }
    while j < n {
        let mask = tail(n - j);
        // SAFETY: j + 16 ≤ n, or the tail's mask selects lanes j + l < n only: masked-off lanes
        // of xs and bias are neither read (they load as 0.0) nor written.
        unsafe {
            let mut v = load16(xs.as_ptr().add(j), mask);
            if let Some(b) = bias {
                v = _mm512_add_ps(v, load16(b.as_ptr().add(j), mask));
            }
            store16(xs.as_mut_ptr().add(j), mask, f(v));
        }
        j += 16;
    }
}

/// `row = tanh(row + bias)` for `rows` rows of `cols` values, `rs` apart, in one call (so the
/// constants are set up once per tile, not once per row).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bias_tanh_rows(
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: Option<&[f32]>,
) {
    for i in 0..rows {
        map16(&mut data[i * rs..i * rs + cols], bias, |v| tanh16(v));
    }
}

/// `row += bias` for `rows` rows of `cols` values, `rs` apart.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bias_rows(
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: &[f32],
) {
    for i in 0..rows {
        map16(&mut data[i * rs..i * rs + cols], Some(bias), |v| v);
    }
}

/// `xs[i] = exp(xs[i])`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn exp_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map16(xs, None, |v| exp16(v));
}

/// `xs[i] = tanh(xs[i])`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tanh_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map16(xs, None, |v| tanh16(v));
}

/// `dz[i] = g[i]·(1 − y[i]²)`, the tanh backward rule from the output `y`, as `g − (g·y)·y`.
///
/// # Safety
/// The CPU must support AVX-512F; the three slices have the same length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tanh_grad(g: &[f32], y: &[f32], dz: &mut [f32]) {
    let n = dz.len();
    assert!(
        g.len() == n && y.len() == n,
        "tanh_grad: slice lengths differ"
    );
    let full = n / 16 * 16;
    for i in (0..full).step_by(16) {
        // SAFETY: i + 16 ≤ n for all three slices.
        unsafe {
            let gv = _mm512_loadu_ps(g.as_ptr().add(i));
            let yv = _mm512_loadu_ps(y.as_ptr().add(i));
            _mm512_storeu_ps(
                dz.as_mut_ptr().add(i),
                _mm512_fnmadd_ps(_mm512_mul_ps(gv, yv), yv, gv),
            );
        }
    }
    for i in full..n {
        dz[i] = super::tanh_grad_fused(g[i], y[i]);
    }
}

/// [`tanh_grad`] on a row-major `[rows, cols]` block, adding each column of `dz` into `sums`
/// (rows in order) in the same pass: strips of up to 64 columns (four vectors, the last ones
/// masked), whose sums stay in registers while the strip walks down the rows.
///
/// # Safety
/// The CPU must support AVX-512F; `g`, `y`, `dz` have the same length, a multiple of
/// `cols = sums.len() ≥ 1`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tanh_grad_colsum(g: &[f32], y: &[f32], dz: &mut [f32], sums: &mut [f32]) {
    let (n, cols) = (dz.len(), sums.len());
    assert!(
        g.len() == n && y.len() == n && cols > 0 && n.is_multiple_of(cols),
        "tanh_grad_colsum: slice lengths do not form rows of {cols}"
    );
    for j0 in (0..cols).step_by(64) {
        let width = (cols - j0).min(64);
        // SAFETY: the strip's columns j0..j0 + width lie inside every row and inside `sums`.
        unsafe {
            match width.div_ceil(16) {
                1 => strip::<1>(g, y, dz, sums, j0, width),
                2 => strip::<2>(g, y, dz, sums, j0, width),
                3 => strip::<3>(g, y, dz, sums, j0, width),
                _ => strip::<4>(g, y, dz, sums, j0, width),
            }
        }
    }
}

/// One strip of `V` vectors (`width` columns from `j0`, `16(V − 1) < width ≤ 16V`) of
/// [`tanh_grad_colsum`].
///
/// # Safety
/// As [`tanh_grad_colsum`], and `j0 + width ≤ sums.len()`.
#[target_feature(enable = "avx512f")]
unsafe fn strip<const V: usize>(
    g: &[f32],
    y: &[f32],
    dz: &mut [f32],
    sums: &mut [f32],
    j0: usize,
    width: usize,
) {
    let cols = sums.len();
    // Whole vectors but the last, which is masked when the strip's width is not a multiple of 16.
    let masks: [Option<u16>; V] = std::array::from_fn(|k| tail(width - 16 * k));
    // SAFETY (every access below): a lane is read or written only at column
    // j0 + 16k + l < j0 + width ≤ cols of a row inside the slices (a whole vector, or a lane
    // its mask selects).
    let mut acc = [_mm512_setzero_ps(); V];
    for k in 0..V {
        acc[k] = unsafe { load16(sums.as_ptr().add(j0 + 16 * k), masks[k]) };
    }
    for base in (j0..dz.len()).step_by(cols) {
        for k in 0..V {
            let o = base + 16 * k;
            unsafe {
                let gv = load16(g.as_ptr().add(o), masks[k]);
                let yv = load16(y.as_ptr().add(o), masks[k]);
                let d = _mm512_fnmadd_ps(_mm512_mul_ps(gv, yv), yv, gv);
                store16(dz.as_mut_ptr().add(o), masks[k], d);
                acc[k] = _mm512_add_ps(acc[k], d);
            }
        }
    }
    for k in 0..V {
        unsafe { store16(sums.as_mut_ptr().add(j0 + 16 * k), masks[k], acc[k]) };
    }
}

/// GELU's forward (see `super::gelu_forward_with`), 16 lanes at a time, the tail masked: the
/// element-by-element code's products and sums in its order, none fused into a multiply-add.
///
/// # Safety
/// The CPU must support AVX-512F; the three slices have the same length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gelu_forward(x: &[f32], t: &mut [f32], y: &mut [f32]) {
    let (c, a, _) = super::gelu_constants();
    let (c, a) = (_mm512_set1_ps(c), _mm512_set1_ps(a));
    let (half, one) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0));
    for j in (0..x.len()).step_by(16) {
        let mask = tail(x.len() - j);
        // SAFETY: j + 16 ≤ len, or the tail's mask selects lanes j + l < len only.
        unsafe {
            let xv = load16(x.as_ptr().add(j), mask);
            // u = c·(x + ((a·x)·x)·x), t = tanh u
            let cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(a, xv), xv), xv);
            let tv = tanh16(_mm512_mul_ps(c, _mm512_add_ps(xv, cube)));
            store16(t.as_mut_ptr().add(j), mask, tv);
            // y = (½·x)·(1 + t)
            let yv = _mm512_mul_ps(_mm512_mul_ps(half, xv), _mm512_add_ps(one, tv));
            store16(y.as_mut_ptr().add(j), mask, yv);
        }
    }
}

/// GELU's backward (see `super::gelu_backward_with`), 16 lanes at a time, the tail masked:
/// `x̄ = ȳ·(½(1 + t) + (((½x)(1 − t·t))·c)·(1 + (3a·x)·x))`, written, or added when `add`.
///
/// # Safety
/// The CPU must support AVX-512F; the four slices have the same length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gelu_backward(g: &[f32], x: &[f32], t: &[f32], gx: &mut [f32], add: bool) {
    let (c, _, a3) = super::gelu_constants();
    let (c, a3) = (_mm512_set1_ps(c), _mm512_set1_ps(a3));
    let (half, one) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0));
    for j in (0..gx.len()).step_by(16) {
        let mask = tail(gx.len() - j);
        // SAFETY: j + 16 ≤ len, or the tail's mask selects lanes j + l < len only.
        unsafe {
            let gv = load16(g.as_ptr().add(j), mask);
            let xv = load16(x.as_ptr().add(j), mask);
            let tv = load16(t.as_ptr().add(j), mask);
            let outer = _mm512_mul_ps(half, _mm512_add_ps(one, tv));
            let slope = _mm512_sub_ps(one, _mm512_mul_ps(tv, tv));
            let inner = _mm512_add_ps(one, _mm512_mul_ps(_mm512_mul_ps(a3, xv), xv));
            let chain = _mm512_mul_ps(
                _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, xv), slope), c),
                inner,
            );
            let mut r = _mm512_mul_ps(gv, _mm512_add_ps(outer, chain));
            if add {
                r = _mm512_add_ps(load16(gx.as_ptr().add(j), mask), r);
            }
            store16(gx.as_mut_ptr().add(j), mask, r);
        }
    }
}

/// The largest value of `row` that is not NaN, −∞ if none (see `super::row_max`), 16 lanes at a
/// time.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn max(row: &[f32]) -> f32 {
    let low = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut acc = low;
    for j in (0..row.len()).step_by(16) {
        // SAFETY: j + 16 ≤ len, or the tail's mask selects lanes j + l < len only (the others
        // read as −∞).
        let v = unsafe {
            match tail(row.len() - j) {
                None => _mm512_loadu_ps(row.as_ptr().add(j)),
                Some(mask) => _mm512_mask_loadu_ps(low, mask, row.as_ptr().add(j)),
            }
        };
        // `max` returns its second operand when either is NaN, so NaN lanes keep `acc`.
        acc = _mm512_max_ps(v, acc);
    }
    _mm512_reduce_max_ps(acc)
}

/// `row[i] = exp(row[i] − max)`, the subtraction and the exponential in one pass.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn exp_shifted(row: &mut [f32], max: f32) {
    let m = _mm512_set1_ps(max);
    map16(row, None, |v| exp16(_mm512_sub_ps(v, m)));
}
