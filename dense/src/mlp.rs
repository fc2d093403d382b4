//! [`Mlp`]: a stack of fused [`crate::linear()`] layers that owns its parameters.
//!
//! Parameters live in one flat list, `[W₀, b₀, W₁, b₁, …]` (`Wᵢ` is `[sizes[i], sizes[i+1]]`,
//! `bᵢ` is `[sizes[i+1]]`), so an optimiser steps them all with `adam.step(mlp.params_mut(), &g)`.
//! Training goes through a tape: [`Mlp::lend`] moves the parameters onto it without copying and
//! [`LentMlp::backward_to`] swaps their gradients out into the optimiser's buffers (the fast
//! path), or [`Mlp::bind`] copies them (when the network must stay readable during the step).
//! Acting goes through [`Mlp::infer`], which runs the same kernels without a tape (GEMV for one
//! row).

use autograd::{Gradients, LentParams, Tape, Tensor, Var};
use rand::Rng;

use crate::activation::Activation;
use crate::element::Element;
use crate::gemm::{Epilogue, gemm_fused};
use crate::init::Init;
use crate::linear::linear;
use crate::paramfile::{Data, ParamFile, ParamFileError};
use crate::view::{MatMut, MatRef};

/// A multi-layer perceptron `x ↦ act_L(… act_1(x·W₀ + b₀) … ·W_L + b_L)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<T: Element = f32> {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    params: Vec<Tensor<T>>,
}

impl<T: Element> Mlp<T> {
    /// Layers of `sizes` (`[in, hidden…, out]`, at least two entries), `hidden` activation after
    /// every layer but the last, `output` after the last. Hidden weights are drawn by `init`, the
    /// last layer's by `output_init` (e.g. orthogonal with gain 0.01 for a policy head).
    pub fn new<R: Rng + ?Sized>(
        sizes: &[usize],
        hidden: Activation,
        output: Activation,
        init: Init,
        output_init: Init,
        rng: &mut R,
    ) -> Self {
        assert!(
            sizes.len() >= 2 && sizes.iter().all(|&s| s > 0),
            "Mlp::new: sizes {sizes:?}; expected [in, hidden…, out] with every size ≥ 1"
        );
        let layers = sizes.len() - 1;
        let mut params = Vec::with_capacity(2 * layers);
        let mut activations = Vec::with_capacity(layers);
        for l in 0..layers {
            let last = l + 1 == layers;
            let how = if last { output_init } else { init };
            params.push(how.weight(sizes[l], sizes[l + 1], rng));
            params.push(how.bias(sizes[l], sizes[l + 1], rng));
            activations.push(if last { output } else { hidden });
        }
        Mlp {
            sizes: sizes.to_vec(),
            activations,
            params,
        }
    }

    /// Builds an MLP from existing tensors `[W₀, b₀, …]` and one activation per layer; panics,
    /// naming the shapes, unless they chain.
    pub fn from_params(activations: &[Activation], params: Vec<Tensor<T>>) -> Self {
        assert!(
            !activations.is_empty() && params.len() == 2 * activations.len(),
            "Mlp::from_params: {} activations and {} tensors; expected one (W, b) pair per activation",
            activations.len(),
            params.len()
        );
        let mut sizes = vec![params[0].shape().first().copied().unwrap_or(0)];
        for (l, pair) in params.chunks(2).enumerate() {
            let (w, b) = (pair[0].shape(), pair[1].shape());
            assert!(
                w.len() == 2 && w[0] == sizes[l] && b == [w[1]],
                "Mlp::from_params: layer {l} has W {w:?} and b {b:?}; expected W [{}, n] and b [n]",
                sizes[l]
            );
            sizes.push(w[1]);
        }
        Mlp {
            sizes,
            activations: activations.to_vec(),
            params,
        }
    }

