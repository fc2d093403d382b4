//! AVX2 layer norm: as the AVX-512 file, with 8 rows side by side and rows taken 8 elements at a
//! time (a ragged tail through masked loads and stores). The same products and sums in the same
//! order as the one-row code: the same bits.

use std::arch::x86_64::*;

use autograd::Store;

use super::{Grads, Rows, SAVED_PER_ROW};
use crate::vmath::avx2::tail_mask;

/// Rows summed side by side, one per lane.
const LANES: usize = 8;

/// True when the offsets of 8 rows of length n fit the gather's 32-bit indices.
pub(super) fn fits(n: usize) -> bool {
    n.checked_mul(LANES)
        .is_some_and(|span| span <= i32::MAX as usize)
}

/// Offsets of element 0 of 8 consecutive rows of length n: `0, n, 2n, …, 7n`.
#[target_feature(enable = "avx2,fma")]
fn row_offsets(n: usize) -> __m256i {
    let k = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_mullo_epi32(k, _mm256_set1_epi32(n as i32))
}

/// `at[offsets[k]]` in lane k for the lanes of `mask`, 0 in the others.
///
/// # Safety
/// Every selected `at + offsets[k]` must be readable.
#[target_feature(enable = "avx2,fma")]
unsafe fn gather(mask: __m256i, offsets: __m256i, at: *const f32) -> __m256 {
    let mask = _mm256_castsi256_ps(mask);
    // SAFETY: the caller guarantees the selected lanes' addresses; the others are not read.
    unsafe { _mm256_mask_i32gather_ps::<4>(_mm256_setzero_ps(), at, offsets, mask) }
}

/// The lanes of `v` as an array.
#[target_feature(enable = "avx2,fma")]
fn to_array(v: __m256) -> [f32; LANES] {
    let mut a = [0.0; LANES];
    // SAFETY: `a` holds 8 floats.
    unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
    a
}

/// `Σ_l f(l)` in 8 lanes, l = 0, 1, …, n − 1 in order, from zero.
#[target_feature(enable = "avx2,fma")]
fn sum_steps(n: usize, mut f: impl FnMut(usize) -> __m256) -> __m256 {
    let mut sum = _mm256_setzero_ps();
    for l in 0..n {
        sum = _mm256_add_ps(sum, f(l));
    }
    sum
}

/// One 8-element step along a row: where it starts and, for the ragged tail, its mask.
#[derive(Clone, Copy)]
struct Step {
    at: usize,
    tail: Option<__m256i>,
}

impl Step {
    /// The steps along a row of n elements: whole vectors, then a masked tail if any.
    #[target_feature(enable = "avx2,fma")]
    fn along(n: usize) -> impl Iterator<Item = Step> {
        (0..n).step_by(LANES).map(move |at| Step {
            at,
            tail: (n - at < LANES).then(|| tail_mask(n - at)),
        })
    }

    /// The step's 8 values of `row` (masked-off lanes 0).
    #[target_feature(enable = "avx2,fma")]
    fn load(self, row: &[f32]) -> __m256 {
        // SAFETY: a whole step has at + 8 ≤ len; a tail's mask selects lanes < len only.
        unsafe {
            match self.tail {
                None => _mm256_loadu_ps(row.as_ptr().add(self.at)),
                Some(mask) => _mm256_maskload_ps(row.as_ptr().add(self.at), mask),
            }
        }
    }

    /// Writes `v` over the step's values of `row` (masked-off lanes untouched).
    #[target_feature(enable = "avx2,fma")]
    fn store(self, row: &mut [f32], v: __m256) {
        // SAFETY: as `load`.
        unsafe {
            match self.tail {
                None => _mm256_storeu_ps(row.as_mut_ptr().add(self.at), v),
                Some(mask) => _mm256_maskstore_ps(row.as_mut_ptr().add(self.at), mask, v),
            }
        }
    }
}

