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

use super::embedding::embed;
use crate::config::Activation;
use autograd::{Tape, Tensor, Var};
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
    /// The shapes of the parameters, in order: the embedding table `[V, D]`, then `W_i` and
    /// `b_i` of each layer (the last one producing the `V` logits).
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.vocab, self.embed_dim]];
        let mut fan_in = self.context * self.embed_dim;
        for &width in self.hidden_sizes.iter().chain(std::iter::once(&self.vocab)) {
            shapes.push(vec![fan_in, width]);
            shapes.push(vec![width]);
            fan_in = width;
        }
        shapes
    }

    /// Names of the parameters, in the order of [`ModelSpec::param_shapes`] (`embed`, `w0`,
    /// `b0`, …), used in checkpoint files.
    pub fn param_names(&self) -> Vec<String> {
        let mut names = vec!["embed".to_string()];
        for i in 0..=self.hidden_sizes.len() {
            names.push(format!("w{i}"));
            names.push(format!("b{i}"));
        }
        names
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }
}

/// A token policy: its shape and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenPolicy {
    spec: ModelSpec,
    params: Vec<Tensor<f32>>,
}

impl TokenPolicy {
    /// A freshly initialised policy: embeddings `N(0, 1)`; each weight matrix uniform in
    /// `±sqrt(6 / (fan_in + fan_out))` (Glorot); biases 0; the output layer scaled by 0.1 so the
    /// first policy is close to uniform.
    pub fn new<R: Rng + ?Sized>(spec: ModelSpec, rng: &mut R) -> Self {
        let shapes = spec.param_shapes();
        let last_w = shapes.len() - 2;
        let params = shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| {
                if i == 0 {
                    Tensor::randn(shape, rng)
                } else if shape.len() == 1 {
                    Tensor::zeros(shape)
                } else {
                    let limit = (6.0 / (shape[0] + shape[1]) as f32).sqrt();
                    let limit = if i == last_w { 0.1 * limit } else { limit };
                    Tensor::rand_uniform(shape, -limit, limit, rng)
                }
            })
            .collect();
        Self { spec, params }
    }

    /// A policy from saved parameters; panics unless their shapes are the spec's.
    pub fn from_params(spec: ModelSpec, params: Vec<Tensor<f32>>) -> Self {
        let shapes = spec.param_shapes();
        assert_eq!(
            params.len(),
            shapes.len(),
            "TokenPolicy::from_params: {} tensors for a spec with {}",
            params.len(),
            shapes.len()
        );
        for (i, (p, s)) in params.iter().zip(&shapes).enumerate() {
            assert_eq!(
                p.shape(),
                s.as_slice(),
                "TokenPolicy::from_params: parameter {i} has shape {:?}, expected {s:?}",
                p.shape()
            );
        }
        Self { spec, params }
    }

    /// The policy's shape.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The parameters, in the order of [`ModelSpec::param_shapes`].
    pub fn params(&self) -> &[Tensor<f32>] {
        &self.params
    }

    /// Mutable parameters, for the optimiser.
    pub fn params_mut(&mut self) -> &mut [Tensor<f32>] {
        &mut self.params
    }

    /// Puts the parameters on the tape as leaves that receive gradients.
    pub fn param_vars<'t>(&self, tape: &'t Tape<f32>) -> Vec<Var<'t, f32>> {
        self.params.iter().map(|p| tape.param(p)).collect()
    }

    /// The logits `[rows, V]` for `rows = contexts.len() / C` context windows (row-major),
    /// recorded on the tape with the parameter leaves `vars` (from [`TokenPolicy::param_vars`]).
    ///
    /// Panics if `contexts.len()` is not a multiple of `C` or an id is outside the vocabulary.
    pub fn logits<'t>(&self, vars: &[Var<'t, f32>], contexts: &[Token]) -> Var<'t, f32> {
        let c = self.spec.context;
        assert!(
            contexts.len().is_multiple_of(c),
            "TokenPolicy::logits: {} context tokens is not a multiple of the window {c}",
            contexts.len()
        );
        let rows = contexts.len() / c;
        // e = [E[x_1]; …; E[x_C]]: look up rows·C embeddings, then view each row's C of them as
        // one concatenated vector (row-major order makes this a reshape, not a copy).
        let mut h = embed(vars[0], contexts).reshape(&[rows, c * self.spec.embed_dim]);
        let layers = self.spec.hidden_sizes.len() + 1;
        for l in 0..layers {
            let (w, b) = (vars[1 + 2 * l], vars[2 + 2 * l]);
            h = h.matmul(w) + b;
            if l + 1 < layers {
                h = match self.spec.activation {
                    Activation::Tanh => h.tanh(),
                    Activation::Relu => h.relu(),
                };
            }
        }
        h
    }

    /// Log-probabilities `log π(· | s)` for each context window, without recording gradients,
    /// written into `out` (`[rows × V]`, resized). Resets `tape` first.
    pub fn log_probs_into(&self, tape: &mut Tape<f32>, contexts: &[Token], out: &mut Vec<f32>) {
        tape.reset();
        let tape = &*tape;
        tape.no_grad(|| {
            let vars: Vec<Var<'_, f32>> = self.params.iter().map(|p| tape.constant(p)).collect();
            self.logits(&vars, contexts).log_softmax(1).with_value(|t| {
                out.clear();
                out.extend_from_slice(t.data());
            });
        });
    }
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
        assert_eq!(s.param_names(), ["embed", "w0", "b0", "w1", "b1"]);
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
        let pr = p.params();
        let e: Vec<f32> = [1, 1, 3]
            .iter()
            .flat_map(|&t| pr[0].data()[t * 2..t * 2 + 2].to_vec())
            .collect();
        let h: Vec<f32> = (0..4)
            .map(|j| {
                let s: f32 = (0..6).map(|i| e[i] * pr[1].data()[i * 4 + j]).sum();
                (s + pr[2].data()[j]).tanh()
            })
            .collect();
        for k in 0..5 {
            let s: f32 = (0..4).map(|j| h[j] * pr[3].data()[j * 5 + k]).sum();
            let want = s + pr[4].data()[k];
            assert!((z.data()[5 + k] - want).abs() < 1e-5, "logit {k}");
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
        let report = gradcheck(
            |_tape, xs| {
                model
                    .logits(xs, &ctx)
                    .log_softmax(1)
                    .gather(1, &targets)
                    .sum()
            },
            p.params(),
            &GradcheckConfig::for_f32(),
        );
        assert!(report.max_rel_err < 2e-2, "{report}");
    }

    #[test]
    fn no_grad_log_probs_are_normalised_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = TokenPolicy::new(spec(), &mut rng);
        let mut tape = Tape::new();
        let mut out = Vec::new();
        p.log_probs_into(&mut tape, &[0, 0, 0, 2, 3, 4], &mut out);
        assert_eq!(out.len(), 10);
        for row in out.chunks(5) {
            let s: f32 = row.iter().map(|l| l.exp()).sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "parameter 1 has shape [6, 3], expected [6, 4]")]
    fn from_params_checks_shapes() {
        let mut shapes = spec().param_shapes();
        shapes[1] = vec![6, 3];
        let params = shapes.iter().map(|s| Tensor::zeros(s)).collect();
        TokenPolicy::from_params(spec(), params);
    }
}
