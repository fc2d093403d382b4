//! AVX-512F layer norm: the per-row sums with one row per lane (16 rows side by side: 16
//! elements of each row loaded, then transposed in registers so that one vector holds element l
//! of every row), the rest along each row, 16 elements at a time (a ragged tail through masked
//! loads and stores, which AMD's cores make slow when every step uses them). Every product and
//! sum is the one-row code's (`super::forward_rows`, `super::backward_rows`), rounded one by one
//! in its order: the same bits.

use std::arch::x86_64::*;

use autograd::Store;

use super::{Grads, Rows, SAVED_PER_ROW, saved};
use crate::vmath::avx512::{load16, store16, tail};

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
    let (present, step) = (block.len() / n, Step::at(n, j));
    transpose16(std::array::from_fn(|k| match k < present {
        true => step.load(&block[k * n..(k + 1) * n]),
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

/// The lanes of `v` as an array.
#[inline]
#[target_feature(enable = "avx512f")]
fn to_array(v: __m512) -> [f32; LANES] {
    let mut a = [0.0; LANES];
    // SAFETY: `a` holds 16 floats.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
    a
}

/// One 16-element step along a row: where it starts and, for the ragged tail, its mask.
#[derive(Clone, Copy)]
struct Step {
    at: usize,
    mask: Option<u16>,
}

impl Step {
    /// The step starting at element `at` of a row of n elements (`at < n`).
    fn at(n: usize, at: usize) -> Step {
        Step {
            at,
            mask: tail(n - at),
        }
    }

    /// The steps along a row of n elements: whole vectors, then a masked tail if any.
    fn along(n: usize) -> impl Iterator<Item = Step> {
        (0..n).step_by(LANES).map(move |at| Step::at(n, at))
    }

    /// The step's 16 values of `row` (masked-off lanes 0).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(self, row: &[f32]) -> __m512 {
        // SAFETY: a whole step has at + 16 ≤ len; a tail's mask selects lanes < len only.
        unsafe { load16(row.as_ptr().add(self.at), self.mask) }
    }

    /// Writes `v` over the step's values of `row` (masked-off lanes untouched).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(self, row: &mut [f32], v: __m512) {
        // SAFETY: as `load`.
        unsafe { store16(row.as_mut_ptr().add(self.at), self.mask, v) }
    }
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

/// `y = γ ⊙ ((x − μ)·r) + β` for one row.
#[target_feature(enable = "avx512f")]
fn normalise_row(x: &[f32], gain: &[f32], bias: &[f32], (mean, r): (f32, f32), y: &mut [f32]) {
    let (m, r) = (_mm512_set1_ps(mean), _mm512_set1_ps(r));
    for s in Step::along(x.len()) {
        let xh = _mm512_mul_ps(_mm512_sub_ps(s.load(x), m), r);
        s.store(
            y,
            _mm512_add_ps(_mm512_mul_ps(s.load(gain), xh), s.load(bias)),
        );
    }
}

/// The backward (see `super::backward_f32`), per block of 16 rows: one walk along the block
/// ([`walk_block`]) gives mean(ĝ) and mean(ĝ ⊙ x̂) as 16 lanes and adds the rows' terms into γ̄
/// and β̄; then x̄ along each row.
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
        let block = Block {
            x: &x[i0 * n..(i0 + present) * n],
            g: &g[i0 * n..(i0 + present) * n],
            gain,
            mean,
            r,
        };
        let (sum_g, sum_gx) = walk_block(&block, dgain.as_deref_mut(), dbias.as_deref_mut());
        let Some((dx, store)) = dx.as_mut() else {
            continue;
        };
        let (mean_g, mean_gx) = (_mm512_mul_ps(sum_g, inv_n), _mm512_mul_ps(sum_gx, inv_n));
        let (mean_g, mean_gx) = (to_array(mean_g), to_array(mean_gx));
        for k in 0..present {
            let row = (i0 + k) * n..(i0 + k + 1) * n;
            let means = (mean_g[k], mean_gx[k]);
            let (xr, gr) = (&x[row.clone()], &g[row.clone()]);
            input_grad_row(xr, gr, gain, (mean[k], r[k]), means, &mut dx[row], *store);
        }
    }
}

