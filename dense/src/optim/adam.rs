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
        let rule = Rule {
            config: c,
            step_size,
            bc2_sqrt,
            shrink: 1.0 - c.lr * c.weight_decay,
        };
        let kernel = crate::Kernel::selected();
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            rule.apply(
                kernel,
                p.values_mut(),
                g.values(),
                &mut self.m[i],
                &mut self.v[i],
            );
        }
    }
}

/// One step's per-element rule (see [`Adam`]): the hyper-parameters and this step's constants.
#[derive(Clone, Copy)]
struct Rule {
    config: AdamConfig,
    step_size: f32,
    bc2_sqrt: f32,
    shrink: f32,
}

impl Rule {
    /// The rule on one parameter tensor `p` with its gradient `g` and moments `m`, `v`, compiled
    /// for the kernel's vector width: plain Rust that the compiler vectorises (eight or sixteen
    /// elements an instruction instead of the baseline's four). Square root and division are
    /// correctly rounded at every width, and the compiler never fuses a multiply and an add, so
    /// the bits are those of the element-by-element loop on every path. The pattern of
    /// `gemm::rank_one_block`.
    fn apply(self, kernel: crate::Kernel, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn wide(rule: Rule, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
            rule.body(p, g, m, v)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn narrow(rule: Rule, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
            rule.body(p, g, m, v)
        }
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the selected kernel is one the CPU has (AVX-512F).
            crate::Kernel::Avx512 => unsafe { wide(self, p, g, m, v) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the selected kernel is one the CPU has (AVX2).
            crate::Kernel::Avx2Fma => unsafe { narrow(self, p, g, m, v) },
            _ => self.body(p, g, m, v),
        }
    }

    /// The element-by-element loop; the weight-decay choice is made once per tensor, outside it.
    #[inline(always)]
    fn body(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let c = self.config;
        let update = |pj: &mut f32, gj: f32, mj: &mut f32, vj: &mut f32| {
            *mj = c.beta1 * *mj + (1.0 - c.beta1) * gj;
            *vj = c.beta2 * *vj + (1.0 - c.beta2) * gj * gj;
            let denom = vj.sqrt() / self.bc2_sqrt + c.eps;
            *pj -= self.step_size * *mj / denom;
        };
        let elements = p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut()));
        match (c.weight_decay != 0.0, c.decoupled) {
            (false, _) => elements.for_each(|((pj, &gj), (mj, vj))| update(pj, gj, mj, vj)),
            (true, true) => elements.for_each(|((pj, &gj), (mj, vj))| {
                *pj *= self.shrink;
                update(pj, gj, mj, vj)
            }),
            (true, false) => elements.for_each(|((pj, &gj), (mj, vj))| {
                let gj = gj + c.weight_decay * *pj;
                update(pj, gj, mj, vj)
            }),
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

    /// Every path's vector code gives the bits of the plain element-by-element rule, for each
    /// weight-decay mode, on lengths that leave a ragged tail after the vectors.
    #[test]
    fn every_path_has_the_bits_of_the_element_by_element_rule() {
        let decays = [(0.0, false), (0.01, true), (0.01, false)];
        for (weight_decay, decoupled) in decays {
            let config = AdamConfig {
                lr: 3e-3,
                weight_decay,
                decoupled,
                ..AdamConfig::default()
            };
            let rule = Rule {
                config,
                step_size: 0.0316,
                bc2_sqrt: 0.0447,
                shrink: 1.0 - config.lr * config.weight_decay,
            };
            let n = 45;
            let start = |k: f32| (0..n).map(|i| (i as f32 * k).sin()).collect::<Vec<f32>>();
            let g = start(0.7);
            let one_by_one = |p: &mut [f32], m: &mut [f32], v: &mut [f32]| {
                for j in 0..n {
                    let mut gj = g[j];
                    if weight_decay != 0.0 {
                        if decoupled {
                            p[j] *= rule.shrink;
                        } else {
                            gj += weight_decay * p[j];
                        }
                    }
                    m[j] = config.beta1 * m[j] + (1.0 - config.beta1) * gj;
                    v[j] = config.beta2 * v[j] + (1.0 - config.beta2) * gj * gj;
                    let denom = v[j].sqrt() / rule.bc2_sqrt + config.eps;
                    p[j] -= rule.step_size * m[j] / denom;
                }
            };
            let (mut p, mut m, mut v) = (start(0.3), start(0.5), start(0.9));
            v.iter_mut().for_each(|x| *x = x.abs());
            let (p0, m0, v0) = (p.clone(), m.clone(), v.clone());
            one_by_one(&mut p, &mut m, &mut v);
            for kernel in crate::Kernel::available() {
                let (mut q, mut mq, mut vq) = (p0.clone(), m0.clone(), v0.clone());
                rule.apply(kernel, &mut q, &g, &mut mq, &mut vq);
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                let what = format!("{kernel:?}, decay {weight_decay}, decoupled {decoupled}");
                assert_eq!(bits(&q), bits(&p), "p: {what}");
                assert_eq!(bits(&mq), bits(&m), "m: {what}");
                assert_eq!(bits(&vq), bits(&v), "v: {what}");
            }
        }
    }
}
