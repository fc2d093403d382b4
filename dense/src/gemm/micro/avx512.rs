//! The AVX-512F micro-kernel: a 12×32 tile of C in twenty-four 512-bit registers.
//!
//! Each step of `p` loads two 16-wide vectors of the B panel row, broadcasts each of the twelve
//! A values, and issues twenty-four fused multiply-adds `acc[i][h] += a[i] · b[h]`: 24 FMAs for
//! 14 loads, enough independent chains to hide the FMA latency on both ports.
//!
//! One source serves three ways of reading A (a const parameter, so each is compiled
//! separately; see `read_a`): packed (`a[p·MR + i]`, see `pack.rs`); in place from a row-major
//! block (`a[i·rs_a + p]`), which the driver uses when A's rows are reused too few times to repay
//! packing them; and in place from a column-major block (`a[i + p·rs_a]`, a transposed matrix
//! such as the `xᵀ` of a weight gradient), whose MR values per step are already contiguous.

use std::arch::x86_64::*;

use super::read_a;

/// Tile rows.
pub(crate) const MR: usize = 12;
/// Tile columns (two vectors of 16).
pub(crate) const NR: usize = 32;

/// The micro-kernel reading A as `READ_A` says (`read_a::PACKED`, `ROWS` or `COLUMNS`; with
/// `COLUMNS`, `rs_a` is A's column stride, with `PACKED` it is unused); see `driver::MicroFn`.
///
/// # Safety
/// As `MicroFn`, and the CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn micro<const READ_A: u8>(
    k: usize,
    alpha: f32,
    a: *const f32,
    rs_a: usize,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    rs_c: usize,
    rows: usize,
) {
    // Where row i of A starts and how far one step of p moves. In place, rows past `rows` do not
    // exist, so they re-read row 0 (their results are never stored).
    let (row_step, p_step) = read_a::steps(READ_A, MR, rs_a);
    let arow: [*const f32; MR] = std::array::from_fn(|i| {
        let i = if READ_A == read_a::PACKED || i < rows {
            i
        } else {
            0
        };
        a.wrapping_add(i * row_step)
    });
    let mut acc0 = [_mm512_setzero_ps(); MR];
    let mut acc1 = [_mm512_setzero_ps(); MR];
    for p in 0..k {
        // SAFETY: p < k: b[p·ldb .. p·ldb + NR] and A's (row i, step p) values are in range.
        unsafe {
            let bp = b.add(p * ldb);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            for i in 0..MR {
                let ai = _mm512_set1_ps(*arow[i].add(p * p_step));
                acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
            }
        }
    }
    let va = _mm512_set1_ps(alpha);
    let vb = _mm512_set1_ps(beta);
    // A constant trip count keeps the accumulators in registers (a loop to `rows` would spill
    // them to the stack); rows past `rows` are skipped by the branch.
    for i in 0..MR {
        if i >= rows {
            break;
        }
        // SAFETY: row i < rows of the tile is c[i·rs_c .. i·rs_c + NR], inside the caller's range.
        unsafe {
            let cp = c.add(i * rs_c);
            let mut r0 = _mm512_mul_ps(va, acc0[i]);
            let mut r1 = _mm512_mul_ps(va, acc1[i]);
            if beta != 0.0 {
                r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r0);
                r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp.add(16)), r1);
            }
            _mm512_storeu_ps(cp, r0);
            _mm512_storeu_ps(cp.add(16), r1);
        }
    }
}
