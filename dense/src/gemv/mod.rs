//! GEMV: the one-row product `y = act(alpha·x·B + beta·y + bias)` used when acting with one
//! observation (batch 1). Packing would copy all of B to use it once, so this path reads B in
//! place, in whichever order is contiguous:
//!
//! - B row-major (`cs == 1`, the forward `x·W`): *axpy form*, `acc += x[p] · B[p, :]`, a block of
//!   columns held in vector registers while `p` runs down the rows;
//! - B column-major (`rs == 1`, e.g. `x·Wᵀ`): *dot form*, `acc[j] = ⟨x, B[:, j]⟩`, four columns at
//!   a time so each load of `x` is used four times.
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

thread_local! {
    /// (contiguous copy of x, accumulator row): reused so batch-1 acting does not allocate.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One-row `f32` product; returns `false` (doing nothing) when B has neither unit stride.
/// Shapes were checked by the caller: x is 1×k, B is k×n, y is 1×n, k ≥ 1.
pub(crate) fn gemv_f32(
    kernel: Kernel,
    alpha: f32,
    x: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    mut y: MatMut<'_, f32>,
    epilogue: Epilogue<'_, f32>,
) -> bool {
    let (k, n) = (b.rows(), b.cols());
    let row_form = b.cs() == 1;
    if !row_form && b.rs() != 1 {
        return false;
    }
    let (mut xs, mut acc) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    // x as a contiguous slice: itself when it is, else gathered into the scratch buffer.
    let x_row = match x.row(0) {
        Some(row) => row,
        None => {
            xs.clear();
            xs.extend((0..k).map(|p| x.get(0, p)));
            &xs[..]
        }
    };
    acc.clear();
    acc.resize(n, 0.0);
    if row_form {
        axpy_rows(kernel, x_row, b, &mut acc);
    } else {
        dot_cols(kernel, x_row, b, &mut acc);
    }
    // y = alpha·acc + beta·y (y not read when beta = 0).
    if let Some(y_row) = y.row_mut(0) {
        if beta == 0.0 {
            y_row
                .iter_mut()
                .zip(&acc)
                .for_each(|(yj, &s)| *yj = alpha * s);
        } else {
            y_row
                .iter_mut()
                .zip(&acc)
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
    apply_epilogue(kernel, &mut y, 0, &epilogue);
    SCRATCH.with(|s| *s.borrow_mut() = (xs, acc));
    true
}

/// `acc[j] = Σ_p x[p]·B[p, j]` for row-major B (`cs == 1`).
fn axpy_rows(kernel: Kernel, x: &[f32], b: MatRef<'_, f32>, acc: &mut [f32]) {
    let (k, n, rs) = (b.rows(), b.cols(), b.rs());
    let data = b.as_slice();
    debug_assert!(data.len() >= (k - 1) * rs + n && x.len() == k && acc.len() == n);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the view guarantees B[p, j] = data[p·rs + j] is in range for p < k, j < n,
        // x has k values and acc n; the caller checked that the CPU has AVX-512F.
        Kernel::Avx512 => unsafe { avx512::axpy_rows(x, data.as_ptr(), rs, n, acc) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2+FMA checked by the caller.
        Kernel::Avx2Fma => unsafe { avx2::axpy_rows(x, data.as_ptr(), rs, n, acc) },
        _ => {
            for (p, &xp) in x.iter().enumerate() {
                let row = &data[p * rs..p * rs + n];
                acc.iter_mut().zip(row).for_each(|(a, &bv)| *a += xp * bv);
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
        // SAFETY: B[p, j] = data[j·cs + p] is in range for p < k, j < n (checked by the view);
        // x has k values, acc n; the caller checked AVX-512F.
        Kernel::Avx512 => unsafe { avx512::dot_cols(x, data.as_ptr(), cs, acc) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2+FMA checked by the caller.
        Kernel::Avx2Fma => unsafe { avx2::dot_cols(x, data.as_ptr(), cs, acc) },
        _ => {
            for (j, a) in acc.iter_mut().enumerate() {
                let col = &data[j * cs..j * cs + k];
                *a = x.iter().zip(col).map(|(&u, &v)| u * v).sum();
            }
        }
    }
}
