//! Packing: copying a block of A or B into the exact order the micro-kernel reads it.
//!
//! The micro-kernel computes an `MR×NR` tile of C as a sum over `p` of outer products
//! `A[i0.., p] ⊗ B[p, j0..]`. Packing lays each operand out so that step `p` reads one
//! contiguous run of `MR` values of A and one of `NR` values of B:
//!
//! ```text
//!  A block (mc × kc)           packed A: panels of MR rows, column by column
//!  ┌────────────┐              [a00 a10 .. a(MR-1)0 | a01 a11 .. | ... ]  panel 0
//!  │ panel 0    │ MR rows      [ ...                                    ]  panel 1
//!  ├────────────┤
//!  │ panel 1    │              packed B: panels of NR columns, row by row
//!  └────────────┘              [b00 b01 .. b0(NR-1) | b10 b11 .. | ... ]  panel 0
//! ```
//!
//! Whatever the strides of the source view (row-major, transposed, padded), the kernel then
//! streams memory linearly, and a panel edge shorter than `MR`/`NR` is padded with zeros so the
//! kernel never needs a special case inside its loop.

use std::ops::Range;

use crate::kernel::Kernel;
use crate::scalar::Scalar;
use crate::view::MatRef;

/// Grows `dst` so that `len` values fit from a 64-byte-aligned element on, and returns that
/// range: vector loads from an aligned panel never straddle two cache lines.
fn aligned_region<T: Scalar>(dst: &mut Vec<T>, len: usize) -> Range<usize> {
    let slack = 64 / std::mem::size_of::<T>();
    if dst.len() < len + slack {
        dst.resize(len + slack, T::ZERO);
    }
    let start = dst.as_ptr().align_offset(64).min(slack);
    start..start + len
}

/// Packs `a` (mc × kc) into `ceil(mc/mr)` panels of `mr × kc`, zero-padded; returns the range of
/// `dst` that holds them (64-byte aligned).
pub(crate) fn pack_a<T: Scalar>(a: MatRef<'_, T>, mr: usize, dst: &mut Vec<T>) -> Range<usize> {
    let (m, k) = (a.rows(), a.cols());
    let panels = m.div_ceil(mr);
    let region = aligned_region(dst, panels * mr * k);
    let dst = &mut dst[region.clone()];
    let data = a.as_slice();
    let (rs, cs) = (a.rs(), a.cs());
    for panel in 0..panels {
        let i0 = panel * mr;
        let rows = mr.min(m - i0);
        let out = &mut dst[panel * mr * k..(panel + 1) * mr * k];
        if rows < mr {
            out.fill(T::ZERO);
        }
        if rs == 1 && rows == mr && matches!(mr, 4 | 6 | 12) {
            // Column p of a full panel is contiguous in the source: fixed-size copies.
            match mr {
                4 => copy_runs::<T, 4>(data, i0, cs, out),
                6 => copy_runs::<T, 6>(data, i0, cs, out),
                _ => copy_runs::<T, 12>(data, i0, cs, out),
            }
        } else if rs == 1 {
            // Column p of the panel is contiguous in the source: copy it whole.
            for (p, o) in out.chunks_exact_mut(mr).enumerate() {
                let s = i0 + p * cs;
                o[..rows].copy_from_slice(&data[s..s + rows]);
            }
        } else if cs == 1 && rows == mr && matches!(mr, 4 | 6 | 12) {
            // Full panel of a row-major block: a fixed-size gather the compiler unrolls.
            match mr {
                4 => gather_rows::<T, 4>(data, i0, rs, k, out),
                6 => gather_rows::<T, 6>(data, i0, rs, k, out),
                _ => gather_rows::<T, 12>(data, i0, rs, k, out),
            }
        } else if cs == 1 {
            for i in 0..rows {
                let s = (i0 + i) * rs;
                for (o, &v) in out.chunks_exact_mut(mr).zip(&data[s..s + k]) {
                    o[i] = v;
                }
            }
        } else {
            for (p, o) in out.chunks_exact_mut(mr).enumerate() {
                for (i, slot) in o[..rows].iter_mut().enumerate() {
                    *slot = data[(i0 + i) * rs + p * cs];
                }
            }
        }
    }
    region
}

