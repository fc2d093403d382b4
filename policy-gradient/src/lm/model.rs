//! The token policy: a neural probabilistic language model (Bengio et al. 2003).
//!
//! The state is the last `C` tokens `s = (x_{t-C}, …, x_{t-1})` (padded with `BOS` at the start).
//! Each token is looked up in a shared embedding table `E ∈ R^{V×D}`, the `C` embeddings are
//! concatenated into one vector of width `C·D`, and an MLP maps it to one logit per token:
//!
//! ```text
//! e      = [E[x_{t-C}] ; … ; E[x_{t-1}]]          ∈ R^{C·D}
//! h_1    = act(e W_1 + b_1),  …,  h_k = act(h_{k-1} W_k + b_k)
//! z      = h_k W_out + b_out                      ∈ R^V
//! π(x_t = a | s) = softmax(z)_a
//! ```
//!
//! This is exactly the categorical policy of the control tasks with a learned embedding in front:
//! the observation is the context window, the action space is the vocabulary.

use super::batch::TokenBatch;
use super::objective::{Forward, nll_loss};
use super::sample::log_softmax_into;
use crate::config::Activation;
use crate::error::Result;
use crate::run::bounds;
use crate::run::config::bad_value;
use autograd::{Tape, Tensor, Var};
use dense::{Init, Mlp};
use envs::tokens::Token;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The shape of a token policy: everything needed to rebuild it from its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The task it was trained on.
    pub task: String,
    /// Vocabulary size `V` (output width).
    pub vocab: usize,
    /// Context window `C`.
    pub context: usize,
    /// Embedding width `D`.
    pub embed_dim: usize,
    /// Hidden widths of the MLP.
    pub hidden_sizes: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
}

impl ModelSpec {
    /// The MLP's layer widths: `[C·D, hidden…, V]`.
    pub fn mlp_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.context * self.embed_dim];
        sizes.extend_from_slice(&self.hidden_sizes);
        sizes.push(self.vocab);
        sizes
    }

    /// The MLP's activation after each layer (none after the last: it gives logits).
    pub fn mlp_activations(&self) -> Vec<dense::Activation> {
        let hidden = match self.activation {
            Activation::Tanh => dense::Activation::Tanh,
            Activation::Relu => dense::Activation::Relu,
        };
        let mut acts = vec![hidden; self.hidden_sizes.len()];
        acts.push(dense::Activation::Identity);
        acts
    }

    /// The shapes of the parameters, in order: the embedding table `[V, D]`, then `W_i` and
    /// `b_i` of each MLP layer (the last one producing the `V` logits).
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.vocab, self.embed_dim]];
        for w in self.mlp_sizes().windows(2) {
            shapes.push(vec![w[0], w[1]]);
            shapes.push(vec![w[1]]);
        }
        shapes
    }

    /// Checks the sizes against [`crate::run::bounds`] and the vocabulary against the task the
    /// spec names, before anything is allocated by them. `origin` names the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        bounds::check_token_model(self.context, self.embed_dim, &self.hidden_sizes, origin)?;
        check_task_vocab(&self.task, self.vocab, origin)?;
        let widths: Vec<u64> = self.mlp_sizes().iter().map(|&w| w as u64).collect();
        let count = bounds::mlp_parameters(&widths)
            .saturating_add((self.vocab as u64).saturating_mul(self.embed_dim as u64));
        bounds::check_parameters("the model", count, origin)
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }
}

/// Checks that a model of `vocab` outputs fits task `task` (which must exist). `origin` names
/// the file.
pub fn check_task_vocab(task: &str, vocab: usize, origin: &str) -> Result<()> {
    let v = crate::lm::run::make_task(task)?.vocab().len();
    if vocab != v {
        return Err(bad_value(
            "vocab",
            origin,
            format!(
                "{vocab}, but task `{task}` has {v} tokens (the model was trained on another task)"
            ),
        ));
    }
    Ok(())
}

/// A token policy: an embedding table and a `dense` MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenPolicy {
    spec: ModelSpec,
    embed: Tensor<f32>,
    mlp: Mlp<f32>,
}

