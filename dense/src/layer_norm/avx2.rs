//! AVX2 layer norm: as the AVX-512 file, with 8 rows side by side (an 8×8 transpose) and rows taken
//! 8 elements at a time (a ragged tail through masked loads and stores). The same products and sums
//! in the same order as the one-row code: the same bits.

use std::arch::x86_64::*;

use autograd::Store;

use super::{Grads, Rows, SAVED_PER_ROW, saved};
use crate::vmath::avx2::{load8, store8, tail_mask, transpose8};

/// Rows summed side by side, one per lane.
const LANES: usize = 8;

/// Elements `j … j + 7` of a block's rows (`block`: up to 8 rows of n, row-major) as 8 vectors:
/// vector l holds element j + l of every row, row k in lane k; 0 past the block's last row or a
/// row's end.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn columns(block: &[f32], n: usize, j: usize) -> [__m256; LANES] {
    let (present, step) = (block.len() / n, Step::at(n, j));
    transpose8(std::array::from_fn(|k| match k < present {
        true => step.load(&block[k * n..(k + 1) * n]),
        false => _mm256_setzero_ps(),
    }))
}

/// `Σ_l f(x_l)` in 8 lanes, l = 0, 1, …, n − 1 in order, from zero, where `x_l` holds element
/// l of each of the block's rows (see [`columns`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sum_along(block: &[f32], n: usize, mut f: impl FnMut(__m256) -> __m256) -> __m256 {
    let mut sum = _mm256_setzero_ps();
    for j in (0..n).step_by(LANES) {
        let columns = columns(block, n, j);
        for &column in &columns[..LANES.min(n - j)] {
            sum = _mm256_add_ps(sum, f(column));
        }
    }
    sum
}

/// The lanes of `v` as an array.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn to_array(v: __m256) -> [f32; LANES] {
    let mut a = [0.0; LANES];
    // SAFETY: `a` holds 8 floats.
    unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
    a
}

/// One 8-element step along a row: where it starts and, for the ragged tail, its mask.
#[derive(Clone, Copy)]
struct Step {
    at: usize,
    tail: Option<__m256i>,
}

impl Step {
    /// The step starting at element `at` of a row of n elements (`at < n`).
    #[target_feature(enable = "avx2,fma")]
    fn at(n: usize, at: usize) -> Step {
        let tail = (n - at < LANES).then(|| tail_mask(n - at));
        Step { at, tail }
    }

    /// The steps along a row of n elements: whole vectors, then a masked tail if any.
    #[target_feature(enable = "avx2,fma")]
    fn along(n: usize) -> impl Iterator<Item = Step> {
        (0..n).step_by(LANES).map(move |at| Step::at(n, at))
    }

    /// The step's 8 values of `row` (masked-off lanes 0).
    #[target_feature(enable = "avx2,fma")]
    fn load(self, row: &[f32]) -> __m256 {
        // SAFETY: a whole step has at + 8 ≤ len; a tail's mask selects lanes < len only.
        unsafe { load8(row.as_ptr().add(self.at), self.tail) }
    }

    /// Writes `v` over the step's values of `row` (masked-off lanes untouched).
    #[target_feature(enable = "avx2,fma")]
    fn store(self, row: &mut [f32], v: __m256) {
        // SAFETY: as `load`.
        unsafe { store8(row.as_mut_ptr().add(self.at), self.tail, v) }
    }
}

/// The forward (see `super::forward_f32`): per block of 8 rows, μ and σ² as 8 lanes, then
/// `y = γ ⊙ ((x − μ)·r) + β` along each row.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the lengths were checked (`super::check_forward`).
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
    let count = x.len() / n;
    let len = _mm256_set1_ps(super::length(n));
    let (one, eps) = (_mm256_set1_ps(1.0), _mm256_set1_ps(eps));
    for i0 in (0..count).step_by(LANES) {
        let present = LANES.min(count - i0);
        let block = &x[i0 * n..(i0 + present) * n];
        // μ = (Σ x)/n; σ² = (Σ (x − μ)²)/n; r = 1/√(σ² + ε)
        let mean = _mm256_div_ps(sum_along(block, n, |x| x), len);
        let squares = sum_along(block, n, |x| {
            let d = _mm256_sub_ps(x, mean);
            _mm256_mul_ps(d, d)
        });
        let r = _mm256_div_ps(
            one,
            _mm256_sqrt_ps(_mm256_add_ps(_mm256_div_ps(squares, len), eps)),
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

/// The backward (see `super::backward_f32`), per block of 8 rows: one walk along the block
/// ([`walk_block`]) gives mean(ĝ) and mean(ĝ ⊙ x̂) as 8 lanes and adds the rows' terms into γ̄
/// and β̄; then x̄ along each row.
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
    let count = x.len() / n;
    let inv_n = _mm256_set1_ps(1.0 / super::length(n));
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
        let (mean_g, mean_gx) = (_mm256_mul_ps(sum_g, inv_n), _mm256_mul_ps(sum_gx, inv_n));
        let (mean_g, mean_gx) = (to_array(mean_g), to_array(mean_gx));
        for k in 0..present {
            let row = (i0 + k) * n..(i0 + k + 1) * n;
            let means = (mean_g[k], mean_gx[k]);
            let (xr, gr) = (&x[row.clone()], &g[row.clone()]);
            input_grad_row(xr, gr, gain, (mean[k], r[k]), means, &mut dx[row], *store);
        }
    }
}

