//! Weight initialisers: orthogonal with gain, Xavier/Glorot, Kaiming/He, and PyTorch's default
//! for `nn.Linear`. Weights are stored `[fan_in, fan_out]` (so a layer computes `x·W + b`).
//!
//! All draw from a caller-supplied RNG (use `rand_chacha::ChaCha8Rng::seed_from_u64`): same seed,
//! same bits. Normal draws use `autograd::Tensor::randn` (Box–Muller), computed in `f64`.

use autograd::Tensor;
use rand::Rng;

use crate::element::Element;

/// How to draw a weight matrix `W` of shape `[fan_in, fan_out]` (and its bias).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// A (semi-)orthogonal matrix times `gain`: the Q factor of the QR decomposition of a standard
    /// normal matrix, signs fixed so that R's diagonal is positive (PyTorch's `orthogonal_`).
    /// RL practice: `gain = √2` for tanh/ReLU hidden layers, `0.01` for a policy head, `1` for a
    /// value head. Bias: zeros.
    Orthogonal {
        /// Scale of the result.
        gain: f64,
    },
    /// Uniform on `[-a, a]`, `a = gain·√(6 / (fan_in + fan_out))`. Bias: zeros.
    XavierUniform {
        /// Scale of the bound.
        gain: f64,
    },
    /// Normal with `σ = gain·√(2 / (fan_in + fan_out))`. Bias: zeros.
    XavierNormal {
        /// Scale of σ.
        gain: f64,
    },
    /// Uniform on `[-a, a]`, `a = gain·√(3 / fan_in)` (He; `gain = √2` for ReLU). Bias: zeros.
    KaimingUniform {
        /// Scale of the bound.
        gain: f64,
    },
    /// Normal with `σ = gain / √fan_in` (He; `gain = √2` for ReLU). Bias: zeros.
    KaimingNormal {
        /// Scale of σ.
        gain: f64,
    },
    /// PyTorch's `nn.Linear` default: weight and bias uniform on `[-1/√fan_in, 1/√fan_in]`.
    TorchDefault,
}

