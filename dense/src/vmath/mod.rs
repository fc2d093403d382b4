//! Vectorised `exp` and `tanh` for `f32` slices, and a softmax built on them.
//!
//! `f32::exp` and `f32::tanh` are scalar library calls; at batch 4096 a tanh layer would spend
//! more time in them than in its GEMM. These versions evaluate 16 (AVX-512) or 8 (AVX2) values
//! per instruction. `exp` has one algorithm on every path, the portable scalar code below; `tanh`
//! has two (below). All paths meet the same documented error bounds.
//!
//! **exp.** Write `x = n·ln2 + r` with `n = round(x/ln2)`, so `|r| ≤ ln2/2 ≈ 0.347`, then
//! `eˣ = 2ⁿ · eʳ`. `r` is computed as `x - n·LN2_HI - n·LN2_LO` (Cody–Waite: `LN2_HI` has few
//! mantissa bits, so `n·LN2_HI` is exact), and `eʳ` by its Taylor polynomial to degree 7, whose
//! truncation error `r⁸/8! ≤ 5.3e-9` is far below one ulp. `2ⁿ` is built directly in the exponent
//! bits, as `2^⌊n/2⌋ · 2^(n-⌊n/2⌋)` so both factors stay normal for every `n` in `[-150, 129]`:
//! results overflow to `+inf` above `x ≈ 88.72` and underflow gradually through the subnormals.
//! AVX-512 has one instruction for `p·2ⁿ` (`scalef`), which rounds the exact product once, as the
//! second multiply does, so exp's two vector paths agree bit for bit. AVX2 rounds `x/ln2` by adding
//! and subtracting `1.5·2²³` (cheaper than its `round` instruction, and the same result).
//!
//! **tanh.** Two algorithms, each one formula for every `x` with no branch: both work on
//! `a = |x|` (capped where tanh rounds to 1) and copy the sign of `x` back, so `±inf → ±1` and
//! `-0.0 → -0.0`, and both give `tanh a = a` exactly for tiny `a`.
//!
//! - *A rational function* (portable and AVX2). With `a` capped at `TANH_CAP` = 9.25 and
//!   `s = a²`, `tanh a ≈ a·P(s)/Q(s)`, `P` of degree 6 and `Q` of degree 3 (both 1 at 0), then at
//!   most 1: nine multiply-adds, two multiplies, one division and two `min`s. The coefficients
//!   were fitted for the least maximum relative error on `[0, 9.5]`, then rounded to `f32`;
//!   evaluated in `f64` they stay within 3.1e-8 of `tanh` on `[0, 9.25]` (a unit test below).
//!   The error left is the rounding of the `f32` steps, at most 2.97e-7 relative (five times the
//!   spacing of floats just below 1, over every `f32`); the `min` with 1 catches the rounding
//!   that would overshoot 1. For tiny `a`, `P = Q = 1`.
//! - *Through `e^{2a}`* (AVX-512). With `a` capped at `TANH_ONE` = 9.5 and `m = e^{2a} − 1`,
//!   `tanh a = m / (m + 2)`. `m` must be accurate even where it is tiny, so it is not
//!   `exp(2a) − 1` (which would cancel) but expm1 with the same range reduction as exp:
//!   `2a = n·ln2 + r`, `e^r − 1` by its Taylor polynomial `r + r²(1/2 + r/6 + … + r⁵/7!)`
//!   (truncation `|r|⁷/8! ≤ 1.5e-8` relative), then `m = 2ⁿ(e^r − 1) + (2ⁿ − 1)`, exact for
//!   `n = 0` up to the polynomial's rounding. The division is a 14-bit reciprocal estimate `ρ`
//!   and one correction of the quotient, `q ← q + ρ·(m − q·d)`. About 24 instructions.
//!
//! AVX2 has no accurate reciprocal estimate (12 bits), so the `e^{2a}` route there divides and
//! takes about 24 instructions for 8 lanes where the rational one takes 16. AVX-512 keeps the
//! `e^{2a}` route because every result recorded in the course and the README was computed with
//! it; switching would change their bits.
//!
//! **Maximum error** (tested over a sweep of the whole `f32` range in `tests/vmath.rs`):
//! `exp`: relative error below [`EXP_MAX_REL_ERROR`] for normal results; `tanh`: below
//! [`TANH_MAX_REL_ERROR`]. NaN in gives NaN out; `exp(-inf) = 0`, `exp(+inf) = +inf`.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

