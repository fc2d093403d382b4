//! The fused layer norm (`dense::layer_norm`) against autograd's reference op: the same bits in
//! `f32` on every kernel path, for value, x̄, γ̄ and β̄; and the `f64` op through `gradcheck`.

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Float, Tape, Tensor};
use dense::Kernel;
use dense::layer_norm::{LayerNorm, layer_norm};

/// A `[rows, n]` input with rows of very different means and spreads (and one constant row,
/// where only ε keeps r finite), plus matching γ, β and a weight for the loss.
fn inputs<T: Float>(rows: usize, n: usize) -> [Tensor<T>; 4] {
    let x = (0..rows * n)
        .map(|i| {
            let (row, l) = (i / n, i % n);
            match row % 5 {
                3 => 2.5, // a constant row
                _ => {
                    (i as f64 * 0.37).sin() * (1.0 + row as f64) + row as f64 * 0.3
                        - l as f64 * 0.01
                }
            }
        })
        .collect::<Vec<_>>();
    let vec = |f: &dyn Fn(usize) -> f64, len: usize| {
        (0..len).map(|i| T::from_f64(f(i))).collect::<Vec<_>>()
    };
    [
        Tensor::from_vec(x.iter().map(|&v| T::from_f64(v)).collect(), &[rows, n]),
        Tensor::from_vec(vec(&|l| 1.0 + 0.1 * (l as f64).cos(), n), &[n]),
        Tensor::from_vec(vec(&|l| 0.05 * l as f64 - 0.2, n), &[n]),
        Tensor::from_vec(vec(&|i| (i as f64 * 0.71).cos(), rows * n), &[rows, n]),
    ]
}

/// The loss `Σ w ⊙ LN(x)` (plus `Σ x` when `x_used_twice`, recorded after LN, so that its rule
/// runs first in the reverse pass and LN's backward adds into x̄ instead of writing it), and its
/// value's and gradients' bits.
fn run(inputs: &[Tensor<f32>; 4], fused: bool, x_used_twice: bool) -> Vec<Vec<u32>> {
    let tape = Tape::<f32>::new();
    let [x, gain, bias] = [0, 1, 2].map(|i| tape.param(&inputs[i]));
    let y = match fused {
        true => layer_norm(x, gain, bias, &LayerNorm::new(1e-5)),
        false => x.layer_norm(gain, bias, 1e-5),
    };
    let mut loss = (y * tape.constant(&inputs[3])).sum();
    if x_used_twice {
        loss = loss + x.sum();
    }
    let g = loss.backward();
    let bits = |t: &Tensor<f32>| t.data().iter().map(|v| v.to_bits()).collect();
    vec![
        bits(&y.value()),
        bits(&g[x]),
        bits(&g[gain]),
        bits(&g[bias]),
    ]
}

#[test]
fn fused_layer_norm_has_the_bits_of_the_reference_on_every_path() {
    for kernel in Kernel::available() {
        Kernel::force(Some(kernel));
        // Row counts around both lane widths (8, 16), row lengths whole and ragged.
        for rows in [1, 3, 7, 8, 9, 15, 16, 17, 33, 64] {
            for n in [1, 2, 5, 8, 13, 16, 17, 64, 67] {
                let inputs = inputs::<f32>(rows, n);
                for x_used_twice in [false, true] {
                    let got = run(&inputs, true, x_used_twice);
                    let want = run(&inputs, false, x_used_twice);
                    for (part, (a, b)) in ["y", "x̄", "γ̄", "β̄"].iter().zip(got.iter().zip(&want))
                    {
                        assert!(
                            a == b,
                            "{kernel:?}: {rows}×{n}, x used twice: {x_used_twice}: {part} differs"
                        );
                    }
                }
            }
        }
    }
    Kernel::force(None);
}

#[test]
fn the_f64_op_passes_gradcheck() {
    let [x, gain, bias, w] = inputs::<f64>(6, 7);
    // ε = 0.1: at the constant row, ε = 1e-5 makes r ≈ 316 and the curvature too steep for
    // finite differences.
    let op = LayerNorm::new(0.1);
    let report = gradcheck(
        |t, v| (layer_norm(v[0], v[1], v[2], &op) * t.constant(&w)).sum(),
        &[x, gain, bias],
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
}

#[test]
#[should_panic(expected = "layer_norm: x [2, 3], gain [4], bias [3]")]
fn a_gain_of_the_wrong_length_is_named() {
    let tape = Tape::<f32>::new();
    let [x, gain, bias] = [&[2usize, 3][..], &[4], &[3]].map(|s| tape.param(&Tensor::zeros(s)));
    layer_norm(x, gain, bias, &LayerNorm::new(1e-5));
}
