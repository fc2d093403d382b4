//! AVX-512F `exp` and `tanh`, 16 lanes at a time; the algorithm is documented in the parent
//! module and mirrors `exp_approx` / `tanh_approx` line by line. The ragged tail is handled with
//! masked loads and stores.

use std::arch::x86_64::*;

use super::{EXP_HI, EXP_LO, EXP_POLY, LN2_HI, LN2_LO, LOG2_E, TANH_POLY, TANH_SMALL};

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
    // 2ⁿ = 2^n1 · 2^n2 with n1 = n >> 1, built in the exponent field.
    let ni = _mm512_cvtps_epi32(n);
    let n1 = _mm512_srai_epi32::<1>(ni);
    let n2 = _mm512_sub_epi32(ni, n1);
    let bias = _mm512_set1_epi32(127);
    let s1 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n1, bias)));
    let s2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n2, bias)));
    let y = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
    _mm512_mask_blend_ps(nan, y, x)
}

/// tanh for 16 lanes.
#[target_feature(enable = "avx512f")]
fn tanh16(x: __m512) -> __m512 {
    let sign = _mm512_set1_epi32(i32::MIN);
    let xi = _mm512_castps_si512(x);
    let a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, xi));
    // Small |x|: a + a·x²·Q(x²).
    let x2 = _mm512_mul_ps(a, a);
    let mut q = _mm512_set1_ps(TANH_POLY[0]);
    for &c in &TANH_POLY[1..] {
        q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(c));
    }
    let small = _mm512_fmadd_ps(_mm512_mul_ps(a, x2), q, a);
    // Large |x|: 1 - 2/(e^{2a} + 1).
    let one = _mm512_set1_ps(1.0);
    let e = exp16(_mm512_add_ps(a, a));
    let large = _mm512_sub_ps(
        one,
        _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(e, one)),
    );
    let is_small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(TANH_SMALL));
    let t = _mm512_mask_blend_ps(is_small, large, small);
    // Copy the sign of x back.
    _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(t),
        _mm512_and_si512(xi, sign),
    ))
}

/// Applies `f` to every element, 16 at a time, the tail masked.
#[target_feature(enable = "avx512f")]
fn map16(xs: &mut [f32], f: impl Fn(__m512) -> __m512) {
    let mut chunks = xs.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: the chunk has exactly 16 values.
        unsafe { _mm512_storeu_ps(c.as_mut_ptr(), f(_mm512_loadu_ps(c.as_ptr()))) };
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mask = ((1u32 << tail.len()) - 1) as u16;
        // SAFETY: only the `tail.len()` lanes selected by the mask are read and written.
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, tail.as_ptr());
            _mm512_mask_storeu_ps(tail.as_mut_ptr(), mask, f(v));
        }
    }
}

/// `xs[i] = exp(xs[i])`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn exp_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map16(xs, |v| exp16(v));
}

/// `xs[i] = tanh(xs[i])`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tanh_in_place(xs: &mut [f32]) {
    // The closure inherits this function's target features, so the kernel inlines.
    map16(xs, |v| tanh16(v));
}