use crate::kernel::Kernel;

/// Documented bound on the relative error of [`exp_in_place`] for results ≥ `f32::MIN_POSITIVE`
/// (about 1.3 ulp; measured 9.1e-8); subnormal results are within 1 subnormal step of the truth.
pub const EXP_MAX_REL_ERROR: f32 = 1.5e-7;
/// Documented bound on the relative error of [`tanh_in_place`] (about 2.5 ulp of 1.0). The worst
/// over every `f32` is 2.97e-7 for the rational form (portable and AVX2) and 1.87e-7 for
/// AVX-512's: `cargo test --release -p dense --test vmath -- --ignored --nocapture`.
pub const TANH_MAX_REL_ERROR: f32 = 3.0e-7;

/// ln 2 split in two: `LN2_HI` has its low 12 mantissa bits zero, so `n·LN2_HI` is exact.
pub(crate) const LN2_HI: f32 = f32::from_bits(0x3f31_7200); // = 0.693145751953125 exactly
/// The rest of ln 2: `LN2_HI + LN2_LO` = ln 2 to about 1e-12.
pub(crate) const LN2_LO: f32 = 1.428_606_8e-6;
/// 1 / ln 2.
pub(crate) const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// Inputs are clamped to `[EXP_LO, EXP_HI]` first; beyond them `eˣ` is 0 or +inf anyway.
pub(crate) const EXP_LO: f32 = -104.0;
/// See [`EXP_LO`].
pub(crate) const EXP_HI: f32 = 89.0;
/// Taylor coefficients `1/i!` for `eʳ`, highest degree first (Horner order), degree 7 … 0.
pub(crate) const EXP_POLY: [f32; 8] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// Above this |x|, `tanh x` rounds to ±1 in `f32` (`1 − tanh 9.5 ≈ 1.1e-8`, below half an ulp
/// of 1); the AVX-512 path caps |x| here so `e^{2|x|}` stays finite.
#[cfg(target_arch = "x86_64")]
pub(crate) const TANH_ONE: f32 = 9.5;
/// Taylor coefficients of `(e^r − 1 − r)/r²`, highest degree first: `1/7!, 1/6!, …, 1/2!`
/// (the first six of [`EXP_POLY`]); AVX-512's `tanh` builds `e^{2|x|} − 1` from them.
#[cfg(target_arch = "x86_64")]
pub(crate) const EXPM1_POLY: [f32; 6] = [
    EXP_POLY[0],
    EXP_POLY[1],
    EXP_POLY[2],
    EXP_POLY[3],
    EXP_POLY[4],
    EXP_POLY[5],
];
/// The rational `tanh`'s cap on |x|: beyond it `1 − tanh x < 1.9e-8` (a third of an ulp of 1),
/// and the `f32` evaluation at the cap gives exactly 1, so `tanh(±∞) = ±1`.
pub(crate) const TANH_CAP: f32 = 9.25;
/// Numerator of the rational `tanh`: `P(s) = 1 + p₁s + … + p₆s⁶`, `s = x²`, highest degree first
/// (Horner order). Fitted with [`TANH_DEN`] to the least maximum relative error of
/// `x·P(x²)/Q(x²)` against `tanh x` on `[0, 9.5]`, then rounded to `f32`.
pub(crate) const TANH_NUM: [f32; 7] = [
    -7.371_211e-14,
    4.843_42e-11,
    -1.932_906e-8,
    1.093_551_6e-5,
    3.083_195_3e-3,
    1.306_547_8e-1,
    1.0,
];
/// Denominator of the rational `tanh`: `Q(s) = 1 + q₁s + q₂s² + q₃s³`, highest degree first.
pub(crate) const TANH_DEN: [f32; 4] = [2.515_814_8e-4, 2.441_266_7e-2, 4.639_880_4e-1, 1.0];

