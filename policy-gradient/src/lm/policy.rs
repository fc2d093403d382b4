//! The language-model policy of the `pg lm` runs: the MLP over a fixed window
//! ([`super::model::TokenPolicy`]) or the transformer ([`super::gpt::Gpt`]), chosen by the
//! `model` key of the pretraining configuration.
//!
//! The runs need only a handful of operations from a policy, and each architecture does them
//! its own way:
//!
//! | operation | MLP | transformer |
//! |---|---|---|
//! | gradient of the mean NLL of the completions | one context window per completion token ([`super::batch::TokenBatch`]) | one padded row of positions per sequence ([`super::gpt::batch::SeqBatch`]) |
//! | sampling completions | [`super::generate::generate`] (re-reads the window each token) | [`super::gpt::cache::generate`] (keeps each position's keys and values) |
//! | parameters for the optimiser | embedding, then the MLP's `[W_0, b_0, …]` | [`super::gpt::GptSpec::param_names`] order |
//!
//! The loss is the same for both: `L = −(1/R) Σ_r log π(y_r | ·)` over the `R` completion
//! tokens of the batch.

use super::batch::TokenBatch;
use super::generate::{Completion, generate};
use super::gpt::batch::SeqBatch;
use super::gpt::train::weighted_nll_gradients_with;
use super::gpt::{Gpt, GptArch, GptSpec};
use super::model::{InferBuffers, ModelSpec, TokenPolicy, check_task_vocab};
use super::objective::{Forward, forward};
use super::sample::{entropy, mean_entropy};
use crate::error::Result;
use crate::run::config::bad_value;
use crate::run::update::{Stepper, clip_and_step};
use autograd::{Tape, Tensor, Var};
use envs::tokens::{Token, TokenTask};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The shape of a transformer policy: its task and its sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerSpec {
    /// The task it was trained on.
    pub task: String,
    /// The transformer's sizes (its `vocab` is the task's).
    pub gpt: GptSpec,
}

impl TransformerSpec {
    /// Checks the sizes against [`crate::run::bounds`] and the vocabulary against the task,
    /// before anything is allocated by them. `origin` names the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.gpt.validate(origin)?;
        check_task_vocab(&self.task, self.gpt.vocab, origin)
    }

    /// Checks that every prompt and the longest completion fit in the context: the transformer
    /// reads at most `context` positions, and sampling feeds it `prompt + completion − 1` of
    /// them (the MLP reads a fixed window and fits any length). `origin` names what set the
    /// sizes.
    pub fn check_prompts_fit(
        &self,
        task: &dyn TokenTask,
        prompts: &[Vec<Token>],
        origin: &str,
    ) -> Result<()> {
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let needed = longest + task.max_completion_len() - 1;
        let context = self.gpt.context;
        if needed > context {
            return Err(bad_value(
                "context",
                origin,
                format!(
                    "{context}, but a prompt of {longest} tokens and {} completion tokens need {needed} positions",
                    task.max_completion_len()
                ),
            ));
        }
        Ok(())
    }
}

/// The shape of either policy: what a checkpoint stores and a resumed run must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySpec {
    /// The MLP over a fixed window.
    Mlp(ModelSpec),
    /// The transformer.
    Transformer(TransformerSpec),
}

impl PolicySpec {
    /// The task the policy is for.
    pub fn task(&self) -> &str {
        match self {
            PolicySpec::Mlp(s) => &s.task,
            PolicySpec::Transformer(s) => &s.task,
        }
    }

    /// The number of scalars in each parameter tensor, in the optimiser's order.
    pub fn param_sizes(&self) -> Vec<usize> {
        let shapes = match self {
            PolicySpec::Mlp(s) => s.param_shapes(),
            PolicySpec::Transformer(s) => s.gpt.param_shapes(),
        };
        shapes.iter().map(|s| s.iter().product()).collect()
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.param_sizes().iter().sum()
    }

    /// Checks the sizes and the vocabulary (see [`ModelSpec::validate`] and
    /// [`TransformerSpec::validate`]).
    pub fn validate(&self, origin: &str) -> Result<()> {
        match self {
            PolicySpec::Mlp(s) => s.validate(origin),
            PolicySpec::Transformer(s) => s.validate(origin),
        }
    }
}

/// A transformer with the task it is for.
#[derive(Clone, Debug, PartialEq)]
pub struct TransformerPolicy {
    /// Its task and sizes.
    pub spec: TransformerSpec,
    /// The model.
    pub model: Gpt<f32>,
}

