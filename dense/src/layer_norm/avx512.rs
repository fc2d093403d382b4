//! AVX-512F layer norm: the per-row sums with one row per lane (16 rows side by side: 16
//! elements of each row loaded, then transposed in registers so that one vector holds element l
//! of every row), the rest along each row, 16 elements at a time. Every product and
//! sum is the one-row code's (`super::forward_rows`, `super::backward_rows`), rounded one by one
//! in its order: the same bits.

use std::arch::x86_64::*;

use autograd::Store;

use super::{Grads, Rows, SAVED_PER_ROW, saved};
use crate::vmath::avx512::lanes;

/// Rows summed side by side, one per lane.
const LANES: usize = 16;

/// The 16×16 transpose: `out[l]` lane k is `rows[k]` lane l. Four rounds of 16 shuffles, each
/// round pairing lanes twice as far apart: 32-bit elements, then 64-bit ones (rows 4g…4g+3 of
/// column `4q + c` now share 128-bit lane q of `u[4g + c]`), then 128-bit lanes twice.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(rows: [__m512; LANES]) -> [__m512; LANES] {
    let pairs = |f: fn(__m512, __m512) -> __m512, k: usize| f(rows[2 * k], rows[2 * k + 1]);
    let t: [__m512; LANES] = std::array::from_fn(|i| match i % 2 {
        0 => pairs(|a, b| _mm512_unpacklo_ps(a, b), i / 2),
        _ => pairs(|a, b| _mm512_unpackhi_ps(a, b), i / 2),
    });
    let u: [__m512; LANES] = std::array::from_fn(|i| {
        let (g, c) = (i / 4, i % 4);
        let (a, b) = (
            _mm512_castps_pd(t[4 * g + c / 2]),
            _mm512_castps_pd(t[4 * g + c / 2 + 2]),
        );
        _mm512_castpd_ps(match c % 2 {
            0 => _mm512_unpacklo_pd(a, b),
            _ => _mm512_unpackhi_pd(a, b),
        })
    });
    // out[4q + c] = [u[c] lane q, u[4 + c] lane q, u[8 + c] lane q, u[12 + c] lane q]
    std::array::from_fn(|i| {
        let (q, c) = (i / 4, i % 4);
        let (low, high) = match q / 2 {
            0 => (
                _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]),
                _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]),
            ),
            _ => (
                _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]),
                _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]),
            ),
        };
        match q % 2 {
            0 => _mm512_shuffle_f32x4::<0x88>(low, high),
            _ => _mm512_shuffle_f32x4::<0xDD>(low, high),
        }
    })
}

/// Elements `j … j + 15` of a block's rows (`block`: up to 16 rows of n, row-major) as 16
/// vectors: vector l holds element j + l of every row, row k in lane k; 0 past the block's last
/// row or a row's end.
#[inline]
#[target_feature(enable = "avx512f")]
fn columns(block: &[f32], n: usize, j: usize) -> [__m512; LANES] {
    let (present, mask) = (block.len() / n, lanes(n - j));
    transpose16(std::array::from_fn(|k| match k < present {
        // SAFETY: row k is in the block, and the mask selects its elements j + l < n only.
        true => unsafe { _mm512_maskz_loadu_ps(mask, block.as_ptr().add(k * n + j)) },
        false => _mm512_setzero_ps(),
    }))
}

/// `Σ_l f(x_l)` in 16 lanes, l = 0, 1, …, n − 1 in order, from zero, where `x_l` holds element
/// l of each of the block's rows (see [`columns`]).
#[inline]
#[target_feature(enable = "avx512f")]
fn sum_along(block: &[f32], n: usize, mut f: impl FnMut(__m512) -> __m512) -> __m512 {
    let mut sum = _mm512_setzero_ps();
    for j in (0..n).step_by(LANES) {
        for &column in columns(block, n, j).iter().take(n - j) {
            sum = _mm512_add_ps(sum, f(column));
        }
    }
    sum
}

/// The vector of lanes `a`.
#[inline]
#[target_feature(enable = "avx512f")]
fn from_array(a: &[f32; LANES]) -> __m512 {
    // SAFETY: `a` holds 16 floats.
    unsafe { _mm512_loadu_ps(a.as_ptr()) }
}

/// The lanes of `v` as an array.
#[inline]
#[target_feature(enable = "avx512f")]
fn to_array(v: __m512) -> [f32; LANES] {
    let mut a = [0.0; LANES];
    // SAFETY: `a` holds 16 floats.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
    a
}

/// The forward (see `super::forward_f32`): per block of 16 rows, μ and σ² as 16 lanes, then
/// `y = γ ⊙ ((x − μ)·r) + β` along each row.
///
/// # Safety
/// The CPU must support AVX-512F; the lengths were checked (`super::check_forward`).
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
    let count = x.len() / n;
    let len = _mm512_set1_ps(super::length(n));
    let (one, eps) = (_mm512_set1_ps(1.0), _mm512_set1_ps(eps));
    for i0 in (0..count).step_by(LANES) {
        let present = LANES.min(count - i0);
        let block = &x[i0 * n..(i0 + present) * n];
        // μ = (Σ x)/n; σ² = (Σ (x − μ)²)/n; r = 1/√(σ² + ε)
        let mean = _mm512_div_ps(sum_along(block, n, |x| x), len);
        let squares = sum_along(block, n, |x| {
            let d = _mm512_sub_ps(x, mean);
            _mm512_mul_ps(d, d)
        });
        let r = _mm512_div_ps(
            one,
            _mm512_sqrt_ps(_mm512_add_ps(_mm512_div_ps(squares, len), eps)),
        );
        let (mean, r) = (to_array(mean), to_array(r));
        for k in 0..present {
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
    let count = x.len() / n;
    let inv_n = _mm512_set1_ps(1.0 / super::length(n));
    for i0 in (0..count).step_by(LANES) {
        let present = LANES.min(count - i0);
        let (mean, r) = (saved(stats, i0, present, 0), saved(stats, i0, present, 1));
        let means = dx.is_some().then(|| {
            let (mean, r) = (from_array(&mean), from_array(&r));
            let block = i0 * n..(i0 + present) * n;
            let (g_block, x_block) = (&g[block.clone()], &x[block]);
            // mean(ĝ) = (Σ ĝ)·(1/n), mean(ĝ ⊙ x̂) = (Σ (ĝ·(x − μ))·r)·(1/n): two chains of
            // sums in one loop, each in its order.
            let (mut sum_g, mut sum_gx) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for j in (0..n).step_by(LANES) {
                let (gs, xs) = (columns(g_block, n, j), columns(x_block, n, j));
                for l in 0..LANES.min(n - j) {
                    let gh = _mm512_mul_ps(gs[l], _mm512_set1_ps(gain[j + l]));
                    sum_g = _mm512_add_ps(sum_g, gh);
                    let term = _mm512_mul_ps(_mm512_mul_ps(gh, _mm512_sub_ps(xs[l], mean)), r);
                    sum_gx = _mm512_add_ps(sum_gx, term);
                }
            }
            let (mean_g, mean_gx) = (_mm512_mul_ps(sum_g, inv_n), _mm512_mul_ps(sum_gx, inv_n));
            (to_array(mean_g), to_array(mean_gx))
        });
        for k in 0..present {
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
