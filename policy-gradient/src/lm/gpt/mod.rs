//! A GPT: a small causal transformer language model, as the token policy's other architecture.
//!
//! Where the MLP policy ([`super::model`]) concatenates the embeddings of a fixed window of the
//! last `C` tokens, the transformer reads every earlier token of the sequence (up to its
//! `context`) and decides *by content* which ones matter: attention. One forward pass over a
//! sequence of `T` tokens gives the next-token logits at every position at once:
//!
//! ```text
//! x₀     = E_tok[tokens] + E_pos[0..T]                    [T, D]   token + position embeddings
//! for each of the L blocks (pre-norm, residual):
//!   x   ← x + W_o · attention(LN₁(x) · W_qkv)              causal multi-head self-attention
//!   x   ← x + W₂ · gelu(LN₂(x) · W₁)                       the MLP, 4·D wide
//! logits = LN_f(x) · W_head + b_head                       [T, V]
//! ```
//!
//! Each weight product also adds its bias. Attention at position `i` only reads positions
//! `j ≤ i` (the causal mask), so the logits at `i` are the policy `π(· | x_{≤i})`: training
//! scores every position of a sequence in one pass (teacher forcing), and sampling can keep each
//! position's keys and values instead of recomputing them ([`cache`]).
//!
//! - [`GptSpec`]: the sizes, and the shapes of the parameters they give.
//! - [`Gpt`]: the parameters (plain tensors an optimiser steps) and the architecture that reads
//!   them; the recorded forward pass is in [`forward`].
//! - [`batch`]: (prompt, completion) pairs as padded rows of positions, for teacher forcing.
//! - [`cache`]: the key-value cache and sampling with it.
//! - [`train`]: the gradient of a weighted next-token log-likelihood, parameters lent to the tape.

pub mod batch;
pub mod cache;
pub mod forward;
#[cfg(test)]
mod tests;
pub mod train;

use crate::error::Result;
use crate::run::bounds;
use crate::run::config::{bad_value, check_size};
use autograd::Tensor;
use dense::Element;
use dense::attention::CausalSelfAttention;
use dense::gelu::Gelu;
use dense::layer_norm::LayerNorm;
use forward::LN_EPS;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Number of parameter tensors in one block (see [`GptSpec::param_names`]).
pub const BLOCK_TENSORS: usize = 12;

/// Standard deviation of the initial weights (GPT-2's).
const INIT_STD: f64 = 0.02;

/// The sizes of a GPT: everything needed to rebuild it from its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptSpec {
    /// Vocabulary size `V`.
    pub vocab: usize,
    /// Longest sequence the model reads (rows of the position table).
    pub context: usize,
    /// Model width `D` (the residual stream).
    pub width: usize,
    /// Attention heads `H`; each is `D / H` wide.
    pub heads: usize,
    /// Number of blocks `L`.
    pub layers: usize,
}

impl GptSpec {
    /// Width of each block's MLP: `4·D`, as in GPT-2.
    pub fn mlp_width(&self) -> usize {
        4 * self.width
    }

    /// Width of one attention head, `D / H`.
    pub fn head_width(&self) -> usize {
        self.width / self.heads
    }

    /// The parameters' names, in order: `wte`, `wpe`, then the 12 tensors of each block
    /// `h{l}.…`, then the final norm and the head.
    pub fn param_names(&self) -> Vec<String> {
        let mut names = vec!["wte".to_string(), "wpe".to_string()];
        for l in 0..self.layers {
            for part in [
                "ln1.gain",
                "ln1.bias",
                "attn.w_qkv",
                "attn.b_qkv",
                "attn.w_o",
                "attn.b_o",
                "ln2.gain",
                "ln2.bias",
                "mlp.w_fc",
                "mlp.b_fc",
                "mlp.w_proj",
                "mlp.b_proj",
            ] {
                names.push(format!("h{l}.{part}"));
            }
        }
        names.extend(["ln_f.gain", "ln_f.bias", "head.w", "head.b"].map(String::from));
        names
    }