/// Either policy (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum LmPolicy {
    /// The MLP over a fixed window.
    Mlp(TokenPolicy),
    /// The transformer.
    Transformer(TransformerPolicy),
}

impl LmPolicy {
    /// A freshly initialised policy of shape `spec` ([`TokenPolicy::new`], [`Gpt::new`]).
    pub fn new<R: Rng + ?Sized>(spec: &PolicySpec, rng: &mut R) -> Self {
        match spec {
            PolicySpec::Mlp(s) => LmPolicy::Mlp(TokenPolicy::new(s.clone(), rng)),
            PolicySpec::Transformer(s) => LmPolicy::Transformer(TransformerPolicy {
                spec: s.clone(),
                model: Gpt::new(s.gpt, rng),
            }),
        }
    }

    /// The policy's shape.
    pub fn spec(&self) -> PolicySpec {
        match self {
            LmPolicy::Mlp(p) => PolicySpec::Mlp(p.spec().clone()),
            LmPolicy::Transformer(p) => PolicySpec::Transformer(p.spec.clone()),
        }
    }

    /// The task the policy is for.
    pub fn task(&self) -> &str {
        match self {
            LmPolicy::Mlp(p) => &p.spec().task,
            LmPolicy::Transformer(p) => &p.spec.task,
        }
    }

    /// The vocabulary size `V`: the width of each row of `log π`.
    pub fn vocab(&self) -> usize {
        match self {
            LmPolicy::Mlp(p) => p.spec().vocab,
            LmPolicy::Transformer(p) => p.spec.gpt.vocab,
        }
    }

    /// An empty batch of completion-token rows for this policy: context windows of the MLP's
    /// width (the transformer reads whole sequences instead, and uses only the rows' order and
    /// targets, so its windows are one token wide).
    pub fn token_batch(&self) -> TokenBatch {
        TokenBatch::new(match self {
            LmPolicy::Mlp(p) => p.spec().context,
            LmPolicy::Transformer(_) => 1,
        })
    }

    /// The MLP, if this is one.
    pub fn as_mlp(&self) -> Option<&TokenPolicy> {
        match self {
            LmPolicy::Mlp(p) => Some(p),
            LmPolicy::Transformer(_) => None,
        }
    }

    /// Every parameter as a mutable slice, in the optimiser's order (the module docs).
    pub fn param_slices_mut(&mut self) -> Vec<&mut [f32]> {
        match self {
            LmPolicy::Mlp(p) => p.param_slices_mut(),
            LmPolicy::Transformer(p) => p
                .model
                .params_mut()
                .iter_mut()
                .map(|t| t.data_mut())
                .collect(),
        }
    }

    /// One update of every parameter from `grads` (in the optimiser's order): the global norm
    /// clipped to `max_norm`, then a step of `opt` at rate `lr`
    /// ([`crate::run::update::clip_and_step`]); returns the norm before clipping.
    ///
    /// The same update as stepping [`LmPolicy::param_slices_mut`], without its `Vec`: the
    /// transformer's tensors are stepped in place, and the MLP's slices are listed on the stack
    /// (up to [`MLP_STACK_PARAMS`] of them, every MLP within the bounds), so a warm update
    /// allocates nothing.
    pub fn clip_and_step<O: Stepper>(
        &mut self,
        opt: &mut O,
        grads: &mut [Tensor<f32>],
        max_norm: f32,
        lr: f32,
    ) -> f32 {
        match self {
            LmPolicy::Mlp(p) if p.mlp().params().len() < MLP_STACK_PARAMS => {
                let (embed, mlp) = p.params_mut();
                let n = 1 + mlp.len();
                let mut slices: [&mut [f32]; MLP_STACK_PARAMS] =
                    std::array::from_fn(|_| &mut [][..]);
                slices[0] = embed.data_mut();
                for (slot, t) in slices[1..].iter_mut().zip(mlp.iter_mut()) {
                    *slot = t.data_mut();
                }
                clip_and_step(opt, &mut slices[..n], grads, max_norm, lr)
            }
            LmPolicy::Mlp(p) => clip_and_step(opt, &mut p.param_slices_mut(), grads, max_norm, lr),
            LmPolicy::Transformer(p) => {
                clip_and_step(opt, p.model.params_mut(), grads, max_norm, lr)
            }
        }
    }

