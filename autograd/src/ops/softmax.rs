//! logsumexp, softmax and log_softmax along an axis, numerically stable.
//!
//! The naive `ln Σ eˣ` overflows for x = 1e4 (e^10000 = inf) and loses everything to underflow for
//! x = −1e4. Subtracting the maximum m first fixes both, because for any m
//!
//! ```text
//! ln Σₗ e^{xₗ} = m + ln Σₗ e^{xₗ − m}
//! ```
//!
//! and with m = maxₗ xₗ every exponent is ≤ 0 (no overflow) and one of them is 0 (the sum is at
//! least 1, so the logarithm is finite). Then
//!
//! ```text
//! log_softmax(x)ₗ = xₗ − logsumexp(x) = (xₗ − m) − ln Σ e^{xₖ − m}
//! softmax(x)ₗ     = e^{log_softmax(x)ₗ}
//! ```
//!
//! Derivatives, with p = softmax(x):
//!
//! ```text
//! ∂ logsumexp/∂xₗ = pₗ                      ⇒ x̄ₗ += ȳ · e^{xₗ − y}
//! ∂ softmaxₖ/∂xₗ  = pₖ([k = l] − pₗ)        ⇒ x̄ₗ += pₗ (ȳₗ − Σₖ ȳₖ pₖ)
//! ∂ log_softmaxₖ/∂xₗ = [k = l] − pₗ          ⇒ x̄ₗ += ȳₗ − pₗ Σₖ ȳₖ
//! ```
//!
//! All three work on the `[outer, len, inner]` view of the input (see [`super::reduce`]).

use crate::float::Float;
use crate::node::AxisOp;
use crate::var::Var;

type Dims = (usize, usize, usize);

/// Element `(o, l, i)` of the `[outer, len, inner]` view.
#[inline]
fn at(o: usize, l: usize, i: usize, len: usize, inner: usize) -> usize {
    (o * len + l) * inner + i
}

/// `m + ln Σₗ e^{xₗ − m}` for the row `(o, ·, i)`, with m its maximum.
#[inline]
fn row_logsumexp<T: Float>(x: &[T], o: usize, i: usize, (_, len, inner): Dims) -> T {
    let mut m = T::NEG_INFINITY;
    for l in 0..len {
        m = m.max(x[at(o, l, i, len, inner)]);
    }
    if !m.is_finite() {
        return m; // all −∞ (an empty distribution) or some +∞: the answer is m itself
    }
    let mut s = T::zero();
    for l in 0..len {
        s += (x[at(o, l, i, len, inner)] - m).exp();
    }
    m + s.ln()
}

/// [`row_logsumexp`] for a row whose elements lie side by side (the last axis), with the same
/// bits: the maximum in four independent chains (see [`max_ignoring_nan`]), the `e^{xₗ − m}`
/// into `scratch` (as long as the row), then their sum in order, one chain of additions with no
/// library call inside it (a call would make the running sum wait in memory around each one).
fn contiguous_logsumexp<T: Float>(x: &[T], scratch: &mut [T]) -> T {
    let m = max_ignoring_nan(x);
    if !m.is_finite() {
        return m;
    }
    for (e, &v) in scratch.iter_mut().zip(x) {
        *e = (v - m).exp();
    }
    let mut s = T::zero();
    for &e in scratch.iter() {
        s += e;
    }
    m + s.ln()
}

/// The largest value of `row` that is not NaN (−∞ if none): what `m = m.max(xₗ)` from −∞ gives
/// in order, computed in four chains side by side (a row of 32 waits for 8 comparisons instead of
/// 32). Only the sign of a zero maximum can differ from the one chain, and no result depends on
/// it: `x − (+0) = x − (−0)` but for `x = ±0`, where `e^{±0} = 1` either way, and
/// `±0 + ln s` is the same number (`+0` when `s = 1`).
fn max_ignoring_nan<T: Float>(row: &[T]) -> T {
    let mut m = [T::NEG_INFINITY; 4];
    let quads = row.chunks_exact(4);
    let rest = quads.remainder();
    for q in quads {
        for (mk, &v) in m.iter_mut().zip(q) {
            *mk = mk.max(v);
        }
    }
    let mut r = m[0].max(m[1]).max(m[2].max(m[3]));
    for &v in rest {
        r = r.max(v);
    }
    r
}

/// y[o, i] = logsumexp of row (o, ·, i).
pub(crate) fn logsumexp_forward<T: Float>(x: &[T], y: &mut [T], dims: Dims) {
    let (outer, _, inner) = dims;
    for o in 0..outer {
        for i in 0..inner {
            y[o * inner + i] = row_logsumexp(x, o, i, dims);
        }
    }
}

