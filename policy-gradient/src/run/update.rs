//! The one update step of every run: clip the global gradient norm, then one optimiser step.
//!
//! `‖g‖ = sqrt(Σ_i g_i²)` over all parameters; with `max_norm > 0` and `‖g‖ > max_norm` every
//! gradient is scaled by `max_norm / ‖g‖` (the direction is kept, the step bounded). The norm
//! before clipping is returned for the metrics.

use dense::optim::{Adam, Sgd, clip_grad_norm, global_norm};
use dense::optim::{Buf, BufMut};

/// An optimiser as the update uses it: a learning rate set before each step, and the step.
pub trait Stepper {
    /// Sets the learning rate of the following steps.
    fn set_lr(&mut self, lr: f32);
    /// One update of every parameter in place from its gradient.
    fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]);
}

impl Stepper for Adam {
    fn set_lr(&mut self, lr: f32) {
        Adam::set_lr(self, lr);
    }
    fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]) {
        Adam::step(self, params, grads);
    }
}

impl Stepper for Sgd {
    fn set_lr(&mut self, lr: f32) {
        Sgd::set_lr(self, lr);
    }
    fn step<P: BufMut, G: Buf>(&mut self, params: &mut [P], grads: &[G]) {
        Sgd::step(self, params, grads);
    }
}

/// Clips the global norm of `grads` to `max_norm` (0: no clipping); returns the norm before.
pub fn clip_grads<G: BufMut>(grads: &mut [G], max_norm: f32) -> f32 {
    if max_norm > 0.0 {
        clip_grad_norm(grads, max_norm)
    } else {
        global_norm(grads)
    }
}

/// One optimiser step with rate `lr` on `params` from `grads` that are already clipped.
pub fn step<O: Stepper, P: BufMut, G: Buf>(opt: &mut O, params: &mut [P], grads: &[G], lr: f32) {
    opt.set_lr(lr);
    opt.step(params, grads);
}

/// [`clip_grads`] then [`step`]: the whole update. Returns the gradient norm before clipping.
pub fn clip_and_step<O: Stepper, P: BufMut, G: BufMut + Buf>(
    opt: &mut O,
    params: &mut [P],
    grads: &mut [G],
    max_norm: f32,
    lr: f32,
) -> f32 {
    let norm = clip_grads(grads, max_norm);
    step(opt, params, grads, lr);
    norm
}
