//! The GPT's tests: shapes, the whole model against finite differences, causality.

use super::*;
use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Tape, Var};
use envs::tokens::Token;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn tiny() -> GptSpec {
    GptSpec {
        vocab: 5,
        context: 4,
        width: 4,
        heads: 2,
        layers: 2,
    }
}

/// A model with weights large enough that every path matters (the GPT-2 initialisation is
/// nearly uniform): gains near 1, everything else `N(0, scale²)`.
fn random<T: Element>(spec: GptSpec, scale: f64, seed: u64) -> Gpt<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params = spec
        .param_shapes()
        .iter()
        .zip(spec.param_names())
        .map(|(s, name)| {
            let r = Tensor::<f64>::randn(s, &mut rng);
            let shift = if name.ends_with("gain") { 1.0 } else { 0.0 };
            let data = r.data().iter().map(|x| T::from_f64(x * scale + shift));
            Tensor::from_vec(data.collect(), s)
        })
        .collect();
    Gpt::from_params(spec, params)
}

/// The logits of `batch` equal-length sequences, recorded on a fresh tape, as plain numbers.
fn full_logits<T: Element>(model: &Gpt<T>, tokens: &[Token], batch: usize) -> Vec<T> {
    let tape = Tape::new();
    let vars: Vec<Var<'_, T>> = model.params().iter().map(|p| tape.param(p)).collect();
    model
        .arch()
        .logits(|k| vars[k], tokens, batch)
        .value()
        .into_vec()
}

#[test]
fn names_shapes_and_count_line_up() {
    let s = tiny();
    let (names, shapes) = (s.param_names(), s.param_shapes());
    assert_eq!(names.len(), 2 + 2 * BLOCK_TENSORS + 4);
    assert_eq!(shapes.len(), names.len());
    assert_eq!(names[2 + BLOCK_TENSORS + 2], "h1.attn.w_qkv");
    assert_eq!(shapes[2 + BLOCK_TENSORS + 2], vec![4, 12]);
    assert_eq!(names[2 + 8], "h0.mlp.w_fc");
    assert_eq!(shapes[2 + 8], vec![4, 16]);
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    assert_eq!(s.num_params(), total);
    let m = Gpt::<f32>::new(s, &mut ChaCha8Rng::seed_from_u64(0));
    assert_eq!(m.params().len(), names.len());
    // Gains start at 1, biases at 0, weights small and not all equal.
    assert!(m.params()[2].data().iter().all(|&g| g == 1.0));
    assert!(m.params()[3].data().iter().all(|&b| b == 0.0));
    let w = m.params()[4].data();
    assert!(w.iter().all(|x| x.abs() < 0.2) && w[0] != w[1]);
}

#[test]
fn bad_sizes_are_named() {
    let e = GptSpec { heads: 3, ..tiny() }.validate("x").unwrap_err();
    assert!(
        e.to_string().contains("`heads`") && e.to_string().contains("divisor"),
        "{e}"
    );
    let e = GptSpec {
        layers: 0,
        ..tiny()
    }
    .validate("x")
    .unwrap_err();
    assert!(e.to_string().contains("`layers`"), "{e}");
    let huge = GptSpec {
        width: 1024,
        layers: 16,
        vocab: 1 << 40,
        ..tiny()
    };
    assert!(huge.validate("x").is_err());
    tiny().validate("x").unwrap();
}

#[test]
fn the_whole_model_passes_gradcheck_in_f64() {
    let spec = tiny();
    let model = random::<f64>(spec, 0.5, 3);
    let tokens = [0, 3, 1, 4, 4, 2];
    let targets = [3, 1, 2, 4, 2, 0];
    let arch = model.arch().clone();
    let report = gradcheck(
        |_, p| {
            let logits = arch.logits(|k| p[k], &tokens, 2);
            -logits.log_softmax(1).gather(1, &targets).mean()
        },
        model.params(),
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
    assert_eq!(report.checked, spec.num_params());
}

#[test]
fn changing_later_tokens_leaves_earlier_logits_exactly_unchanged() {
    let spec = GptSpec {
        vocab: 7,
        context: 9,
        width: 8,
        heads: 2,
        layers: 2,
    };
    let model = random::<f32>(spec, 0.4, 5);
    let v = spec.vocab;
    let base: Vec<Token> = vec![2, 5, 1, 6, 3, 3, 0, 4, 2, 6, 6, 1, 2, 3, 4, 5, 0, 1];
    let a = full_logits(&model, &base, 2);
    for t in 0..8 {
        let mut changed = base.clone();
        for seq in 0..2 {
            for i in t + 1..9 {
                changed[seq * 9 + i] = (changed[seq * 9 + i] + 1 + i) % v;
            }
        }
        let b = full_logits(&model, &changed, 2);
        for seq in 0..2 {
            let rows = |z: &[f32], range: std::ops::Range<usize>| {
                z[(seq * 9 + range.start) * v..(seq * 9 + range.end) * v].to_vec()
            };
            assert_eq!(rows(&a, 0..t + 1), rows(&b, 0..t + 1), "t = {t}, seq {seq}");
            // Not vacuous: the changed positions do see the change.
            assert_ne!(rows(&a, t + 1..9), rows(&b, t + 1..9), "t = {t}, seq {seq}");
        }
    }
}

#[test]
fn f32_and_f64_models_agree() {
    // The same numbers in both precisions give the same logits (to f32 rounding): the generic
    // code has no precision-specific path.
    let tokens = [1, 2, 3, 0, 4, 4];
    let a = full_logits(&random::<f32>(tiny(), 0.5, 4), &tokens, 2);
    let b = full_logits(&random::<f64>(tiny(), 0.5, 4), &tokens, 2);
    for (x, y) in a.iter().zip(&b) {
        assert!((*x as f64 - y).abs() < 1e-4, "{x} vs {y}");
    }
}
