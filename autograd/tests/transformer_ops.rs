//! Hand-worked cases for the transformer ops (bmm, permute, layer_norm, gelu, causal softmax,
//! embed): values and gradients computed on paper, and the properties that define them (the
//! head split is an exact reordering, masked probabilities are exactly 0, …). Their
//! finite-difference properties live in `prop_ops.rs` with every other op's.

use autograd::{Tape, Tensor};

#[test]
fn bmm_by_hand() {
    let tape = Tape::<f64>::new();
    let a = tape.param(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 2]));
    let b = tape.param(&Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2, 1]));
    let c = a.bmm(b);
    assert_eq!(c.value().data(), &[17.0, 53.0]); // 1·5 + 2·6, 3·7 + 4·8
    // L = 1·C₀ + 2·C₁: Ā_b = C̄_b · B_bᵀ, B̄_b = A_bᵀ · C̄_b.
    let w = tape.constant(&Tensor::from_vec(vec![1.0, 2.0], &[2, 1, 1]));
    let g = (c * w).sum().backward();
    assert_eq!(g[a].data(), &[5.0, 6.0, 14.0, 16.0]);
    assert_eq!(g[b].data(), &[1.0, 2.0, 6.0, 8.0]);
}

#[test]
fn permute_of_a_matrix_is_its_transpose_and_the_gradient_moves_back() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec((0..6).map(f64::from).collect(), &[2, 3]));
    let y = x.permute(&[1, 0]);
    assert_eq!(y.value(), x.transpose().value());
    let w = tape.constant(&Tensor::from_vec(
        vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        &[3, 2],
    ));
    let g = (y * w).sum().backward();
    // x̄ = w̄ᵀ: x̄[i, j] = w[j, i].
    assert_eq!(g[x].data(), &[10.0, 30.0, 50.0, 20.0, 40.0, 60.0]);
}

/// The head split `[B·T, H·d] → [B·H, T, d]` through reshape and permute, then `bmm`, gives
/// exactly the per-head 2-d products of column slices, and the inverse permutation undoes it.
#[test]
fn heads_through_permute_and_bmm_equal_per_head_matmuls() {
    let (b, t, h, d) = (2, 3, 2, 2);
    let data: Vec<f64> = (0..b * t * h * d)
        .map(|i| (i as f64 * 0.37).sin())
        .collect();
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_vec(data.clone(), &[b * t, h * d]));
    let heads = x
        .reshape(&[b, t, h, d])
        .permute(&[0, 2, 1, 3])
        .reshape(&[b * h, t, d]);
    let scores = heads.bmm(heads.permute(&[0, 2, 1])); // X_h · X_hᵀ per (sequence, head)
    let s = scores.value();
    for (bi, hi) in (0..b).flat_map(|bi| (0..h).map(move |hi| (bi, hi))) {
        // The head's [T, d] slice of x, taken by hand.
        let rows: Vec<f64> = (0..t)
            .flat_map(|ti| {
                let row = (bi * t + ti) * h * d + hi * d;
                data[row..row + d].to_vec()
            })
            .collect();
        let xh = tape.constant(&Tensor::from_vec(rows, &[t, d]));
        let want = xh.matmul(xh.transpose()).value();
        let at = (bi * h + hi) * t * t;
        assert_eq!(
            &s.data()[at..at + t * t],
            want.data(),
            "sequence {bi}, head {hi}"
        );
    }
    let back = heads
        .reshape(&[b, h, t, d])
        .permute(&[0, 2, 1, 3])
        .reshape(&[b * t, h * d]);
    assert_eq!(back.value().data(), &data[..]);
}

#[test]
#[should_panic(expected = "permute: [0, 0] is not a permutation of the 2 axes of shape [2, 3]")]
fn permute_names_a_bad_permutation() {
    let tape = Tape::<f64>::new();
    let _ = tape.constant(&Tensor::zeros(&[2, 3])).permute(&[0, 0]);
}

#[test]
#[should_panic(expected = "bmm: shapes [2, 1, 2] and [3, 2, 1] do not fit")]
fn bmm_names_mismatched_batches() {
    let tape = Tape::<f64>::new();
    let a = tape.constant(&Tensor::zeros(&[2, 1, 2]));
    let _ = a.bmm(tape.constant(&Tensor::zeros(&[3, 2, 1])));
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{k}]: got {g}, want {w}");
    }
}

