//! The fused causal self-attention op against the same attention composed from autograd's
//! reference ops (values and gradients, 1e-12 in f64), against autograd's finite-difference
//! `gradcheck`, and on cases whose answer is known by hand: one position attends only to itself,
//! zero queries average the visible values, later positions never change earlier outputs.

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Tape, Tensor};
use dense::Element;
use dense::attention::{
    CausalSelfAttention, attention_reference, causal_self_attention, causal_self_attention_rows,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn random<T: Element>(shape: &[usize], seed: u64) -> Tensor<T> {
    let t = Tensor::<f64>::randn(shape, &mut ChaCha8Rng::seed_from_u64(seed));
    Tensor::from_vec(
        t.data()
            .iter()
            .map(|&x| <T as autograd::Float>::from_f64(x))
            .collect(),
        shape,
    )
}

/// Value and dL/d(qkv) of `L = Σ c ⊙ attention(qkv)`, fused or composed.
fn run<T: Element>(
    fused: bool,
    heads: usize,
    qkv: &Tensor<T>,
    c: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let op = CausalSelfAttention::new(heads);
    let tape = Tape::new();
    let x = tape.param(qkv);
    let y = if fused {
        causal_self_attention(x, &op)
    } else {
        attention_reference(x, heads)
    };
    let g = (y * tape.constant(c)).sum().backward();
    (y.value(), g[x].clone())
}

/// |a − b| ≤ tol · max(1, |b|) elementwise.
fn assert_close<T: Element>(a: &Tensor<T>, b: &Tensor<T>, tol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes");
    for (k, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        let (x, y) = (x.to_f64(), y.to_f64());
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{k}]: fused {x}, reference {y}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fused_equals_the_reference_composition(
        batch in 1usize..=3, len in 1usize..=7, heads in 1usize..=3, head in 1usize..=5,
        seed in any::<u64>(),
    ) {
        let shape = [batch, len, 3 * heads * head];
        let out = [batch, len, heads * head];
        let (qkv, c) = (random::<f64>(&shape, seed), random::<f64>(&out, seed ^ 1));
        let (y_fused, g_fused) = run(true, heads, &qkv, &c);
        let (y_ref, g_ref) = run(false, heads, &qkv, &c);
        assert_close(&y_fused, &y_ref, 1e-12, "f64 value");
        assert_close(&g_fused, &g_ref, 1e-12, "f64 gradient");

        let (qkv32, c32) = (random::<f32>(&shape, seed), random::<f32>(&out, seed ^ 1));
        let (y_fused, g_fused) = run(true, heads, &qkv32, &c32);
        let (y_ref, g_ref) = run(false, heads, &qkv32, &c32);
        assert_close(&y_fused, &y_ref, 1e-4, "f32 value");
        assert_close(&g_fused, &g_ref, 1e-4, "f32 gradient");
    }

    /// Changing the inputs at positions after t leaves every output at positions ≤ t unchanged,
    /// bit for bit.
    #[test]
    fn later_positions_never_change_earlier_outputs(
        len in 2usize..=7, heads in 1usize..=2, head in 1usize..=4, cut in 0usize..6, seed in any::<u64>(),
    ) {
        let cut = cut % (len - 1); // positions 0..=cut are kept, the rest change
        let width = 3 * heads * head;
        let qkv = random::<f32>(&[1, len, width], seed);
        let mut changed = qkv.clone();
        for x in &mut changed.data_mut()[(cut + 1) * width..] {
            *x = *x * 3.0 - 1.0;
        }
        let op = CausalSelfAttention::new(heads);
        let tape = Tape::new();
        let a = causal_self_attention(tape.constant(&qkv), &op).value();
        let b = causal_self_attention(tape.constant(&changed), &op).value();
        let keep = (cut + 1) * heads * head;
        prop_assert_eq!(&a.data()[..keep], &b.data()[..keep]);
        prop_assert_ne!(&a.data()[keep..], &b.data()[keep..]);
    }
}

/// The rows form (`[B·T, 3·D]` in, `[B·T, D]` out) gives the sequences form's value and gradient
/// bit for bit, whether its backward writes the gradient of `qkv` first (`β = 0`, no zero fill)
/// or adds into a sum already there (here the zeros of a later `0 · Σ qkv`, whose backward runs
/// first).
#[test]
fn rows_form_and_first_write_give_the_same_bits() {
    let (b, t, heads, head) = (3, 5, 2, 4);
    let width = 3 * heads * head;
    let qkv = random::<f32>(&[b, t, width], 7);
    let c = random::<f32>(&[b * t, heads * head], 8);
    let op = CausalSelfAttention::new(heads);
    let run = |rows: bool, zero_use: bool| {
        let tape = Tape::<f32>::new();
        let x = if rows {
            tape.param_from_slice(qkv.data(), &[b * t, width])
        } else {
            tape.param(&qkv)
        };
        let y = if rows {
            causal_self_attention_rows(x, b, &op)
        } else {
            causal_self_attention(x, &op).reshape(&[b * t, heads * head])
        };
        let mut loss = (y * tape.constant(&c)).sum();
        if zero_use {
            loss = loss + x.sum() * tape.scalar(0.0);
        }
        let g = loss.backward();
        (y.value().into_vec(), g[x].data().to_vec())
    };
    let (y, g) = run(false, false);
    for (rows, zero_use) in [(true, false), (false, true), (true, true)] {
        let (y2, g2) = run(rows, zero_use);
        assert_eq!(y, y2, "value, rows {rows}, zero use {zero_use}");
        assert_eq!(g, g2, "gradient, rows {rows}, zero use {zero_use}");
    }
}

#[test]
fn rows_form_passes_gradcheck_in_f64() {
    let op = CausalSelfAttention::new(2);
    let qkv = random::<f64>(&[2 * 3, 12], 9);
    let report = gradcheck(
        |_, v| causal_self_attention_rows(v[0], 2, &op),
        &[qkv],
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
}

#[test]
#[should_panic(expected = "attention: 7 rows of qkv do not split into 2 equal sequences")]
fn rows_form_names_rows_that_do_not_split_into_sequences() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::zeros(&[7, 12]));
    let _ = causal_self_attention_rows(x, 2, &CausalSelfAttention::new(2));
}