    /// Every parameter value, in the optimiser's order.
    pub fn param_values(&self) -> Vec<&[f32]> {
        match self {
            LmPolicy::Mlp(p) => {
                let mut out = vec![p.embedding().data()];
                out.extend(p.mlp().params().iter().map(|t| t.data()));
                out
            }
            LmPolicy::Transformer(p) => p.model.params().iter().map(|t| t.data()).collect(),
        }
    }

    /// Checks that every prompt and the longest completion fit in what the policy reads
    /// ([`TransformerSpec::check_prompts_fit`]).
    pub fn check_prompts_fit(
        &self,
        task: &dyn TokenTask,
        prompts: &[Vec<Token>],
        origin: &str,
    ) -> Result<()> {
        match self {
            LmPolicy::Mlp(_) => Ok(()),
            LmPolicy::Transformer(p) => p.spec.check_prompts_fit(task, prompts, origin),
        }
    }

    /// Samples one completion per prompt at `temperature` (0: greedy), in the prompts' order.
    ///
    /// # Panics
    /// If the vocabulary is not the task's, or (transformer) the prompts do not fit: check them
    /// first with [`LmPolicy::check_prompts_fit`].
    pub fn generate<R: Rng + ?Sized>(
        &self,
        task: &dyn TokenTask,
        prompts: &[Vec<Token>],
        temperature: f32,
        rng: &mut R,
    ) -> Vec<Completion> {
        match self {
            LmPolicy::Mlp(p) => generate(p, task, prompts, temperature, rng),
            LmPolicy::Transformer(p) => {
                super::gpt::cache::generate(&p.model, task, prompts, temperature, rng)
            }
        }
    }

    /// Computes the gradient of the mean negative log-likelihood of the completion tokens of
    /// `batch` into `batch.grads` (optimiser order); returns the loss and the mean entropy of
    /// the policy at those tokens.
    pub fn nll_gradients<'b>(&mut self, batch: &'b mut NllBatch) -> NllStep<'b> {
        match self {
            LmPolicy::Mlp(p) => {
                let v = p.spec().vocab;
                let mut entropy = 0.0;
                let loss = p.nll_gradients_into(
                    &mut batch.tape,
                    &batch.windows,
                    &mut batch.grads,
                    |log_probs| entropy = mean_entropy(log_probs.data(), v),
                );
                NllStep {
                    loss: loss as f64,
                    entropy,
                    grads: &mut batch.grads,
                }
            }
            LmPolicy::Transformer(p) => {
                let s = &batch.seqs;
                s.nll_weights_into(&mut batch.weights);
                let v = p.spec.gpt.vocab;
                batch
                    .grads
                    .resize_with(p.model.params().len(), Tensor::empty);
                let mut mean_h = 0.0;
                let loss = weighted_nll_gradients_with(
                    &mut p.model,
                    &mut batch.tape,
                    s.tokens(),
                    s.batch(),
                    s.targets(),
                    &batch.weights,
                    &mut batch.grads,
                    |log_probs| {
                        // H = (1/R) Σ_r H(π(· | x_{≤r})) over the R scored positions.
                        let rows = log_probs.data().chunks_exact(v).zip(s.scored());
                        let total: f64 = rows
                            .filter(|(_, r)| r.is_some())
                            .map(|(lp, _)| entropy(lp))
                            .sum();
                        mean_h = total / s.scored_rows().max(1) as f64;
                    },
                );
                NllStep {
                    loss: loss as f64,
                    entropy: mean_h,
                    grads: &mut batch.grads,
                }
            }
        }
    }
}