/// x̄ₗ += ȳ · e^{xₗ − y} (= ȳ · softmax(x)ₗ).
pub(crate) fn logsumexp_backward<T: Float>(
    x: &[T],
    y: &[T],
    g: &[T],
    gx: &mut [T],
    (outer, len, inner): Dims,
) {
    for o in 0..outer {
        for i in 0..inner {
            let (yv, gv) = (y[o * inner + i], g[o * inner + i]);
            for l in 0..len {
                let k = at(o, l, i, len, inner);
                gx[k] += gv * (x[k] - yv).exp();
            }
        }
    }
}

/// `log_softmax(x)ₗ = xₗ − lse` when `log`, else `softmax(x)ₗ = e^{xₗ − lse}`, from the row's
/// `lse = logsumexp(x)`.
#[inline]
fn from_logsumexp<T: Float>(x: T, lse: T, log: bool) -> T {
    let ls = x - lse;
    if log { ls } else { ls.exp() }
}

/// y = log_softmax(x) (when `log`) or softmax(x) along the axis: `xₗ − logsumexp(x)`, then `e^`.
pub(crate) fn softmax_forward<T: Float>(x: &[T], y: &mut [T], dims: Dims, log: bool) {
    let (outer, len, inner) = dims;
    if inner == 1 && len > 0 {
        // Rows side by side: the same numbers, with each output row as the exponentials' scratch.
        for (xr, yr) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)) {
            let lse = contiguous_logsumexp(xr, yr);
            for (yv, &xv) in yr.iter_mut().zip(xr) {
                *yv = from_logsumexp(xv, lse, log);
            }
        }
        return;
    }
    for o in 0..outer {
        for i in 0..inner {
            let lse = row_logsumexp(x, o, i, dims);
            for l in 0..len {
                let k = at(o, l, i, len, inner);
                y[k] = from_logsumexp(x[k], lse, log);
            }
        }
    }
}

/// x̄ₗ += pₗ (ȳₗ − Σₖ ȳₖ pₖ), with p = y the softmax output.
pub(crate) fn softmax_backward<T: Float>(
    y: &[T],
    g: &[T],
    gx: &mut [T],
    (outer, len, inner): Dims,
) {
    for o in 0..outer {
        for i in 0..inner {
            let mut dot = T::zero();
            for l in 0..len {
                let k = at(o, l, i, len, inner);
                dot += g[k] * y[k];
            }
            for l in 0..len {
                let k = at(o, l, i, len, inner);
                gx[k] += y[k] * (g[k] - dot);
            }
        }
    }
}

/// One element of log_softmax's backward: `ȳₗ − pₗ Σₖ ȳₖ` with `pₗ = e^{yₗ}`.
#[inline]
fn log_softmax_grad<T: Float>(g: T, y: T, sum_g: T) -> T {
    g - y.exp() * sum_g
}

