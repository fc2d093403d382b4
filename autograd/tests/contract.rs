//! The written contracts: what backward returns, that nothing accumulates, no_grad, detach,
//! parameters vs constants, custom ops, and stale handles.

use autograd::{CustomOp, GradSlot, Gradients, Tape, Tensor};
use std::rc::Rc;

#[test]
fn backward_twice_gives_identical_fresh_gradients() {
    let tape = Tape::<f64>::new();
    let w = tape.param(&Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]));
    let loss = (w * w).sum().tanh();
    let g1 = loss.backward();
    let g2 = loss.backward();
    assert_eq!(g1[w], g2[w]);
    // Nothing accumulated: the gradient is the true one, not twice it.
    let s: f64 = [0.25, 1.0, 4.0].iter().sum();
    let dt = 1.0 - s.tanh().powi(2);
    let want = [2.0 * 0.5 * dt, -2.0 * dt, 2.0 * 2.0 * dt];
    for (g, w) in g1[w].data().iter().zip(want) {
        assert!((g - w).abs() < 1e-12);
    }
}

#[test]
fn backward_into_replaces_previous_contents() {
    let tape = Tape::<f32>::new();
    let w = tape.param(&Tensor::ones(&[2]));
    let mut grads = Gradients::new();
    (w * 3.0).sum().backward_into(&mut grads);
    assert_eq!(grads[w].data(), &[3.0, 3.0]);
    (w * 5.0).sum().backward_into(&mut grads);
    assert_eq!(grads[w].data(), &[5.0, 5.0]);
}

#[test]
fn unused_params_get_zeros_and_constants_get_none() {
    let tape = Tape::<f64>::new();
    let used = tape.param(&Tensor::scalar(2.0));
    let unused = tape.param(&Tensor::zeros(&[2, 2]));
    let c = tape.constant(&Tensor::scalar(3.0));
    let y = used * c;
    let later = tape.param(&Tensor::ones(&[3]));
    let g = y.backward();
    assert_eq!(g[used].item(), 3.0);
    assert_eq!(g[unused], Tensor::zeros(&[2, 2]));
    assert_eq!(g[later], Tensor::zeros(&[3]));
    assert!(g.get(c).is_none());
    assert!(g.get(y).is_none());
    assert_eq!(g.len(), 3);
}

#[test]
#[should_panic(expected = "Gradients: Var #2 is not a parameter")]
fn indexing_a_constant_panics_with_a_message() {
    let tape = Tape::<f64>::new();
    let w = tape.param(&Tensor::scalar(2.0));
    let c = tape.constant(&Tensor::scalar(3.0));
    let y = w * c;
    let g = y.backward();
    let _ = &g[y];
}

#[test]
#[should_panic(expected = "backward: expected a one-element output (a loss), got shape [2, 3]")]
fn backward_of_a_non_scalar_panics() {
    let tape = Tape::<f64>::new();
    let w = tape.param(&Tensor::zeros(&[2, 3]));
    let _ = w.tanh().backward();
}

#[test]
fn no_grad_records_no_gradient_and_restores() {
    let tape = Tape::<f64>::new();
    let w = tape.param(&Tensor::scalar(2.0));
    let inside = tape.no_grad(|| {
        assert!(tape.is_no_grad());
        let nested = tape.no_grad(|| w * w);
        assert!(tape.is_no_grad());
        nested + w
    });
    assert!(!tape.is_no_grad());
    assert!(!inside.requires_grad());
    assert_eq!(inside.item(), 6.0);
    // The constant computed under no_grad blocks the gradient: d(inside · w)/dw = inside = 6.
    let g = (inside * w).backward();
    assert_eq!(g[w].item(), 6.0);
}

#[test]
fn no_grad_restores_after_a_panic() {
    let tape = Tape::<f64>::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tape.no_grad(|| panic!("inside"));
    }));
    assert!(r.is_err());
    assert!(!tape.is_no_grad());
}

#[test]
fn detach_stops_the_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::scalar(3.0));
    // y = x · detach(x): dy/dx = detach(x) = 3, not 2x = 6.
    let y = x * x.detach();
    assert_eq!(y.item(), 9.0);
    assert_eq!(y.backward()[x].item(), 3.0);
}

#[test]
fn reusing_a_node_sums_its_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::scalar(1.5));
    let t = x.tanh();
    let y = t * t + t; // dy/dx = (2t + 1)(1 - t²)
    let tv = 1.5f64.tanh();
    let want = (2.0 * tv + 1.0) * (1.0 - tv * tv);
    assert!((y.backward()[x].item() - want).abs() < 1e-12);
}

