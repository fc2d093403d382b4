//! Policies: the distributions over actions and the networks that parameterise them.
//!
//! - [`categorical`]: softmax over logits, for discrete action spaces.
//! - [`gaussian`]: diagonal Gaussian with a state-independent log-std, for continuous ones.
//! - [`Policy`]: an MLP from observations to logits (or to Gaussian means, plus the log-stds),
//!   used without a tape to act and on a tape to compute `log π(a|s)` for the update.

pub mod categorical;
pub mod gaussian;

use autograd::{LentParams, Tape, Tensor, Var};
use dense::{Activation, Init, LentMlp, Mlp};
use rand::Rng;

/// The actions of a batch of steps, as the policy produced them (continuous actions unclipped:
/// the environment clips what it executes, the log-probability is of the sampled value).
#[derive(Clone, Debug, PartialEq)]
pub enum Actions {
    /// One index per step.
    Discrete(Vec<usize>),
    /// `dim` numbers per step, row-major.
    Continuous {
        /// Action dimension.
        dim: usize,
        /// `steps × dim` values.
        data: Vec<f32>,
    },
}

impl Actions {
    /// An empty batch of the kind `policy` produces, with room for `capacity` steps.
    pub fn empty_like(policy: &Policy, capacity: usize) -> Self {
        match policy.kind {
            PolicyKind::Categorical { .. } => Actions::Discrete(Vec::with_capacity(capacity)),
            PolicyKind::Gaussian { dim } => Actions::Continuous {
                dim,
                data: Vec::with_capacity(capacity * dim),
            },
        }
    }

    /// Number of steps held.
    pub fn len(&self) -> usize {
        match self {
            Actions::Discrete(a) => a.len(),
            Actions::Continuous { dim, data } => data.len() / dim,
        }
    }

    /// Whether no step is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every step, keeping the memory.
    pub fn clear(&mut self) {
        match self {
            Actions::Discrete(a) => a.clear(),
            Actions::Continuous { data, .. } => data.clear(),
        }
    }

    /// Replaces `self` with the steps `rows` of `from`, in that order (a minibatch), keeping
    /// `self`'s memory. Panics if `from` is of another kind or a row is out of range.
    pub fn select_rows(&mut self, from: &Actions, rows: &[usize]) {
        match (self, from) {
            (Actions::Discrete(dst), Actions::Discrete(src)) => {
                dst.clear();
                dst.extend(rows.iter().map(|&r| src[r]));
            }
            (
                Actions::Continuous { dim, data },
                Actions::Continuous {
                    dim: src_dim,
                    data: src,
                },
            ) => {
                *dim = *src_dim;
                data.clear();
                for &r in rows {
                    data.extend_from_slice(&src[r * *src_dim..(r + 1) * *src_dim]);
                }
            }
            _ => panic!("Actions::select_rows: actions of another kind"),
        }
    }

    /// Resizes to `steps` steps (new ones zero).
    pub fn resize(&mut self, steps: usize) {
        match self {
            Actions::Discrete(a) => a.resize(steps, 0),
            Actions::Continuous { dim, data } => data.resize(steps * *dim, 0.0),
        }
    }
}

/// Which distribution the network's output parameterises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Logits of `n` discrete actions.
    Categorical {
        /// Number of actions.
        n: usize,
    },
    /// Means of a `dim`-dimensional diagonal Gaussian.
    Gaussian {
        /// Action dimension.
        dim: usize,
    },
}

/// A stochastic policy `π_θ(a|s)` on an MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    net: Mlp,
    /// `log σ`, one per action dimension (Gaussian only; empty otherwise).
    log_std: Tensor<f32>,
}