/// Up to 8 rows of the backward's input: x and ȳ (row-major, rows of `gain.len()`), γ, and each
/// row's μ and r.
struct Block<'a> {
    x: &'a [f32],
    g: &'a [f32],
    gain: &'a [f32],
    mean: [f32; LANES],
    r: [f32; LANES],
}

/// One walk along a block's rows, 8 elements at a time. Each step computes, for every row k
/// (row-major, as the one-row code does, so the same products):
///
/// ```text
/// ĝ = ȳ·γ        t = (ĝ·(x − μ))·r       for mean(ĝ), mean(ĝ ⊙ x̂)
/// γ̄ += (ȳ·(x − μ))·r                     β̄ += ȳ            (rows in order)
/// ```
///
/// then turns ĝ and t side by side (an 8×8 transpose: lane k is row k) and adds element after
/// element into the two sums, each row's sum in its order. Returns (Σ ĝ, Σ t), row k in lane k.
/// γ̄ and β̄ stay in registers across the block's rows: the additions of the row-by-row code, in
/// its order, with one load and one store per block instead of per row.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn walk_block(
    block: &Block<'_>,
    mut dgain: Option<&mut [f32]>,
    mut dbias: Option<&mut [f32]>,
) -> (__m256, __m256) {
    let n = block.gain.len();
    let present = block.x.len() / n;
    let (mut sum_g, mut sum_gx) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for s in Step::along(n) {
        let gain = s.load(block.gain);
        let mut dg = dgain.as_deref().map(|d| s.load(d));
        let mut db = dbias.as_deref().map(|d| s.load(d));
        let (mut gh, mut t) = ([_mm256_setzero_ps(); LANES], [_mm256_setzero_ps(); LANES]);
        for k in 0..present {
            let row = k * n..(k + 1) * n;
            let (gv, xv) = (s.load(&block.g[row.clone()]), s.load(&block.x[row]));
            let (m, r) = (_mm256_set1_ps(block.mean[k]), _mm256_set1_ps(block.r[k]));
            let d = _mm256_sub_ps(xv, m);
            gh[k] = _mm256_mul_ps(gv, gain);
            t[k] = _mm256_mul_ps(_mm256_mul_ps(gh[k], d), r);
            if let Some(dg) = dg.as_mut() {
                *dg = _mm256_add_ps(*dg, _mm256_mul_ps(_mm256_mul_ps(gv, d), r));
            }
            if let Some(db) = db.as_mut() {
                *db = _mm256_add_ps(*db, gv);
            }
        }
        if let (Some(d), Some(v)) = (dgain.as_deref_mut(), dg) {
            s.store(d, v);
        }
        if let (Some(d), Some(v)) = (dbias.as_deref_mut(), db) {
            s.store(d, v);
        }
        // Elements past a row's end are 0 in ĝ and t: only the step's own columns are added
        // (a whole step with a fixed count, so that the vectors stay in registers).
        let (gh, t) = (transpose8(gh), transpose8(t));
        if s.tail.is_none() {
            for l in 0..LANES {
                sum_g = _mm256_add_ps(sum_g, gh[l]);
                sum_gx = _mm256_add_ps(sum_gx, t[l]);
            }
        } else {
            for l in 0..n - s.at {
                sum_g = _mm256_add_ps(sum_g, gh[l]);
                sum_gx = _mm256_add_ps(sum_gx, t[l]);
            }
        }
    }
    (sum_g, sum_gx)
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