#[test]
#[should_panic(expected = "is from a different tape or a later step")]
fn gradients_from_an_old_step_are_rejected() {
    let mut tape = Tape::<f64>::new();
    let g = {
        let w = tape.param(&Tensor::scalar(1.0));
        (w * 2.0).backward()
    };
    tape.reset();
    let w = tape.param(&Tensor::scalar(1.0));
    let _ = g.get(w);
}

#[test]
#[should_panic(expected = "add: an operand belongs to a different tape")]
fn mixing_tapes_panics() {
    let t1 = Tape::<f64>::new();
    let t2 = Tape::<f64>::new();
    let _ = t1.scalar(1.0) + t2.scalar(2.0);
}

/// y = x₀ · x₁ elementwise, as a custom op (no broadcasting).
struct Product;

impl CustomOp<f64> for Product {
    fn name(&self) -> &str {
        "product"
    }
    fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
        assert!(
            inputs.len() == 2 && inputs[0] == inputs[1],
            "product: expected two equal shapes, got {inputs:?}"
        );
        out.extend_from_slice(inputs[0]);
    }
    fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, _saved: &mut Vec<f64>) {
        for ((y, a), b) in out
            .data_mut()
            .iter_mut()
            .zip(inputs[0].data())
            .zip(inputs[1].data())
        {
            *y = a * b;
        }
    }
    fn backward(
        &self,
        inputs: &[&Tensor<f64>],
        _out: &Tensor<f64>,
        _saved: &[f64],
        g: &Tensor<f64>,
        grads: &mut [Option<GradSlot<'_, f64>>],
    ) {
        for (k, other) in [(0, 1), (1, 0)] {
            if let Some(gk) = grads[k].as_mut().map(GradSlot::add_into) {
                for ((d, &gv), &o) in gk
                    .data_mut()
                    .iter_mut()
                    .zip(g.data())
                    .zip(inputs[other].data())
                {
                    *d += gv * o;
                }
            }
        }
    }
}

#[test]
fn custom_op_gradients_including_a_repeated_input() {
    let op: Rc<dyn CustomOp<f64>> = Rc::new(Product);
    let tape = Tape::<f64>::new();
    let a = tape.param(&Tensor::from_vec(vec![1.0, 2.0], &[2]));
    let b = tape.constant(&Tensor::from_vec(vec![3.0, -4.0], &[2]));
    let y = tape.custom(op.clone(), &[a, b]).sum() + tape.custom(op.clone(), &[a, a]).sum();
    // dy/da = b + 2a
    assert_eq!(y.backward()[a].data(), &[5.0, 0.0]);
    let report = autograd::gradcheck(
        |t, v| t.custom(op.clone(), &[v[0], v[1]]).tanh(),
        &[
            Tensor::from_vec(vec![0.3, -0.7, 1.1], &[3]),
            Tensor::from_vec(vec![0.9, 0.2, -0.4], &[3]),
        ],
        &autograd::GradcheckConfig::default(),
    );
    assert!(report.passes(1e-6), "{report}");
}

#[test]
#[should_panic(expected = "product: expected two equal shapes, got [[2], [3]]")]
fn custom_op_shape_mismatch_panics_with_its_message() {
    let tape = Tape::<f64>::new();
    let a = tape.param(&Tensor::zeros(&[2]));
    let b = tape.param(&Tensor::zeros(&[3]));
    let _ = tape.custom(Rc::new(Product), &[a, b]);
}

#[test]
fn reset_forgets_nodes() {
    let mut tape = Tape::<f32>::new();
    {
        let x = tape.param(&Tensor::ones(&[4]));
        let _ = (x * x).sum();
    }
    assert_eq!(tape.len(), 3);
    tape.reset();
    assert!(tape.is_empty());
}

#[test]
fn no_grad_computes_the_same_bits_and_records_no_integer_data() {
    let x = Tensor::from_vec(vec![0.3f32, -1.2, 2.5, 0.7, -0.1, 1.9], &[2, 3]);
    let run = |tape: &Tape<f32>| {
        let v = tape.param(&x);
        let h = (v.tanh() * 1.5 + v.sigmoid())
            .log_softmax(1)
            .gather(1, &[2, 0]);
        tape.concat(&[h, h], 0).sum().value()
    };
    let recorded = Tape::new();
    let y1 = run(&recorded);
    let free = Tape::new();
    let y2 = free.no_grad(|| run(&free));
    assert_eq!(y1, y2);
    // The recording tape kept gather indices and concat inputs; the no_grad tape kept none.
    assert!(free.capacity_bytes() < recorded.capacity_bytes());
}
