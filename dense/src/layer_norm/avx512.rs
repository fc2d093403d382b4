//! AVX-512F layer norm: the per-row sums with one row per lane (16 rows side by side, element l
//! of each read by one gather), the rest along each row, 16 elements at a time. Every product and
//! sum is the one-row code's (`super::forward_rows`, `super::backward_rows`), rounded one by one
//! in its order: the same bits.

use std::arch::x86_64::*;

use autograd::Store;

use super::{Grads, Rows, SAVED_PER_ROW};
use crate::vmath::avx512::lanes;

/// Rows summed side by side, one per lane.
const LANES: usize = 16;

/// True when the offsets of 16 rows of length n fit the gather's 32-bit indices.
pub(super) fn fits(n: usize) -> bool {
    n.checked_mul(LANES)
        .is_some_and(|span| span <= i32::MAX as usize)
}

/// Offsets of element 0 of 16 consecutive rows of length n: `0, n, 2n, …, 15n`.
#[target_feature(enable = "avx512f")]
fn row_offsets(n: usize) -> __m512i {
    let k = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm512_mullo_epi32(k, _mm512_set1_epi32(n as i32))
}

/// `at[offsets[k]]` in lane k for the lanes of `mask`, 0 in the others.
///
/// # Safety
/// Every selected `at + offsets[k]` must be readable.
#[target_feature(enable = "avx512f")]
unsafe fn gather(mask: u16, offsets: __m512i, at: *const f32) -> __m512 {
    // SAFETY: the caller guarantees the selected lanes' addresses; the others are not read.
    unsafe { _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), mask, offsets, at) }
}

/// The lanes of `v` as an array.
#[target_feature(enable = "avx512f")]
fn to_array(v: __m512) -> [f32; LANES] {
    let mut a = [0.0; LANES];
    // SAFETY: `a` holds 16 floats.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
    a
}

/// `Σ_l f(l)` in 16 lanes, l = 0, 1, …, n − 1 in order, from zero.
#[target_feature(enable = "avx512f")]
fn sum_steps(n: usize, mut f: impl FnMut(usize) -> __m512) -> __m512 {
    let mut sum = _mm512_setzero_ps();
    for l in 0..n {
        sum = _mm512_add_ps(sum, f(l));
    }
    sum
}

/// The forward (see `super::forward_f32`): per block of 16 rows, μ and σ² as 16 lanes, then
/// `y = γ ⊙ ((x − μ)·r) + β` along each row.
///
/// # Safety
/// The CPU must support AVX-512F; the lengths were checked (`super::check_forward`) and
/// [`fits`] holds for the row length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward(
    rows: Rows<'_, f32, &mut [f32]>,
    bias: &[f32],
    eps: f32,
    y: &mut [f32],
) {
    let Rows { x, gain, stats } = rows;
    let n = gain.len();
    if n == 0 {
        return;
    }
    let (count, offsets) = (x.len() / n, row_offsets(n));
    let len = _mm512_set1_ps(super::length(n));
    let (one, eps) = (_mm512_set1_ps(1.0), _mm512_set1_ps(eps));
    for i0 in (0..count).step_by(LANES) {
        let mask = lanes(count - i0);
        // SAFETY: lane k reads x[(i0 + k)·n + l], l < n, for rows i0 + k < count only.
        let column = |l: usize| unsafe { gather(mask, offsets, x.as_ptr().add(i0 * n + l)) };
        // μ = (Σ x)/n; σ² = (Σ (x − μ)²)/n; r = 1/√(σ² + ε)
        let mean = _mm512_div_ps(sum_steps(n, &column), len);
        let squares = sum_steps(n, |l| {
            let d = _mm512_sub_ps(column(l), mean);
            _mm512_mul_ps(d, d)
        });
        let r = _mm512_div_ps(
            one,
            _mm512_sqrt_ps(_mm512_add_ps(_mm512_div_ps(squares, len), eps)),
        );
        let (mean, r) = (to_array(mean), to_array(r));
        for k in 0..LANES.min(count - i0) {
            let i = i0 + k;
            (stats[SAVED_PER_ROW * i], stats[SAVED_PER_ROW * i + 1]) = (mean[k], r[k]);
            let row = i * n..(i + 1) * n;
            normalise_row(&x[row.clone()], gain, bias, (mean[k], r[k]), &mut y[row]);
        }
    }
}

