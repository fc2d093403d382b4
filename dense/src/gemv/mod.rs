//! GEMV: the one-row product `y = act(alpha·x·B + beta·y + bias)` used when acting with one
//! observation (batch 1), and up to [`MAX_ROWS`] of them sharing B (a layer's weight gradient
//! `xᵀ·z̄` when the layer has at most four inputs). Packing would copy all of B to use it once,
//! so this path reads B in place, in whichever order is contiguous:
//!
//! - B row-major (`cs == 1`, the forward `x·W`): *axpy form*, `acc += x[p] · B[p, :]`, a block of
//!   columns held in vector registers while `p` runs down the rows, for every row of x at once
//!   (one pass over B);
//! - B column-major (`rs == 1`, e.g. `x·Wᵀ`): *dot form*, `acc[j] = ⟨x, B[:, j]⟩`, up to eight
//!   columns at a time so each load of `x` is used several times; with several rows of x, B's
//!   columns in chunks that stay in L1 while every row of x runs over them (one pass over B).
//!
//! Other strides return `false` and the caller uses the packed GEMM.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use std::cell::RefCell;

use crate::gemm::{Epilogue, apply_epilogue};
use crate::kernel::Kernel;
use crate::view::{MatMut, MatRef};

/// The most rows of x one call takes (the GEMM routes products with at most this many rows of
/// output here).
pub(crate) const MAX_ROWS: usize = 4;