/// The portable scalar `exp` (the same algorithm as the SIMD paths).
pub fn exp_approx(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(EXP_LO, EXP_HI);
    let n = (x * LOG2_E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for &c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    let n = n as i32;
    let n1 = n >> 1;
    let n2 = n - n1;
    p * f32::from_bits(((n1 + 127) as u32) << 23) * f32::from_bits(((n2 + 127) as u32) << 23)
}

/// The portable scalar `tanh` (the algorithm of the AVX2 path, rounding for rounding): with
/// `a = min(|x|, TANH_CAP)` and `s = a²`, `tanh x = a·P(s)/Q(s)`, at most 1, with the sign of x.
pub fn tanh_approx(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs().min(TANH_CAP);
    let s = a * a;
    let horner = |c: &[f32]| c[1..].iter().fold(c[0], |acc, &k| acc.mul_add(s, k));
    ((a * horner(&TANH_NUM)) / horner(&TANH_DEN))
        .min(1.0)
        .copysign(x)
}

/// `xs[i] = exp(xs[i])` on the fastest path.
pub fn exp_in_place(xs: &mut [f32]) {
    exp_in_place_with(Kernel::selected(), xs);
}

/// `xs[i] = tanh(xs[i])` on the fastest path.
pub fn tanh_in_place(xs: &mut [f32]) {
    tanh_in_place_with(Kernel::selected(), xs);
}

/// `exp` on a forced path (panics if the CPU lacks it).
pub fn exp_in_place_with(kernel: Kernel, xs: &mut [f32]) {
    kernel.assert_available();
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::exp_in_place(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::exp_in_place(xs) },
        _ => xs.iter_mut().for_each(|x| *x = exp_approx(*x)),
    }
}

/// `tanh` on a forced path (panics if the CPU lacks it).
pub fn tanh_in_place_with(kernel: Kernel, xs: &mut [f32]) {
    kernel.assert_available();
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::tanh_in_place(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::tanh_in_place(xs) },
        _ => xs.iter_mut().for_each(|x| *x = tanh_approx(*x)),
    }
}

/// `row = tanh(row + bias)` for `rows` rows of `cols` values starting `rs` apart in `data`
/// (the fused GEMM epilogue on one tile). Panics if a row falls outside `data`.
pub(crate) fn bias_tanh_rows_with(
    kernel: Kernel,
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: Option<&[f32]>,
) {
    kernel.assert_available();
    assert!(
        rows == 0 || (rows - 1) * rs + cols <= data.len(),
        "bias_tanh_rows: rows outside the slice"
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::bias_tanh_rows(data, rows, cols, rs, bias) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::bias_tanh_rows(data, rows, cols, rs, bias) },
        _ => {
            for i in 0..rows {
                let row = &mut data[i * rs..i * rs + cols];
                for (j, x) in row.iter_mut().enumerate() {
                    *x = tanh_approx(*x + bias.map_or(0.0, |b| b[j]));
                }
            }
        }
    }
}

/// Rows narrower than this add their bias in the plain loop on every path: a row shorter than a
/// vector would be one masked load and store, which costs AMD cores more than the loop.
const BIAS_ROWS_MIN_COLS: usize = 16;

/// `row += bias` for `rows` rows of `cols` values starting `rs` apart in `data` (the fused GEMM
/// epilogue of a layer with a bias and no activation, on one tile), with `kernel`'s vector
/// instructions when the rows hold at least [`BIAS_ROWS_MIN_COLS`] values. One addition per
/// element, so every path gives the bits of the plain loop. Panics if a row falls outside `data`
/// or `bias` is not `cols` long.
pub(crate) fn bias_rows_with(
    kernel: Kernel,
    data: &mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    bias: &[f32],
) {
    kernel.assert_available();
    assert!(
        bias.len() == cols && (rows == 0 || (rows - 1) * rs + cols <= data.len()),
        "bias_rows: rows outside the slice, or a bias of {} for rows of {cols}",
        bias.len()
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 if cols >= BIAS_ROWS_MIN_COLS => unsafe {
            avx512::bias_rows(data, rows, cols, rs, bias)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma if cols >= BIAS_ROWS_MIN_COLS => unsafe {
            avx2::bias_rows(data, rows, cols, rs, bias)
        },
        _ => {
            for i in 0..rows {
                let row = &mut data[i * rs..i * rs + cols];
                row.iter_mut().zip(bias).for_each(|(x, &b)| *x += b);
            }
        }
    }
}

/// `dz[i] = g[i]·(1 − y[i]²)`: the gradient through `y = tanh(x)` from the output, computed as
/// `g − (g·y)·y` (one fused multiply-add on the SIMD paths). Used by the fused layer's backward.
pub(crate) fn tanh_grad_with(kernel: Kernel, g: &[f32], y: &[f32], dz: &mut [f32]) {
    kernel.assert_available();
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::tanh_grad(g, y, dz) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::tanh_grad(g, y, dz) },
        _ => {
            for ((d, &g), &y) in dz.iter_mut().zip(g).zip(y) {
                *d = g - g * y * y;
            }
        }
    }
}