    /// `[in, hidden…, out]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.sizes[0]
    }
    /// Output width.
    pub fn out_dim(&self) -> usize {
        *self.sizes.last().expect("at least two sizes")
    }
    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.activations.len()
    }
    /// One activation per layer.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }
    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.params.iter().map(Tensor::numel).sum()
    }
    /// `[W₀, b₀, W₁, b₁, …]`.
    pub fn params(&self) -> &[Tensor<T>] {
        &self.params
    }
    /// `[W₀, b₀, W₁, b₁, …]`, mutable (for optimisers).
    pub fn params_mut(&mut self) -> &mut [Tensor<T>] {
        &mut self.params
    }
    /// Names in the order of [`Mlp::params`]: `layer0.weight`, `layer0.bias`, …
    pub fn param_names(&self) -> Vec<String> {
        (0..self.num_layers())
            .flat_map(|l| [format!("layer{l}.weight"), format!("layer{l}.bias")])
            .collect()
    }
    /// Zero tensors shaped like the parameters: a gradient buffer for [`MlpVars::grads_into`].
    pub fn zeros_like_params(&self) -> Vec<Tensor<T>> {
        self.params
            .iter()
            .map(|p| Tensor::zeros(p.shape()))
            .collect()
    }

    /// Records every parameter on `tape` as a gradient-receiving leaf (values copied into the
    /// tape's reused buffers), ready for [`MlpVars::forward`].
    pub fn bind<'m, 't>(&'m self, tape: &'t Tape<T>) -> MlpVars<'m, 't, T> {
        MlpVars {
            mlp: self,
            vars: self.params.iter().map(|p| tape.param(p)).collect(),
        }
    }

    /// Lends every parameter to `tape` for one training step *without copying* (each buffer is
    /// swapped onto the tape, see [`autograd::lend`]); they come back when the returned
    /// [`LentMlp`] is dropped, which the borrow checker forces before the next `tape.reset()`.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// use dense::{Activation, Init, Mlp};
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let mut net: Mlp<f32> = Mlp::new(&[3, 8, 1], Activation::Tanh, Activation::Identity,
    ///     Init::TorchDefault, Init::TorchDefault, &mut rng);
    /// let mut grads = net.zeros_like_params();
    /// let mut tape = Tape::new();
    /// tape.reset();
    /// let lent = net.lend(&tape);
    /// let y = lent.forward(tape.constant(&Tensor::ones(&[5, 3])));
    /// lent.backward_to(y.sum(), &mut grads); // dL/dW₀, dL/db₀, … swapped into `grads`
    /// drop(lent);
    /// assert_eq!(grads[3].data(), &[5.0]); // dL/db₁ = 5 rows of 1
    /// assert_eq!(net.params()[0].shape(), &[3, 8]); // the parameters are back
    /// ```
    pub fn lend<'m, 't>(&'m mut self, tape: &'t Tape<T>) -> LentMlp<'m, 't, T> {
        LentMlp {
            activations: &self.activations,
            params: tape.lend_params(&mut self.params),
        }
    }

    /// Uses already-recorded vars as this network's parameters (e.g. the inputs that
    /// `autograd::gradcheck` hands its function). Panics unless their shapes match.
    pub fn with_vars<'m, 't>(&'m self, vars: Vec<Var<'t, T>>) -> MlpVars<'m, 't, T> {
        assert!(
            vars.len() == self.params.len()
                && vars
                    .iter()
                    .zip(&self.params)
                    .all(|(v, p)| v.shape() == p.shape()),
            "Mlp::with_vars: var shapes {:?} do not match the parameter shapes {:?}",
            vars.iter().map(|v| v.shape()).collect::<Vec<_>>(),
            self.params
                .iter()
                .map(|p| p.shape().to_vec())
                .collect::<Vec<_>>()
        );
        MlpVars { mlp: self, vars }
    }

    /// Shorthand for `let v = mlp.bind(tape); (v.forward(x), v)`.
    pub fn forward<'m, 't>(
        &'m self,
        tape: &'t Tape<T>,
        x: Var<'t, T>,
    ) -> (Var<'t, T>, MlpVars<'m, 't, T>) {
        let vars = self.bind(tape);
        (vars.forward(x), vars)
    }

    /// Tape-free inference: `input` holds `batch` rows of `in_dim` values, `out` receives
    /// `batch` rows of `out_dim`. One row runs on the GEMV path. Intermediate activations use a
    /// reused per-thread buffer, so acting does not allocate once warmed up.
    ///
    /// Gives bit-for-bit the values of [`MlpVars::forward`] on the same rows (the same kernels
    /// run in the same order).
    pub fn infer(&self, input: &[T], out: &mut [T]) {
        let (d_in, d_out) = (self.in_dim(), self.out_dim());
        assert!(
            input.len().is_multiple_of(d_in),
            "Mlp::infer: input has {} values, not a whole number of rows of {d_in}",
            input.len()
        );
        let batch = input.len() / d_in;
        assert!(
            out.len() == batch * d_out,
            "Mlp::infer: {batch} rows need an output of {} values, got {}",
            batch * d_out,
            out.len()
        );
        let widest = self.sizes[1..self.sizes.len() - 1]
            .iter()
            .copied()
            .max()
            .unwrap_or(0);
        let one = <T as crate::Scalar>::ONE;
        let zero = <T as crate::Scalar>::ZERO;
        T::with_scratch(|buf| {
            buf.clear();
            buf.resize(2 * batch * widest, zero);
            let (mut front, mut back) = buf.split_at_mut(batch * widest);
            let layers = self.num_layers();
            for l in 0..layers {
                let (k, n) = (self.sizes[l], self.sizes[l + 1]);
                let (w, b) = (&self.params[2 * l], &self.params[2 * l + 1]);
                let epi = Epilogue::new(Some(b.data()), self.activations[l]);
                let wv = MatRef::row_major(w.data(), k, n);
                let src: &[T] = if l == 0 { input } else { &front[..batch * k] };
                if l + 1 == layers {
                    gemm_fused(
                        one,
                        MatRef::row_major(src, batch, k),
                        wv,
                        zero,
                        MatMut::row_major(out, batch, n),
                        epi,
                    );
                } else {
                    gemm_fused(
                        one,
                        MatRef::row_major(src, batch, k),
                        wv,
                        zero,
                        MatMut::row_major(&mut back[..batch * n], batch, n),
                        epi,
                    );
                    std::mem::swap(&mut front, &mut back);
                }
            }
        });
    }

    /// Stores every parameter in `file` as `<prefix>layer{i}.weight` / `.bias`.
    pub fn save_to(&self, file: &mut ParamFile, prefix: &str) {
        for (name, p) in self.param_names().iter().zip(&self.params) {
            let data = if <T as autograd::Float>::NAME == "f32" {
                Data::F32(
                    p.data()
                        .iter()
                        .map(|&x| autograd::Float::to_f64(x) as f32)
                        .collect(),
                )
            } else {
                Data::F64(
                    p.data()
                        .iter()
                        .map(|&x| autograd::Float::to_f64(x))
                        .collect(),
                )
            };
            file.insert(&format!("{prefix}{name}"), p.shape(), data);
        }
    }

    /// Loads every parameter from `file` (written by [`Mlp::save_to`] with the same prefix).
    /// Nothing changes unless all tensors are present with the right shapes and dtype.
    pub fn load_from(&mut self, file: &ParamFile, prefix: &str) -> Result<(), ParamFileError> {
        let names = self.param_names();
        let mut staged = Vec::with_capacity(self.params.len());
        for (name, p) in names.iter().zip(&self.params) {
            let full = format!("{prefix}{name}");
            let values: Vec<T> = if <T as autograd::Float>::NAME == "f32" {
                file.f32(&full, p.shape())?
                    .iter()
                    .map(|&x| <T as autograd::Float>::from_f64(x as f64))
                    .collect()
            } else {
                file.f64(&full, p.shape())?
                    .iter()
                    .map(|&x| <T as autograd::Float>::from_f64(x))
                    .collect()
            };
            staged.push(values);
        }
        for (p, v) in self.params.iter_mut().zip(staged) {
            p.data_mut().copy_from_slice(&v);
        }
        Ok(())
    }
}

