//! The reward model: a language model's backbone read at the last token of the text, and a
//! scalar head on top.
//!
//! ```text
//! text   x = prompt ++ completion                 (the end token included, if any)
//! h      = backbone(x) at the last position      ∈ R^F
//! r(x)   = h · w + b                              ∈ R      (head: w ∈ R^{F×1}, b ∈ R)
//! ```
//!
//! The backbone is the policy's own architecture with the policy's weights as its start
//! ([`RewardModel::from_policy`]):
//!
//! - **MLP**: the last `C` tokens of the text, embedded and concatenated, through every hidden
//!   layer of the MLP (not its output layer): `F` is the last hidden width (`C·D` with none).
//! - **Transformer**: the whole text through the blocks and the final norm,
//!   [`crate::lm::gpt::GptArch::final_hidden`], read at the last position: `F = D`. Causal
//!   attention makes the last position the one that has read every token.
//!
//! The backbone's output layer (the token logits) is kept, unused, so the checkpoint of a reward
//! model is a policy checkpoint plus the head ([`super::checkpoint`]). The head starts at zero:
//! every text scores 0 and the first Bradley–Terry loss is exactly `ln 2`.

use crate::error::Result;
use crate::lm::gpt::GptArch;
use crate::lm::model::ModelSpec;
use crate::lm::policy::{LmPolicy, PolicySpec};
use crate::run::config::bad_value;
use autograd::{Tape, Tensor, Var};
use dense::{Activation, Element, linear};
use envs::tokens::{BOS, Token, TokenTask, context_window};

/// Texts (prompt and completion) laid out for one forward pass of a backbone: the MLP's window
/// at each text's end, or the transformer's right-padded rows and the row of each text's last
/// token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Texts {
    tokens: Vec<Token>,
    batch: usize,
    last_rows: Vec<usize>,
}

impl Texts {
    /// Lays out `texts` (each `prompt ++ completion`, non-empty) for `backbone`: windows of the
    /// MLP's `C` tokens, or rows padded with `BOS` to the longest text.
    pub fn new(backbone: &Backbone<'_>, texts: &[Vec<Token>]) -> Self {
        let batch = texts.len();
        match backbone {
            Backbone::Mlp(spec) => {
                let c = spec.context;
                let mut tokens = vec![BOS; batch * c];
                for (t, w) in texts.iter().zip(tokens.chunks_exact_mut(c)) {
                    context_window(t, t.len(), w);
                }
                Texts {
                    tokens,
                    batch,
                    last_rows: (0..batch).collect(),
                }
            }
            Backbone::Gpt(_) => {
                let len = texts.iter().map(Vec::len).max().unwrap_or(0);
                let mut tokens = vec![BOS; batch * len];
                let mut last_rows = Vec::with_capacity(batch);
                for (b, t) in texts.iter().enumerate() {
                    assert!(!t.is_empty(), "Texts::new: an empty text");
                    tokens[b * len..b * len + t.len()].copy_from_slice(t);
                    last_rows.push(b * len + t.len() - 1);
                }
                Texts {
                    tokens,
                    batch,
                    last_rows,
                }
            }
        }
    }

    /// Number of texts.
    pub fn len(&self) -> usize {
        self.batch
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.batch == 0
    }
}

