//! Adam and AdamW, PyTorch's `torch.optim.Adam` / `AdamW` update rules (non-amsgrad).

use super::{Buf, BufMut, check_pairs, check_state, load_buffers, save_buffers};
use crate::paramfile::{ParamFile, ParamFileError};

/// Hyper-parameters of [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first-moment average, β₁.
    pub beta1: f32,
    /// Decay of the second-moment average, β₂.
    pub beta2: f32,
    /// Added to the denominator, ε.
    pub eps: f32,
    /// Weight decay λ: an L2 term added to the gradient (Adam) or a decoupled shrink of the
    /// parameter (AdamW, when `decoupled` is true).
    pub weight_decay: f32,
    /// AdamW's decoupled weight decay instead of Adam's L2 term.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

impl AdamConfig {
    /// AdamW with PyTorch's defaults (weight decay 0.01).
    pub fn adamw() -> Self {
        AdamConfig {
            weight_decay: 0.01,
            decoupled: true,
            ..Self::default()
        }
    }
}

/// Adam / AdamW. Per element, at step `t = 1, 2, …` (PyTorch's rule, in its order of operations):
///
/// ```text
/// p ← p·(1 − lr·λ)                      (AdamW only)
/// g ← g + λ·p                           (Adam with weight decay only)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// The bias corrections `1 − βᵗ` are computed in `f64` and rounded to `f32` once per step, as
/// PyTorch does with its Python-float step size.
#[derive(Clone, Debug)]
pub struct Adam {
    /// The hyper-parameters (the learning rate may be changed between steps).
    pub config: AdamConfig,
    /// Steps taken so far.
    step: u64,
    /// First moments, one buffer per parameter.
    m: Vec<Vec<f32>>,
    /// Second moments, one buffer per parameter.
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// A new optimiser; its moment buffers are created on the first step.
    pub fn new(config: AdamConfig) -> Self {
        Adam {
            config,
            step: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Sets the learning rate for the following steps (see [`super::LinearSchedule`]).
    pub fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The state: (step count, first moments, second moments), for saving.
    pub fn state(&self) -> (u64, &[Vec<f32>], &[Vec<f32>]) {
        (self.step, &self.m, &self.v)
    }

    /// Replaces the state (for resuming). Panics unless `m` and `v` have the same sizes.
    pub fn set_state(&mut self, step: u64, m: Vec<Vec<f32>>, v: Vec<Vec<f32>>) {
        assert!(
            m.len() == v.len() && m.iter().zip(&v).all(|(a, b)| a.len() == b.len()),
            "Adam::set_state: first and second moments have different sizes"
        );
        self.step = step;
        self.m = m;
        self.v = v;
    }

    /// Stores the hyper-parameters, the step count and both moment buffers under `prefix`, so
    /// that [`Adam::load_from`] resumes bit for bit.
    pub fn save_to(&self, file: &mut ParamFile, prefix: &str) {
        let c = self.config;
        let hp = [c.lr, c.beta1, c.beta2, c.eps, c.weight_decay].map(|x| x as f64);
        file.insert_f64(&format!("{prefix}config"), &[5], &hp);
        file.insert_u64(&format!("{prefix}decoupled"), &[1], &[c.decoupled as u64]);
        file.insert_u64(&format!("{prefix}step"), &[1], &[self.step]);
        save_buffers(file, prefix, "m", &self.m);
        save_buffers(file, prefix, "v", &self.v);
    }

    /// Restores everything [`Adam::save_to`] stored under `prefix`; nothing changes on error.
    pub fn load_from(&mut self, file: &ParamFile, prefix: &str) -> Result<(), ParamFileError> {
        let hp = file.f64(&format!("{prefix}config"), &[5])?;
        let decoupled = file.u64(&format!("{prefix}decoupled"), &[1])?[0] != 0;
        let step = file.u64(&format!("{prefix}step"), &[1])?[0];
        let m = load_buffers(file, prefix, "m")?;
        let v = load_buffers(file, prefix, "v")?;
        if m.len() != v.len() || m.iter().zip(&v).any(|(a, b)| a.len() != b.len()) {
            return Err(ParamFileError::Invalid {
                what: format!("{prefix}m / {prefix}v"),
                detail: "first and second moments have different sizes".into(),
            });
        }
        self.config = AdamConfig {
            lr: hp[0] as f32,
            beta1: hp[1] as f32,
            beta2: hp[2] as f32,
            eps: hp[3] as f32,
            weight_decay: hp[4] as f32,
            decoupled,
        };
        self.set_state(step, m, v);
        Ok(())
    }

    /// One update of every parameter in place from its gradient.
    pub fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]) {
        check_pairs("Adam::step", params, grads);
        if self.m.is_empty() && !params.is_empty() {
            self.m = params.iter().map(|p| vec![0.0; p.values().len()]).collect();
            self.v = self.m.clone();
        }
        check_state("Adam::step", &self.m, params);
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bc1 = 1.0 - (c.beta1 as f64).powi(t);
        let bc2 = 1.0 - (c.beta2 as f64).powi(t);
        let step_size = (c.lr as f64 / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let shrink = 1.0 - c.lr * c.weight_decay;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            let p = p.values_mut();
            for (((pj, &gj), mj), vj) in p
                .iter_mut()
                .zip(g.values())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                let mut gj = gj;
                if c.weight_decay != 0.0 {
                    if c.decoupled {
                        *pj *= shrink;
                    } else {
                        gj += c.weight_decay * *pj;
                    }
                }
                *mj = c.beta1 * *mj + (1.0 - c.beta1) * gj;
                *vj = c.beta2 * *vj + (1.0 - c.beta2) * gj * gj;
                let denom = vj.sqrt() / bc2_sqrt + c.eps;
                *pj -= step_size * *mj / denom;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps worked by hand (in f64, then compared in f32) from PyTorch's formulas.
    #[test]
    fn adam_matches_hand_computed_values() {
        let mut p = vec![vec![1.0f32, -2.0]];
        let mut adam = Adam::new(AdamConfig {
            lr: 0.1,
            ..AdamConfig::default()
        });
        adam.step(&mut p, &[vec![0.5f32, -1.0]]);
        // t=1: m = 0.1g, v = 0.001g²; m̂ = g, v̂ = g²  ⇒  p -= 0.1·g/(|g| + 1e-8)
        assert!((p[0][0] - 0.9).abs() < 1e-6 && (p[0][1] + 1.9).abs() < 1e-6);
        adam.step(&mut p, &[vec![0.25f32, 3.0]]);
        // t=2, element 0: m = 0.9·0.05 + 0.1·0.25 = 0.07; v = 0.999·0.00025 + 0.001·0.0625
        // = 0.00031225; step = 0.1/(1-0.81) = 0.526315789; √v/√(1-0.998001) = 0.017670597/0.044710178
        // = 0.395224; p = 0.9 - 0.526315789·0.07/0.39522401 = 0.806782
        let m = 0.07f64;
        let v: f64 = 0.999 * 0.00025 + 0.001 * 0.0625;
        let want0 = 0.9 - (0.1 / (1.0 - 0.81)) * m / (v.sqrt() / (1.0f64 - 0.998001).sqrt() + 1e-8);
        assert!(
            (p[0][0] as f64 - want0).abs() < 1e-6,
            "{} vs {want0}",
            p[0][0]
        );
        let m1 = 0.9 * -0.1 + 0.1 * 3.0;
        let v1 = 0.999 * 0.001 + 0.001 * 9.0;
        let want1 = -1.9 - (0.1 / 0.19) * m1 / (f64::sqrt(v1) / 0.001999f64.sqrt() + 1e-8);
        assert!(
            (p[0][1] as f64 - want1).abs() < 1e-6,
            "{} vs {want1}",
            p[0][1]
        );
        assert_eq!(adam.steps(), 2);
    }

    #[test]
    fn adamw_shrinks_then_steps_and_adam_adds_l2() {
        let mut p = vec![vec![2.0f32]];
        let mut adamw = Adam::new(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled: true,
            ..AdamConfig::default()
        });
        adamw.step(&mut p, &[vec![1.0f32]]);
        // p = 2·(1 - 0.05) = 1.9, then - 0.1·1/(1 + 1e-8)
        assert!((p[0][0] - 1.8).abs() < 1e-6);
        let mut q = vec![vec![2.0f32]];
        let mut adam = Adam::new(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..AdamConfig::default()
        });
        adam.step(&mut q, &[vec![-0.5f32]]);
        // The L2 term flips the gradient's sign: g = -0.5 + 0.5·2 = 0.5 ⇒ p = 2 - 0.1.
        assert!((q[0][0] - 1.9).abs() < 1e-6);
    }

    #[test]
    #[should_panic(expected = "parameter 0 has 2 values but its gradient has 1")]
    fn mismatched_gradient_is_named() {
        let mut adam = Adam::new(AdamConfig::default());
        adam.step(&mut [vec![0.0f32; 2]], &[vec![0.0f32]]);
    }
}
