//! Values saved on the tape for backward, and first writes of gradient slots.
//!
//! A rule that is the first to reach an input's gradient slot overwrites it instead of
//! zero-filling then adding (see `sink.rs`); a node used twice must still get both contributions,
//! and a slot reused from an earlier step must never leak its stale numbers. Each test here runs
//! a step on one tape, then a step with other numbers on the same (reset) tape, and holds the
//! second step's gradients to those of a fresh tape: a rule that overwrote when it should add, or
//! left part of a fresh slot unwritten, shows up as a difference.

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{CustomOp, GradSlot, Store, Tape, Tensor, Var};
use std::cell::Cell;
use std::rc::Rc;

/// y = sin x elementwise; forward saves cos x, and backward reads only that (x̄ = ȳ · cos x), so
/// a wrong or missing saved buffer gives a wrong gradient. Counts the times it was handed a
/// fresh slot (`Store::Overwrite`).
#[derive(Default)]
struct SavedSin {
    overwrites: Cell<usize>,
}

impl CustomOp<f64> for SavedSin {
    fn name(&self) -> &str {
        "saved_sin"
    }
    fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
        out.extend_from_slice(inputs[0]);
    }
    fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, saved: &mut Vec<f64>) {
        saved.clear();
        for (y, &x) in out.data_mut().iter_mut().zip(inputs[0].data()) {
            *y = x.sin();
            saved.push(x.cos());
        }
    }
    fn backward(
        &self,
        _inputs: &[&Tensor<f64>],
        _out: &Tensor<f64>,
        saved: &[f64],
        grad_out: &Tensor<f64>,
        grad_inputs: &mut [Option<GradSlot<'_, f64>>],
    ) {
        let Some((gx, store)) = grad_inputs[0].as_mut().map(GradSlot::write) else {
            return;
        };
        assert_eq!(saved.len(), grad_out.numel(), "saved_sin: saved buffer");
        let terms = gx.data_mut().iter_mut().zip(grad_out.data()).zip(saved);
        match store {
            Store::Overwrite => {
                self.overwrites.set(self.overwrites.get() + 1);
                terms.for_each(|((d, &g), &c)| *d = g * c);
            }
            Store::Accumulate => terms.for_each(|((d, &g), &c)| *d += g * c),
        }
    }
}

/// y = a (the first input); the second input gets no share of the gradient, and its slot is
/// left untouched by backward.
struct First;

impl CustomOp<f64> for First {
    fn name(&self) -> &str {
        "first"
    }
    fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
        out.extend_from_slice(inputs[0]);
    }
    fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, _saved: &mut Vec<f64>) {
        out.copy_from(inputs[0]);
    }
    fn backward(
        &self,
        _inputs: &[&Tensor<f64>],
        _out: &Tensor<f64>,
        _saved: &[f64],
        grad_out: &Tensor<f64>,
        grad_inputs: &mut [Option<GradSlot<'_, f64>>],
    ) {
        if let Some(ga) = grad_inputs[0].as_mut().map(GradSlot::add_into) {
            ga.data_mut()
                .iter_mut()
                .zip(grad_out.data())
                .for_each(|(d, &g)| *d += g);
        }
    }
}

/// A loss of parameters recorded on a tape.
type Loss<'a> = dyn for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64> + 'a;

fn data(n: usize, seed: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (i as f64 * 0.7 + seed).sin() * 1.5)
        .collect()
}

/// The gradients of `loss` for parameters `params`, on `tape` (reset first).
fn grads_on(tape: &mut Tape<f64>, params: &[Tensor<f64>], loss: &Loss) -> Vec<Vec<f64>> {
    tape.reset();
    let vars: Vec<Var<'_, f64>> = params.iter().map(|p| tape.param(p)).collect();
    let g = loss(tape, &vars).backward();
    vars.iter().map(|&v| g[v].data().to_vec()).collect()
}

/// Step 1 with `first`, then step 2 with `second` on the same tape, against `second` on a fresh
/// tape: the same gradients, whatever the slots held.
fn reused_tape_matches_a_fresh_one(shapes: &[&[usize]], loss: &Loss) {
    let make = |seed: f64| -> Vec<Tensor<f64>> {
        shapes
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let n = s.iter().product();
                Tensor::from_vec(data(n, seed + k as f64), s)
            })
            .collect()
    };
    let mut reused = Tape::new();
    let _ = grads_on(&mut reused, &make(10.0), loss);
    let second = make(-3.0);
    let again = grads_on(&mut reused, &second, loss);
    let fresh = grads_on(&mut Tape::new(), &second, loss);
    assert_eq!(again, fresh);
}

#[test]
fn a_custom_op_reading_its_saved_values_passes_gradcheck() {
    let op: Rc<dyn CustomOp<f64>> = Rc::new(SavedSin::default());
    let x = Tensor::from_vec(data(7, 0.2), &[7]);
    // Two nodes of the op: each backward must get its own node's saved values.
    let report = gradcheck(
        |t, v| {
            let y = t.custom(op.clone(), &[v[0]]);
            t.custom(op.clone(), &[y * 2.0])
        },
        &[x],
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-7), "{report}");
}