/// What the forward pass needs of a backbone besides its parameters.
#[derive(Clone, Copy, Debug)]
pub enum Backbone<'a> {
    /// The MLP over a window (its sizes and activation).
    Mlp(&'a ModelSpec),
    /// The transformer.
    Gpt(&'a GptArch),
}

impl<'a> Backbone<'a> {
    /// The backbone of `policy`.
    pub fn of(policy: &'a LmPolicy) -> Self {
        match policy {
            LmPolicy::Mlp(p) => Backbone::Mlp(p.spec()),
            LmPolicy::Transformer(p) => Backbone::Gpt(p.model.arch()),
        }
    }

    /// The width `F` of the feature the head reads.
    pub fn feature_width(&self) -> usize {
        match self {
            Backbone::Mlp(s) => *s.hidden_sizes.last().unwrap_or(&(s.context * s.embed_dim)),
            Backbone::Gpt(a) => a.spec().width,
        }
    }

    /// Number of backbone parameter tensors (the head's two follow them).
    pub fn param_count(&self) -> usize {
        match self {
            Backbone::Mlp(s) => s.param_shapes().len(),
            Backbone::Gpt(a) => a.spec().param_shapes().len(),
        }
    }

    /// The features `h` of every text, `[N, F]`, from the backbone parameters `param(k)` (in the
    /// policy's optimiser order).
    pub fn features<'t, T: Element>(
        &self,
        param: &impl Fn(usize) -> Var<'t, T>,
        texts: &Texts,
    ) -> Var<'t, T> {
        match self {
            Backbone::Mlp(s) => {
                let (c, d, n) = (s.context, s.embed_dim, texts.batch);
                // e = [E[x_{-C}]; …; E[x_{-1}]], then every hidden layer (not the logits).
                let mut h = param(0).embed(&texts.tokens).reshape(&[n, c * d]);
                let acts = s.mlp_activations();
                for (i, &act) in acts[..s.hidden_sizes.len()].iter().enumerate() {
                    h = linear(h, param(1 + 2 * i), param(2 + 2 * i), act);
                }
                h
            }
            Backbone::Gpt(a) => a
                .final_hidden(param, &texts.tokens, texts.batch)
                .embed(&texts.last_rows),
        }
    }

    /// The scores `r = h·w + b` of every text, `[N]`: parameters `0..param_count()` are the
    /// backbone's, then the head's `w` `[F, 1]` and `b` `[1]`.
    pub fn scores<'t, T: Element>(
        &self,
        param: impl Fn(usize) -> Var<'t, T>,
        texts: &Texts,
    ) -> Var<'t, T> {
        let k = self.param_count();
        let h = self.features(&param, texts);
        linear(h, param(k), param(k + 1), Activation::Identity).reshape(&[texts.batch])
    }
}

/// A reward model: a backbone and its scalar head (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct RewardModel {
    backbone: LmPolicy,
    head: [Tensor<f32>; 2],
}

impl RewardModel {
    /// The policy's weights as the backbone, a zero head.
    pub fn from_policy(policy: LmPolicy) -> Self {
        let f = Backbone::of(&policy).feature_width();
        Self {
            backbone: policy,
            head: [Tensor::zeros(&[f, 1]), Tensor::zeros(&[1])],
        }
    }

    /// A reward model from its parts; `None` unless the head has the shapes `[F, 1]` and `[1]`.
    pub fn from_parts(backbone: LmPolicy, w: Tensor<f32>, b: Tensor<f32>) -> Option<Self> {
        let f = Backbone::of(&backbone).feature_width();
        (w.shape() == [f, 1] && b.shape() == [1]).then_some(Self {
            backbone,
            head: [w, b],
        })
    }

    /// The backbone (a language model of the policy's architecture).
    pub fn backbone(&self) -> &LmPolicy {
        &self.backbone
    }

    /// The head's `w` and `b`.
    pub fn head(&self) -> &[Tensor<f32>; 2] {
        &self.head
    }

    /// The task of the texts it scores.
    pub fn task(&self) -> &str {
        self.backbone.task()
    }

    /// Every parameter value, backbone first (the policy's order), then `w`, `b`.
    pub fn param_values(&self) -> Vec<&[f32]> {
        let mut v = self.backbone.param_values();
        v.extend(self.head.iter().map(|t| t.data()));
        v
    }

    /// Every parameter writable, in [`RewardModel::param_values`]' order: what Adam steps.
    pub fn param_slices_mut(&mut self) -> Vec<&mut [f32]> {
        let mut v = self.backbone.param_slices_mut();
        v.extend(self.head.iter_mut().map(|t| t.data_mut()));
        v
    }

    /// The scalars of each parameter tensor, in the optimiser's order.
    pub fn param_sizes(&self) -> Vec<usize> {
        self.param_values().iter().map(|p| p.len()).collect()
    }

