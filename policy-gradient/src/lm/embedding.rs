//! Token embeddings: a row lookup recorded on the tape as one custom op.
//!
//! A token id `v` becomes the row `E[v, :]` of a learned table `E` of shape `[V, D]`:
//!
//! ```text
//! forward:  out[n, :] = E[ids[n], :]
//! backward: ∂L/∂E[v, :] += Σ_{n : ids[n] = v} ∂L/∂out[n, :]
//! ```
//!
//! This is the product of a one-hot matrix with `E` without ever building the one-hot matrix:
//! the backward rule scatters each output row's gradient back into the row it was read from,
//! adding where a token appears more than once. The ids are integers, not tensors, so the op
//! holds them itself ([`autograd::CustomOp`] inputs are tensors only).

use autograd::{CustomOp, Float, Tensor, Var};
use std::rc::Rc;

/// The lookup `out[n] = table[ids[n]]` (see the module docs).
#[derive(Clone, Debug)]
pub struct Embedding {
    ids: Vec<usize>,
}

impl Embedding {
    /// A lookup of these ids (any table shape `[V, D]` with `V` larger than every id).
    pub fn new(ids: Vec<usize>) -> Self {
        Self { ids }
    }
}

/// Records the lookup of `ids` in `table` (`[V, D]`), giving `[ids.len(), D]`.
///
/// ```
/// use autograd::{Tape, Tensor};
/// use policy_gradient::lm::embedding::embed;
/// let tape = Tape::<f32>::new();
/// let e = tape.param(&Tensor::from_vec(vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2]));
/// let x = embed(e, &[2, 0, 2]);
/// assert_eq!(x.value().data(), &[20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
/// let g = x.sum().backward();
/// assert_eq!(g[e].data(), &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]); // row 2 was read twice
/// ```
pub fn embed<'t, T: Float>(table: Var<'t, T>, ids: &[usize]) -> Var<'t, T> {
    let op: Rc<dyn CustomOp<T>> = Rc::new(Embedding::new(ids.to_vec()));
    table.tape().custom(op, &[table])
}

impl<T: Float> CustomOp<T> for Embedding {
    fn name(&self) -> &str {
        "embedding"
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Vec<usize> {
        assert!(
            inputs.len() == 1 && inputs[0].len() == 2,
            "embedding: expected one [V, D] table, got shapes {inputs:?}"
        );
        let (v, d) = (inputs[0][0], inputs[0][1]);
        if let Some(&bad) = self.ids.iter().find(|&&i| i >= v) {
            panic!("embedding: id {bad} is outside the table of {v} rows");
        }
        vec![self.ids.len(), d]
    }

    fn forward(&self, inputs: &[&Tensor<T>], out: &mut Tensor<T>) {
        let table = inputs[0].data();
        let d = inputs[0].shape()[1];
        for (row, &id) in out.data_mut().chunks_exact_mut(d).zip(&self.ids) {
            // out[n, :] = E[ids[n], :]
            row.copy_from_slice(&table[id * d..(id + 1) * d]);
        }
    }

    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        _out: &Tensor<T>,
        grad_out: &Tensor<T>,
        grad_inputs: &mut [Option<&mut Tensor<T>>],
    ) {
        let Some(g_table) = grad_inputs[0].as_deref_mut() else {
            return;
        };
        let d = inputs[0].shape()[1];
        let g_table = g_table.data_mut();
        for (g_row, &id) in grad_out.data().chunks_exact(d).zip(&self.ids) {
            // ∂L/∂E[id, :] += ∂L/∂out[n, :]
            for (acc, &g) in g_table[id * d..(id + 1) * d].iter_mut().zip(g_row) {
                *acc += g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::{GradcheckConfig, Tape, gradcheck};
    use rand::SeedableRng;

    #[test]
    fn gradient_matches_finite_differences_with_repeated_ids() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let table = Tensor::<f64>::randn(&[5, 3], &mut rng);
        let ids = [4usize, 0, 4, 2, 2, 2];
        // A non-linear function of the lookup so each row's gradient differs.
        let report = gradcheck(
            |_tape, xs| embed(xs[0], &ids).tanh(),
            &[table],
            &GradcheckConfig::default(),
        );
        assert!(report.max_rel_err < 1e-6, "{report}");
    }

    #[test]
    fn unread_rows_get_zero_gradient() {
        let tape = Tape::<f64>::new();
        let e = tape.param(&Tensor::ones(&[4, 2]));
        let g = (embed(e, &[1]) * 3.0).sum().backward();
        assert_eq!(g[e].data(), &[0.0, 0.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "embedding: id 4 is outside the table of 4 rows")]
    fn ids_outside_the_table_panic() {
        let tape = Tape::<f32>::new();
        let e = tape.param(&Tensor::ones(&[4, 2]));
        let _ = embed(e, &[0, 4]);
    }
}