#[test]
fn saved_buffers_are_reused_across_steps() {
    let op: Rc<dyn CustomOp<f64>> = Rc::new(SavedSin::default());
    let mut tape = Tape::new();
    let x = Tensor::from_vec(data(1000, 0.5), &[1000]);
    let mut sizes = Vec::new();
    for _ in 0..4 {
        tape.reset();
        let xv = tape.param(&x);
        let g = tape.custom(op.clone(), &[xv]).sum().backward();
        assert!((g[xv].data()[3] - x.data()[3].cos()).abs() < 1e-15);
        sizes.push(tape.capacity_bytes());
    }
    // The first step allocates the saved buffer (1000 numbers, counted in the tape's bytes); the
    // later ones reuse it.
    assert!(sizes[0] >= 1000 * 8, "{sizes:?}");
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
}

#[test]
fn the_first_writer_overwrites_and_a_second_use_adds() {
    let op = Rc::new(SavedSin::default());
    let dyn_op: Rc<dyn CustomOp<f64>> = op.clone();
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec(vec![0.3, -1.1], &[2]));
    // sin x used twice, and x used by the op twice: x̄ = 2 cos x · (ȳ₁ + ȳ₂) with ȳ = 1 and 3.
    let s = tape.custom(dyn_op.clone(), &[x]);
    let t = tape.custom(dyn_op.clone(), &[x]);
    let g = (s.sum() + t.sum() * 3.0).backward();
    for (gv, xv) in g[x].data().iter().zip([0.3f64, -1.1]) {
        assert!((gv - 4.0 * xv.cos()).abs() < 1e-15, "{gv}");
    }
    // Exactly one of the two rules found x̄ fresh.
    assert_eq!(op.overwrites.get(), 1);
}

#[test]
fn an_input_used_twice_by_one_node_gets_both_shares() {
    let shapes: &[&[usize]] = &[&[3, 3]];
    // x * x: the first share overwrites, the second adds (x̄ = 2x ȳ).
    reused_tape_matches_a_fresh_one(shapes, &|t, v| {
        (v[0] * v[0] * t.constant(&Tensor::from_vec(data(9, 1.0), &[3, 3]))).sum()
    });
    // x · x: Ā = C̄·xᵀ is written first, then B̄ = xᵀ·C̄ added.
    reused_tape_matches_a_fresh_one(shapes, &|_, v| v[0].matmul(v[0]).tanh().sum());
    // Checked against finite differences too, so a gradient that lost a share cannot pass.
    let x = Tensor::from_vec(data(9, 2.0), &[3, 3]);
    let report = gradcheck(
        |_, v| (v[0] * v[0]).matmul(v[0]).tanh(),
        &[x],
        &GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
}

/// w feeds a layer norm, a residual add, a custom op (through both), a product, a reshape and a
/// broadcast difference with the layer norm's gain.
fn shared_parameter_loss<'t>(t: &'t Tape<f64>, v: &[Var<'t, f64>]) -> Var<'t, f64> {
    let op: Rc<dyn CustomOp<f64>> = Rc::new(SavedSin::default());
    let (w, gain, bias) = (v[0], v[1], v[2]);
    let normed = w.layer_norm(gain, bias, 1e-5);
    let mixed = t.custom(op, &[normed + w]) * w.reshape(&[2, 3]);
    (mixed.reshape(&[6]).sum() + (w - gain).sum()).tanh()
}

#[test]
fn a_parameter_used_in_several_places_gets_every_share() {
    let shapes: &[&[usize]] = &[&[2, 3], &[3], &[3]];
    let loss = shared_parameter_loss;
    reused_tape_matches_a_fresh_one(shapes, &loss);
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| Tensor::from_vec(data(s.iter().product(), k as f64), s))
        .collect();
    let report = gradcheck(loss, &inputs, &GradcheckConfig::default());
    assert!(report.passes(1e-6), "{report}");
}

/// `First(a, b)`, summed.
fn first_loss<'t>(t: &'t Tape<f64>, v: &[Var<'t, f64>]) -> Var<'t, f64> {
    t.custom(Rc::new(First), &[v[0], v[1]]).sum()
}

#[test]
fn a_slot_a_custom_op_leaves_alone_holds_zeros_not_stale_numbers() {
    // b reaches the loss only through `First`, which gives it no share: b̄ must be 0, even on a
    // tape whose slot for b held numbers from the step before.
    let (a, b) = (
        Tensor::ones(&[4]),
        Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]),
    );
    let mut tape = Tape::new();
    // Step 1 fills b's slot (its gradient is a = 1), step 2 leaves it to `First`.
    let before = grads_on(&mut tape, &[b.clone(), a.clone()], &|_, v| {
        (v[0] * v[1]).sum()
    });
    assert_eq!(before[1], b.data().to_vec());
    let after = grads_on(&mut tape, &[a, b], &first_loss);
    assert_eq!(after, vec![vec![1.0; 4], vec![0.0; 4]]);
}

#[test]
fn layer_norm_reads_its_saved_row_statistics() {
    // Rows of very different scales, and a reused tape whose rows had other statistics.
    let shapes: &[&[usize]] = &[&[5, 4], &[4], &[4]];
    let w = Tensor::from_vec(data(20, 4.0), &[5, 4]);
    reused_tape_matches_a_fresh_one(shapes, &|t, v| {
        let scaled = v[0] * t.constant(&Tensor::from_vec(vec![1.0, 10.0, 0.1, 3.0], &[4]));
        (scaled.layer_norm(v[1], v[2], 1e-5) * t.constant(&w)).sum()
    });
}
