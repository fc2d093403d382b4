//! The scalar reference GEMM: three loops, no blocking, no SIMD. It is the oracle every fast
//! path is tested against, so it stays as plain as the definition:
//!
//! `C[i,j] = act( alpha · Σ_p A[i,p]·B[p,j] + beta · C[i,j] + bias[j] )`, and when `beta == 0`
//! the old `C` is not read at all (so it may hold NaN or garbage, as in BLAS).

use super::{Epilogue, check_shapes};
use crate::scalar::Scalar;
use crate::view::{MatMut, MatRef};

/// `C = act(alpha·A·B + beta·C + bias)` computed by the textbook triple loop.
pub fn gemm_reference<T: Scalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    epilogue: Epilogue<'_, T>,
) {
    check_shapes(&a, &b, &c, &epilogue);
    for i in 0..a.rows() {
        for j in 0..b.cols() {
            let mut s = T::ZERO;
            for p in 0..a.cols() {
                s += a.get(i, p) * b.get(p, j);
            }
            let mut v = alpha * s;
            if beta != T::ZERO {
                v += beta * c.get(i, j);
            }
            if let Some(bias) = epilogue.bias {
                v += bias[j];
            }
            c.set(i, j, epilogue.activation.apply(v));
        }
    }
}