impl Policy {
    /// A fresh policy for observations of `obs_dim` numbers: `dense`'s MLP with orthogonal
    /// weights, gain √2 in the hidden layers and 0.01 in the last one, so the first policy is
    /// almost uniform (or almost centred on 0).
    pub fn new<R: Rng + ?Sized>(
        kind: PolicyKind,
        obs_dim: usize,
        hidden: &[usize],
        activation: Activation,
        init_log_std: f32,
        rng: &mut R,
    ) -> Self {
        let out = match kind {
            PolicyKind::Categorical { n } => n,
            PolicyKind::Gaussian { dim } => dim,
        };
        let mut sizes = vec![obs_dim];
        sizes.extend_from_slice(hidden);
        sizes.push(out);
        let net = Mlp::new(
            &sizes,
            activation,
            Activation::Identity,
            Init::Orthogonal {
                gain: std::f64::consts::SQRT_2,
            },
            Init::Orthogonal { gain: 0.01 },
            rng,
        );
        let log_std = match kind {
            PolicyKind::Categorical { .. } => Tensor::zeros(&[0]),
            PolicyKind::Gaussian { dim } => Tensor::full(&[dim], init_log_std),
        };
        Self { kind, net, log_std }
    }

    /// The kind of distribution.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The network.
    pub fn net(&self) -> &Mlp {
        &self.net
    }

    /// The network, mutably (for loading parameters).
    pub fn net_mut(&mut self) -> &mut Mlp {
        &mut self.net
    }

    /// `log σ` as a tensor, mutably (for loading parameters).
    pub fn log_std_mut(&mut self) -> &mut Tensor<f32> {
        &mut self.log_std
    }

    /// `log σ` of the Gaussian (empty for a categorical policy).
    pub fn log_std(&self) -> &[f32] {
        self.log_std.data()
    }

    /// Every trained tensor: the network's `[W_0, b_0, …]`, then `log σ` for a Gaussian.
    pub fn params(&self) -> Vec<&Tensor<f32>> {
        let mut v: Vec<&Tensor<f32>> = self.net.params().iter().collect();
        if matches!(self.kind, PolicyKind::Gaussian { .. }) {
            v.push(&self.log_std);
        }
        v
    }

    /// Every trained tensor's values, mutably, in [`Self::params`] order (what an optimiser steps).
    pub fn params_mut(&mut self) -> Vec<&mut [f32]> {
        let gaussian = matches!(self.kind, PolicyKind::Gaussian { .. });
        let mut v: Vec<&mut [f32]> = self
            .net
            .params_mut()
            .iter_mut()
            .map(|t| t.data_mut())
            .collect();
        if gaussian {
            v.push(self.log_std.data_mut());
        }
        v
    }

    /// Chooses actions for `rows` observations without a tape, appending them to `actions` and
    /// their `log π(a|s)` to `logp` (NaN when `deterministic`, which takes the mode, the argmax
    /// or the mean, instead of sampling). `out` is a reused buffer for the network's output.
    #[allow(clippy::too_many_arguments)]
    pub fn act<R: Rng + ?Sized>(
        &self,
        obs: &[f32],
        rows: usize,
        rng: &mut R,
        deterministic: bool,
        actions: &mut Actions,
        logp: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        out.resize(rows * self.net.out_dim(), 0.0);
        self.net.infer(obs, out);
        match (self.kind, actions) {
            (PolicyKind::Categorical { n }, Actions::Discrete(acts)) => {
                for row in out.chunks_exact(n) {
                    let (a, lp) = if deterministic {
                        (categorical::mode(row), f32::NAN)
                    } else {
                        categorical::sample(row, rng)
                    };
                    acts.push(a);
                    logp.push(lp);
                }
            }
            (PolicyKind::Gaussian { dim }, Actions::Continuous { data, .. }) => {
                for row in out.chunks_exact(dim) {
                    let start = data.len();
                    data.extend_from_slice(row);
                    if deterministic {
                        logp.push(f32::NAN);
                    } else {
                        let mut a = [0.0f32; 16];
                        assert!(
                            dim <= 16,
                            "Policy::act: action dimension {dim} above the supported 16"
                        );
                        let lp = gaussian::sample(row, self.log_std.data(), rng, &mut a[..dim]);
                        data[start..].copy_from_slice(&a[..dim]);
                        logp.push(lp);
                    }
                }
            }
            (k, _) => panic!("Policy::act: an action buffer of the wrong kind for a {k:?} policy"),
        }
    }

