//! Optimisers that update parameters in place, gradient clipping and learning-rate schedules.
//!
//! Everything here works on plain `f32` slices through two small traits, [`Buf`] and [`BufMut`],
//! implemented for `autograd::Tensor<f32>`, `Vec<f32>`, `&[f32]` and `&mut [f32]`, so an
//! optimiser can step an [`crate::Mlp`]'s tensors or any other list of buffers:
//!
//! ```
//! use dense::optim::{Adam, AdamConfig, clip_grad_norm};
//! let mut params = vec![vec![1.0f32, 2.0], vec![0.5]];
//! let mut grads = vec![vec![0.3f32, -4.0], vec![1.2]];
//! let norm = clip_grad_norm(&mut grads, 1.0); // returns the norm before clipping
//! assert!((norm - (0.09f32 + 16.0 + 1.44).sqrt()).abs() < 1e-5);
//! let mut adam = Adam::new(AdamConfig { lr: 1e-2, ..AdamConfig::default() });
//! adam.step(&mut params, &grads);
//! // Adam's first step moves every coordinate by about lr, against the gradient's sign.
//! assert!((params[0][1] - 2.01).abs() < 1e-4);
//! ```
//!
//! The optimisers allocate their state on the first step (one buffer per parameter, sized like
//! it) and never again: a training loop's steady state does no allocation here.

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use clip::{clip_grad_norm, global_norm};
pub use schedule::LinearSchedule;
pub use sgd::{Sgd, SgdConfig};

use autograd::Tensor;

use crate::paramfile::{ParamFile, ParamFileError};

/// Read access to a buffer of `f32` values (a gradient).
pub trait Buf {
    /// The values.
    fn values(&self) -> &[f32];
}

/// Write access to a buffer of `f32` values (a parameter, or a gradient being clipped).
pub trait BufMut: Buf {
    /// The values, mutably.
    fn values_mut(&mut self) -> &mut [f32];
}

impl Buf for Tensor<f32> {
    fn values(&self) -> &[f32] {
        self.data()
    }
}
impl BufMut for Tensor<f32> {
    fn values_mut(&mut self) -> &mut [f32] {
        self.data_mut()
    }
}
impl Buf for Vec<f32> {
    fn values(&self) -> &[f32] {
        self
    }
}
impl BufMut for Vec<f32> {
    fn values_mut(&mut self) -> &mut [f32] {
        self
    }
}
impl Buf for &[f32] {
    fn values(&self) -> &[f32] {
        self
    }
}
impl Buf for &mut [f32] {
    fn values(&self) -> &[f32] {
        self
    }
}
impl BufMut for &mut [f32] {
    fn values_mut(&mut self) -> &mut [f32] {
        self
    }
}

/// Panics with a clear message unless `params` and `grads` pair up one to one, same lengths.
#[track_caller]
pub(crate) fn check_pairs<P: Buf, G: Buf>(who: &str, params: &[P], grads: &[G]) {
    assert!(
        params.len() == grads.len(),
        "{who}: {} parameter buffers but {} gradient buffers",
        params.len(),
        grads.len()
    );
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        assert!(
            p.values().len() == g.values().len(),
            "{who}: parameter {i} has {} values but its gradient has {}",
            p.values().len(),
            g.values().len()
        );
    }
}

/// Panics unless the optimiser state (one buffer per parameter) matches `params`.
#[track_caller]
pub(crate) fn check_state<P: Buf>(who: &str, state: &[Vec<f32>], params: &[P]) {
    assert!(
        state.len() == params.len()
            && state
                .iter()
                .zip(params)
                .all(|(s, p)| s.len() == p.values().len()),
        "{who}: the parameter list changed after the first step (state for {} buffers of sizes {:?}, now {} buffers of sizes {:?})",
        state.len(),
        state.iter().map(Vec::len).collect::<Vec<_>>(),
        params.len(),
        params.iter().map(|p| p.values().len()).collect::<Vec<_>>()
    );
}

/// Stores per-parameter state buffers as `<prefix><what>.<i>` plus their count.
pub(crate) fn save_buffers(file: &mut ParamFile, prefix: &str, what: &str, bufs: &[Vec<f32>]) {
    file.insert_u64(&format!("{prefix}{what}.count"), &[1], &[bufs.len() as u64]);
    for (i, b) in bufs.iter().enumerate() {
        file.insert_f32(&format!("{prefix}{what}.{i}"), &[b.len()], b);
    }
}

/// Reads buffers written by [`save_buffers`].
pub(crate) fn load_buffers(
    file: &ParamFile,
    prefix: &str,
    what: &str,
) -> Result<Vec<Vec<f32>>, ParamFileError> {
    let count = file.u64(&format!("{prefix}{what}.count"), &[1])?[0];
    let mut out = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}{what}.{i}");
        let (shape, v) = file.f32_any_shape(&name)?;
        if shape.len() != 1 {
            return Err(ParamFileError::ShapeMismatch {
                name,
                expected: vec![v.len()],
                found: shape.to_vec(),
            });
        }
        out.push(v.to_vec());
    }
    Ok(out)
}