/// `y = γ ⊙ ((x − μ)·r) + β` for one row, 16 elements at a time, the tail masked.
#[target_feature(enable = "avx512f")]
fn normalise_row(x: &[f32], gain: &[f32], bias: &[f32], (mean, r): (f32, f32), y: &mut [f32]) {
    let (m, r) = (_mm512_set1_ps(mean), _mm512_set1_ps(r));
    for j in (0..x.len()).step_by(LANES) {
        let mask = lanes(x.len() - j);
        // SAFETY: only lanes j + l < n (selected by the mask) of the slices are touched.
        unsafe {
            let xv = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(j));
            let gv = _mm512_maskz_loadu_ps(mask, gain.as_ptr().add(j));
            let bv = _mm512_maskz_loadu_ps(mask, bias.as_ptr().add(j));
            let xh = _mm512_mul_ps(_mm512_sub_ps(xv, m), r);
            let yv = _mm512_add_ps(_mm512_mul_ps(gv, xh), bv);
            _mm512_mask_storeu_ps(y.as_mut_ptr().add(j), mask, yv);
        }
    }
}

/// The backward (see `super::backward_f32`): per block of 16 rows, mean(ĝ) and mean(ĝ ⊙ x̂) as
/// 16 lanes (when x̄ is wanted), then x̄, γ̄ and β̄ along each row.
///
/// # Safety
/// As [`forward`] (`super::check_backward` checked the lengths).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn backward(rows: Rows<'_, f32, &[f32]>, g: &[f32], grads: Grads<'_, f32>) {
    let Rows { x, gain, stats } = rows;
    let Grads {
        x: mut dx,
        gain: mut dgain,
        bias: mut dbias,
    } = grads;
    let n = gain.len();
    if n == 0 {
        return;
    }
    let (count, offsets) = (x.len() / n, row_offsets(n));
    let stat_offsets = row_offsets(SAVED_PER_ROW);
    let inv_n = _mm512_set1_ps(1.0 / super::length(n));
    for i0 in (0..count).step_by(LANES) {
        let mask = lanes(count - i0);
        // SAFETY: lane k reads the (μ, r) of row i0 + k < count.
        let (mean, r) = unsafe {
            let at = stats.as_ptr().add(SAVED_PER_ROW * i0);
            (
                gather(mask, stat_offsets, at),
                gather(mask, stat_offsets, at.add(1)),
            )
        };
        let means = dx.is_some().then(|| {
            // SAFETY: lane k reads g and x at (i0 + k)·n + l, l < n, for rows < count only.
            let (g_at, x_at) = unsafe { (g.as_ptr().add(i0 * n), x.as_ptr().add(i0 * n)) };
            // mean(ĝ) = (Σ ĝ)·(1/n), mean(ĝ ⊙ x̂) = (Σ (ĝ·(x − μ))·r)·(1/n): two chains of
            // sums in one loop, each in its order.
            let (mut sum_g, mut sum_gx) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for (l, &gamma) in gain.iter().enumerate() {
                // SAFETY: as above.
                let (gl, xl) = unsafe {
                    (
                        gather(mask, offsets, g_at.add(l)),
                        gather(mask, offsets, x_at.add(l)),
                    )
                };
                let gh = _mm512_mul_ps(gl, _mm512_set1_ps(gamma));
                sum_g = _mm512_add_ps(sum_g, gh);
                sum_gx = _mm512_add_ps(
                    sum_gx,
                    _mm512_mul_ps(_mm512_mul_ps(gh, _mm512_sub_ps(xl, mean)), r),
                );
            }
            let (mean_g, mean_gx) = (_mm512_mul_ps(sum_g, inv_n), _mm512_mul_ps(sum_gx, inv_n));
            (to_array(mean_g), to_array(mean_gx))
        });
        let (mean, r) = (to_array(mean), to_array(r));
        for k in 0..LANES.min(count - i0) {
            let row = (i0 + k) * n..(i0 + k + 1) * n;
            let (xr, gr) = (&x[row.clone()], &g[row.clone()]);
            if let (Some((dx, store)), Some((mean_g, mean_gx))) = (dx.as_mut(), means) {
                let means = (mean_g[k], mean_gx[k]);
                input_grad_row(xr, gr, gain, (mean[k], r[k]), means, &mut dx[row], *store);
            }
            if let Some(dgain) = dgain.as_deref_mut() {
                gain_grad_row(xr, gr, (mean[k], r[k]), dgain);
            }
            if let Some(dbias) = dbias.as_deref_mut() {
                add_row(gr, dbias);
            }
        }
    }
}

