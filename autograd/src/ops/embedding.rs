//! Embedding lookup: integer ids pick rows of a learned table.
//!
//! A table `E` of shape `[V, D]` maps id v to its row `E[v, ·]`. Looking up ids `[n₀, n₁, …]`
//! gives one row each:
//!
//! ```text
//! forward:   y[r, ·] = E[ids[r], ·]
//! backward:  Ē[v, ·] += Σ_{r : ids[r] = v} ȳ[r, ·]      (scatter-add; rows never read get 0)
//! ```
//!
//! It is the product `onehot(ids) · E` without building the one-hot matrix, which is why its
//! backward is `onehot(ids)ᵀ · ȳ`: each output row's gradient goes back to the row it was read
//! from, summed where an id repeats. The same op serves both embeddings of a transformer:
//! token embeddings look up the token ids, position embeddings look up the positions `0, 1, …,
//! T − 1` in a table of `[context, D]`. The ids are kept in the tape's integer pool for backward.

use crate::float::Float;
use crate::node::Op;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

pub(crate) fn backward<T: Float>(g: &Tensor<T>, sink: &mut Sink<'_, T>, table: u32, ids: &[usize]) {
    if let Some(gt) = sink.grad(table) {
        let d = g.shape[1];
        for (r, &id) in ids.iter().enumerate() {
            let (src, dst) = (&g.data[r * d..][..d], &mut gt.data[id * d..][..d]);
            for (e, &y) in dst.iter_mut().zip(src) {
                *e += y;
            }
        }
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Rows of this table `[V, D]` picked by `ids`: `y[r, ·] = E[ids[r], ·]`, shape
    /// `[ids.len(), D]`. `Ē[v, ·] = Σ_{r : ids[r] = v} ȳ[r, ·]` (scatter-add).
    ///
    /// Token and position embeddings of a sequence of length 3:
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let tokens = tape.param(&Tensor::from_vec(vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2]));
    /// let positions = tape.param(&Tensor::from_vec(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[3, 2]));
    /// let x = tokens.embed(&[2, 0, 2]) + positions.embed(&[0, 1, 2]);
    /// assert_eq!(x.value().data(), &[20.1, 21.2, 0.3, 1.4, 20.5, 21.6]);
    /// let g = x.sum().backward();
    /// assert_eq!(g[tokens].data(), &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]); // row 2 was read twice
    /// assert_eq!(g[positions].data(), &[1.0; 6]);
    /// ```
    ///
    /// # Panics
    /// If the table is not 2-d or an id is not below its number of rows; the message names the id
    /// and the shape.
    pub fn embed(self, ids: &[usize]) -> Self {
        let table = self.index;
        self.tape.record(
            "embed",
            &[self],
            |v, out| {
                let tv = &v[table as usize];
                assert!(
                    tv.ndim() == 2,
                    "embed: expected a table [V, D], got shape {:?}",
                    tv.shape
                );
                let (rows, d) = (tv.shape[0], tv.shape[1]);
                out.shape.clear();
                out.shape.extend_from_slice(&[ids.len(), d]);
                out.data.clear();
                for &id in ids {
                    assert!(
                        id < rows,
                        "embed: id {id} is out of range for a table of {rows} rows (shape {:?})",
                        tv.shape
                    );
                    out.data.extend_from_slice(&tv.data[id * d..(id + 1) * d]);
                }
            },
            |pool, _| {
                let start = pool.len() as u32;
                pool.extend_from_slice(ids);
                Op::Embed { table, start }
            },
        )
    }
}