/// `out[p·MR + i] = A[i0 + i, p]` for a row-major source (row stride `rs`): step `p` reads one
/// value from each of the MR rows and writes MR contiguous values.
fn gather_rows<T: Scalar, const MR: usize>(
    data: &[T],
    i0: usize,
    rs: usize,
    k: usize,
    out: &mut [T],
) {
    let rows: [&[T]; MR] = std::array::from_fn(|i| &data[(i0 + i) * rs..(i0 + i) * rs + k]);
    for (p, o) in out.chunks_exact_mut(MR).take(k).enumerate() {
        for i in 0..MR {
            o[i] = rows[i][p];
        }
    }
}

/// `out[p·N .. p·N + N] = data[start + p·step ..][..N]` for every run `p`: a compile-time
/// length turns each copy into a few vector moves instead of a `memcpy` call.
fn copy_runs<T: Scalar, const N: usize>(data: &[T], start: usize, step: usize, out: &mut [T]) {
    for (p, o) in out.chunks_exact_mut(N).enumerate() {
        let s = start + p * step;
        let src: &[T; N] = data[s..s + N].try_into().expect("N values");
        let dst: &mut [T; N] = o.try_into().expect("N values");
        *dst = *src;
    }
}

/// Packs `b` (kc × nc) into `ceil(nc/nr)` panels of `kc × nr`, zero-padded; returns the range of
/// `dst` that holds them (64-byte aligned).
pub(crate) fn pack_b<T: Scalar>(
    kernel: Kernel,
    b: MatRef<'_, T>,
    nr: usize,
    dst: &mut Vec<T>,
) -> Range<usize> {
    let (k, n) = (b.rows(), b.cols());
    let panels = n.div_ceil(nr);
    let region = aligned_region(dst, panels * nr * k);
    let dst = &mut dst[region.clone()];
    let data = b.as_slice();
    let (rs, cs) = (b.rs(), b.cs());
    for panel in 0..panels {
        let j0 = panel * nr;
        let cols = nr.min(n - j0);
        let out = &mut dst[panel * nr * k..(panel + 1) * nr * k];
        if cols < nr {
            out.fill(T::ZERO);
        }
        if cs == 1 && cols == nr && matches!(nr, 4 | 8 | 16 | 32) {
            // Row p of a full panel is contiguous in the source: fixed-size copies.
            match nr {
                4 => copy_runs::<T, 4>(data, j0, rs, out),
                8 => copy_runs::<T, 8>(data, j0, rs, out),
                16 => copy_runs::<T, 16>(data, j0, rs, out),
                _ => copy_runs::<T, 32>(data, j0, rs, out),
            }
        } else if cs == 1 {
            // Row p of the panel is contiguous in the source: copy it whole.
            for (p, o) in out.chunks_exact_mut(nr).enumerate() {
                let s = p * rs + j0;
                o[..cols].copy_from_slice(&data[s..s + cols]);
            }
        } else if rs == 1 {
            // B read transposed (e.g. Wᵀ in dX = dY·Wᵀ): columns are contiguous. Eight columns at
            // a time, so each step of p writes eight adjacent values instead of one.
            let mut j = 0;
            while j + 8 <= cols {
                let src: [&[T]; 8] = std::array::from_fn(|q| {
                    let s = (j0 + j + q) * cs;
                    &data[s..s + k]
                });
                if !T::pack_columns8(kernel, src, out, nr, j) {
                    for (p, o) in out.chunks_exact_mut(nr).enumerate() {
                        let o = &mut o[j..j + 8];
                        for q in 0..8 {
                            o[q] = src[q][p];
                        }
                    }
                }
                j += 8;
            }
            for j in j..cols {
                let s = (j0 + j) * cs;
                for (o, &v) in out.chunks_exact_mut(nr).zip(&data[s..s + k]) {
                    o[j] = v;
                }
            }
        } else {
            for (p, o) in out.chunks_exact_mut(nr).enumerate() {
                for (j, slot) in o[..cols].iter_mut().enumerate() {
                    *slot = data[p * rs + (j0 + j) * cs];
                }
            }
        }
    }
    region
}