/// The forward (see `super::forward_f32`): per block of 8 rows, μ and σ² as 8 lanes, then
/// `y = γ ⊙ ((x − μ)·r) + β` along each row.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the lengths were checked (`super::check_forward`) and
/// [`fits`] holds for the row length.
#[target_feature(enable = "avx2,fma")]
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
    let len = _mm256_set1_ps(super::length(n));
    let (one, eps) = (_mm256_set1_ps(1.0), _mm256_set1_ps(eps));
    for i0 in (0..count).step_by(LANES) {
        let mask = tail_mask(LANES.min(count - i0));
        // SAFETY: lane k reads x[(i0 + k)·n + l], l < n, for rows i0 + k < count only.
        let column = |l: usize| unsafe { gather(mask, offsets, x.as_ptr().add(i0 * n + l)) };
        // μ = (Σ x)/n; σ² = (Σ (x − μ)²)/n; r = 1/√(σ² + ε)
        let mean = _mm256_div_ps(sum_steps(n, &column), len);
        let squares = sum_steps(n, |l| {
            let d = _mm256_sub_ps(column(l), mean);
            _mm256_mul_ps(d, d)
        });
        let r = _mm256_div_ps(
            one,
            _mm256_sqrt_ps(_mm256_add_ps(_mm256_div_ps(squares, len), eps)),
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

/// `y = γ ⊙ ((x − μ)·r) + β` for one row.
#[target_feature(enable = "avx2,fma")]
fn normalise_row(x: &[f32], gain: &[f32], bias: &[f32], (mean, r): (f32, f32), y: &mut [f32]) {
    let (m, r) = (_mm256_set1_ps(mean), _mm256_set1_ps(r));
    for s in Step::along(x.len()) {
        let xh = _mm256_mul_ps(_mm256_sub_ps(s.load(x), m), r);
        s.store(
            y,
            _mm256_add_ps(_mm256_mul_ps(s.load(gain), xh), s.load(bias)),
        );
    }
}

/// The backward (see `super::backward_f32`): per block of 8 rows, mean(ĝ) and mean(ĝ ⊙ x̂) as
/// 8 lanes (when x̄ is wanted), then x̄, γ̄ and β̄ along each row.
///
/// # Safety
/// As [`forward`] (`super::check_backward` checked the lengths).
#[target_feature(enable = "avx2,fma")]
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
    let inv_n = _mm256_set1_ps(1.0 / super::length(n));
    for i0 in (0..count).step_by(LANES) {
        let mask = tail_mask(LANES.min(count - i0));
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
            let (mut sum_g, mut sum_gx) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for (l, &gamma) in gain.iter().enumerate() {
                // SAFETY: as above.
                let (gl, xl) = unsafe {
                    (
                        gather(mask, offsets, g_at.add(l)),
                        gather(mask, offsets, x_at.add(l)),
                    )
                };
                let gh = _mm256_mul_ps(gl, _mm256_set1_ps(gamma));
                sum_g = _mm256_add_ps(sum_g, gh);
                sum_gx = _mm256_add_ps(
                    sum_gx,
                    _mm256_mul_ps(_mm256_mul_ps(gh, _mm256_sub_ps(xl, mean)), r),
                );
            }
            let (mean_g, mean_gx) = (_mm256_mul_ps(sum_g, inv_n), _mm256_mul_ps(sum_gx, inv_n));
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
#[target_feature(enable = "avx2,fma")]
fn input_grad_row(
    x: &[f32],
    g: &[f32],
    gain: &[f32],
    (mean, r): (f32, f32),
    (mean_g, mean_gx): (f32, f32),
    dx: &mut [f32],
    store: Store,
) {
    let (m, r) = (_mm256_set1_ps(mean), _mm256_set1_ps(r));
    let (mg, mgx) = (_mm256_set1_ps(mean_g), _mm256_set1_ps(mean_gx));
    for s in Step::along(x.len()) {
        let xh = _mm256_mul_ps(_mm256_sub_ps(s.load(x), m), r);
        let gh = _mm256_mul_ps(s.load(g), s.load(gain));
        let mut v = _mm256_mul_ps(
            r,
            _mm256_sub_ps(_mm256_sub_ps(gh, mg), _mm256_mul_ps(xh, mgx)),
        );
        if store == Store::Accumulate {
            v = _mm256_add_ps(s.load(dx), v);
        }
        s.store(dx, v);
    }
}

/// `γ̄ += (ȳ·(x − μ))·r` for one row.
#[target_feature(enable = "avx2,fma")]
fn gain_grad_row(x: &[f32], g: &[f32], (mean, r): (f32, f32), dgain: &mut [f32]) {
    let (m, r) = (_mm256_set1_ps(mean), _mm256_set1_ps(r));
    for s in Step::along(x.len()) {
        let v = _mm256_mul_ps(_mm256_mul_ps(s.load(g), _mm256_sub_ps(s.load(x), m)), r);
        s.store(dgain, _mm256_add_ps(s.load(dgain), v));
    }
}

/// `sums += row`.
#[target_feature(enable = "avx2,fma")]
fn add_row(row: &[f32], sums: &mut [f32]) {
    for s in Step::along(row.len()) {
        s.store(sums, _mm256_add_ps(s.load(sums), s.load(row)));
    }
}