/// `g − (g·y)·y` with one rounding after the multiply-add, as the SIMD paths compute every
/// element of [`tanh_grad_with`] (their ragged tails included, so an element's bits do not
/// depend on where a slice starts or ends).
pub(crate) fn tanh_grad_fused(g: f32, y: f32) -> f32 {
    (-(g * y)).mul_add(y, g)
}

/// [`tanh_grad_with`] on a row-major `[rows, cols]` block (`cols = sums.len()`), also adding
/// each column of `dz` into `sums`, rows in order, in the same pass: the bits of
/// `tanh_grad_with` followed by `sums[j] += dz[i, j]` for `i = 0, 1, …`. Used by the fused
/// layer's backward, where `sums` is the bias gradient.
pub(crate) fn tanh_grad_colsum_with(
    kernel: Kernel,
    g: &[f32],
    y: &[f32],
    dz: &mut [f32],
    sums: &mut [f32],
) {
    kernel.assert_available();
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::tanh_grad_colsum(g, y, dz, sums) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::tanh_grad_colsum(g, y, dz, sums) },
        _ => {
            tanh_grad_with(kernel, g, y, dz);
            crate::scalar::add_rows(dz, sums);
        }
    }
}

/// GELU's forward over a slice on `kernel`'s path (see [`crate::gelu`]): `t = tanh u` with
/// `u = √(2/π)·(x + 0.044715·x·x·x)`, then `y = ½·x·(1 + t)`, in one pass on the vector paths.
/// Their products and sums are rounded one by one in the element-by-element code's order, so
/// the bits are those of [`crate::gelu::forward_with`] on the same path's `tanh`.
pub(crate) fn gelu_forward_with(kernel: Kernel, x: &[f32], t: &mut [f32], y: &mut [f32]) {
    kernel.assert_available();
    assert!(
        t.len() == x.len() && y.len() == x.len(),
        "gelu_forward: slice lengths differ"
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::gelu_forward(x, t, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::gelu_forward(x, t, y) },
        _ => crate::gelu::forward_with(kernel, x, t, y),
    }
}

/// GELU's backward over a slice on `kernel`'s path: `x̄ = ȳ·gelu'(x)` from the saved `t`, written
/// or added as `store` says; the bits of [`crate::gelu::backward_with`].
pub(crate) fn gelu_backward_with(
    kernel: Kernel,
    g: &[f32],
    x: &[f32],
    t: &[f32],
    gx: &mut [f32],
    store: autograd::Store,
) {
    kernel.assert_available();
    let n = gx.len();
    assert!(
        g.len() == n && x.len() == n && t.len() == n,
        "gelu_backward: slice lengths differ"
    );
    let add = store == autograd::Store::Accumulate;
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F availability was just asserted.
        Kernel::Avx512 => unsafe { avx512::gelu_backward(g, x, t, gx, add) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2+FMA availability was just asserted.
        Kernel::Avx2Fma => unsafe { avx2::gelu_backward(g, x, t, gx, add) },
        _ => crate::gelu::backward_with(g, x, t, gx, store),
    }
}

