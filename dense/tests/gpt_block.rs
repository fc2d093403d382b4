//! A tiny GPT, composed in this test only from the transformer ops (the model itself will live in
//! `policy-gradient/src/lm`): token and position embeddings, one pre-norm block
//! (LN → causal multi-head attention → residual, LN → MLP with GELU → residual), a final LN and
//! an output head, trained on next-token log-likelihood. Its gradient with respect to every
//! parameter passes autograd's finite-difference `gradcheck`, with the fused ops (attention on the
//! rows, layer norm, GELU, the projections landing on the residual stream) and with the reference
//! compositions, and the two give the same loss and gradients to
//! 1e-12. A tape reused from an earlier step (whose gradient slots the fused ops' backward rules
//! overwrite on their first write) gives the bits of a fresh tape.

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{Tape, Tensor, Var};
use dense::attention::{CausalSelfAttention, attention_reference, causal_self_attention_rows};
use dense::gelu::{Gelu, gelu};
use dense::layer_norm::{LayerNorm, layer_norm};
use dense::{Activation, linear, linear_residual};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Sizes: vocabulary, context, width, heads, MLP width, sequences.
const VOCAB: usize = 5;
const LEN: usize = 3;
const WIDTH: usize = 4;
const HEADS: usize = 2;
const HIDDEN: usize = 8;
const BATCH: usize = 2;
const EPS: f64 = 1e-5;

/// Token ids of the batch, and the targets (each sequence's next tokens).
const IDS: [usize; BATCH * LEN] = [0, 3, 1, 4, 4, 2];
const TARGETS: [usize; BATCH * LEN] = [3, 1, 2, 4, 2, 0];

/// Parameter shapes, in the order the model reads them.
fn shapes() -> Vec<Vec<usize>> {
    let (v, t, d, h) = (VOCAB, LEN, WIDTH, HIDDEN);
    vec![
        vec![v, d],     // 0 token embeddings
        vec![t, d],     // 1 position embeddings
        vec![d],        // 2 LN₁ gain
        vec![d],        // 3 LN₁ bias
        vec![d, 3 * d], // 4 W_qkv
        vec![3 * d],    // 5 b_qkv
        vec![d, d],     // 6 W_o
        vec![d],        // 7 b_o
        vec![d],        // 8 LN₂ gain
        vec![d],        // 9 LN₂ bias
        vec![d, h],     // 10 W₁
        vec![h],        // 11 b₁
        vec![h, d],     // 12 W₂
        vec![d],        // 13 b₂
        vec![d],        // 14 final LN gain
        vec![d],        // 15 final LN bias
        vec![d, v],     // 16 head W
        vec![v],        // 17 head b
    ]
}

/// Random parameters (gains near 1, everything else small), seeded.
fn params(seed: u64) -> Vec<Tensor<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gains = [2, 8, 14];
    shapes()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = Tensor::<f64>::randn(s, &mut rng);
            let (scale, shift) = if gains.contains(&i) {
                (0.1, 1.0)
            } else {
                (0.5, 0.0)
            };
            Tensor::from_vec(r.data().iter().map(|x| x * scale + shift).collect(), s)
        })
        .collect()
}

/// `r + (h·W + b)`: one fused node, or `linear` then autograd's `+`.
fn residual<'t>(
    h: Var<'t, f64>,
    w: Var<'t, f64>,
    b: Var<'t, f64>,
    r: Var<'t, f64>,
    fused: bool,
) -> Var<'t, f64> {
    if fused {
        linear_residual(h, w, b, r)
    } else {
        r + linear(h, w, b, Activation::Identity)
    }
}

/// Mean next-token negative log-likelihood of the tiny GPT.
fn loss<'t>(p: &[Var<'t, f64>], fused: bool) -> Var<'t, f64> {
    loss_with(p, fused, false)
}