#[test]
fn fused_passes_gradcheck_in_f64() {
    let op = CausalSelfAttention::new(2);
    for (shape, seed) in [([1, 4, 12], 1), ([2, 3, 6], 2), ([2, 5, 18], 3)] {
        let qkv = random::<f64>(&shape, seed);
        let report = gradcheck(
            |_, v| causal_self_attention(v[0], &op),
            &[qkv],
            &GradcheckConfig::default(),
        );
        assert!(report.passes(1e-6), "shape {shape:?}: {report}");
    }
}

/// With all queries 0 every visible score is 0, so position i outputs the mean of values 0..=i;
/// with one position, the output is that position's value.
#[test]
fn zero_queries_average_the_visible_values() {
    // B = 1, T = 3, one head of width 1: qkv rows are [q, k, v].
    let qkv = Tensor::from_vec(
        vec![0.0, 5.0, 3.0, 0.0, -2.0, 6.0, 0.0, 7.0, 0.0],
        &[1, 3, 3],
    );
    let op = CausalSelfAttention::new(1);
    let tape = Tape::<f64>::new();
    let y = causal_self_attention(tape.constant(&qkv), &op).value();
    assert_eq!(y.data(), &[3.0, 4.5, 3.0]); // 3, (3 + 6)/2, (3 + 6 + 0)/3

    let single = Tensor::from_vec(vec![0.4, -1.0, 2.0, 9.0, 0.5, -0.5], &[1, 1, 6]);
    let y = causal_self_attention(tape.constant(&single), &CausalSelfAttention::new(2)).value();
    assert_eq!(y.data(), &[0.5, -0.5]); // [q | k | v], 2 heads of 1: each head's v
}