/// GELU's constants as `f32`: `√(2/π)`, `0.044715` and `3·0.044715` (rounded from `f64` as the
/// element-by-element code's `from_f64` does).
#[cfg(target_arch = "x86_64")]
fn gelu_constants() -> (f32, f32, f32) {
    use crate::gelu::{CUBIC, SQRT_2_OVER_PI};
    (SQRT_2_OVER_PI as f32, CUBIC as f32, (3.0 * CUBIC) as f32)
}

/// Softmax of one row in place: `y_i = exp(x_i - max x) / Σ_j exp(x_j - max x)`.
///
/// Subtracting the maximum first keeps every exponent ≤ 0, so nothing overflows; the result is
/// unchanged because the common factor `exp(-max)` cancels. An empty row is left alone; a row
/// holding NaN gives NaN.
pub fn softmax_in_place(row: &mut [f32]) {
    if row.is_empty() {
        return;
    }
    let kernel = Kernel::selected();
    if exp_shifted(kernel, row, row_max(kernel, row)) {
        let sum = row.iter().fold(0.0, |s, &x| s + x);
        scale(row, sum);
    }
}

/// The largest value in `row` that is not NaN, −∞ if there is none: `fold(−∞, f32::max)`, in
/// vector registers on the SIMD paths (the order of a maximum does not change its value).
fn row_max(kernel: Kernel, row: &[f32]) -> f32 {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `kernel` is the selected path, which the CPU has.
        Kernel::Avx512 => unsafe { avx512::max(row) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Kernel::Avx2Fma => unsafe { avx2::max(row) },
        _ => row.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    }
}