    /// The parameters' shapes, in the order of [`GptSpec::param_names`].
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let (v, c, d, h) = (self.vocab, self.context, self.width, self.mlp_width());
        let mut shapes = vec![vec![v, d], vec![c, d]];
        for _ in 0..self.layers {
            shapes.extend([
                vec![d],
                vec![d],
                vec![d, 3 * d],
                vec![3 * d],
                vec![d, d],
                vec![d],
                vec![d],
                vec![d],
                vec![d, h],
                vec![h],
                vec![h, d],
                vec![d],
            ]);
        }
        shapes.extend([vec![d], vec![d], vec![d, v], vec![v]]);
        shapes
    }

    /// Total number of scalar parameters:
    /// `V·D + C·D + L·(12·D² + 13·D) + 2·D + D·V + V`.
    ///
    /// ```
    /// use policy_gradient::lm::gpt::GptSpec;
    /// let s = GptSpec { vocab: 32, context: 32, width: 64, heads: 4, layers: 2 };
    /// assert_eq!(s.num_params(), 32 * 64 + 32 * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64 + 64 * 32 + 32);
    /// ```
    pub fn num_params(&self) -> usize {
        let (v, c, d, l) = (self.vocab, self.context, self.width, self.layers);
        v * d + c * d + l * (12 * d * d + 13 * d) + 2 * d + d * v + v
    }

    /// Checks the sizes against [`crate::run::bounds`] and that the heads divide the width,
    /// before anything is allocated by them. `origin` names the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        check_size("context", self.context as u64, 1, bounds::CONTEXT, origin)?;
        check_size("width", self.width as u64, 1, bounds::EMBED_DIM, origin)?;
        check_size("heads", self.heads as u64, 1, self.width as u64, origin)?;
        check_size(
            "layers",
            self.layers as u64,
            1,
            bounds::HIDDEN_LAYERS,
            origin,
        )?;
        if !self.width.is_multiple_of(self.heads) {
            let msg = format!(
                "{}; expected a divisor of the width {}",
                self.heads, self.width
            );
            return Err(bad_value("heads", origin, msg));
        }
        // The count in u64 with saturation: absurd sizes must not overflow before the check.
        let [v, c, d, l] = [self.vocab, self.context, self.width, self.layers].map(|x| x as u64);
        let per_block = 12u64.saturating_mul(d).saturating_mul(d) + 13 * d;
        let count = (v + c + 2)
            .saturating_mul(d)
            .saturating_add(l.saturating_mul(per_block))
            .saturating_add(d.saturating_mul(v) + v);
        bounds::check_parameters("the model", count, origin)
    }
}

/// A GPT's architecture without its parameters: what the forward pass needs besides them (the
/// sizes, the shared attention, layer-norm and GELU ops, the position ids `0, 1, …, C − 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct GptArch {
    spec: GptSpec,
    attention: Rc<CausalSelfAttention>,
    gelu: Rc<Gelu>,
    layer_norm: Rc<LayerNorm>,
    positions: Vec<usize>,
}

impl GptArch {
    /// The architecture of `spec`.
    pub fn new(spec: GptSpec) -> Self {
        Self {
            spec,
            attention: CausalSelfAttention::new(spec.heads),
            gelu: Gelu::new(),
            layer_norm: LayerNorm::new(LN_EPS),
            positions: (0..spec.context).collect(),
        }
    }

    /// The sizes.
    pub fn spec(&self) -> &GptSpec {
        &self.spec
    }
}

/// A GPT: its architecture and its parameters, plain tensors in [`GptSpec::param_names`] order.
///
/// Generic over `f32` (training, sampling) and `f64` (gradient checks).
#[derive(Clone, Debug, PartialEq)]
pub struct Gpt<T: Element = f32> {
    arch: GptArch,
    params: Vec<Tensor<T>>,
}

