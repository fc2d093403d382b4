//! The portable micro-kernel: plain Rust over fixed-size arrays, which the compiler unrolls and
//! keeps in (SSE) registers. Generic over the element type, the tile size, and how A is read
//! (packed, or in place from a row-major or a column-major block: see `read_a`).

use super::read_a;
use crate::scalar::Scalar;

/// `C[i, j] = alpha·Σ_p A[i, p]·b[p·ldb + j] + beta·C[i, j]`, `i < rows` (see `driver::MicroFn`).
///
/// # Safety
/// As `MicroFn`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn micro<T: Scalar, const MR: usize, const NR: usize, const READ_A: u8>(
    k: usize,
    alpha: T,
    a: *const T,
    rs_a: usize,
    b: *const T,
    ldb: usize,
    beta: T,
    c: *mut T,
    rs_c: usize,
    rows: usize,
) {
    let (row_step, p_step) = read_a::steps(READ_A, MR, rs_a);
    let mut acc = [[T::ZERO; NR]; MR];
    for p in 0..k {
        // SAFETY: p < k, so b[p·ldb .. p·ldb + NR] is inside the range the caller guarantees.
        let bp = unsafe { &*(b.add(p * ldb) as *const [T; NR]) };
        let mut ap = [T::ZERO; MR];
        for (i, v) in ap.iter_mut().enumerate() {
            // In place, rows past `rows` do not exist; they stay zero (never stored anyway).
            if READ_A == read_a::PACKED || i < rows {
                // SAFETY: row i exists (packed panels are zero-padded to MR rows) and p < k.
                *v = unsafe { *a.add(i * row_step + p * p_step) };
            }
        }
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate().take(rows) {
        // SAFETY: row i < rows of the tile is c[i·rs_c .. i·rs_c + NR], inside the caller's
        // range, and no other reference to it exists during this call.
        let row = unsafe { &mut *(c.add(i * rs_c) as *mut [T; NR]) };
        for j in 0..NR {
            row[j] = if beta == T::ZERO {
                alpha * acc_row[j]
            } else {
                alpha * acc_row[j] + beta * row[j]
            };
        }
    }
}
