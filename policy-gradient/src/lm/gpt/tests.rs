//! The GPT's tests: shapes, the whole model against finite differences, causality, and the
//! key-value cache against a full recomputation.

use super::cache::{KvCache, generate};
use super::*;
use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Tape, Var};
use envs::tokens::{EOS, Token, TokenTask};
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

/// A model with weights large enough that every path matters ([`Gpt::random`]).
fn random<T: Element>(spec: GptSpec, scale: f64, seed: u64) -> Gpt<T> {
    Gpt::random(spec, scale, &mut ChaCha8Rng::seed_from_u64(seed))
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
fn cached_logits_equal_a_full_recomputation_at_every_position() {
    let spec = GptSpec {
        vocab: 6,
        context: 10,
        width: 12,
        heads: 3,
        layers: 2,
    };
    let model = random::<f32>(spec, 0.4, 8);
    let v = spec.vocab;
    let seqs: [Vec<Token>; 3] = [
        vec![1, 4, 2, 2, 5, 0, 3, 3, 1, 4],
        vec![5, 5, 0, 1, 2, 3, 4, 5, 0, 2],
        vec![3, 1, 4, 1, 5, 2, 0, 2, 3, 4],
    ];
    // Prompts of different lengths read whole in one step, then one token per sequence per step.
    let prompt_len = [1, 4, 7];
    let mut cache = KvCache::new(spec, 3);
    let mut got: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 3];
    let mut logits = Vec::new();
    let rows: Vec<(usize, Token)> = (0..3)
        .flat_map(|s| seqs[s][..prompt_len[s]].iter().map(move |&t| (s, t)))
        .collect();
    cache.step(&model, &rows, &mut logits);
    for (r, &(s, _)) in rows.iter().enumerate() {
        got[s].push(logits[r * v..(r + 1) * v].to_vec());
    }
    for i in 1..10 {
        let rows: Vec<(usize, Token)> = seqs
            .iter()
            .enumerate()
            .filter(|&(s, _)| i >= prompt_len[s])
            .map(|(s, seq)| (s, seq[i]))
            .collect();
        cache.step(&model, &rows, &mut logits);
        for (r, &(s, _)) in rows.iter().enumerate() {
            got[s].push(logits[r * v..(r + 1) * v].to_vec());
        }
    }
    let mut worst = 0f32;
    for s in 0..3 {
        assert_eq!(cache.len(s), 10);
        let want = full_logits(&model, &seqs[s], 1);
        for (i, row) in got[s].iter().enumerate() {
            for (a, b) in row.iter().zip(&want[i * v..(i + 1) * v]) {
                worst = worst.max((a - b).abs());
            }
        }
    }
    assert!(worst <= 1e-5, "largest difference {worst}");
}

#[test]
#[should_panic(expected = "sequence 0 is full (context 4)")]
fn a_full_cache_refuses_another_token() {
    let model = random::<f32>(tiny(), 0.1, 0);
    let mut cache = KvCache::new(tiny(), 1);
    cache.step(
        &model,
        &[(0, 1), (0, 2), (0, 3), (0, 4), (0, 0)],
        &mut Vec::new(),
    );
}

/// A task-free greedy decode by full recomputation: the reference for the cached sampler.
fn greedy_by_recomputation(model: &Gpt<f32>, prompt: &[Token], max: usize) -> Vec<Token> {
    let v = model.spec().vocab;
    let mut seq = prompt.to_vec();
    let mut out = Vec::new();
    while out.len() < max && out.last() != Some(&EOS) {
        let z = full_logits(model, &seq, 1);
        let last = &z[(seq.len() - 1) * v..];
        let best = (0..v).fold(0, |b, i| if last[i] > last[b] { i } else { b });
        out.push(best);
        seq.push(best);
    }
    out
}

#[test]
fn cached_greedy_generation_equals_recomputation_and_sampling_is_seeded() {
    let task = envs::tokens::Addition::new(2, 0.0).unwrap();
    let spec = GptSpec {
        vocab: task.vocab().len(),
        context: 12,
        width: 8,
        heads: 2,
        layers: 1,
    };
    let model = random::<f32>(spec, 0.5, 2);
    let prompts = task.held_out_prompts(6, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let greedy = generate(&model, &task, &prompts, 0.0, &mut rng);
    for (c, p) in greedy.iter().zip(&prompts) {
        assert_eq!(&c.prompt, p);
        let want = greedy_by_recomputation(&model, p, task.max_completion_len());
        assert_eq!(c.completion, want);
    }
    let run = |seed| {
        generate(
            &model,
            &task,
            &prompts,
            1.0,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
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