impl TokenPolicy {
    /// A freshly initialised policy: embeddings `N(0, 1)`; hidden layers Glorot-uniform
    /// (`±sqrt(6 / (fan_in + fan_out))`), the output layer scaled by 0.1 so the first policy is
    /// close to uniform; biases 0.
    pub fn new<R: Rng + ?Sized>(spec: ModelSpec, rng: &mut R) -> Self {
        let embed = Tensor::randn(&[spec.vocab, spec.embed_dim], rng);
        let acts = spec.mlp_activations();
        let mlp = Mlp::new(
            &spec.mlp_sizes(),
            acts[0],
            dense::Activation::Identity,
            Init::XavierUniform { gain: 1.0 },
            Init::XavierUniform { gain: 0.1 },
            rng,
        );
        Self { spec, embed, mlp }
    }

    /// A policy from an embedding table and MLP parameters `[W_0, b_0, …]`; panics, naming the
    /// shapes, unless they are the spec's.
    pub fn from_parts(spec: ModelSpec, embed: Tensor<f32>, mlp_params: Vec<Tensor<f32>>) -> Self {
        assert_eq!(
            embed.shape(),
            [spec.vocab, spec.embed_dim],
            "TokenPolicy::from_parts: embedding table {:?}, expected [{}, {}]",
            embed.shape(),
            spec.vocab,
            spec.embed_dim
        );
        let mlp = Mlp::from_params(&spec.mlp_activations(), mlp_params);
        assert_eq!(
            mlp.sizes(),
            spec.mlp_sizes().as_slice(),
            "TokenPolicy::from_parts: MLP sizes {:?}, expected {:?}",
            mlp.sizes(),
            spec.mlp_sizes()
        );
        Self { spec, embed, mlp }
    }

    /// The policy's shape.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The embedding table `[V, D]`.
    pub fn embedding(&self) -> &Tensor<f32> {
        &self.embed
    }

    /// The MLP from the concatenated embeddings to the logits.
    pub fn mlp(&self) -> &Mlp<f32> {
        &self.mlp
    }

    /// Every parameter as a mutable slice, embedding first, then the MLP's `[W_0, b_0, …]`: the
    /// list an optimiser steps (in the order of [`TokenPolicy::param_vars`]).
    pub fn param_slices_mut(&mut self) -> Vec<&mut [f32]> {
        let mut out = vec![self.embed.data_mut()];
        out.extend(self.mlp.params_mut().iter_mut().map(|t| t.data_mut()));
        out
    }

    /// The embedding table and the MLP's `[W_0, b_0, …]`, mutably (the optimiser's order, in
    /// two parts).
    pub fn params_mut(&mut self) -> (&mut Tensor<f32>, &mut [Tensor<f32>]) {
        (&mut self.embed, self.mlp.params_mut())
    }