/// An [`Mlp`]'s parameters recorded on a tape: run [`MlpVars::forward`] (as often as needed, the
/// gradients add up), then collect the gradients with [`MlpVars::grads_into`].
#[derive(Clone, Debug)]
pub struct MlpVars<'m, 't, T: Element> {
    mlp: &'m Mlp<T>,
    vars: Vec<Var<'t, T>>,
}

impl<'m, 't, T: Element> MlpVars<'m, 't, T> {
    /// The network applied to `x` (`[batch, in_dim]`): one fused `linear` node per layer.
    pub fn forward(&self, x: Var<'t, T>) -> Var<'t, T> {
        forward_layers(&self.mlp.activations, |k| self.vars[k], x)
    }

    /// The parameter vars, in the order of [`Mlp::params`].
    pub fn vars(&self) -> &[Var<'t, T>] {
        &self.vars
    }

    /// Copies each parameter's gradient from `grads` into `out` (resized to the parameter
    /// shapes, reusing its buffers), in the order of [`Mlp::params`].
    pub fn grads_into(&self, grads: &Gradients<T>, out: &mut Vec<Tensor<T>>) {
        out.resize_with(self.vars.len(), Tensor::empty);
        for (dst, &v) in out.iter_mut().zip(&self.vars) {
            dst.copy_from(&grads[v]);
        }
    }
}

/// `act_l(h·W_l + b_l)` for every layer `l`, with `param(2l)` = W_l and `param(2l + 1)` = b_l.
fn forward_layers<'t, T: Element>(
    activations: &[Activation],
    param: impl Fn(usize) -> Var<'t, T>,
    x: Var<'t, T>,
) -> Var<'t, T> {
    let mut h = x;
    for (l, &act) in activations.iter().enumerate() {
        h = linear(h, param(2 * l), param(2 * l + 1), act);
    }
    h
}

