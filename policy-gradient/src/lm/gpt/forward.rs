//! The GPT's forward pass on the tape: embeddings, blocks, head, one function each.
//!
//! Every piece is an autograd op with its backward rule beside its forward (`embed` and
//! `log_softmax` in `autograd`; the fused layer `x·W + b`, the same layer landing on the residual
//! stream `x + (h·W + b)`, the fused causal attention, layer norm (the bits of autograd's
//! `layer_norm`) and GELU on the vectorised `tanh` in `dense`), so the whole model's gradient is
//! their chain rule and nothing here is differentiated by hand. The parameters are read through a
//! function from their index (in [`super::GptSpec::param_names`] order) to their handle on the
//! tape, so the same code runs on parameters copied onto the tape ([`autograd::Tape::param`]) or
//! lent to it ([`autograd::Tape::lend_params`]).

use super::{BLOCK_TENSORS, GptArch};
use autograd::Var;
use dense::attention::causal_self_attention_rows;
use dense::gelu::gelu;
use dense::layer_norm::layer_norm;
use dense::{Activation, Element, linear, linear_residual};
use envs::tokens::Token;
use std::cell::RefCell;

thread_local! {
    /// The position of every row of a batch, `0, 1, …, T − 1` once per sequence: rebuilt by each
    /// forward pass in a buffer kept between calls (the embedding copies it onto the tape).
    static ROW_POSITIONS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// ε of every layer norm (GPT-2's).
pub const LN_EPS: f64 = 1e-5;

/// `x·W + b` as one fused node.
fn affine<'t, T: Element>(x: Var<'t, T>, w: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
    linear(x, w, b, Activation::Identity)
}

impl GptArch {
    /// `LN(x) = γ ⊙ (x − μ)/√(σ² + ε) + β`, row by row (the fused op, ε = [`LN_EPS`]).
    fn norm<'t, T: Element>(
        &self,
        x: Var<'t, T>,
        gain: Var<'t, T>,
        bias: Var<'t, T>,
    ) -> Var<'t, T> {
        layer_norm(x, gain, bias, &self.layer_norm)
    }

    /// One pre-norm block on the residual stream `x` (`[N, D]`), its 12 parameters in
    /// [`super::GptSpec::param_names`] order; `attend` maps the `[N, 3·D]` queries, keys and values
    /// to the `[N, D]` heads' outputs (the fused op in training, the cache in sampling).
    ///
    /// ```text
    /// x ← x + (attend(LN₁(x)·W_qkv + b_qkv))·W_o + b_o
    /// x ← x + gelu(LN₂(x)·W₁ + b₁)·W₂ + b₂
    /// ```
    pub fn block<'t, T: Element>(
        &self,
        x: Var<'t, T>,
        p: [Var<'t, T>; BLOCK_TENSORS],
        attend: impl FnOnce(Var<'t, T>) -> Var<'t, T>,
    ) -> Var<'t, T> {
        let [
            ln1_g,
            ln1_b,
            w_qkv,
            b_qkv,
            w_o,
            b_o,
            ln2_g,
            ln2_b,
            w_fc,
            b_fc,
            w_proj,
            b_proj,
        ] = p;
        let qkv = affine(self.norm(x, ln1_g, ln1_b), w_qkv, b_qkv);
        // x + (heads·W_o + b_o) as one node: the GEMM adds the bias, then x (`linear_residual`).
        let x = linear_residual(attend(qkv), w_o, b_o, x);
        let hidden = gelu(affine(self.norm(x, ln2_g, ln2_b), w_fc, b_fc), &self.gelu);
        linear_residual(hidden, w_proj, b_proj, x)
    }

    /// The 12 parameters of block `l`.
    fn block_params<'t, T: Element>(
        &self,
        param: &impl Fn(usize) -> Var<'t, T>,
        l: usize,
    ) -> [Var<'t, T>; BLOCK_TENSORS] {
        std::array::from_fn(|k| param(2 + l * BLOCK_TENSORS + k))
    }

    /// The final norm and the output head: `logits = LN_f(x)·W_head + b_head`, `[N, V]`.
    pub fn head<'t, T: Element>(
        &self,
        param: &impl Fn(usize) -> Var<'t, T>,
        x: Var<'t, T>,
    ) -> Var<'t, T> {
        let f = 2 + self.spec.layers * BLOCK_TENSORS;
        affine(
            self.norm(x, param(f), param(f + 1)),
            param(f + 2),
            param(f + 3),
        )
    }

    /// Runs every block on `x`, with `attend(l, qkv)` as block `l`'s attention.
    pub fn blocks<'t, T: Element>(
        &self,
        param: &impl Fn(usize) -> Var<'t, T>,
        mut x: Var<'t, T>,
        mut attend: impl FnMut(usize, Var<'t, T>) -> Var<'t, T>,
    ) -> Var<'t, T> {
        for l in 0..self.spec.layers {
            x = self.block(x, self.block_params(param, l), |qkv| attend(l, qkv));
        }
        x
    }

    /// The next-token logits at every position of `batch` sequences of equal length
    /// `T = tokens.len() / batch` (row-major: sequence 0's tokens, then sequence 1's, …), as
    /// `[batch·T, V]`; row `b·T + i` is `π(· | tokens of b up to i)`.
    ///
    /// `param(k)` is the handle of parameter `k` on the tape.
    ///
    /// # Panics
    /// If `tokens.len()` is not a multiple of `batch`, `T` exceeds the context, or a token is
    /// outside the vocabulary.
    pub fn logits<'t, T: Element>(
        &self,
        param: impl Fn(usize) -> Var<'t, T>,
        tokens: &[Token],
        batch: usize,
    ) -> Var<'t, T> {
        let f = 2 + self.spec.layers * BLOCK_TENSORS;
        affine(
            self.final_hidden(&param, tokens, batch),
            param(f + 2),
            param(f + 3),
        )
    }
}

impl GptArch {
    /// The final hidden state `LN_f(x)` at every position of `batch` sequences of equal length,
    /// `[batch·T, D]`: what the output head reads, and what a reward model's scalar head reads
    /// instead ([`crate::lm::reward`]). Tokens, panics and `param` as in [`GptArch::logits`].
    pub fn final_hidden<'t, T: Element>(
        &self,
        param: impl Fn(usize) -> Var<'t, T>,
        tokens: &[Token],
        batch: usize,
    ) -> Var<'t, T> {
        assert!(
            batch > 0 && tokens.len().is_multiple_of(batch),
            "Gpt: {} tokens do not split into {batch} equal sequences",
            tokens.len()
        );
        let t = tokens.len() / batch;
        assert!(
            t <= self.spec.context,
            "Gpt: sequences of {t} tokens exceed the context of {}",
            self.spec.context
        );
        // x₀ = E_tok[tokens] + E_pos[positions], row r at position r mod T: [B·T, D] directly,
        // no reshape (a copy on the tape each way) and no broadcast.
        let x = ROW_POSITIONS.with_borrow_mut(|positions| {
            positions.clear();
            positions.extend(self.positions[..t].iter().cycle().take(batch * t));
            param(0).embed(tokens) + param(1).embed(positions)
        });
        // The attention reads the [B·T, 3·D] rows of qkv as B sequences in place (no reshape).
        let x = self.blocks(&param, x, |_, qkv| {
            causal_self_attention_rows(qkv, batch, &self.attention)
        });
        let f = 2 + self.spec.layers * BLOCK_TENSORS;
        self.norm(x, param(f), param(f + 1))
    }
}
