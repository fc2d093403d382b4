//! The optimiser of a run's networks, chosen by the `optimizer` config key: `adam` (the default
//! of every preset) or `sgd`, plain stochastic gradient descent as in the textbook REINFORCE.
//!
//! With learning rate `α` and the (clipped) gradient `g` of the loss:
//!
//! * SGD: `θ ← θ − α g` (`dense`'s [`Sgd`] with momentum 0, so it keeps no state);
//! * Adam: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ − α m̂ / (√v̂ + ε)` with the
//!   bias-corrected moments `m̂`, `v̂` (`dense`'s [`Adam`]): every parameter gets its own step
//!   size, so the scale of the returns matters much less than for SGD.
//!
//! A checkpoint stores the optimiser under `NAME_adam.` or `NAME_sgd.` ([`NetOptimizer::save_to`]),
//! so a resumed run continues with the same moments.

use crate::run::update::Stepper;
use dense::optim::{Adam, AdamConfig, Buf, BufMut, Sgd, SgdConfig};
use dense::paramfile::{ParamFile, ParamFileError};
use serde::{Deserialize, Serialize};

/// The `optimizer` config key: which update rule trains the networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam with PyTorch's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
    Adam,
    /// Plain SGD: `θ ← θ − α g`, no momentum.
    Sgd,
}

/// One network's optimiser, of the kind the config chose.
#[derive(Clone, Debug)]
pub enum NetOptimizer {
    /// Adam and its moments.
    Adam(Adam),
    /// Plain SGD (stateless).
    Sgd(Sgd),
}

impl NetOptimizer {
    /// A fresh optimiser of `kind` with learning rate `lr`.
    ///
    /// ```
    /// use policy_gradient::run::optimizer::{NetOptimizer, Optimizer};
    /// use policy_gradient::run::update::Stepper;
    /// let mut sgd = NetOptimizer::new(Optimizer::Sgd, 0.5);
    /// let mut p = vec![vec![1.0f32]];
    /// sgd.step(&mut p, &[vec![0.2f32]]);
    /// assert_eq!(p[0][0], 1.0 - 0.5 * 0.2);
    /// ```
    pub fn new(kind: Optimizer, lr: f32) -> Self {
        match kind {
            Optimizer::Adam => NetOptimizer::Adam(Adam::new(AdamConfig {
                lr,
                ..AdamConfig::default()
            })),
            Optimizer::Sgd => NetOptimizer::Sgd(Sgd::new(SgdConfig {
                lr,
                ..SgdConfig::default()
            })),
        }
    }

    /// The prefix of this optimiser's entries for network `net` (`policy_adam.`, `value_sgd.`).
    pub fn prefix(&self, net: &str) -> String {
        match self {
            NetOptimizer::Adam(_) => format!("{net}_adam."),
            NetOptimizer::Sgd(_) => format!("{net}_sgd."),
        }
    }

    /// Stores the optimiser's state for network `net` (see [`NetOptimizer::prefix`]).
    pub fn save_to(&self, file: &mut ParamFile, net: &str) {
        let prefix = self.prefix(net);
        match self {
            NetOptimizer::Adam(a) => a.save_to(file, &prefix),
            NetOptimizer::Sgd(s) => s.save_to(file, &prefix),
        }
    }

    /// Restores what [`NetOptimizer::save_to`] stored for `net`, for parameters of the given
    /// `sizes`. Returns a message when the stored state does not fit them (Adam moments of
    /// other shapes, SGD settings other than plain SGD); nothing changes on error.
    pub fn load_from(
        &mut self,
        file: &ParamFile,
        net: &str,
        sizes: &[usize],
    ) -> Result<(), String> {
        let prefix = self.prefix(net);
        let read = |e: ParamFileError| e.to_string();
        let misfit = || format!("optimiser state `{prefix}` does not fit the networks");
        match self {
            NetOptimizer::Adam(a) => {
                let mut loaded = a.clone();
                loaded.load_from(file, &prefix).map_err(read)?;
                let (step, m, v) = loaded.state();
                let fits = |b: &[Vec<f32>]| b.iter().map(Vec::len).eq(sizes.iter().copied());
                if !(step == 0 && m.is_empty() || fits(m) && fits(v)) {
                    return Err(misfit());
                }
                *a = loaded;
            }
            NetOptimizer::Sgd(s) => {
                let mut loaded = s.clone();
                loaded.load_from(file, &prefix).map_err(read)?;
                // Plain SGD keeps no buffers; any other setting would read ones of unknown shape.
                let plain = SgdConfig {
                    lr: loaded.config.lr,
                    ..SgdConfig::default()
                };
                if loaded.config != plain {
                    return Err(misfit());
                }
                *s = loaded;
            }
        }
        Ok(())
    }
}

impl Stepper for NetOptimizer {
    fn set_lr(&mut self, lr: f32) {
        match self {
            NetOptimizer::Adam(a) => a.set_lr(lr),
            NetOptimizer::Sgd(s) => s.set_lr(lr),
        }
    }

    fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]) {
        match self {
            NetOptimizer::Adam(a) => a.step(params, grads),
            NetOptimizer::Sgd(s) => s.step(params, grads),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_misfits_are_refused() {
        let mut p = vec![vec![1.0f32, 2.0], vec![3.0f32]];
        let g = [vec![0.5f32, -0.5], vec![1.0f32]];
        for kind in [Optimizer::Adam, Optimizer::Sgd] {
            let mut opt = NetOptimizer::new(kind, 0.1);
            opt.step(&mut p, &g);
            let mut f = ParamFile::new();
            opt.save_to(&mut f, "policy");
            let mut back = NetOptimizer::new(kind, 0.7);
            back.load_from(&f, "policy", &[2, 1]).unwrap();
            // Both continue identically.
            let (mut p1, mut p2) = (p.clone(), p.clone());
            opt.step(&mut p1, &g);
            back.step(&mut p2, &g);
            assert_eq!(p1, p2, "{kind:?}");
            // Another kind's entries are missing.
            let other = match kind {
                Optimizer::Adam => Optimizer::Sgd,
                Optimizer::Sgd => Optimizer::Adam,
            };
            assert!(
                NetOptimizer::new(other, 0.1)
                    .load_from(&f, "policy", &[2, 1])
                    .is_err()
            );
        }
        // Adam moments of other shapes do not fit.
        let mut adam = NetOptimizer::new(Optimizer::Adam, 0.1);
        adam.step(&mut p, &g);
        let mut f = ParamFile::new();
        adam.save_to(&mut f, "value");
        let e = NetOptimizer::new(Optimizer::Adam, 0.1)
            .load_from(&f, "value", &[3])
            .unwrap_err();
        assert!(e.contains("value_adam."), "{e}");
        // SGD with momentum is not what a run saves.
        let mut f = ParamFile::new();
        Sgd::new(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        })
        .save_to(&mut f, "policy_sgd.");
        assert!(
            NetOptimizer::new(Optimizer::Sgd, 0.1)
                .load_from(&f, "policy", &[2, 1])
                .is_err()
        );
    }
}