/// An [`Mlp`] whose parameters are lent to a tape ([`Mlp::lend`]): run [`LentMlp::forward`]
/// (as often as needed, the gradients add up), then [`LentMlp::backward_to`]. Dropping it gives
/// the parameters back to the network.
pub struct LentMlp<'m, 't, T: Element> {
    activations: &'m [Activation],
    params: LentParams<'t, 'm, T>,
}

impl<'m, 't, T: Element> LentMlp<'m, 't, T> {
    /// The network applied to `x` (`[batch, in_dim]`): one fused `linear` node per layer.
    pub fn forward(&self, x: Var<'t, T>) -> Var<'t, T> {
        forward_layers(self.activations, |k| self.params.var(k), x)
    }

    /// The handle of parameter `k`, in the order of [`Mlp::params`].
    pub fn var(&self, k: usize) -> Var<'t, T> {
        self.params.var(k)
    }

    /// The lent parameters, for [`Var::backward_to_groups`] when the loss also depends on
    /// parameters lent apart from the network.
    pub fn lent(&self) -> &LentParams<'t, 'm, T> {
        &self.params
    }

    /// The reverse pass of `loss`, with dL/dW₀, dL/db₀, … swapped into `grads` (one tensor per
    /// parameter, e.g. from [`Mlp::zeros_like_params`]; replaced, not accumulated) without
    /// copying. See [`Var::backward_to`].
    pub fn backward_to(&self, loss: Var<'t, T>, grads: &mut [Tensor<T>]) {
        loss.backward_to(&self.params, grads);
    }
}
