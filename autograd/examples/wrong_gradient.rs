//! Chapter 2 of the course (`docs/02-tensors-and-gradcheck.md`): a deliberately wrong backward
//! rule, and the finite-difference check that catches it.
//!
//! The op is y = tanh(x), written as a [`CustomOp`] so that we choose its backward rule. The right
//! rule is dy/dx = 1 − tanh(x)² = 1 − y²; the wrong one forgets the square, 1 − y, a slip that
//! still gives the right answer at x = 0 (both are 1 there) and so passes a test that only looks
//! at one point. [`gradcheck`] compares the tape's gradient with central differences
//! (f(x + h) − f(x − h)) / 2h at every element of random inputs, and rejects it.
//!
//! It also shows broadcasting undone: the gradient of a bias added to every row is the sum of
//! the rows' gradients.
//!
//! Run: `cargo run --release -p autograd --example wrong_gradient`

use autograd::gradcheck::{GradcheckConfig, gradcheck};
use autograd::{CustomOp, GradSlot, Tape, Tensor};
use rand::SeedableRng;
use std::rc::Rc;

/// tanh with a backward rule that is right or wrong on purpose.
struct Tanh {
    forget_the_square: bool,
}

impl CustomOp<f64> for Tanh {
    fn name(&self) -> &str {
        "tanh"
    }

    fn output_shape(&self, inputs: &[&[usize]], out: &mut Vec<usize>) {
        out.extend_from_slice(inputs[0]);
    }

    fn forward(&self, inputs: &[&Tensor<f64>], out: &mut Tensor<f64>, _saved: &mut Vec<f64>) {
        for (y, &x) in out.data_mut().iter_mut().zip(inputs[0].data()) {
            *y = x.tanh();
        }
    }

    fn backward(
        &self,
        _inputs: &[&Tensor<f64>],
        out: &Tensor<f64>,
        _saved: &[f64],
        grad_out: &Tensor<f64>,
        grad_inputs: &mut [Option<GradSlot<'_, f64>>],
    ) {
        let Some(gx) = grad_inputs[0].as_mut().map(GradSlot::add_into) else {
            return;
        };
        for ((d, &y), &g) in gx
            .data_mut()
            .iter_mut()
            .zip(out.data())
            .zip(grad_out.data())
        {
            let local = if self.forget_the_square {
                1.0 - y
            } else {
                1.0 - y * y
            };
            *d += g * local; // chain rule: dL/dx += dL/dy · dy/dx
        }
    }
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let inputs = [Tensor::<f64>::randn(&[3, 4], &mut rng)];
    let config = GradcheckConfig::default();
    let tolerance = 1e-6;
    for forget_the_square in [false, true] {
        let op: Rc<dyn CustomOp<f64>> = Rc::new(Tanh { forget_the_square });
        let report = gradcheck(|tape, xs| tape.custom(op.clone(), xs), &inputs, &config);
        let rule = if forget_the_square {
            "1 − y "
        } else {
            "1 − y²"
        };
        let verdict = if report.passes(tolerance) {
            "PASS"
        } else {
            "FAIL"
        };
        println!("backward rule dy/dx = {rule}: {verdict} (tolerance {tolerance:e})\n  {report}");
        // The example fails (exit code 101) if gradcheck ever stops telling the two apart.
        assert_eq!(
            report.passes(tolerance),
            !forget_the_square,
            "gradcheck misjudged {rule}"
        );
    }

    // At x = 0 the two rules agree, so a test at that single point cannot tell them apart.
    for forget_the_square in [false, true] {
        let tape = Tape::<f64>::new();
        let x = tape.param(&Tensor::scalar(0.0));
        let y = tape.custom(Rc::new(Tanh { forget_the_square }), &[x]);
        let g = y.sum().backward()[x].item();
        println!("at x = 0, forget_the_square = {forget_the_square}: dy/dx = {g}");
    }

    // Broadcasting: X [3, 2] + b [2] adds b to every row. L = sum(X + b), so dL/db_j counts
    // the rows: the gradient flowing into each row is summed back to b's shape.
    let tape = Tape::<f64>::new();
    let x = tape.param(&Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[3, 2],
    ));
    let b = tape.param(&Tensor::from_vec(vec![0.5, -0.5], &[2]));
    let grads = (x + b).sum().backward();
    println!("\nL = sum(X + b), X is 3×2, b has 2 elements");
    println!(
        "  dL/dX = {:?}  (shape {:?})",
        grads[x].data(),
        grads[x].shape()
    );
    println!(
        "  dL/db = {:?}  (shape {:?}): each entry sums 3 rows",
        grads[b].data(),
        grads[b].shape()
    );
}
