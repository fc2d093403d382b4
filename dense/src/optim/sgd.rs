//! Stochastic gradient descent with momentum, PyTorch's `torch.optim.SGD` update rule.

use super::{Buf, BufMut, check_pairs, check_state, load_buffers, save_buffers};
use crate::paramfile::{ParamFile, ParamFileError};

/// Hyper-parameters of [`Sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor μ (0 disables the buffer).
    pub momentum: f32,
    /// Dampening τ applied to new gradients in the momentum buffer.
    pub dampening: f32,
    /// L2 penalty λ added to the gradient (`g + λp`).
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-2,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// SGD with momentum. Per element, at step t (PyTorch's rule):
///
/// ```text
/// g ← g + λ·p
/// b ← g                      (first step)
/// b ← μ·b + (1 − τ)·g        (later steps)
/// g ← g + μ·b  if nesterov, else  g ← b
/// p ← p − lr·g
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    /// The hyper-parameters (the learning rate may be changed between steps).
    pub config: SgdConfig,
    /// Momentum buffers, one per parameter (empty before the first step or without momentum).
    buffers: Vec<Vec<f32>>,
}

impl Sgd {
    /// A new optimiser; its state is created on the first step.
    pub fn new(config: SgdConfig) -> Self {
        Sgd {
            config,
            buffers: Vec::new(),
        }
    }

    /// Sets the learning rate for the following steps.
    pub fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    /// Stores the hyper-parameters and momentum buffers under `prefix`.
    pub fn save_to(&self, file: &mut ParamFile, prefix: &str) {
        let c = self.config;
        let hp = [c.lr, c.momentum, c.dampening, c.weight_decay].map(|x| x as f64);
        file.insert_f64(&format!("{prefix}config"), &[4], &hp);
        file.insert_u64(&format!("{prefix}nesterov"), &[1], &[c.nesterov as u64]);
        save_buffers(file, prefix, "momentum", &self.buffers);
    }

    /// Restores everything [`Sgd::save_to`] stored under `prefix`; nothing changes on error.
    pub fn load_from(&mut self, file: &ParamFile, prefix: &str) -> Result<(), ParamFileError> {
        let hp = file.f64(&format!("{prefix}config"), &[4])?;
        let nesterov = file.u64(&format!("{prefix}nesterov"), &[1])?[0] != 0;
        let buffers = load_buffers(file, prefix, "momentum")?;
        self.config = SgdConfig {
            lr: hp[0] as f32,
            momentum: hp[1] as f32,
            dampening: hp[2] as f32,
            weight_decay: hp[3] as f32,
            nesterov,
        };
        self.buffers = buffers;
        Ok(())
    }

    /// One update of every parameter in place from its gradient.
    pub fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]) {
        check_pairs("Sgd::step", params, grads);
        let c = self.config;
        let first = self.buffers.is_empty() && c.momentum != 0.0;
        if first {
            self.buffers = params.iter().map(|p| vec![0.0; p.values().len()]).collect();
        } else if c.momentum != 0.0 {
            check_state("Sgd::step", &self.buffers, params);
        }
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let p = p.values_mut();
            for (j, (pj, &gj)) in p.iter_mut().zip(g.values()).enumerate() {
                let mut d = gj;
                if c.weight_decay != 0.0 {
                    d += c.weight_decay * *pj;
                }
                if c.momentum != 0.0 {
                    let b = &mut self.buffers[i][j];
                    *b = if first {
                        d
                    } else {
                        c.momentum * *b + (1.0 - c.dampening) * d
                    };
                    d = if c.nesterov { d + c.momentum * *b } else { *b };
                }
                *pj -= c.lr * d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values worked by hand from PyTorch's rule.
    #[test]
    fn momentum_matches_hand_computed_values() {
        let mut p = vec![vec![1.0f32]];
        let mut sgd = Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            ..SgdConfig::default()
        });
        // step 1: b = 0.5, p = 1 - 0.1·0.5 = 0.95
        sgd.step(&mut p, &[vec![0.5f32]]);
        assert!((p[0][0] - 0.95).abs() < 1e-7);
        // step 2: b = 0.9·0.5 + 0.2 = 0.65, p = 0.95 - 0.065 = 0.885
        sgd.step(&mut p, &[vec![0.2f32]]);
        assert!((p[0][0] - 0.885).abs() < 1e-7);
    }

    #[test]
    fn nesterov_and_weight_decay() {
        let mut p = vec![vec![2.0f32]];
        let mut sgd = Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.5,
            weight_decay: 0.1,
            nesterov: true,
            ..SgdConfig::default()
        });
        // g = 1 + 0.1·2 = 1.2; b = 1.2; d = 1.2 + 0.5·1.2 = 1.8; p = 2 - 0.18 = 1.82
        sgd.step(&mut p, &[vec![1.0f32]]);
        assert!((p[0][0] - 1.82).abs() < 1e-6);
        // g = 1 + 0.182 = 1.182; b = 0.6 + 1.182 = 1.782; d = 1.182 + 0.891 = 2.073;
        // p = 1.82 - 0.2073 = 1.6127
        sgd.step(&mut p, &[vec![1.0f32]]);
        assert!((p[0][0] - 1.6127).abs() < 1e-6);
    }
}