/// The vectorised packing of a transposed B.
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use crate::vmath::avx2::transpose8;

    /// `out[p·nr + j + q] = cols[q][p]` for the 8 columns `q` and every `p`: 8 values of each
    /// column loaded side by side, transposed in registers (`transpose8`), and stored as 8 rows
    /// of the panel; the last `k mod 8` rows one value at a time.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; the columns have the same length `k`, and
    /// `out` holds `k` rows of `nr ≥ j + 8` values.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn pack_columns8(cols: [&[f32]; 8], out: &mut [f32], nr: usize, j: usize) {
        let k = cols[0].len();
        assert!(
            cols.iter().all(|c| c.len() == k) && j + 8 <= nr && out.len() >= k * nr,
            "pack_columns8: columns of unequal length or a panel too small"
        );
        let full = k / 8 * 8;
        for p in (0..full).step_by(8) {
            // SAFETY: p + 8 ≤ k values of each column are read.
            let rows = std::array::from_fn(|q| unsafe { _mm256_loadu_ps(cols[q][p..].as_ptr()) });
            for (r, row) in transpose8(rows).into_iter().enumerate() {
                // SAFETY: (p + r)·nr + j + 8 ≤ k·nr ≤ out.len().
                unsafe { _mm256_storeu_ps(out[(p + r) * nr + j..].as_mut_ptr(), row) };
            }
        }
        for p in full..k {
            for (q, col) in cols.iter().enumerate() {
                out[p * nr + j + q] = col[p];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_a_interleaves_rows_and_pads() {
        // 3x2 row-major A, MR = 2: panel 0 = rows 0,1; panel 1 = row 2 + a zero row.
        let d = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = Vec::new();
        let r = pack_a(MatRef::row_major(&d, 3, 2), 2, &mut out);
        assert_eq!(&out[r.clone()], &[1.0, 3.0, 2.0, 4.0, 5.0, 0.0, 6.0, 0.0]);
        // The same matrix stored column-major packs identically.
        let dc = [1.0f32, 3.0, 5.0, 2.0, 4.0, 6.0];
        let mut out2 = Vec::new();
        let r2 = pack_a(MatRef::col_major(&dc, 3, 2), 2, &mut out2);
        assert_eq!(&out2[r2], &out[r]);
    }

    #[test]
    fn pack_b_keeps_rows_and_pads() {
        // 2x3 B, NR = 2: panel 0 = cols 0,1; panel 1 = col 2 + a zero column.
        let d = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = Vec::new();
        let r = pack_b(Kernel::Portable, MatRef::row_major(&d, 2, 3), 2, &mut out);
        assert_eq!(&out[r.clone()], &[1.0, 2.0, 4.0, 5.0, 3.0, 0.0, 6.0, 0.0]);
        let dt = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        let mut out2 = Vec::new();
        let r2 = pack_b(Kernel::Portable, MatRef::col_major(&dt, 2, 3), 2, &mut out2);
        assert_eq!(&out2[r2], &out[r]);
    }

    /// A transposed B (column-major) packs into the panels of its definition on every path,
    /// whose vector instructions move 8 columns × 8 rows at a time: rows past the last whole 8
    /// (19 = 8 + 8 + 3), columns past the last whole 8 and a ragged last panel (37 = 32 + 5).
    #[test]
    fn transposed_b_packs_alike_on_every_path() {
        let (k, n) = (19, 37);
        let d: Vec<f32> = (0..k * n).map(|x| x as f32).collect();
        let b = MatRef::col_major(&d, k, n);
        for nr in [8, 16, 32] {
            for kernel in Kernel::available() {
                let mut out = Vec::new();
                let r = pack_b(kernel, b, nr, &mut out);
                let packed = &out[r];
                for j in 0..n.div_ceil(nr) * nr {
                    for p in 0..k {
                        let expect = if j < n { d[j * k + p] } else { 0.0 };
                        let at = (j / nr) * k * nr + p * nr + j % nr;
                        assert_eq!(packed[at], expect, "{kernel:?} nr {nr}: B[{p}, {j}]");
                    }
                }
            }
        }
    }
}
