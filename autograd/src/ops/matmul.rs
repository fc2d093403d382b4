//! 2-d matrix product `C = A · B`, the plain reference that faster kernels are tested against.
//!
//! `C[i, j] = Σₚ A[i, p] B[p, j]` for `A: [m, k]`, `B: [k, n]`, `C: [m, n]`.
//! Backward, from `dC = dA·B + A·dB`:
//! `Ā = C̄ · Bᵀ` (`[m, n]·[n, k]`) and `B̄ = Aᵀ · C̄` (`[k, m]·[m, n]`).
//! Each product has its own loop order that reads memory contiguously, so no transposed copy is
//! ever made.

use crate::custom::Store;
use crate::float::Float;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// `c += a · b` for row-major `a: [m, k]`, `b: [k, n]`, `c: [m, n]`.
///
/// Loop order i, p, j: the inner loop adds `a[i, p] · b[p, ·]` to row `c[i, ·]`, both contiguous.
pub fn matmul_nn<T: Float>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let aip = a[i * k + p];
            for (cij, &bpj) in c_row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *cij += aip * bpj;
            }
        }
    }
}

/// `c += a · bᵀ` for row-major `a: [m, n]`, `b: [k, n]`, `c: [m, k]`.
///
/// `c[i, p]` is the dot product of rows `a[i, ·]` and `b[p, ·]`, both contiguous.
pub fn matmul_nt<T: Float>(a: &[T], b: &[T], c: &mut [T], m: usize, n: usize, k: usize) {
    store_nt(a, b, (c, Store::Accumulate), m, n, k);
}

/// [`matmul_nt`] that writes `c = a · bᵀ` instead when `store` is [`Store::Overwrite`]: each
/// `c[i, p]` is one whole dot product, so nothing needs adding up in `c`.
fn store_nt<T: Float>(
    a: &[T],
    b: &[T],
    (c, store): (&mut [T], Store),
    m: usize,
    n: usize,
    k: usize,
) {
    for i in 0..m {
        let a_row = &a[i * n..(i + 1) * n];
        for p in 0..k {
            let d = dot(a_row, &b[p * n..(p + 1) * n]);
            match store {
                Store::Overwrite => c[i * k + p] = d,
                Store::Accumulate => c[i * k + p] += d,
            }
        }
    }
}

/// Σⱼ xⱼ yⱼ, summed in 8 interleaved partial sums (lane l takes j ≡ l mod 8), then added up.
///
/// One running sum would make every addition wait for the previous one; eight independent ones
/// keep the floating-point units busy and let the compiler use SIMD registers. The order of the
/// additions is fixed, so the result is deterministic.
#[inline]
fn dot<T: Float>(x: &[T], y: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::zero(); LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] += xs[l] * ys[l];
        }
    }
    let mut tail = T::zero();
    for (&a, &b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    // Pairwise: ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)), then the tail.
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// `c += aᵀ · b` for row-major `a: [m, k]`, `b: [m, n]`, `c: [k, n]`.
///
/// For each row r, adds the outer product `a[r, ·]ᵀ b[r, ·]`: the inner loop is contiguous.
pub fn matmul_tn<T: Float>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    for r in 0..m {
        let b_row = &b[r * n..(r + 1) * n];
        for p in 0..k {
            let arp = a[r * k + p];
            for (cpj, &brj) in c[p * n..(p + 1) * n].iter_mut().zip(b_row) {
                *cpj += arp * brj;
            }
        }
    }
}

pub(crate) fn backward<T: Float>(
    values: &[Tensor<T>],
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    a: u32,
    b: u32,
) {
    let (av, bv) = (&values[a as usize], &values[b as usize]);
    let (m, k, n) = (av.shape[0], av.shape[1], bv.shape[1]);
    // Ā += C̄ · Bᵀ (written, not added, on Ā's first write in the pass)
    if let Some((ga, store)) = sink.grad_slot(a) {
        store_nt(&g.data, &bv.data, (&mut ga.data, store), m, n, k);
    }
    // B̄ += Aᵀ · C̄
    if let Some(gb) = sink.grad(b) {
        matmul_tn(&av.data, &g.data, &mut gb.data, m, k, n);
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Matrix product of 2-d values: `[m, k] · [k, n] → [m, n]`, with the plain reference loop.
    /// ∂L/∂A = ∂L/∂C · Bᵀ, ∂L/∂B = Aᵀ · ∂L/∂C.
    ///
    /// # Panics
    /// If either value is not 2-d or the inner lengths differ; the message names both shapes.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let a = tape.constant(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let b = tape.constant(&Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]));
    /// assert_eq!(a.matmul(b).value().data(), &[19.0, 22.0, 43.0, 50.0]);
    /// ```
    pub fn matmul(self, o: Self) -> Self {
        let (a, b) = (self.index, o.index);
        self.tape.record(
            "matmul",
            &[self, o],
            |v, out| {
                let (av, bv) = (&v[a as usize], &v[b as usize]);
                assert!(
                    av.ndim() == 2 && bv.ndim() == 2 && av.shape[1] == bv.shape[0],
                    "matmul: shapes {:?} and {:?} do not fit (expected [m, k] and [k, n])",
                    av.shape,
                    bv.shape
                );
                let (m, k, n) = (av.shape[0], av.shape[1], bv.shape[1]);
                out.resize(&[m, n]);
                out.fill(T::zero());
                matmul_nn(&av.data, &bv.data, &mut out.data, m, k, n);
            },
            |_, _| crate::node::Op::MatMul(a, b),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_kernels_agree_with_the_definition() {
        let (m, k, n) = (3, 4, 2);
        let a: Vec<f64> = (0..m * k).map(|x| x as f64 * 0.5 - 1.0).collect();
        let b: Vec<f64> = (0..k * n).map(|x| (x as f64).sin()).collect();
        let mut c = vec![0.0; m * n];
        matmul_nn(&a, &b, &mut c, m, k, n);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((c[i * n + j] - want).abs() < 1e-12);
            }
        }
        // a · (bᵀ)ᵀ through matmul_nt with b stored transposed.
        let bt: Vec<f64> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
        let mut c2 = vec![0.0; m * n];
        matmul_nt(&a, &bt, &mut c2, m, k, n);
        for (x, y) in c.iter().zip(&c2) {
            assert!((x - y).abs() < 1e-12);
        }
        // (aᵀ)ᵀ · b through matmul_tn with a stored transposed.
        let at: Vec<f64> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
        let mut c3 = vec![0.0; m * n];
        matmul_tn(&at, &b, &mut c3, k, m, n);
        for (x, y) in c.iter().zip(&c3) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn dot_handles_every_remainder() {
        for n in 0..20 {
            let x: Vec<f64> = (0..n).map(|i| i as f64 + 1.0).collect();
            let y: Vec<f64> = (0..n).map(|i| 2.0 - i as f64).collect();
            let want: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            assert_eq!(dot(&x, &y), want, "n = {n}");
        }
    }
}