    /// Puts the parameters on the tape as leaves that receive gradients: the embedding table,
    /// then the MLP's `[W_0, b_0, …]`.
    pub fn param_vars<'t>(&self, tape: &'t Tape<f32>) -> Vec<Var<'t, f32>> {
        let mut vars = vec![tape.param(&self.embed)];
        vars.extend(self.mlp.params().iter().map(|p| tape.param(p)));
        vars
    }

    /// The logits `[rows, V]` for `rows = contexts.len() / C` context windows (row-major),
    /// recorded on the tape with the parameter leaves `vars` (from [`TokenPolicy::param_vars`]).
    ///
    /// Panics if `contexts.len()` is not a multiple of `C` or an id is outside the vocabulary.
    pub fn logits<'t>(&self, vars: &[Var<'t, f32>], contexts: &[Token]) -> Var<'t, f32> {
        let (c, d) = (self.spec.context, self.spec.embed_dim);
        assert!(
            contexts.len().is_multiple_of(c),
            "TokenPolicy::logits: {} context tokens is not a multiple of the window {c}",
            contexts.len()
        );
        let rows = contexts.len() / c;
        let e = Self::concatenated_embeddings(vars[0], contexts, rows, c * d);
        // z = MLP(e): one fused dense layer per node.
        self.mlp.with_vars(vars[1..].to_vec()).forward(e)
    }

    /// `e = [E[x_1]; …; E[x_C]]` for each of `rows` windows: looks up `rows·C` embeddings, then
    /// views each row's `C` of them as one concatenated vector of `width = C·D` (row-major order
    /// makes this a reshape, not a copy).
    fn concatenated_embeddings<'t>(
        table: Var<'t, f32>,
        contexts: &[Token],
        rows: usize,
        width: usize,
    ) -> Var<'t, f32> {
        table.embed(contexts).reshape(&[rows, width])
    }

    /// The gradient of the mean negative log-likelihood of `batch`'s targets,
    /// `L = −(1/R) Σ_r log π(y_r | s_r)` over its `R` rows, written into `grads` (one tensor per
    /// parameter, in [`TokenPolicy::param_vars`] order, their buffers reused); returns `L`.
    /// `look` is shown the log-probabilities `[R, V]` (e.g. to measure the entropy).
    ///
    /// [`TokenPolicy::gradients_into`] with the loss [`nll_loss`]: a warm step allocates nothing.
    ///
    /// Panics as [`TokenPolicy::logits`].
    pub fn nll_gradients_into(
        &mut self,
        tape: &mut Tape<f32>,
        batch: &TokenBatch,
        grads: &mut Vec<Tensor<f32>>,
        look: impl FnOnce(&Tensor<f32>),
    ) -> f32 {
        self.gradients_into(tape, batch, grads, |f| {
            f.log_probs.with_value(look);
            nll_loss(f.token_logp)
        })
    }

    /// The gradient of any loss built from the policy's log-probabilities on `batch`'s rows:
    /// records [`Forward`] (as [`super::objective::forward`] does), lets `loss` build `L` from
    /// it, and writes `∂L/∂θ` into `grads` (one tensor per parameter, in
    /// [`TokenPolicy::param_vars`] order, their buffers reused); returns `L`.
    ///
    /// The parameters are lent to `tape` and back ([`autograd::Tape::lend_params`]) and the
    /// gradients are swapped out of it ([`autograd::Var::backward_to_groups`]): a warm step
    /// allocates nothing. The result is bit for bit that of recording [`TokenPolicy::logits`]
    /// with [`TokenPolicy::param_vars`] and copying the gradients out.
    ///
    /// Panics as [`TokenPolicy::logits`].
    pub fn gradients_into(
        &mut self,
        tape: &mut Tape<f32>,
        batch: &TokenBatch,
        grads: &mut Vec<Tensor<f32>>,
        loss: impl for<'t> FnOnce(&Forward<'t>) -> Var<'t, f32>,
    ) -> f32 {
        let (c, d) = (self.spec.context, self.spec.embed_dim);
        let mlp_params = self.mlp.params().len();
        let contexts = batch.contexts();
        assert!(
            contexts.len().is_multiple_of(c),
            "TokenPolicy::gradients_into: {} context tokens is not a multiple of the window {c}",
            contexts.len()
        );
        tape.reset();
        let table = tape.lend_params(std::slice::from_mut(&mut self.embed));
        let mlp = self.mlp.lend(tape);
        let e = Self::concatenated_embeddings(table.var(0), contexts, contexts.len() / c, c * d);
        let log_probs = mlp.forward(e).log_softmax(1);
        let f = Forward {
            log_probs,
            token_logp: log_probs.gather(1, batch.targets()),
        };
        let l = loss(&f);
        let value = l.item();
        grads.resize_with(1 + mlp_params, Tensor::empty);
        l.backward_to_groups(&[&table, mlp.lent()], grads);
        value
    }

    /// Log-probabilities `log π(· | s)` for each context window, with no tape: the embedding rows
    /// are copied side by side and the MLP runs on `dense`'s inference path. Writes `[rows × V]`
    /// values into `out` (resized).
    pub fn log_probs_into(&self, contexts: &[Token], out: &mut Vec<f32>) {
        self.log_probs_reusing(contexts, &mut InferBuffers::default(), out);
    }

    /// [`TokenPolicy::log_probs_into`] with its inputs and logits in `buffers` (reused): a warm
    /// call allocates nothing.
    pub fn log_probs_reusing(
        &self,
        contexts: &[Token],
        buffers: &mut InferBuffers,
        out: &mut Vec<f32>,
    ) {
        let (c, d, v) = (self.spec.context, self.spec.embed_dim, self.spec.vocab);
        assert!(
            contexts.len().is_multiple_of(c),
            "TokenPolicy::log_probs_into: {} context tokens is not a multiple of the window {c}",
            contexts.len()
        );
        let rows = contexts.len() / c;
        let table = self.embed.data();
        let InferBuffers { input, logits } = buffers;
        input.clear();
        for &t in contexts {
            assert!(
                t < v,
                "TokenPolicy::log_probs_into: token {t} outside the vocabulary of {v}"
            );
            input.extend_from_slice(&table[t * d..(t + 1) * d]);
        }
        logits.clear();
        logits.resize(rows * v, 0.0);
        self.mlp.infer(input, logits);
        out.resize(rows * v, 0.0);
        for (z, lp) in logits.chunks_exact(v).zip(out.chunks_exact_mut(v)) {
            log_softmax_into(z, 1.0, lp);
        }
    }
}