/// `row[i] = exp(row[i] − max)` where `max`, the row's maximum, is finite (or −∞, for a row of
/// NaN and −∞), and true; for `max = +∞` the limit, all mass shared by the infinite entries
/// (`exp(x − max)` would be NaN for them), and false: that row is final.
fn exp_shifted(kernel: Kernel, row: &mut [f32], max: f32) -> bool {
    if max == f32::INFINITY {
        let count = row.iter().filter(|&&x| x == f32::INFINITY).count() as f32;
        row.iter_mut().for_each(|x| {
            *x = if *x == f32::INFINITY {
                1.0 / count
            } else {
                0.0
            }
        });
        return false;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `kernel` is the selected path, which the CPU has.
        Kernel::Avx512 => unsafe { avx512::exp_shifted(row, max) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Kernel::Avx2Fma => unsafe { avx2::exp_shifted(row, max) },
        _ => {
            row.iter_mut().for_each(|x| *x -= max);
            exp_in_place_with(kernel, row);
        }
    }
    true
}

/// `row[i] /= sum`, as a multiply by `1/sum`.
fn scale(row: &mut [f32], sum: f32) {
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

/// Rows that [`causal_softmax_rows`] takes side by side.
const SIDE_BY_SIDE: usize = 8;

/// The causal softmax of a row-major `[t, t]` block of attention scores, in place: row i
/// becomes [`softmax_in_place`] of its first `i + 1` entries, bit for bit, and its masked
/// entries (`j > i`) become exactly 0.
///
/// A row's sum is a chain of dependent additions (each `+` waits for the one before, so a row
/// of 32 scores costs 32 latencies). Here eight rows are summed together, element j
/// of each in turn: as many independent chains, each row's own additions still in their order.
/// (Eight ran 256 blocks of 32 × 32 scores in 310 µs against four's 322, three alternations on
/// the 2-core AMD EPYC, AVX2: a scratch program calling this function.)
pub fn causal_softmax_rows(s: &mut [f32], t: usize) {
    assert_eq!(
        s.len(),
        t * t,
        "causal_softmax_rows: {} scores for t = {t}",
        s.len()
    );
    let kernel = Kernel::selected();
    for first in (0..t).step_by(SIDE_BY_SIDE) {
        let count = (t - first).min(SIDE_BY_SIDE);
        let block = &mut s[first * t..(first + count) * t];
        // Row k of the block (row first + k) sees its first `first + 1 + k` entries.
        let seen = |k: usize| k * t..k * t + first + 1 + k;
        let mut live = [false; SIDE_BY_SIDE];
        for k in 0..count {
            let row = &mut block[seen(k)];
            live[k] = exp_shifted(kernel, row, row_max(kernel, row));
        }
        let sum = sums_side_by_side(block, t, first, count);
        for k in 0..count {
            if live[k] {
                scale(&mut block[seen(k)], sum[k]);
            }
            block[seen(k).end..(k + 1) * t].fill(0.0);
        }
    }
}

/// The sums of `count` rows (`t` apart) of `block`, row k over its first `first + 1 + k`
/// entries, each in order from zero; the rows advance together while all have entries left.
fn sums_side_by_side(block: &[f32], t: usize, first: usize, count: usize) -> [f32; SIDE_BY_SIDE] {
    let mut sums = [0.0f32; SIDE_BY_SIDE];
    for j in 0..=first {
        for (k, sum) in sums.iter_mut().enumerate().take(count) {
            *sum += block[k * t + j];
        }
    }
    for (k, sum) in sums.iter_mut().enumerate().take(count) {
        for j in first + 1..first + 1 + k {
            *sum += block[k * t + j];
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values() {
        assert_eq!(exp_approx(0.0), 1.0);
        assert_eq!(exp_approx(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_approx(f32::INFINITY), f32::INFINITY);
        assert!(exp_approx(f32::NAN).is_nan());
        assert_eq!(tanh_approx(f32::INFINITY), 1.0);
        assert_eq!(tanh_approx(f32::NEG_INFINITY), -1.0);
        assert!(tanh_approx(f32::NAN).is_nan());
        assert_eq!(tanh_approx(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn tanh_grad_and_bias_tanh_rows_agree_on_every_path() {
        let g: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).sin()).collect();
        let y: Vec<f32> = (0..37).map(|i| (i as f32 * 0.3).cos() * 0.99).collect();
        let bias: Vec<f32> = (0..5).map(|i| i as f32 * 0.1 - 0.2).collect();
        for kernel in Kernel::available() {
            let mut dz = vec![0.0f32; 37];
            tanh_grad_with(kernel, &g, &y, &mut dz);
            for i in 0..37 {
                let want = g[i] as f64 * (1.0 - (y[i] as f64).powi(2));
                assert!((dz[i] as f64 - want).abs() < 1e-6, "{kernel:?} dz[{i}]");
            }
            // 3 rows of 5 values, 7 apart in a buffer of 19.
            let data: Vec<f32> = (0..19).map(|i| i as f32 * 0.13 - 1.0).collect();
            let mut got = data.clone();
            bias_tanh_rows_with(kernel, &mut got, 3, 5, 7, Some(&bias));
            for (i, (&d, &o)) in data.iter().zip(&got).enumerate() {
                let (r, c) = (i / 7, i % 7);
                if r < 3 && c < 5 {
                    let want = (d as f64 + bias[c] as f64).tanh();
                    assert!((o as f64 - want).abs() < 3e-7, "{kernel:?} element {i}");
                } else {
                    assert_eq!(o, d, "{kernel:?}: element {i} outside the rows changed");
                }
            }
        }
    }

    #[test]
    fn bias_rows_have_the_bits_of_the_plain_loop_on_every_path() {
        for kernel in Kernel::available() {
            // Widths on both sides of the vector paths' threshold and of whole vectors.
            for cols in [1, 7, 15, 16, 17, 31, 32, 33, 48, 64, 65] {
                let (rows, rs) = (3, cols + 5);
                let len = (rows - 1) * rs + cols + 2;
                let data: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
                let bias: Vec<f32> = (0..cols).map(|j| (j as f32 * 0.11).cos()).collect();
                let mut got = data.clone();
                bias_rows_with(kernel, &mut got, rows, cols, rs, &bias);
                for (i, (&d, &o)) in data.iter().zip(&got).enumerate() {
                    let (r, c) = (i / rs, i % rs);
                    let want = if r < rows && c < cols { d + bias[c] } else { d };
                    assert_eq!(
                        o.to_bits(),
                        want.to_bits(),
                        "{kernel:?} cols {cols} element {i}"
                    );
                }
            }
        }
    }

    /// The rational `tanh`'s own error: its `f32` coefficients evaluated in `f64`, so without the
    /// rounding of an `f32` evaluation, at 200,000 points of `[0, TANH_CAP]`. The worst is about
    /// 3.1e-8, a tenth of the documented bound; the rest of the `f32` paths' error is rounding.
    #[test]
    fn the_rational_tanh_is_accurate_before_rounding() {
        let horner = |c: &[f32], s: f64| c.iter().fold(0.0, |acc, &k| acc * s + k as f64);
        let worst = (1..=200_000)
            .map(|i| {
                let x = TANH_CAP as f64 * i as f64 / 200_000.0;
                let s = x * x;
                (x * horner(&TANH_NUM, s) / horner(&TANH_DEN, s) / x.tanh() - 1.0).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 3.5e-8, "worst relative error {worst:e}");
    }

    #[test]
    fn tanh_grad_colsum_gives_the_bits_of_its_two_steps() {
        for kernel in Kernel::available() {
            for (rows, cols) in [
                (1, 1),
                (3, 5),
                (7, 8),
                (4, 16),
                (5, 17),
                (33, 64),
                (6, 70),
                (2, 100),
            ] {
                let n = rows * cols;
                let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.61).sin()).collect();
                let y: Vec<f32> = (0..n).map(|i| (i as f32 * 0.23).cos() * 0.97).collect();
                let start: Vec<f32> = (0..cols).map(|j| j as f32 * 0.01 - 0.3).collect();
                let (mut want_dz, mut want_sums) = (vec![0.0; n], start.clone());
                tanh_grad_with(kernel, &g, &y, &mut want_dz);
                crate::scalar::add_rows(&want_dz, &mut want_sums);
                let (mut dz, mut sums) = (vec![0.0; n], start.clone());
                tanh_grad_colsum_with(kernel, &g, &y, &mut dz, &mut sums);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dz), bits(&want_dz), "{kernel:?} {rows}x{cols}: dz");
                assert_eq!(
                    bits(&sums),
                    bits(&want_sums),
                    "{kernel:?} {rows}x{cols}: sums"
                );
            }
        }
    }

    #[test]
    fn tanh_grad_bits_do_not_depend_on_where_the_slice_starts() {
        let g: Vec<f32> = (0..40).map(|i| (i as f32 * 0.61).sin()).collect();
        let y: Vec<f32> = (0..40).map(|i| (i as f32 * 0.23).cos() * 0.97).collect();
        for kernel in Kernel::available() {
            let mut whole = vec![0.0; 40];
            tanh_grad_with(kernel, &g, &y, &mut whole);
            for start in [1, 3, 9, 17] {
                let mut part = vec![0.0; 40 - start];
                tanh_grad_with(kernel, &g[start..], &y[start..], &mut part);
                assert_eq!(part, whole[start..], "{kernel:?}, from {start}");
            }
        }
    }

    #[test]
    fn softmax_sums_to_one_and_is_shift_invariant() {
        let mut a = [1.0f32, 2.0, 3.0, 1000.0];
        let mut b = [-999.0f32, -998.0, -997.0, 0.0];
        softmax_in_place(&mut a);
        softmax_in_place(&mut b);
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-7);
        }
        let mut c = [f32::INFINITY, 0.0, f32::INFINITY];
        softmax_in_place(&mut c);
        assert_eq!(c, [0.5, 0.0, 0.5]);
    }

    #[test]
    fn causal_softmax_rows_are_the_bits_of_each_row_alone() {
        for t in (1..=13).chain([32]) {
            let mut s: Vec<f32> = (0..t * t).map(|i| (i as f32 * 0.71).sin() * 6.0).collect();
            // Special rows: an infinite score, a NaN, a row of −∞ but its first entry.
            if t > 5 {
                s[3 * t + 1] = f32::INFINITY;
                s[4 * t + 2] = f32::NAN;
                s[5 * t + 1..5 * t + 6].fill(f32::NEG_INFINITY);
            }
            let mut want = s.clone();
            for (i, row) in want.chunks_exact_mut(t).enumerate() {
                softmax_in_place(&mut row[..=i]);
                row[i + 1..].fill(0.0);
            }
            let mut got = s.clone();
            // Stale numbers in the masked part must be overwritten.
            causal_softmax_rows(&mut got, t);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "t = {t}");
        }
    }
}