/// [`loss`], plus `0 · Σ v` for every input of the fused ops when `zero_uses` is set. Those
/// terms are recorded last, so their backward runs first and fills each input's gradient slot
/// with zeros: the fused ops then add into it (`β = 1`) instead of writing it (`β = 0`).
fn loss_with<'t>(p: &[Var<'t, f64>], fused: bool, zero_uses: bool) -> Var<'t, f64> {
    let mut inputs = vec![
        p[2], p[3], p[4], p[6], p[8], p[9], p[10], p[12], p[14], p[15], p[16],
    ];
    let (b, t, d) = (BATCH, LEN, WIDTH);
    let positions: Vec<usize> = (0..b * t).map(|r| r % t).collect();
    // LN(x): one fused node with vectorised kernels, or autograd's reference op.
    let norm = |x: Var<'t, f64>, gain: Var<'t, f64>, bias: Var<'t, f64>| match fused {
        true => layer_norm(x, gain, bias, &LayerNorm::new(EPS)),
        false => x.layer_norm(gain, bias, EPS),
    };
    let x = p[0].embed(&IDS) + p[1].embed(&positions); // [B·T, D]

    // Attention sub-block: x + W_o · attention(LN₁(x) · W_qkv). Fused: the attention reads the
    // [B·T, 3·D] rows in place and the projection lands on x in one node (`linear_residual`);
    // reference: reshapes, the composed attention, and `x + linear`.
    let ln1 = norm(x, p[2], p[3]);
    let qkv = linear(ln1, p[4], p[5], Activation::Identity);
    let heads = if fused {
        causal_self_attention_rows(qkv, b, &CausalSelfAttention::new(HEADS))
    } else {
        let heads = attention_reference(qkv.reshape(&[b, t, 3 * d]), HEADS);
        heads.reshape(&[b * t, d])
    };
    let x1 = x;
    let x = residual(heads, p[6], p[7], x1, fused);

    // MLP sub-block: x + W₂ · gelu(LN₂(x) · W₁).
    let ln2 = norm(x, p[8], p[9]);
    let hidden = linear(ln2, p[10], p[11], Activation::Identity);
    let act = if fused {
        gelu(hidden, &Gelu::new())
    } else {
        hidden.gelu()
    };
    let x2 = x;
    let x = residual(act, p[12], p[13], x2, fused);

    let x3 = x;
    let ln3 = norm(x3, p[14], p[15]);
    let logits = linear(ln3, p[16], p[17], Activation::Identity);
    let nll = -logits.log_softmax(1).gather(1, &TARGETS).mean();
    inputs.extend([ln1, qkv, heads, x1, ln2, hidden, act, x2, x3, ln3]);
    match zero_uses {
        true => inputs.iter().fold(nll, |l, &v| l + (v * 0.0).sum()),
        false => nll,
    }
}

#[test]
fn the_whole_model_passes_gradcheck_with_either_attention() {
    let inputs = params(7);
    for fused in [true, false] {
        let report = gradcheck(|_, p| loss(p, fused), &inputs, &GradcheckConfig::default());
        assert!(report.passes(1e-6), "fused = {fused}: {report}");
        assert_eq!(
            report.checked,
            inputs.iter().map(Tensor::numel).sum::<usize>()
        );
    }
}

#[test]
fn fused_and_reference_attention_give_the_same_model_gradients() {
    let inputs = params(11);
    let run = |fused: bool| {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|t| tape.param(t)).collect();
        let l = loss(&vars, fused);
        let g = l.backward();
        let grads: Vec<Tensor<f64>> = vars.iter().map(|&v| g[v].clone()).collect();
        (l.item(), grads)
    };
    let ((l_fused, g_fused), (l_ref, g_ref)) = (run(true), run(false));
    assert!((l_fused - l_ref).abs() < 1e-12, "loss {l_fused} vs {l_ref}");
    // A vocabulary of 5 and random weights: the loss is near ln 5, not a degenerate 0.
    assert!(l_ref > 0.5 && l_ref < 5.0, "loss {l_ref}");
    for (i, (a, b)) in g_fused.iter().zip(&g_ref).enumerate() {
        for (x, y) in a.data().iter().zip(b.data()) {
            assert!((x - y).abs() < 1e-12, "parameter {i}: {x} vs {y}");
        }
        assert!(
            b.data().iter().any(|&x| x != 0.0),
            "parameter {i} gets a gradient"
        );
    }
}

#[test]
fn a_reused_tape_gives_the_bits_of_a_fresh_one() {
    let grads = |tape: &mut Tape<f64>, inputs: &[Tensor<f64>]| {
        tape.reset();
        let vars: Vec<_> = inputs.iter().map(|t| tape.param(t)).collect();
        let g = loss(&vars, true).backward();
        let bits = |v: &Var<'_, f64>| g[*v].data().iter().map(|x| x.to_bits()).collect();
        vars.iter().map(bits).collect::<Vec<Vec<u64>>>()
    };
    let mut reused = Tape::new();
    let _ = grads(&mut reused, &params(3));
    let again = grads(&mut reused, &params(11));
    assert_eq!(again, grads(&mut Tape::new(), &params(11)));
}

/// Writing a fresh gradient slot (`β = 0`, `=`) gives the bits that adding into a zeroed one
/// (`β = 1`, `+=`) gives, for every fused op: linear, attention, GELU, the residual layer, and
/// layer norm.
#[test]
fn first_writes_give_the_bits_of_adding_into_zeros() {
    let inputs = params(5);
    let grads = |zero_uses: bool| {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|t| tape.param(t)).collect();
        let g = loss_with(&vars, true, zero_uses).backward();
        let bits = |v: &Var<'_, f64>| g[*v].data().iter().map(|x| x.to_bits()).collect();
        vars.iter().map(bits).collect::<Vec<Vec<u64>>>()
    };
    assert_eq!(grads(true), grads(false));
}