    /// Lends every trained tensor to `tape` for one update step, without copying (see
    /// [`dense::Mlp::lend`]); they come back when the returned [`LentPolicy`] is dropped.
    ///
    /// ```
    /// use autograd::Tape;
    /// use dense::Activation;
    /// use policy_gradient::policy::{Actions, Policy, PolicyKind};
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let kind = PolicyKind::Gaussian { dim: 1 };
    /// let mut policy = Policy::new(kind, 3, &[8], Activation::Tanh, -0.5, &mut rng);
    /// let mut grads = Vec::new();
    /// let tape = Tape::new();
    /// {
    ///     let lent = policy.lend(&tape);
    ///     let obs = tape.constant_from_slice(&[0.1, 0.2, 0.3], &[1, 3]);
    ///     let acts = Actions::Continuous { dim: 1, data: vec![0.4] };
    ///     let (_, entropy) = lent.log_prob_entropy(obs, &acts);
    ///     lent.backward_to(entropy, &mut grads); // H = Σ (log σ + ½ log 2πe)
    /// }
    /// assert_eq!(grads.last().unwrap().data(), &[1.0]); // dH/d log σ = 1
    /// assert_eq!(policy.log_std(), &[-0.5]); // the parameters are back
    /// ```
    pub fn lend<'p, 't>(&'p mut self, tape: &'t Tape<f32>) -> LentPolicy<'p, 't> {
        let log_std = match self.kind {
            PolicyKind::Gaussian { .. } => {
                Some(tape.lend_params(std::slice::from_mut(&mut self.log_std)))
            }
            PolicyKind::Categorical { .. } => None,
        };
        LentPolicy {
            kind: self.kind,
            net: self.net.lend(tape),
            log_std,
        }
    }
}

/// A [`Policy`] whose trained tensors are lent to a tape ([`Policy::lend`]): record
/// [`LentPolicy::log_prob_entropy`], then take the gradients with [`LentPolicy::backward_to`].
pub struct LentPolicy<'p, 't> {
    kind: PolicyKind,
    net: LentMlp<'p, 't, f32>,
    /// `log σ` (Gaussian only).
    log_std: Option<LentParams<'t, 'p, f32>>,
}