/// x̄ₗ += ȳₗ − pₗ Σₖ ȳₖ, with pₗ = e^{yₗ} recovered from the log_softmax output y.
pub(crate) fn log_softmax_backward<T: Float>(
    y: &[T],
    g: &[T],
    gx: &mut [T],
    (outer, len, inner): Dims,
) {
    if inner == 1 && len > 0 {
        // Rows side by side: the same operations in the same order, on slices.
        let rows = y.chunks_exact(len).zip(g.chunks_exact(len));
        for ((yr, gr), gxr) in rows.zip(gx.chunks_exact_mut(len)) {
            let mut sum_g = T::zero();
            for &gv in gr {
                sum_g += gv;
            }
            for ((d, &yv), &gv) in gxr.iter_mut().zip(yr).zip(gr) {
                *d += log_softmax_grad(gv, yv, sum_g);
            }
        }
        return;
    }
    for o in 0..outer {
        for i in 0..inner {
            let mut sum_g = T::zero();
            for l in 0..len {
                sum_g += g[at(o, l, i, len, inner)];
            }
            for l in 0..len {
                let k = at(o, l, i, len, inner);
                gx[k] += log_softmax_grad(g[k], y[k], sum_g);
            }
        }
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// ln Σ eˣ along `axis` (removed, or kept with length 1 when `keepdim`), computed as
    /// `m + ln Σ e^{x − m}` with m the maximum, so it is finite and exact for logits like ±1e4.
    /// ∂y/∂xₗ = softmax(x)ₗ.
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn logsumexp(self, axis: usize, keepdim: bool) -> Self {
        self.axis_op(AxisOp::LogSumExp, axis, keepdim)
    }

    /// softmax along `axis`: `pₗ = e^{xₗ − logsumexp(x)}` (same shape).
    /// `∂pₖ/∂xₗ = pₖ(δₖₗ − pₗ)` (δ = 1 when k = l, else 0).
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn softmax(self, axis: usize) -> Self {
        self.axis_op(AxisOp::Softmax, axis, false)
    }

    /// log_softmax along `axis`: `xₗ − logsumexp(x)` (same shape), stable for large logits.
    /// `∂yₖ/∂xₗ = δₖₗ − softmax(x)ₗ` (δ = 1 when k = l, else 0).
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1e4, 0.0, -1e4], &[3]));
    /// let y = x.log_softmax(0).value();
    /// assert_eq!(y.data(), &[0.0, -1e4, -2e4]);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn log_softmax(self, axis: usize) -> Self {
        self.axis_op(AxisOp::LogSoftmax, axis, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows-side-by-side path gives the bits of the strided one: the same rows stored as the
    /// columns of the transpose (`inner > 1`) go through the general loop.
    fn contiguous_rows_have_the_strided_bits<T: Float + std::fmt::Debug>(bits: impl Fn(T) -> u64) {
        let specials = [
            T::zero() / T::zero(),
            T::INFINITY,
            T::NEG_INFINITY,
            -T::zero(),
            T::zero(),
        ];
        let len = 33;
        let mut rows: Vec<Vec<T>> = (0..9)
            .map(|r| {
                (0..len)
                    .map(|l| T::from_f64(((r * len + l) as f64 * 0.77).sin() * 2.0))
                    .collect()
            })
            .collect();
        rows[1][4] = specials[0]; // a NaN among numbers
        rows[2][0] = specials[1]; // +∞
        rows[3].fill(specials[2]); // every entry −∞
        rows[4].fill(specials[3]); // every entry −0: the maximum is a zero of either sign
        rows[4][7] = specials[4];
        rows[5][32] = T::from_f64(1e30); // one entry far above the rest
        let n = rows.len();
        // The n rows of `v` stored as the columns of its transpose, and back.
        let t = |v: &[T], rows: usize, cols: usize| {
            (0..rows * cols)
                .map(|k| v[(k % rows) * cols + k / rows])
                .collect::<Vec<T>>()
        };
        // `rowwise` (rows side by side) has the bits of `strided` (the same rows as columns).
        let same_bits = |rowwise: &[T], strided: &[T], what: &str| {
            for (k, (&a, &b)) in rowwise.iter().zip(&t(strided, len, n)).enumerate() {
                assert_eq!(
                    bits(a),
                    bits(b),
                    "{what}: row {}, entry {}",
                    k / len,
                    k % len
                );
            }
        };
        let x: Vec<T> = rows.concat();
        let xt = t(&x, n, len);
        for log in [false, true] {
            let (mut y, mut yt) = (vec![T::zero(); x.len()], vec![T::zero(); x.len()]);
            softmax_forward(&x, &mut y, (n, len, 1), log);
            softmax_forward(&xt, &mut yt, (1, len, n), log);
            same_bits(&y, &yt, if log { "log_softmax" } else { "softmax" });
        }
        // The log_softmax backward, from finite log-probabilities and a gradient with a NaN.
        let y: Vec<T> = (0..n * len)
            .map(|k| T::from_f64(-((k as f64 * 0.31).sin().abs() * 5.0)))
            .collect();
        let mut g: Vec<T> = (0..n * len)
            .map(|k| T::from_f64((k as f64 * 0.53).cos()))
            .collect();
        g[3 * len + 2] = specials[0];
        let start: Vec<T> = (0..n * len).map(|k| T::from_f64(k as f64 * 0.01)).collect();
        let (mut gx, mut gxt) = (start.clone(), t(&start, n, len));
        log_softmax_backward(&y, &g, &mut gx, (n, len, 1));
        log_softmax_backward(&t(&y, n, len), &t(&g, n, len), &mut gxt, (1, len, n));
        same_bits(&gx, &gxt, "log_softmax backward");
    }

    #[test]
    fn contiguous_rows_have_the_strided_bits_f32() {
        contiguous_rows_have_the_strided_bits::<f32>(|v| v.to_bits() as u64);
    }

    #[test]
    fn contiguous_rows_have_the_strided_bits_f64() {
        contiguous_rows_have_the_strided_bits::<f64>(|v| v.to_bits());
    }
}
