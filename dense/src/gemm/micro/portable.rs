//! The portable micro-kernel: plain Rust over fixed-size arrays, which the compiler unrolls and
//! keeps in (SSE) registers. Generic over the element type and the tile size.

use crate::scalar::Scalar;

/// `C[MR×NR] = alpha·Σ_p a[p·MR + i]·b[p·ldb + j] + beta·C` (see `driver::MicroFn`).
///
/// # Safety
/// As `MicroFn`: `a` has `k·MR` values, `b` has `(k-1)·ldb + NR`, `c` has `(MR-1)·rs_c + NR`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn micro<T: Scalar, const MR: usize, const NR: usize>(
    k: usize,
    alpha: T,
    a: *const T,
    b: *const T,
    ldb: usize,
    beta: T,
    c: *mut T,
    rs_c: usize,
) {
    let mut acc = [[T::ZERO; NR]; MR];
    for p in 0..k {
        // SAFETY: p < k, so a[p·MR .. p·MR + MR] and b[p·ldb .. p·ldb + NR] are inside the
        // ranges the caller guarantees.
        let (ap, bp) = unsafe {
            (
                &*(a.add(p * MR) as *const [T; MR]),
                &*(b.add(p * ldb) as *const [T; NR]),
            )
        };
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile is c[i·rs_c .. i·rs_c + NR], inside the caller's range, and
        // no other reference to it exists during this call.
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