    /// Puts every parameter on `tape` as a leaf (optimiser order).
    pub fn param_vars<'t>(&self, tape: &'t Tape<f32>) -> Vec<Var<'t, f32>> {
        let mut vars: Vec<_> = match &self.backbone {
            LmPolicy::Mlp(p) => p.param_vars(tape),
            LmPolicy::Transformer(p) => p.model.params().iter().map(|t| tape.param(t)).collect(),
        };
        vars.extend(self.head.iter().map(|t| tape.param(t)));
        vars
    }

    /// The texts of `pairs` (prompt, completion) laid out for this model.
    pub fn texts<'a>(&self, pairs: impl IntoIterator<Item = (&'a [Token], &'a [Token])>) -> Texts {
        let texts: Vec<Vec<Token>> = pairs.into_iter().map(|(p, c)| [p, c].concat()).collect();
        Texts::new(&Backbone::of(&self.backbone), &texts)
    }

    /// The scores of `texts`, `[N]`, recorded on the tape with the leaves `vars`.
    pub fn scores<'t>(&self, vars: &[Var<'t, f32>], texts: &Texts) -> Var<'t, f32> {
        Backbone::of(&self.backbone).scores(|k| vars[k], texts)
    }

    /// The scores of (prompt, completion) pairs, recording no gradient: the learned reward.
    pub fn score<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a [Token], &'a [Token])>,
    ) -> Vec<f64> {
        let texts = self.texts(pairs);
        if texts.is_empty() {
            return Vec::new();
        }
        let tape = Tape::new();
        tape.no_grad(|| {
            let vars = self.param_vars(&tape);
            let r = self.scores(&vars, &texts).value();
            r.data().iter().map(|&x| x as f64).collect()
        })
    }

    /// Checks that every text of a prompt of `prompts` and a completion up to the task's
    /// longest fits what the model reads: the transformer reads the whole text, so its context
    /// must hold the longest prompt plus the longest completion. `origin` names the model.
    pub fn check_fits(
        &self,
        task: &dyn TokenTask,
        prompts: &[Vec<Token>],
        origin: &str,
    ) -> Result<()> {
        let LmPolicy::Transformer(p) = &self.backbone else {
            return Ok(());
        };
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let needed = longest + task.max_completion_len();
        let context = p.spec.gpt.context;
        if needed > context {
            return Err(bad_value(
                "context",
                origin,
                format!(
                    "{context}, but a reward model reads a prompt of {longest} tokens and up to {} completion tokens: {needed} positions (pretrain with context >= {needed})",
                    task.max_completion_len()
                ),
            ));
        }
        Ok(())
    }

    /// The backbone's shape.
    pub fn spec(&self) -> PolicySpec {
        self.backbone.spec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation as Act;
    use crate::lm::gpt::GptSpec;
    use crate::lm::policy::TransformerSpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn mlp() -> LmPolicy {
        let spec = PolicySpec::Mlp(ModelSpec {
            task: "addition".into(),
            vocab: 14,
            context: 3,
            embed_dim: 2,
            hidden_sizes: vec![4],
            activation: Act::Tanh,
        });
        LmPolicy::new(&spec, &mut ChaCha8Rng::seed_from_u64(1))
    }

    fn gpt() -> LmPolicy {
        let spec = PolicySpec::Transformer(TransformerSpec {
            task: "addition".into(),
            gpt: GptSpec {
                vocab: 14,
                context: 8,
                width: 4,
                heads: 2,
                layers: 1,
            },
        });
        LmPolicy::new(&spec, &mut ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn a_fresh_head_scores_every_text_zero() {
        for p in [mlp(), gpt()] {
            let rm = RewardModel::from_policy(p);
            let pairs: [(&[Token], &[Token]); 2] = [(&[2, 3], &[4, 1]), (&[5], &[1])];
            assert_eq!(rm.score(pairs), vec![0.0, 0.0]);
        }
    }

    #[test]
    fn the_score_is_the_head_on_the_last_positions_feature() {
        // A transformer reads the last token of each text, whatever the padding after it: the
        // score of a text alone equals its score beside a longer one.
        let mut rm = RewardModel::from_policy(gpt());
        for (i, w) in rm.head[0].data_mut().iter_mut().enumerate() {
            *w = 0.5 - 0.3 * i as f32;
        }
        rm.head[1].data_mut()[0] = 0.25;
        let short: (&[Token], &[Token]) = (&[5], &[6, 1]);
        let long: (&[Token], &[Token]) = (&[2, 3, 4], &[7, 8, 1]);
        let together = rm.score([short, long]);
        let alone = rm.score([short]);
        assert!(
            (together[0] - alone[0]).abs() < 1e-6,
            "{together:?} {alone:?}"
        );
        assert!((together[0] - together[1]).abs() > 1e-6);
        // The MLP reads the window of the last C = 3 tokens: texts that end alike score alike.
        let mut rm = RewardModel::from_policy(mlp());
        rm.head[0].data_mut().fill(1.0);
        let s = rm.score([
            (&[9, 9, 2][..], &[3, 4][..]),
            (&[7][..], &[2, 3, 4][..]),
            (&[7][..], &[2, 3, 5][..]),
        ]);
        assert_eq!(s[0], s[1]);
        assert_ne!(s[1], s[2]);
    }

    #[test]
    fn from_parts_checks_the_head() {
        let p = mlp();
        assert!(
            RewardModel::from_parts(p.clone(), Tensor::zeros(&[4, 1]), Tensor::zeros(&[1]))
                .is_some()
        );
        assert!(RewardModel::from_parts(p, Tensor::zeros(&[5, 1]), Tensor::zeros(&[1])).is_none());
    }
}