impl LmPolicy {
    /// Records the policy on every completion token of `windows` (the rows of [`Forward`], in
    /// `windows`' order), its parameters copied onto the tape as leaves; returns them (in the
    /// optimiser's order: read their gradients there) and the recording. The MLP reads the
    /// windows ([`forward`]), the transformer the same pairs laid out as `seqs`
    /// (`transformer_forward`). A training step lends the parameters instead
    /// ([`LmPolicy::gradients_into`]).
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        windows: &TokenBatch,
        seqs: &SeqBatch,
    ) -> (Vec<Var<'t, f32>>, Forward<'t>) {
        match self {
            LmPolicy::Mlp(p) => forward(p, tape, windows),
            LmPolicy::Transformer(p) => {
                let params: Vec<_> = p.model.params().iter().map(|t| tape.param(t)).collect();
                let mut scored = Vec::new();
                let f =
                    transformer_forward(p.model.arch(), |k| params[k], windows, seqs, &mut scored);
                (params, f)
            }
        }
    }

    /// The gradient of any loss built from the policy's log-probabilities on the completion
    /// tokens (rows as in [`LmPolicy::forward`]): records [`Forward`], lets `loss` build `L` from
    /// it, and writes `∂L/∂θ` into `step`'s gradients (one tensor per parameter, in the
    /// optimiser's order, ready for [`LmPolicy::clip_and_step`]); returns `L`.
    ///
    /// The parameters are lent to the tape and back, and the gradients swapped out of it
    /// ([`TokenPolicy::gradients_into`], [`autograd::Tape::lend_params`]): a warm step allocates
    /// nothing. The values are bit for bit those of [`LmPolicy::forward`].
    pub fn gradients_into(
        &mut self,
        step: &mut GradStep,
        windows: &TokenBatch,
        seqs: &SeqBatch,
        loss: impl for<'t> FnOnce(&Forward<'t>) -> Var<'t, f32>,
    ) -> f32 {
        match self {
            LmPolicy::Mlp(p) => p.gradients_into(&mut step.tape, windows, &mut step.grads, loss),
            LmPolicy::Transformer(p) => {
                let tape = &mut step.tape;
                tape.reset();
                let (arch, params) = p.model.split_mut();
                let lent = tape.lend_params(params);
                let f = transformer_forward(arch, |k| lent.var(k), windows, seqs, &mut step.scored);
                let l = loss(&f);
                let value = l.item();
                step.grads.resize_with(lent.len(), Tensor::empty);
                l.backward_to(&lent, &mut step.grads);
                value
            }
        }
    }

    /// `log π(· | s_t)` of every completion token of the pairs (rows as in
    /// [`LmPolicy::forward`]), `[rows × V]` into `out` (resized), recording no gradient: what
    /// the frozen reference of `pg lm rl` gives. The transformer's parameters are lent to the
    /// tape of `buffers` and the MLP's inputs kept in them, so a warm call allocates nothing
    /// (the policy is unchanged when it returns).
    pub fn log_probs_into(
        &mut self,
        windows: &TokenBatch,
        seqs: &SeqBatch,
        buffers: &mut GradStep,
        out: &mut Vec<f32>,
    ) {
        match self {
            LmPolicy::Mlp(p) => p.log_probs_reusing(windows.contexts(), &mut buffers.infer, out),
            LmPolicy::Transformer(p) => {
                let tape = &mut buffers.tape;
                tape.reset();
                let (arch, params) = p.model.split_mut();
                let scored = &mut buffers.scored;
                tape.no_grad(|| {
                    let lent = tape.lend_params(params);
                    let f = transformer_forward(arch, |k| lent.var(k), windows, seqs, scored);
                    f.log_probs.with_value(|t| {
                        out.clear();
                        out.extend_from_slice(t.data());
                    });
                });
            }
        }
    }
}

/// The transformer on the pairs laid out as `seqs`, its parameters the tape's `param(k)`: reads
/// each sequence once and keeps the rows of `log π` at the scored positions (their indices
/// written into `scored`), which are the completion tokens of `windows` in the same order.
fn transformer_forward<'t>(
    arch: &GptArch,
    param: impl Fn(usize) -> Var<'t, f32>,
    windows: &TokenBatch,
    seqs: &SeqBatch,
    scored: &mut Vec<usize>,
) -> Forward<'t> {
    let logits = arch.logits(param, seqs.tokens(), seqs.batch());
    scored.clear();
    scored.extend(seqs.scored().enumerate().filter_map(|(i, s)| s.map(|_| i)));
    // Keep the scored rows: log π(· | x_{≤r}) for each completion token r.
    let log_probs = logits.log_softmax(1).embed(scored);
    let token_logp = log_probs.gather(1, windows.targets());
    Forward {
        log_probs,
        token_logp,
    }
}

/// The buffers of [`LmPolicy::gradients_into`] and [`LmPolicy::log_probs_into`], reused from
/// step to step: the tape, one gradient tensor per parameter, the transformer's scored
/// positions and the MLP's inference buffers.
#[derive(Default)]
pub struct GradStep {
    tape: Tape<f32>,
    grads: Vec<Tensor<f32>>,
    scored: Vec<usize>,
    infer: InferBuffers,
}