thread_local! {
    /// (contiguous copy of a row of x, accumulator rows): reused so acting does not allocate.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `f32` product of at most [`MAX_ROWS`] rows; returns `false` (doing nothing) when B has
/// neither unit stride. Shapes were checked by the caller: x is r×k, B is k×n, y is r×n, k ≥ 1.
/// Each element of y gets the same bits whatever the number of rows.
pub(crate) fn gemv_f32(
    kernel: Kernel,
    alpha: f32,
    x: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    mut y: MatMut<'_, f32>,
    epilogue: Epilogue<'_, f32>,
) -> bool {
    let (n, rows) = (b.cols(), x.rows());
    assert!(
        rows <= MAX_ROWS,
        "gemv_f32: {rows} rows of x, at most {MAX_ROWS}"
    );
    let row_form = b.cs() == 1;
    if !row_form && b.rs() != 1 {
        return false;
    }
    // One contiguous row of y written without scaling (alpha 1, beta 0: a layer's forward, or
    // a gradient's first write, at batch 1): the kernels write it in place. `1·s` is `s`, so
    // these are the bits of the route through the accumulator. The dot form must then find x's
    // row contiguous, so that the empty gather buffer stays unused (and unallocated).
    let in_place = rows == 1 && alpha == 1.0 && beta == 0.0 && (row_form || x.row(0).is_some());
    if in_place && let Some(y_row) = y.row_mut(0) {
        // Zeroed because the portable axpy form adds into it.
        y_row.fill(0.0);
        products(kernel, x, b, y_row, &mut Vec::new());
    } else {
        let (mut xs, mut acc) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        acc.clear();
        acc.resize(rows * n, 0.0);
        products(kernel, x, b, &mut acc, &mut xs);
        for (i, acc_row) in acc.chunks_exact(n).enumerate() {
            store_row(alpha, acc_row, beta, y.sub(i, 0, 1, n));
        }
        SCRATCH.with(|s| *s.borrow_mut() = (xs, acc));
    }
    apply_epilogue(kernel, &mut y, 0, &epilogue);
    true
}

/// `acc[r·n + j] = Σ_p x[r, p]·B[p, j]` into a zeroed `acc`, in the form B's strides allow
/// (checked by the caller); `xs` holds a row of x gathered when the dot form needs it
/// contiguous.
fn products(
    kernel: Kernel,
    x: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    acc: &mut [f32],
    xs: &mut Vec<f32>,
) {
    let (k, n, rows) = (b.rows(), b.cols(), x.rows());
    if b.cs() == 1 {
        axpy_rows(kernel, x, b, acc);
        return;
    }
    // The rows of x as contiguous slices: themselves when they are, else gathered into `xs`.
    let contiguous = (0..rows).all(|i| x.row(i).is_some());
    if !contiguous {
        xs.clear();
        xs.extend((0..rows).flat_map(|i| (0..k).map(move |p| x.get(i, p))));
    }
    let xs: &[f32] = xs;
    let x_row = |i: usize| x.row(i).unwrap_or_else(|| &xs[i * k..(i + 1) * k]);
    // With several rows of x, B's columns go by in chunks small enough to stay in L1 while every
    // row of x runs over them, so B is read from memory once, not once per row: a policy head's
    // two logits over a batch of 4096 read the 1 MB of hidden activations once.
    let chunk = if rows == 1 { n } else { dot_chunk(k) };
    for j0 in (0..n).step_by(chunk.max(1)) {
        let width = chunk.min(n - j0);
        let b_chunk = b.sub(0, j0, k, width);
        for (i, acc_row) in acc.chunks_exact_mut(n).enumerate() {
            dot_cols(kernel, x_row(i), b_chunk, &mut acc_row[j0..j0 + width]);
        }
    }
}

/// Columns of a column-major B (each `k` values) per chunk of the dot form with several rows of
/// x: about 8 KB of B, a whole number of the 8-column blocks of [`column_blocks`] (at least one).
/// Every column is computed alone (its bits do not depend on its block), so the chunk size
/// changes no result.
fn dot_chunk(k: usize) -> usize {
    const CHUNK_BYTES: usize = 8 * 1024;
    (CHUNK_BYTES / (std::mem::size_of::<f32>() * k.max(1))).max(8) / 8 * 8
}

/// `y = alpha·acc + beta·y` for a one-row y (not read when `beta = 0`).
fn store_row(alpha: f32, acc: &[f32], beta: f32, mut y: MatMut<'_, f32>) {
    if let Some(y_row) = y.row_mut(0) {
        if beta == 0.0 {
            y_row
                .iter_mut()
                .zip(acc)
                .for_each(|(yj, &s)| *yj = alpha * s);
        } else {
            y_row
                .iter_mut()
                .zip(acc)
                .for_each(|(yj, &s)| *yj = alpha * s + beta * *yj);
        }
    } else {
        for (j, &s) in acc.iter().enumerate() {
            let v = if beta == 0.0 {
                alpha * s
            } else {
                alpha * s + beta * y.get(0, j)
            };
            y.set(0, j, v);
        }
    }
}

/// `acc[r·n + j] = Σ_p x[r, p]·B[p, j]` for every row r of x (at most [`MAX_ROWS`]) and
/// row-major B (`cs == 1`), in one pass over B. x may have any strides (a column of a
/// row-major matrix, say): its elements are read one at a time.
fn axpy_rows(kernel: Kernel, x: MatRef<'_, f32>, b: MatRef<'_, f32>, acc: &mut [f32]) {
    let (k, n, rs, rows) = (b.rows(), b.cols(), b.rs(), x.rows());
    let data = b.as_slice();
    let xd = x.as_slice();
    debug_assert!(data.len() >= (k - 1) * rs + n && x.cols() == k && acc.len() == rows * n);
    let xp = (xd.as_ptr(), x.rs(), x.cs());
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the views guarantee B[p, j] = data[p·rs + j] and x[r, p] are in range for
        // r < rows, p < k, j < n; acc has rows·n values; the caller checked AVX-512F.
        Kernel::Avx512 => unsafe {
            match rows {
                1 => avx512::axpy_rows::<1>(xp, k, data.as_ptr(), rs, n, acc),
                2 => avx512::axpy_rows::<2>(xp, k, data.as_ptr(), rs, n, acc),
                3 => avx512::axpy_rows::<3>(xp, k, data.as_ptr(), rs, n, acc),
                _ => avx512::axpy_rows::<4>(xp, k, data.as_ptr(), rs, n, acc),
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2+FMA checked by the caller.
        Kernel::Avx2Fma => unsafe {
            match rows {
                1 => avx2::axpy_rows::<1>(xp, k, data.as_ptr(), rs, n, acc),
                2 => avx2::axpy_rows::<2>(xp, k, data.as_ptr(), rs, n, acc),
                3 => avx2::axpy_rows::<3>(xp, k, data.as_ptr(), rs, n, acc),
                _ => avx2::axpy_rows::<4>(xp, k, data.as_ptr(), rs, n, acc),
            }
        },
        _ => {
            for (r, acc_row) in acc.chunks_exact_mut(n).enumerate() {
                for p in 0..k {
                    let (xv, row) = (x.get(r, p), &data[p * rs..p * rs + n]);
                    acc_row
                        .iter_mut()
                        .zip(row)
                        .for_each(|(a, &bv)| *a += xv * bv);
                }
            }
        }
    }
}

/// `acc[j] = ⟨x, B[:, j]⟩` for column-major B (`rs == 1`).
fn dot_cols(kernel: Kernel, x: &[f32], b: MatRef<'_, f32>, acc: &mut [f32]) {
    let (k, n, cs) = (b.rows(), b.cols(), b.cs());
    let data = b.as_slice();
    debug_assert!(data.len() >= (n - 1) * cs + k && x.len() == k && acc.len() == n);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: B[p, j] = data[j·cs + p] is in range for p < k, j < n (checked by the view),
        // and each block's columns j .. j + width lie below n; x has k values; the caller
        // checked AVX-512F.
        Kernel::Avx512 => column_blocks(acc, |j, block| unsafe {
            let b = data.as_ptr().add(j * cs);
            match block.len() {
                8 => avx512::dot_block::<8>(x, b, cs, block),
                4 => avx512::dot_block::<4>(x, b, cs, block),
                _ => avx512::dot_block::<1>(x, b, cs, block),
            }
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2+FMA checked by the caller.
        Kernel::Avx2Fma => column_blocks(acc, |j, block| unsafe {
            let b = data.as_ptr().add(j * cs);
            match block.len() {
                8 => avx2::dot_block::<8>(x, b, cs, block),
                4 => avx2::dot_block::<4>(x, b, cs, block),
                _ => avx2::dot_block::<1>(x, b, cs, block),
            }
        }),
        _ => {
            for (j, a) in acc.iter_mut().enumerate() {
                let col = &data[j * cs..j * cs + k];
                *a = x.iter().zip(col).map(|(&u, &v)| u * v).sum();
            }
        }
    }
}

/// Cuts `acc` into blocks of 8 columns, then 4, then 1, and calls `block(j, acc_block)` for
/// each, j its first column: the vector paths' dot form takes a block of a constant width, so
/// that its loop over the columns unrolls.
#[cfg(target_arch = "x86_64")]
fn column_blocks(mut acc: &mut [f32], mut block: impl FnMut(usize, &mut [f32])) {
    let mut j = 0;
    for width in [8, 4, 1] {
        while acc.len() >= width {
            let (head, rest) = std::mem::take(&mut acc).split_at_mut(width);
            block(j, head);
            (acc, j) = (rest, j + width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values in about [-2, 2], different for every index and seed.
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed * 13) as f32 * 0.37).sin() * 2.0)
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// A single row with alpha 1 and beta 0 is written in place; it must get the bits of the
    /// route through the accumulator (here: the same row as the first of two), in both forms,
    /// with an epilogue, on every path.
    #[test]
    fn a_row_written_in_place_has_the_bits_of_the_accumulator_route() {
        for kernel in Kernel::available() {
            for n in [1, 2, 7, 9, 64, 65] {
                for k in [1, 2, 5, 64] {
                    let (x2, b, bias) = (values(2 * k, n), values(k * n, k), values(n, 3));
                    let epi = Epilogue::new(Some(&bias), crate::Activation::Tanh);
                    for b_view in [MatRef::row_major(&b, k, n), MatRef::row_major(&b, n, k).t()] {
                        let (mut one, mut two) = (vec![f32::NAN; n], vec![f32::NAN; 2 * n]);
                        let x1 = MatRef::row_major(&x2[..k], 1, k);
                        let y1 = MatMut::row_major(&mut one, 1, n);
                        assert!(gemv_f32(kernel, 1.0, x1, b_view, 0.0, y1, epi));
                        let (xm, y2) = (
                            MatRef::row_major(&x2, 2, k),
                            MatMut::row_major(&mut two, 2, n),
                        );
                        assert!(gemv_f32(kernel, 1.0, xm, b_view, 0.0, y2, epi));
                        assert_eq!(bits(&one), bits(&two[..n]), "{kernel:?} {k}x{n}");
                    }
                }
            }
        }
    }

    /// On AVX2 the axpy form sums the last `n % 8` columns in scalar code, in strips of 4, 2 and
    /// 1 columns side by side: each must still be the plain loop, a multiply and an add per term,
    /// rows of B in order, for every tail width and every number of rows of x.
    #[test]
    fn axpy_tail_columns_are_the_plain_loop() {
        if !Kernel::Avx2Fma.is_available() {
            return;
        }
        for rows in 1..=MAX_ROWS {
            for n in [1, 2, 3, 4, 5, 6, 7, 9, 15, 19, 23] {
                for k in [1, 2, 5, 64] {
                    let (x, b) = (values(rows * k, n), values(k * n, k));
                    let mut acc = vec![f32::NAN; rows * n];
                    let (xm, bm) = (MatRef::row_major(&x, rows, k), MatRef::row_major(&b, k, n));
                    axpy_rows(Kernel::Avx2Fma, xm, bm, &mut acc);
                    for r in 0..rows {
                        for j in n / 8 * 8..n {
                            let mut s = 0.0f32;
                            for p in 0..k {
                                s += x[r * k + p] * b[p * n + j];
                            }
                            assert_eq!(
                                acc[r * n + j].to_bits(),
                                s.to_bits(),
                                "{rows}x{k}·{k}x{n}, row {r}, column {j}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// With several rows of x the dot form walks B in chunks of columns, every row over a chunk
    /// before the next; each row must get the bits it gets alone, for chunks cut anywhere and
    /// rows of x that are gathered (strided) or contiguous.
    #[test]
    fn dot_form_rows_have_the_bits_of_one_row_alone() {
        for kernel in Kernel::available() {
            for rows in 1..=MAX_ROWS {
                for n in [1, 7, 8, 31, 33, 100] {
                    for k in [1, 9, 64, 300] {
                        let (x, b) = (values(rows * k, n), values(k * n, k));
                        let bm = MatRef::row_major(&b, n, k).t();
                        for xm in [
                            MatRef::row_major(&x, rows, k),
                            MatRef::row_major(&x, k, rows).t(),
                        ] {
                            let mut all = vec![f32::NAN; rows * n];
                            products(kernel, xm, bm, &mut all, &mut Vec::new());
                            for r in 0..rows {
                                let mut one = vec![f32::NAN; n];
                                products(kernel, xm.sub(r, 0, 1, k), bm, &mut one, &mut Vec::new());
                                let got = &all[r * n..(r + 1) * n];
                                assert_eq!(bits(got), bits(&one), "{kernel:?} {rows}x{k}·{k}x{n}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The dot form works on blocks of columns (8, 4, then 1 on AVX2); every column must get
    /// the bits it gets when it is computed alone, whatever block it falls in.
    #[test]
    fn dot_columns_do_not_depend_on_their_block() {
        for kernel in Kernel::available() {
            for n in [1, 3, 4, 5, 8, 9, 12, 13, 17, 31] {
                for k in [1, 2, 7, 8, 9, 64] {
                    let (x, b) = (values(k, n), values(k * n, k + 1));
                    // Column-major B: column j is b[j·k ..][.. k].
                    let bm = MatRef::row_major(&b, n, k).t();
                    let mut together = vec![f32::NAN; n];
                    dot_cols(kernel, &x, bm, &mut together);
                    let alone: Vec<f32> = (0..n)
                        .map(|j| {
                            let mut one = [f32::NAN];
                            dot_cols(kernel, &x, bm.sub(0, j, k, 1), &mut one);
                            one[0]
                        })
                        .collect();
                    assert_eq!(bits(&together), bits(&alone), "{kernel:?} {k}x{n}");
                }
            }
        }
    }
}