/// Two positions, one head of width 1: q₁ = 1, k = [0, ln 3], so P₁ = [1/4, 3/4]; worked gradient
/// of L = O₁ (the second output): V̄ = P₁ = [1/4, 3/4]; P̄₁ = [v₀, v₁], S̄₁ = P₁ ⊙ (P̄₁ − P₁·P̄₁),
/// Q̄₁ = S̄₁·K, K̄ⱼ = S̄₁ⱼ q₁ (√d = 1).
#[test]
fn two_positions_by_hand() {
    let l3 = 3f64.ln();
    let (v0, v1) = (2.0, -2.0);
    let qkv = Tensor::from_vec(vec![0.7, 0.0, v0, 1.0, l3, v1], &[1, 2, 3]);
    let op = CausalSelfAttention::new(1);
    let tape = Tape::<f64>::new();
    let x = tape.param(&qkv);
    let y = causal_self_attention(x, &op);
    let o1 = 0.25 * v0 + 0.75 * v1; // −1
    assert_eq!(y.value().data()[0], v0);
    assert!((y.value().data()[1] - o1).abs() < 1e-15);
    let g = y.select(1, 1).sum().backward();
    let ds = [0.25 * (v0 - o1), 0.75 * (v1 - o1)]; // S̄₁ = [3/4, −3/4]
    // Layout [q₀, k₀, v₀, q₁, k₁, v₁]. Row 0 sees only key 0, so S̄₀ = 0 and q̄₀ = 0.
    let want = [
        0.0,
        ds[0] * 1.0,
        0.25,
        ds[0] * 0.0 + ds[1] * l3,
        ds[1] * 1.0,
        0.75,
    ];
    let got = g[x].data();
    for k in 0..6 {
        assert!(
            (got[k] - want[k]).abs() < 1e-15,
            "[{k}]: {} vs {}",
            got[k],
            want[k]
        );
    }
}

#[test]
#[should_panic(
    expected = "attention: qkv has shape [1, 2, 9]; expected [B, T, 3·D] with D a multiple of 2 heads"
)]
fn names_a_width_that_does_not_split_into_heads() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::zeros(&[1, 2, 9]));
    let _ = causal_self_attention(x, &CausalSelfAttention::new(2));
}

/// The f32 op's gradient against the f64 op's (proven above by finite differences), as every
/// autograd op is checked.
#[test]
fn f32_gradient_matches_the_f64_gradient() {
    use autograd::compare_f32_to_f64;
    let op = CausalSelfAttention::new(2);
    for (shape, seed) in [([1, 6, 12], 4), ([3, 4, 24], 5)] {
        let qkv = random::<f64>(&shape, seed);
        let report = compare_f32_to_f64(
            |_, v| causal_self_attention(v[0], &op),
            |_, v| causal_self_attention(v[0], &op),
            &[qkv],
            &GradcheckConfig::for_f32(),
        );
        assert!(report.passes(1e-2), "shape {shape:?}: {report}");
    }
}

/// What the module doc claims: the fused attention is one node (two in the rows form, with the
/// layout constant), the reference composition 16.
#[test]
fn the_fused_op_is_one_node_where_the_reference_is_sixteen() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&random::<f64>(&[1, 3, 12], 0));
    let before = tape.len();
    let _ = causal_self_attention(x, &CausalSelfAttention::new(2));
    assert_eq!(tape.len() - before, 1);
    let rows = tape.param(&random::<f64>(&[3, 12], 0));
    let before = tape.len();
    let _ = causal_self_attention_rows(rows, 1, &CausalSelfAttention::new(2));
    assert_eq!(tape.len() - before, 2);
    let before = tape.len();
    let _ = attention_reference(x, 2);
    assert_eq!(tape.len() - before, 16);
}

#[test]
fn the_same_bits_on_any_thread_count() {
    // B = 9 sequences of T = 48, D = 64 in 4 heads: above the pool's threshold forward and
    // backward, and 9 does not split evenly into 2 or 4 parts.
    let (qkv, c) = (
        random::<f32>(&[9, 48, 192], 21),
        random::<f32>(&[9, 48, 64], 22),
    );
    let mut results = Vec::new();
    for t in [1, 2, 4] {
        dense::threads::set_threads(t);
        let (y, g) = run(true, 4, &qkv, &c);
        let bits = |x: &Tensor<f32>| x.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        results.push((bits(&y), bits(&g)));
    }
    dense::threads::set_threads(0);
    for (t, r) in [2, 4].iter().zip(&results[1..]) {
        assert!(
            *r == results[0],
            "{t} threads: output or gradient differ from 1 thread"
        );
    }
}