/// Row [1, 2, 3], ε = 1e-5: μ = 2, σ² = 2/3, r = 1/√(2/3 + 1e-5), x̂ = r·[−1, 0, 1].
#[test]
fn layer_norm_by_hand() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 3]));
    let gain = tape.param(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    let bias = tape.param(&Tensor::from_vec(vec![0.0, 0.5, -1.0], &[3]));
    let y = x.layer_norm(gain, bias, 1e-5);
    let r = 1.0 / (2.0f64 / 3.0 + 1e-5).sqrt();
    close(y.value().data(), &[-r, 0.5, 3.0 * r - 1.0], 1e-15, "y");
    // L = Σ y: ȳ = 1, so ĝ = γ = [1, 2, 3], mean ĝ = 2, mean(ĝ x̂) = r (−1 + 3)/3 = 2r/3,
    // x̄ = r (ĝ − 2 − x̂ · 2r/3); γ̄ = x̂; β̄ = 1.
    let g = y.sum().backward();
    let xh = [-r, 0.0, r];
    let want: Vec<f64> = (0..3)
        .map(|l| r * ((l as f64 + 1.0) - 2.0 - xh[l] * 2.0 * r / 3.0))
        .collect();
    close(g[x].data(), &want, 1e-12, "x̄");
    close(g[gain].data(), &xh, 1e-15, "γ̄");
    close(g[bias].data(), &[1.0, 1.0, 1.0], 0.0, "β̄");
}

/// With γ = 1, each row of `y − β` has mean 0 and variance σ²/(σ² + ε); a constant row maps to β
/// exactly (ε keeps it finite); and since Σₗ x̂ₗ = 0 for every input, `Σ y` does not depend on x:
/// its x̄ is 0.
#[test]
fn layer_norm_rows_are_normalised_and_shift_invariant() {
    let tape = Tape::<f64>::new();
    let data = vec![5.0, 5.0, 5.0, 5.0, -1.0, 0.5, 2.0, 4.0];
    let x = tape.param(&Tensor::from_vec(data, &[2, 4]));
    let ones = tape.constant(&Tensor::ones(&[4]));
    let bias = tape.constant(&Tensor::from_vec(vec![0.1, 0.2, 0.3, 0.4], &[4]));
    let y = x.layer_norm(ones, bias, 1e-5).value();
    close(&y.data()[..4], &[0.1, 0.2, 0.3, 0.4], 0.0, "constant row");
    let row: Vec<f64> = y.data()[4..]
        .iter()
        .zip([0.1, 0.2, 0.3, 0.4])
        .map(|(v, b)| v - b)
        .collect();
    let mean = row.iter().sum::<f64>() / 4.0;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0;
    assert!(mean.abs() < 1e-15, "mean {mean}");
    let sigma2 = {
        let xs = [-1.0, 0.5, 2.0, 4.0];
        let m = xs.iter().sum::<f64>() / 4.0;
        xs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 4.0
    };
    assert!(
        (var - sigma2 / (sigma2 + 1e-5)).abs() < 1e-14,
        "variance {var}"
    );
    let g = x.layer_norm(ones, bias, 1e-5).sum().backward();
    close(g[x].data(), &[0.0; 8], 1e-12, "x̄ of Σ y");
}

#[test]
#[should_panic(expected = "layer_norm: x [2, 3], gain [2], bias [3]; expected x [.., n]")]
fn layer_norm_names_a_gain_of_the_wrong_length() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::zeros(&[2, 3]));
    let _ = x.layer_norm(
        tape.constant(&Tensor::ones(&[2])),
        tape.constant(&Tensor::zeros(&[3])),
        1e-5,
    );
}

/// gelu(x) = ½ x (1 + tanh(√(2/π)(x + 0.044715 x³))), worked at x = −1, 0.5, 2 (u and tanh u by
/// calculator), and its limits: the identity for large x, 0 for very negative x.
#[test]
fn gelu_by_hand_and_in_its_tails() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec(vec![-1.0, 0.5, 2.0, 30.0, -30.0], &[5]));
    let y = x.gelu();
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let gelu = |x: f64| 0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh());
    // u(−1) = −0.8335619689, u(0.5) = 0.4034019564, u(2) = 1.8811883867 (worked separately, to
    // 10 digits); tanh u = −0.6823839812, 0.3828560393, 0.9545976941.
    close(
        &y.value().data()[..3],
        &[-0.1588080094, 0.3457140098, 1.9545976941],
        1e-9,
        "gelu",
    );
    assert_eq!(y.value().data()[3], 30.0);
    assert_eq!(y.value().data()[4], -0.0);
    // d gelu/dx against a central difference of the closed form (h = 1e-5 gives ~1e-10).
    let g = y.sum().backward();
    let h = 1e-5;
    for (k, &xv) in [-1.0, 0.5, 2.0].iter().enumerate() {
        let fd = (gelu(xv + h) - gelu(xv - h)) / (2.0 * h);
        assert!((g[x].data()[k] - fd).abs() < 1e-9, "x = {xv}");
    }
    assert_eq!(&g[x].data()[3..], &[1.0, 0.0], "slopes in the tails");
}

