//! Policies: the distributions over actions and the networks that parameterise them.
//!
//! - [`categorical`]: softmax over logits, for discrete action spaces.
//! - [`gaussian`]: diagonal Gaussian with a state-independent log-std, for continuous ones.
//! - [`Policy`]: an MLP from observations to logits (or to Gaussian means, plus the log-stds),
//!   used without a tape to act and on a tape to compute `log π(a|s)` for the update.

pub mod categorical;
pub mod gaussian;

use autograd::{Tape, Tensor, Var};
use dense::{Activation, Init, Mlp};
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

    /// Records `log π(a_i|s_i)` (`[B]`) and the mean entropy over the batch (a scalar) on `tape`,
    /// for the observations `obs` (`[B, obs_dim]`) and the actions taken. Also returns the
    /// parameter leaves in [`Self::params`] order.
    pub fn log_prob_entropy<'t>(
        &self,
        tape: &'t Tape<f32>,
        obs: Var<'t, f32>,
        actions: &Actions,
    ) -> (Var<'t, f32>, Var<'t, f32>, Vec<Var<'t, f32>>) {
        let (out, bound) = self.net.forward(tape, obs);
        let mut vars = bound.vars().to_vec();
        match (self.kind, actions) {
            (PolicyKind::Categorical { .. }, Actions::Discrete(a)) => {
                let logp = categorical::log_prob(out, a);
                let ent = categorical::entropy(out).mean();
                (logp, ent, vars)
            }
            (PolicyKind::Gaussian { dim }, Actions::Continuous { data, .. }) => {
                let log_std = tape.param(&self.log_std);
                vars.push(log_std);
                let rows = data.len() / dim;
                let a = tape.constant_from_slice(data, &[rows, dim]);
                (
                    gaussian::log_prob(out, log_std, a),
                    gaussian::entropy(log_std),
                    vars,
                )
            }
            (k, _) => {
                panic!("Policy::log_prob_entropy: actions of the wrong kind for a {k:?} policy")
            }
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
            let (lp, ent, vars) = p.log_prob_entropy(&tape, tape.constant(&obs), &acts);
            assert_eq!(vars.len(), p.params().len());
            for (a, b) in lp.value().data().iter().zip(&logp) {
                assert!((a - b).abs() < 1e-4, "{kind:?}: {a} vs {b}");
            }
            assert!(ent.item().is_finite());
        }
    }
}