/// Up to 16 rows of the backward's input: x and ȳ (row-major, rows of `gain.len()`), γ, and each
/// row's μ and r.
struct Block<'a> {
    x: &'a [f32],
    g: &'a [f32],
    gain: &'a [f32],
    mean: [f32; LANES],
    r: [f32; LANES],
}

/// One walk along a block's rows, 16 elements at a time. Each step computes, for every row k
/// (row-major, as the one-row code does, so the same products):
///
/// ```text
/// ĝ = ȳ·γ        t = (ĝ·(x − μ))·r       for mean(ĝ), mean(ĝ ⊙ x̂)
/// γ̄ += (ȳ·(x − μ))·r                     β̄ += ȳ            (rows in order)
/// ```
///
/// then turns ĝ and t side by side (a 16×16 transpose: lane k is row k) and adds element after
/// element into the two sums, each row's sum in its order. Returns (Σ ĝ, Σ t), row k in lane k.
/// γ̄ and β̄ stay in registers across the block's rows: the additions of the row-by-row code, in
/// its order, with one load and one store per block instead of per row.
#[inline]
#[target_feature(enable = "avx512f")]
fn walk_block(
    block: &Block<'_>,
    mut dgain: Option<&mut [f32]>,
    mut dbias: Option<&mut [f32]>,
) -> (__m512, __m512) {
    let n = block.gain.len();
    let present = block.x.len() / n;
    let (mut sum_g, mut sum_gx) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for s in Step::along(n) {
        let gain = s.load(block.gain);
        let mut dg = dgain.as_deref().map(|d| s.load(d));
        let mut db = dbias.as_deref().map(|d| s.load(d));
        let (mut gh, mut t) = ([_mm512_setzero_ps(); LANES], [_mm512_setzero_ps(); LANES]);
        for k in 0..present {
            let row = k * n..(k + 1) * n;
            let (gv, xv) = (s.load(&block.g[row.clone()]), s.load(&block.x[row]));
            let (m, r) = (_mm512_set1_ps(block.mean[k]), _mm512_set1_ps(block.r[k]));
            let d = _mm512_sub_ps(xv, m);
            gh[k] = _mm512_mul_ps(gv, gain);
            t[k] = _mm512_mul_ps(_mm512_mul_ps(gh[k], d), r);
            if let Some(dg) = dg.as_mut() {
                *dg = _mm512_add_ps(*dg, _mm512_mul_ps(_mm512_mul_ps(gv, d), r));
            }
            if let Some(db) = db.as_mut() {
                *db = _mm512_add_ps(*db, gv);
            }
        }
        if let (Some(d), Some(v)) = (dgain.as_deref_mut(), dg) {
            s.store(d, v);
        }
        if let (Some(d), Some(v)) = (dbias.as_deref_mut(), db) {
            s.store(d, v);
        }
        // Elements past a row's end are 0 in ĝ and t: only the step's own columns are added
        // (a whole step with a fixed count, so that the loop unrolls).
        let (gh, t) = (transpose16(gh), transpose16(t));
        if s.mask.is_none() {
            for l in 0..LANES {
                sum_g = _mm512_add_ps(sum_g, gh[l]);
                sum_gx = _mm512_add_ps(sum_gx, t[l]);
            }
        } else {
            for l in 0..n - s.at {
                sum_g = _mm512_add_ps(sum_g, gh[l]);
                sum_gx = _mm512_add_ps(sum_gx, t[l]);
            }
        }
    }
    (sum_g, sum_gx)
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
    for s in Step::along(x.len()) {
        let xh = _mm512_mul_ps(_mm512_sub_ps(s.load(x), m), r);
        let gh = _mm512_mul_ps(s.load(g), s.load(gain));
        let mut v = _mm512_mul_ps(
            r,
            _mm512_sub_ps(_mm512_sub_ps(gh, mg), _mm512_mul_ps(xh, mgx)),
        );
        if store == Store::Accumulate {
            v = _mm512_add_ps(s.load(dx), v);
        }
        s.store(dx, v);
    }
}