/// Scores [2 queries, 3 keys] (the queries are the last two of three positions): query 0 sees
/// keys 0..=1, query 1 all three. Masked entries are exactly 0 even when the score there is +∞
/// or NaN, and their gradient is exactly 0.
#[test]
fn causal_softmax_masks_exactly_with_fewer_queries_than_keys() {
    let tape = Tape::<f64>::new();
    let s = tape.param(&Tensor::from_vec(
        vec![0.0, 2f64.ln(), f64::INFINITY, 1.0, 1.0, 1.0],
        &[2, 3],
    ));
    let p = s.causal_softmax();
    close(
        p.value().data(),
        &[1.0 / 3.0, 2.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        1e-15,
        "p",
    );
    assert_eq!(p.value().data()[2], 0.0);
    // L = p₀₀ (the first probability): s̄₀ⱼ = p₀₀(δ₀ⱼ − p₀ⱼ) on the visible keys.
    let g = p.select(0, 0).select(0, 0).backward();
    close(
        g[s].data(),
        &[2.0 / 9.0, -2.0 / 9.0, 0.0, 0.0, 0.0, 0.0],
        1e-15,
        "s̄",
    );
    assert_eq!(g[s].data()[2], 0.0);

    let nan = tape.constant(&Tensor::from_vec(vec![3.0, f64::NAN, 1.0, 1.0], &[1, 2, 2]));
    let p = nan.causal_softmax().value();
    assert_eq!(&p.data()[..2], &[1.0, 0.0]);
    close(&p.data()[2..], &[0.5, 0.5], 1e-15, "p of equal scores");
}

/// With Tq = Tk, row i equals the plain softmax of its first i + 1 scores, padded with zeros.
#[test]
fn causal_softmax_rows_are_softmaxes_of_their_prefix() {
    let t = 4;
    let data: Vec<f64> = (0..t * t).map(|k| (k as f64 * 0.7).cos() * 3.0).collect();
    let tape = Tape::<f64>::new();
    let p = tape
        .constant(&Tensor::from_vec(data.clone(), &[t, t]))
        .causal_softmax()
        .value();
    for i in 0..t {
        let prefix = tape.constant(&Tensor::from_slice(&data[i * t..i * t + i + 1], &[i + 1]));
        let mut want = prefix.softmax(0).value().data().to_vec();
        want.resize(t, 0.0);
        assert_eq!(&p.data()[i * t..(i + 1) * t], &want[..], "row {i}");
    }
}

#[test]
#[should_panic(
    expected = "causal_softmax: expected scores [.., Tq, Tk] with Tq <= Tk, got shape [3, 2]"
)]
fn causal_softmax_names_more_queries_than_keys() {
    let tape = Tape::<f64>::new();
    let _ = tape.constant(&Tensor::zeros(&[3, 2])).causal_softmax();
}

/// Ids [1, 1, 0] in a [3, 2] table: rows are copied, the gradient of a repeated id is the sum of
/// its rows' gradients, and a row never read gets exactly 0.
#[test]
fn embed_by_hand_scatters_and_adds() {
    let tape = Tape::<f64>::new();
    let table = tape.param(&Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[3, 2],
    ));
    let y = table.embed(&[1, 1, 0]);
    assert_eq!(y.shape(), vec![3, 2]);
    assert_eq!(y.value().data(), &[3.0, 4.0, 3.0, 4.0, 1.0, 2.0]);
    let w = tape.constant(&Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[3, 2],
    ));
    let g = (y * w).sum().backward();
    // Ē[1] = w[0] + w[1] = [4, 6]; Ē[0] = w[2] = [5, 6]; Ē[2] = 0.
    assert_eq!(g[table].data(), &[5.0, 6.0, 4.0, 6.0, 0.0, 0.0]);
}

#[test]
#[should_panic(expected = "embed: id 3 is out of range for a table of 3 rows (shape [3, 2])")]
fn embed_names_an_id_outside_the_table() {
    let tape = Tape::<f64>::new();
    let _ = tape.constant(&Tensor::zeros(&[3, 2])).embed(&[0, 3]);
}