impl GradStep {
    /// `∂L/∂θ` of the last [`LmPolicy::gradients_into`], one tensor per parameter in the
    /// optimiser's order.
    pub fn grads(&mut self) -> &mut [Tensor<f32>] {
        &mut self.grads
    }
}

/// The most parameter tensors of an MLP policy within [`crate::run::bounds`]: the embedding
/// table, then a weight and a bias for each of at most
/// [`HIDDEN_LAYERS`](crate::run::bounds::HIDDEN_LAYERS) hidden layers and the output layer.
pub const MLP_STACK_PARAMS: usize = 1 + 2 * (crate::run::bounds::HIDDEN_LAYERS as usize + 1);

/// The result of [`LmPolicy::nll_gradients`].
pub struct NllStep<'a> {
    /// `L = −(1/R) Σ_r log π(y_r | ·)`.
    pub loss: f64,
    /// The mean entropy of the policy at the scored tokens.
    pub entropy: f64,
    /// `∂L/∂θ`, one tensor per parameter in the optimiser's order.
    pub grads: &'a mut Vec<Tensor<f32>>,
}

/// (prompt, completion) pairs laid out for either policy, and the buffers of its gradient.
pub struct NllBatch {
    windows: TokenBatch,
    seqs: SeqBatch,
    tape: Tape<f32>,
    grads: Vec<Tensor<f32>>,
    /// The transformer's row weights ([`SeqBatch::nll_weights_into`]).
    weights: Vec<f32>,
    transformer: bool,
}

impl NllBatch {
    /// An empty batch for `policy`.
    pub fn new(policy: &LmPolicy) -> Self {
        Self {
            windows: policy.token_batch(),
            seqs: SeqBatch::default(),
            tape: Tape::new(),
            grads: Vec::new(),
            weights: Vec::new(),
            transformer: matches!(policy, LmPolicy::Transformer(_)),
        }
    }

    /// Forgets every pair, keeping the buffers.
    pub fn clear(&mut self) {
        self.windows.clear();
        self.seqs.clear();
    }

    /// Appends one (prompt, completion) pair.
    pub fn push(&mut self, prompt: &[Token], completion: &[Token]) {
        if self.transformer {
            self.seqs.push(prompt, completion);
        } else {
            self.windows.push(prompt, completion);
        }
    }

    /// Completion tokens in the batch.
    pub fn completion_tokens(&self) -> usize {
        if self.transformer {
            self.seqs.scored_rows()
        } else {
            self.windows.rows()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_transformers_rows_are_the_completion_tokens_in_window_order() {
        let spec = PolicySpec::Transformer(TransformerSpec {
            task: "reverse".into(),
            gpt: GptSpec {
                vocab: 13,
                context: 8,
                width: 8,
                heads: 2,
                layers: 1,
            },
        });
        let mut policy = LmPolicy::new(&spec, &mut ChaCha8Rng::seed_from_u64(3));
        let pairs: [(&[Token], &[Token]); 3] = [
            (&[2, 3, 12], &[3, 2, 1]),
            (&[5, 12], &[5, 1]),
            (&[7, 7, 8, 12], &[9]),
        ];
        let mut nll = NllBatch::new(&policy);
        let (mut windows, mut seqs) = (TokenBatch::new(1), SeqBatch::default());
        for (p, c) in pairs {
            nll.push(p, c);
            windows.push(p, c);
            seqs.push(p, c);
        }
        let tape = Tape::new();
        let (_, f) = policy.forward(&tape, &windows, &seqs);
        let token_logp = f.token_logp.value();
        assert_eq!(token_logp.numel(), 6);
        // Row by row against the full log-probability table: row r is completion token r.
        let mut rows = Vec::new();
        policy.log_probs_into(&windows, &seqs, &mut GradStep::default(), &mut rows);
        for (r, (&y, &lp)) in windows.targets().iter().zip(token_logp.data()).enumerate() {
            assert_eq!(rows[r * 13 + y], lp, "row {r}");
        }
        // The mean of −log π over the rows is the NLL the training step computes its own way.
        let mean = -token_logp.data().iter().map(|&x| x as f64).sum::<f64>() / 6.0;
        let step = policy.nll_gradients(&mut nll);
        assert!((step.loss - mean).abs() < 1e-5, "{} vs {mean}", step.loss);
        assert!(step.entropy > 0.0 && step.entropy <= 13f64.ln() + 1e-6);
    }
}