/// The buffers of [`TokenPolicy::log_probs_reusing`]: the concatenated embeddings and the
/// logits.
#[derive(Debug, Default)]
pub struct InferBuffers {
    input: Vec<f32>,
    logits: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::{GradcheckConfig, gradcheck};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec() -> ModelSpec {
        ModelSpec {
            task: "test".into(),
            vocab: 5,
            context: 3,
            embed_dim: 2,
            hidden_sizes: vec![4],
            activation: Activation::Tanh,
        }
    }

    #[test]
    fn shapes_and_names_line_up() {
        let s = spec();
        assert_eq!(
            s.param_shapes(),
            vec![vec![5, 2], vec![6, 4], vec![4], vec![4, 5], vec![5]]
        );
        assert_eq!(s.mlp_sizes(), vec![6, 4, 5]);
        assert_eq!(s.num_params(), 10 + 24 + 4 + 20 + 5);
    }

    #[test]
    fn logits_are_the_documented_formula() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let p = TokenPolicy::new(spec(), &mut rng);
        let tape = Tape::new();
        let vars = p.param_vars(&tape);
        let ctx = [0, 4, 2, 1, 1, 3];
        let z = p.logits(&vars, &ctx).value();
        assert_eq!(z.shape(), &[2, 5]);
        // By hand for row 1: e = [E1; E1; E3], h = tanh(e W0 + b0), z = h W1 + b1.
        let (emb, pr) = (p.embedding().data(), p.mlp().params());
        let e: Vec<f32> = [1, 1, 3]
            .iter()
            .flat_map(|&t| emb[t * 2..t * 2 + 2].to_vec())
            .collect();
        let h: Vec<f32> = (0..4)
            .map(|j| {
                let s: f32 = (0..6).map(|i| e[i] * pr[0].data()[i * 4 + j]).sum();
                (s + pr[1].data()[j]).tanh()
            })
            .collect();
        for k in 0..5 {
            let s: f32 = (0..4).map(|j| h[j] * pr[2].data()[j * 5 + k]).sum();
            let want = s + pr[3].data()[k];
            // dense's vectorised tanh is an approximation with a small documented error.
            assert!((z.data()[5 + k] - want).abs() < 1e-4, "logit {k}");
        }
    }

    #[test]
    fn sequence_log_prob_gradient_matches_finite_differences() {
        // log π of a two-token target through embedding, MLP and log-softmax, with respect to
        // every parameter (the model is f32, so the checker's f32 settings apply).
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p = TokenPolicy::new(spec(), &mut rng);
        let ctx = [0usize, 0, 4, 0, 4, 2];
        let targets = [2usize, 1];
        let model = p.clone();
        let mut inputs = vec![p.embedding().clone()];
        inputs.extend(p.mlp().params().iter().cloned());
        let report = gradcheck(
            |_tape, xs| {
                model
                    .logits(xs, &ctx)
                    .log_softmax(1)
                    .gather(1, &targets)
                    .sum()
            },
            &inputs,
            &GradcheckConfig::for_f32(),
        );
        assert!(report.max_rel_err < 2e-2, "{report}");
    }

    #[test]
    fn no_grad_log_probs_are_normalised_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = TokenPolicy::new(spec(), &mut rng);
        let ctx = [0, 0, 0, 2, 3, 4];
        let mut out = Vec::new();
        p.log_probs_into(&ctx, &mut out);
        assert_eq!(out.len(), 10);
        for row in out.chunks(5) {
            let s: f32 = row.iter().map(|l| l.exp()).sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
        // The tape-free path agrees with the recorded one.
        let tape = Tape::new();
        let vars = p.param_vars(&tape);
        let recorded = p.logits(&vars, &ctx).log_softmax(1).value();
        for (a, b) in out.iter().zip(recorded.data()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    #[should_panic(expected = "MLP sizes [6, 3, 5], expected [6, 4, 5]")]
    fn from_parts_checks_shapes() {
        let params = [vec![6, 3], vec![3], vec![3, 5], vec![5]]
            .iter()
            .map(|s| Tensor::zeros(s))
            .collect();
        TokenPolicy::from_parts(spec(), Tensor::zeros(&[5, 2]), params);
    }
}