impl Init {
    /// Draws a `[fan_in, fan_out]` weight matrix.
    pub fn weight<T: Element, R: Rng + ?Sized>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Tensor<T> {
        let shape = [fan_in, fan_out];
        let uniform = |a: f64, rng: &mut R| {
            let data = (0..fan_in * fan_out)
                .map(|_| <T as autograd::Float>::from_f64(a * (2.0 * rng.r#gen::<f64>() - 1.0)))
                .collect();
            Tensor::from_vec(data, &shape)
        };
        let normal = |sigma: f64, rng: &mut R| {
            let z = Tensor::<f64>::randn(&shape, rng);
            let data = z
                .data()
                .iter()
                .map(|&x| <T as autograd::Float>::from_f64(sigma * x))
                .collect();
            Tensor::from_vec(data, &shape)
        };
        let fans = (fan_in + fan_out).max(1) as f64;
        let fan_in_f = fan_in.max(1) as f64;
        match self {
            Init::Orthogonal { gain } => orthogonal(fan_in, fan_out, gain, rng),
            Init::XavierUniform { gain } => uniform(gain * (6.0 / fans).sqrt(), rng),
            Init::XavierNormal { gain } => normal(gain * (2.0 / fans).sqrt(), rng),
            Init::KaimingUniform { gain } => uniform(gain * (3.0 / fan_in_f).sqrt(), rng),
            Init::KaimingNormal { gain } => normal(gain / fan_in_f.sqrt(), rng),
            Init::TorchDefault => uniform(1.0 / fan_in_f.sqrt(), rng),
        }
    }

    /// Draws the bias of a layer with these fans (zeros except for [`Init::TorchDefault`]).
    pub fn bias<T: Element, R: Rng + ?Sized>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Tensor<T> {
        match self {
            Init::TorchDefault => {
                let a = 1.0 / (fan_in.max(1) as f64).sqrt();
                let data = (0..fan_out)
                    .map(|_| <T as autograd::Float>::from_f64(a * (2.0 * rng.r#gen::<f64>() - 1.0)))
                    .collect();
                Tensor::from_vec(data, &[fan_out])
            }
            _ => Tensor::zeros(&[fan_out]),
        }
    }
}

/// `gain·Q` where the columns (if `fan_in ≥ fan_out`) or rows (otherwise) of the result are
/// orthonormal. Q comes from modified Gram–Schmidt (run twice for accuracy) on the columns of a
/// tall standard-normal matrix, which yields the QR factor with a positive diagonal in R.
fn orthogonal<T: Element, R: Rng + ?Sized>(
    fan_in: usize,
    fan_out: usize,
    gain: f64,
    rng: &mut R,
) -> Tensor<T> {
    let (tall, short) = (fan_in.max(fan_out), fan_in.min(fan_out));
    // g: tall × short, column-major for convenient column operations.
    let z = Tensor::<f64>::randn(&[short, tall], rng);
    let mut cols: Vec<Vec<f64>> = z.data().chunks(tall.max(1)).map(|c| c.to_vec()).collect();
    cols.truncate(short);
    for j in 0..short {
        for _pass in 0..2 {
            for i in 0..j {
                let dot: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                let (done, rest) = cols.split_at_mut(j);
                rest[0]
                    .iter_mut()
                    .zip(&done[i])
                    .for_each(|(x, &q)| *x -= dot * q);
            }
        }
        let norm = cols[j].iter().map(|x| x * x).sum::<f64>().sqrt();
        cols[j].iter_mut().for_each(|x| *x /= norm);
    }
    let mut w = Tensor::<T>::zeros(&[fan_in, fan_out]);
    for (j, col) in cols.iter().enumerate() {
        for (i, &q) in col.iter().enumerate() {
            // Tall in the fan_in direction: W[i, j] = Q[i, j]; else W = Qᵀ.
            let (r, c) = if fan_in >= fan_out { (i, j) } else { (j, i) };
            w.data_mut()[r * fan_out + c] = <T as autograd::Float>::from_f64(gain * q);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn gram(w: &Tensor<f64>, by_columns: bool) -> Vec<Vec<f64>> {
        let (r, c) = (w.shape()[0], w.shape()[1]);
        let n = if by_columns { c } else { r };
        let at = |k: usize, t: usize| {
            if by_columns {
                w.data()[t * c + k]
            } else {
                w.data()[k * c + t]
            }
        };
        let len = if by_columns { r } else { c };
        (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| (0..len).map(|t| at(a, t) * at(b, t)).sum())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn orthogonal_is_orthonormal_times_gain_in_both_orientations() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (fi, fo) in [(64, 4), (4, 64), (32, 32)] {
            let w: Tensor<f64> = Init::Orthogonal { gain: 2.0 }.weight(fi, fo, &mut rng);
            let g = gram(&w, fi >= fo);
            for (a, row) in g.iter().enumerate() {
                for (b, &v) in row.iter().enumerate() {
                    let want = if a == b { 4.0 } else { 0.0 };
                    assert!((v - want).abs() < 1e-10, "({fi},{fo}) gram[{a}][{b}] = {v}");
                }
            }
        }
    }

    #[test]
    fn uniform_bounds_and_normal_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let w: Tensor<f32> = Init::XavierUniform { gain: 1.0 }.weight(100, 50, &mut rng);
        let a = (6.0f32 / 150.0).sqrt();
        assert!(w.data().iter().all(|x| x.abs() <= a));
        assert!(w.data().iter().any(|x| x.abs() > 0.9 * a));
        let w: Tensor<f64> = Init::KaimingNormal { gain: 2f64.sqrt() }.weight(200, 200, &mut rng);
        let var = w.data().iter().map(|x| x * x).sum::<f64>() / 40_000.0;
        assert!((var - 2.0 / 200.0).abs() < 0.001, "variance {var}");
        let b: Tensor<f32> = Init::TorchDefault.bias(16, 8, &mut rng);
        assert!(b.data().iter().all(|x| x.abs() <= 0.25) && b.data().iter().any(|&x| x != 0.0));
        let b: Tensor<f32> = Init::Orthogonal { gain: 1.0 }.bias(16, 8, &mut rng);
        assert_eq!(b.data(), &[0.0; 8]);
    }

    #[test]
    fn same_seed_same_bits() {
        let a: Tensor<f32> =
            Init::Orthogonal { gain: 1.0 }.weight(7, 5, &mut ChaCha8Rng::seed_from_u64(3));
        let b: Tensor<f32> =
            Init::Orthogonal { gain: 1.0 }.weight(7, 5, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
    }
}