/// `x̄ = r · ((ȳ·γ − mean(ĝ)) − ((x − μ)·r)·mean(ĝ ⊙ x̂))` for one row, written or added.
#[target_feature(enable = "avx512f")]
fn input_grad_row(
    x: &[f32],
    g: &[f32],
    gain: &[f32],
    (mean, r): (f32, f32),
    (mean_g, mean_gx): (f32, f32),
    dx: &mut [f32],
    store: Store,
) {
    let (m, r) = (_mm512_set1_ps(mean), _mm512_set1_ps(r));
    let (mg, mgx) = (_mm512_set1_ps(mean_g), _mm512_set1_ps(mean_gx));
    for j in (0..x.len()).step_by(LANES) {
        let mask = lanes(x.len() - j);
        // SAFETY: only lanes j + l < n (selected by the mask) of the slices are touched.
        unsafe {
            let xv = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(j));
            let gv = _mm512_maskz_loadu_ps(mask, g.as_ptr().add(j));
            let gamma = _mm512_maskz_loadu_ps(mask, gain.as_ptr().add(j));
            let xh = _mm512_mul_ps(_mm512_sub_ps(xv, m), r);
            let centred = _mm512_sub_ps(
                _mm512_sub_ps(_mm512_mul_ps(gv, gamma), mg),
                _mm512_mul_ps(xh, mgx),
            );
            let mut v = _mm512_mul_ps(r, centred);
            if store == Store::Accumulate {
                v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, dx.as_ptr().add(j)), v);
            }
            _mm512_mask_storeu_ps(dx.as_mut_ptr().add(j), mask, v);
        }
    }
}

/// `γ̄ += (ȳ·(x − μ))·r` for one row.
#[target_feature(enable = "avx512f")]
fn gain_grad_row(x: &[f32], g: &[f32], (mean, r): (f32, f32), dgain: &mut [f32]) {
    let (m, r) = (_mm512_set1_ps(mean), _mm512_set1_ps(r));
    for j in (0..x.len()).step_by(LANES) {
        let mask = lanes(x.len() - j);
        // SAFETY: only lanes j + l < n (selected by the mask) of the slices are touched.
        unsafe {
            let xv = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(j));
            let gv = _mm512_maskz_loadu_ps(mask, g.as_ptr().add(j));
            let d = _mm512_maskz_loadu_ps(mask, dgain.as_ptr().add(j));
            let v = _mm512_mul_ps(_mm512_mul_ps(gv, _mm512_sub_ps(xv, m)), r);
            _mm512_mask_storeu_ps(dgain.as_mut_ptr().add(j), mask, _mm512_add_ps(d, v));
        }
    }
}

/// `sums += row`.
#[target_feature(enable = "avx512f")]
fn add_row(row: &[f32], sums: &mut [f32]) {
    for j in (0..row.len()).step_by(LANES) {
        let mask = lanes(row.len() - j);
        // SAFETY: only lanes j + l < n (selected by the mask) of the slices are touched.
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, row.as_ptr().add(j));
            let s = _mm512_maskz_loadu_ps(mask, sums.as_ptr().add(j));
            _mm512_mask_storeu_ps(sums.as_mut_ptr().add(j), mask, _mm512_add_ps(s, v));
        }
    }
}
