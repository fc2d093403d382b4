//! Attention from first principles, then the two properties chapter 13 leans on, measured.
//!
//! 1. **Why `1/√d`.** The dot product `q·k` of two random vectors of `d` independent unit-variance
//!    entries has variance `d`: the scores grow with the head width and the softmax saturates.
//!    Dividing by `√d` keeps them at variance 1, whatever `d`.
//! 2. **One head by hand.** Four positions, two-dimensional queries, keys and values chosen so
//!    each query points at one key: the scores `S = Q·Kᵀ/√d`, the causal mask, the softmax rows
//!    `P` (zeros above the diagonal) and `O = P·V`, computed in plain loops, then the same `O`
//!    from `dense`'s fused attention op.
//! 3. **Causality.** A GPT's logits at positions `≤ t` do not move when the tokens after `t`
//!    change, exactly; the later positions do move.
//! 4. **The key-value cache.** Logits from feeding one token at a time through the cache against
//!    one full forward pass over the whole sequence: the largest difference.
//!
//! Run: `cargo run --release -p policy-gradient --example attention` (well under a second).

use autograd::{Tape, Tensor, Var};
use dense::attention::{CausalSelfAttention, causal_self_attention};
use envs::tokens::Token;
use policy_gradient::lm::gpt::cache::KvCache;
use policy_gradient::lm::gpt::{Gpt, GptSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    scale_of_the_scores();
    one_head_by_hand();
    let spec = GptSpec {
        vocab: 7,
        context: 12,
        width: 16,
        heads: 4,
        layers: 2,
    };
    let model = Gpt::<f32>::random(spec, 0.5, &mut ChaCha8Rng::seed_from_u64(3));
    let tokens: Vec<Token> = vec![3, 1, 4, 1, 5, 2, 6, 5, 3, 5, 0, 2];
    causality(&model, &tokens);
    cache_against_recomputation(&model, &tokens);
}

/// The spread of `q·k` and of `q·k/√d` for random unit-variance vectors of width `d`.
fn scale_of_the_scores() {
    println!("1. the scale of the scores (10000 random pairs q, k with N(0, 1) entries)");
    println!("{:>6} {:>12} {:>12}", "d", "sd of q·k", "sd of q·k/√d");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for d in [4usize, 16, 64, 256] {
        let dots: Vec<f64> = (0..10_000)
            .map(|_| {
                let q = Tensor::<f64>::randn(&[d], &mut rng);
                let k = Tensor::<f64>::randn(&[d], &mut rng);
                q.data().iter().zip(k.data()).map(|(a, b)| a * b).sum()
            })
            .collect();
        let sd = (dots.iter().map(|x| x * x).sum::<f64>() / dots.len() as f64).sqrt();
        println!("{d:>6} {sd:>12.2} {:>12.2}", sd / (d as f64).sqrt());
    }
    println!();
}

/// Q, K, V of one head, T = 4 positions of width d = 2, row by row.
const Q: [[f64; 2]; 4] = [[1.0, 0.0], [0.0, 3.0], [3.0, 0.0], [0.0, -3.0]];
const K: [[f64; 2]; 4] = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
const V: [[f64; 2]; 4] = [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 2.0]];

/// `P = causal_softmax(Q·Kᵀ/√d)` and `O = P·V` in loops, then `O` from the fused op.
fn one_head_by_hand() {
    let (t, d) = (4, 2);
    let scale = 1.0 / (d as f64).sqrt();
    let mut p = [[0.0f64; 4]; 4];
    for i in 0..t {
        // Scores of the visible keys j ≤ i; the masked ones (j > i) get probability 0.
        let s: Vec<f64> = (0..=i)
            .map(|j| scale * (Q[i][0] * K[j][0] + Q[i][1] * K[j][1]))
            .collect();
        let top = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|x| (x - top).exp()).sum();
        for j in 0..=i {
            p[i][j] = (s[j] - top).exp() / z;
        }
    }
    println!("2. one head by hand: P = causal_softmax(Q·Kᵀ/√2), row i = what position i reads");
    for (i, row) in p.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|x| format!("{x:.3}")).collect();
        println!("   P[{i}] = [{}]", cells.join(", "));
    }
    let o: Vec<f64> = (0..t)
        .flat_map(|i| (0..d).map(move |c| (0..t).map(|j| p[i][j] * V[j][c]).sum::<f64>()))
        .collect();
    // The fused op reads [B, T, 3·D] with each row [q | k | v]; one head, D = d = 2.
    let qkv: Vec<f64> = (0..t).flat_map(|i| [Q[i], K[i], V[i]].concat()).collect();
    let tape = Tape::<f64>::new();
    let fused = causal_self_attention(
        tape.constant(&Tensor::from_vec(qkv, &[1, t, 3 * d])),
        &CausalSelfAttention::new(1),
    )
    .value();
    let worst = max_abs_diff(fused.data(), &o);
    let rows: Vec<String> = o
        .chunks(d)
        .map(|r| format!("[{:.3}, {:.3}]", r[0], r[1]))
        .collect();
    println!("   O = P·V = {}", rows.join(", "));
    println!("   fused attention op against the loops: largest difference {worst:.1e}");
    println!();
}

/// The logits of one sequence from one full forward pass, `[T, V]` row-major.
fn full_logits(model: &Gpt<f32>, tokens: &[Token]) -> Vec<f32> {
    let tape = Tape::new();
    let vars: Vec<Var<'_, f32>> = model.params().iter().map(|p| tape.param(p)).collect();
    model
        .arch()
        .logits(|k| vars[k], tokens, 1)
        .value()
        .into_vec()
}

/// For each t: the largest change of the logits at positions ≤ t and at positions > t when every
/// token after t is replaced.
fn causality(model: &Gpt<f32>, tokens: &[Token]) {
    let v = model.spec().vocab;
    let before = full_logits(model, tokens);
    println!("3. causality: replace every token after position t, compare the logits");
    println!(
        "{:>4} {:>22} {:>22}",
        "t", "max change at ≤ t", "max change after t"
    );
    for t in [0, 3, 7, 10] {
        let changed: Vec<Token> = tokens
            .iter()
            .enumerate()
            .map(|(i, &x)| if i > t { (x + 1 + i) % v } else { x })
            .collect();
        let after = full_logits(model, &changed);
        let cut = (t + 1) * v;
        let early = max_abs_diff(&before[..cut], &after[..cut]);
        let late = max_abs_diff(&before[cut..], &after[cut..]);
        println!("{t:>4} {early:>22} {late:>22.3}");
    }
    println!();
}

/// Logits through the key-value cache, one token per step, against the full pass.
fn cache_against_recomputation(model: &Gpt<f32>, tokens: &[Token]) {
    let v = model.spec().vocab;
    let full = full_logits(model, tokens);
    let mut cache = KvCache::new(*model.spec(), 1);
    let (mut cached, mut row) = (Vec::new(), Vec::new());
    for &x in tokens {
        cache.step(model, &[(0, x)], &mut row);
        cached.extend_from_slice(&row);
    }
    let worst = max_abs_diff(&cached, &full);
    let largest = full.iter().fold(0f32, |m, x| m.max(x.abs()));
    println!(
        "4. key-value cache: {} positions × {v} logits, one token per step against one full pass",
        tokens.len()
    );
    println!(
        "   largest difference {worst:.1e} (largest logit {largest:.1}; the test bound is 1e-5)"
    );
}

/// `max_i |a_i − b_i|`.
fn max_abs_diff<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .fold(0.0, f64::max)
}