impl<T: Element> Gpt<T> {
    /// A freshly initialised GPT (GPT-2's scheme): every weight and embedding `N(0, 0.02²)`,
    /// the two projections back into the residual stream (`W_o`, `W₂`) `N(0, (0.02/√(2L))²)` so
    /// the stream's variance does not grow with depth, biases 0, norm gains 1.
    pub fn new<R: Rng + ?Sized>(spec: GptSpec, rng: &mut R) -> Self {
        let names = spec.param_names();
        let residual_std = INIT_STD / (2.0 * spec.layers as f64).sqrt();
        let params = spec
            .param_shapes()
            .iter()
            .zip(&names)
            .map(|(shape, name)| {
                let std = if name.ends_with("w_o") || name.ends_with("w_proj") {
                    residual_std
                } else {
                    INIT_STD
                };
                if name.ends_with("gain") {
                    Tensor::full(shape, T::one())
                } else if shape.len() == 1 {
                    Tensor::zeros(shape)
                } else {
                    let r = Tensor::<T>::randn(shape, rng);
                    let scaled = r.data().iter().map(|&x| x * T::from_f64(std)).collect();
                    Tensor::from_vec(scaled, shape)
                }
            })
            .collect();
        Self {
            arch: GptArch::new(spec),
            params,
        }
    }

    /// A GPT with large random weights, for tests and demonstrations: every parameter
    /// `N(0, std²)`, the norm gains `1 + N(0, std²)`. GPT-2's start ([`Gpt::new`]) is nearly
    /// uniform, so differences that matter (a wrong mask, a stale cache) would hide in it; with
    /// `std` near 0.5 every path moves the logits.
    ///
    /// ```
    /// use policy_gradient::lm::gpt::{Gpt, GptSpec};
    /// use rand::SeedableRng;
    /// let spec = GptSpec { vocab: 5, context: 4, width: 4, heads: 2, layers: 1 };
    /// let m = Gpt::<f64>::random(spec, 0.5, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// assert_eq!(m.params().len(), spec.param_names().len());
    /// ```
    pub fn random<R: Rng + ?Sized>(spec: GptSpec, std: f64, rng: &mut R) -> Self {
        let params = spec
            .param_shapes()
            .iter()
            .zip(spec.param_names())
            .map(|(shape, name)| {
                let r = Tensor::<f64>::randn(shape, rng);
                let shift = if name.ends_with("gain") { 1.0 } else { 0.0 };
                let data = r.data().iter().map(|x| T::from_f64(x * std + shift));
                Tensor::from_vec(data.collect(), shape)
            })
            .collect();
        Self::from_params(spec, params)
    }

    /// A GPT from its parameters; panics, naming the first wrong shape, unless they are the
    /// spec's.
    pub fn from_params(spec: GptSpec, params: Vec<Tensor<T>>) -> Self {
        let shapes = spec.param_shapes();
        assert_eq!(
            params.len(),
            shapes.len(),
            "Gpt::from_params: {} tensors, expected {}",
            params.len(),
            shapes.len()
        );
        for ((p, s), name) in params.iter().zip(&shapes).zip(spec.param_names()) {
            assert_eq!(
                p.shape(),
                s.as_slice(),
                "Gpt::from_params: {name} has shape {:?}, expected {s:?}",
                p.shape()
            );
        }
        Self {
            arch: GptArch::new(spec),
            params,
        }
    }

    /// The sizes.
    pub fn spec(&self) -> &GptSpec {
        &self.arch.spec
    }

    /// The architecture (the forward pass lives there: see [`forward`]).
    pub fn arch(&self) -> &GptArch {
        &self.arch
    }

    /// The parameters, in [`GptSpec::param_names`] order.
    pub fn params(&self) -> &[Tensor<T>] {
        &self.params
    }

    /// The parameters, writable: what an optimiser steps.
    pub fn params_mut(&mut self) -> &mut [Tensor<T>] {
        &mut self.params
    }

    /// The architecture and the writable parameters at once, so the parameters can be lent to a
    /// tape ([`autograd::Tape::lend_params`]) while the architecture reads them there.
    pub fn split_mut(&mut self) -> (&GptArch, &mut [Tensor<T>]) {
        (&self.arch, &mut self.params)
    }
}