impl<'t> LentPolicy<'_, 't> {
    /// Records `log π(a_i|s_i)` (`[B]`) and the mean entropy over the batch (a scalar) on the
    /// tape, for the observations `obs` (`[B, obs_dim]`) and the actions taken.
    pub fn log_prob_entropy(
        &self,
        obs: Var<'t, f32>,
        actions: &Actions,
    ) -> (Var<'t, f32>, Var<'t, f32>) {
        let out = self.net.forward(obs);
        match (self.kind, actions, &self.log_std) {
            (PolicyKind::Categorical { .. }, Actions::Discrete(a), None) => {
                let logp = categorical::log_prob(out, a);
                (logp, categorical::entropy(out).mean())
            }
            (PolicyKind::Gaussian { dim }, Actions::Continuous { data, .. }, Some(log_std)) => {
                let log_std = log_std.var(0);
                let rows = data.len() / dim;
                let a = obs.tape().constant_from_slice(data, &[rows, dim]);
                (
                    gaussian::log_prob(out, log_std, a),
                    gaussian::entropy(log_std),
                )
            }
            (k, _, _) => {
                panic!("Policy::log_prob_entropy: actions of the wrong kind for a {k:?} policy")
            }
        }
    }

    /// The reverse pass of `loss`, with its gradient for every trained tensor swapped into
    /// `grads` in [`Policy::params`] order (replaced, not accumulated), without copying.
    /// `grads` is resized to the number of tensors first (empty buffers are fine).
    pub fn backward_to(&self, loss: Var<'t, f32>, grads: &mut Vec<Tensor<f32>>) {
        let tensors = self.net.lent().len() + self.log_std.as_ref().map_or(0, LentParams::len);
        grads.resize_with(tensors, Tensor::empty);
        match &self.log_std {
            Some(log_std) => loss.backward_to_groups(&[self.net.lent(), log_std], grads),
            None => self.net.backward_to(loss, grads),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn taped_log_prob_matches_the_one_recorded_while_acting() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for kind in [
            PolicyKind::Categorical { n: 3 },
            PolicyKind::Gaussian { dim: 2 },
        ] {
            let p = Policy::new(kind, 4, &[8], Activation::Tanh, -0.3, &mut rng);
            let obs = Tensor::<f32>::randn(&[6, 4], &mut rng);
            let mut acts = Actions::empty_like(&p, 6);
            let mut logp = Vec::new();
            p.act(
                obs.data(),
                6,
                &mut rng,
                false,
                &mut acts,
                &mut logp,
                &mut Vec::new(),
            );
            assert_eq!(acts.len(), 6);
            let tape = Tape::new();
            let mut p = p;
            let lent = p.lend(&tape);
            assert_eq!(
                lent.net.lent().len(),
                p_tensors(kind) - usize::from(lent.log_std.is_some())
            );
            let (lp, ent) = lent.log_prob_entropy(tape.constant(&obs), &acts);
            for (a, b) in lp.value().data().iter().zip(&logp) {
                assert!((a - b).abs() < 1e-4, "{kind:?}: {a} vs {b}");
            }
            assert!(ent.item().is_finite());
        }
    }

    /// Number of trained tensors of a one-hidden-layer policy: W₀, b₀, W₁, b₁ (and log σ).
    fn p_tensors(kind: PolicyKind) -> usize {
        4 + usize::from(matches!(kind, PolicyKind::Gaussian { .. }))
    }

    /// L = −mean(log π(a|s)) − 0.1 H.
    fn loss_of<'t>(logp: Var<'t, f32>, ent: Var<'t, f32>) -> Var<'t, f32> {
        -logp.mean() - ent * 0.1
    }

    #[test]
    fn lent_gradients_equal_the_copied_ones_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for kind in [
            PolicyKind::Categorical { n: 3 },
            PolicyKind::Gaussian { dim: 2 },
        ] {
            let mut p = Policy::new(kind, 4, &[8], Activation::Tanh, -0.3, &mut rng);
            let obs = Tensor::<f32>::randn(&[5, 4], &mut rng);
            let mut acts = Actions::empty_like(&p, 5);
            let buf = &mut Vec::new();
            p.act(
                obs.data(),
                5,
                &mut rng,
                false,
                &mut acts,
                buf,
                &mut Vec::new(),
            );
            // Through copies of the parameters on the tape.
            let copied = Tape::new();
            let net = p.net().bind(&copied);
            let out = net.forward(copied.constant(&obs));
            let mut vars = net.vars().to_vec();
            let (logp, ent) = match &acts {
                Actions::Discrete(a) => (
                    categorical::log_prob(out, a),
                    categorical::entropy(out).mean(),
                ),
                Actions::Continuous { data, dim } => {
                    let log_std = copied.param(&p.log_std);
                    vars.push(log_std);
                    let a = copied.constant_from_slice(data, &[5, *dim]);
                    (
                        gaussian::log_prob(out, log_std, a),
                        gaussian::entropy(log_std),
                    )
                }
            };
            let g = loss_of(logp, ent).backward();
            let want: Vec<Tensor<f32>> = vars.iter().map(|&v| g[v].clone()).collect();

            let before = p.clone();
            let (tape, mut grads) = (Tape::new(), Vec::new());
            let lent = p.lend(&tape);
            let (logp, ent) = lent.log_prob_entropy(tape.constant(&obs), &acts);
            lent.backward_to(loss_of(logp, ent), &mut grads);
            drop(lent);
            assert_eq!(grads.len(), p_tensors(kind), "{kind:?}");
            assert_eq!(grads, want, "{kind:?}");
            assert_eq!(p, before, "{kind:?}: the parameters come back unchanged");
        }
    }
}
