//! Chapter 4 of the course (`docs/04-layers-and-optimizers.md`): why the scale of the initial
//! weights matters, measured on a deep stack of tanh layers.
//!
//! A batch of 512 random inputs (each component N(0, 1)) goes through 20 layers h ← tanh(h·W) of
//! width 256, with W drawn by each initialiser of `dense::Init`. For a few depths the program
//! prints the standard deviation of the activations and the fraction that is saturated
//! (|h| > 0.99, where tanh's derivative 1 − h² is below 0.02 and almost no gradient passes).
//! Too small a scale and the signal shrinks towards 0 layer after layer; too large and every
//! unit sits at ±1. Initialisers that keep the variance (Xavier, orthogonal) keep it alive.
//!
//! Run: `cargo run --release -p dense --example initialisation`

use dense::{Init, MatMut, MatRef, gemm};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 512;
const WIDTH: usize = 256;
const DEPTH: usize = 20;
const REPORT_AT: [usize; 4] = [1, 5, 10, 20];

/// (standard deviation, fraction with |h| > 0.99) of the activations.
fn stats(h: &[f32]) -> (f64, f64) {
    let n = h.len() as f64;
    let mean = h.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = h.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let saturated = h.iter().filter(|x| x.abs() > 0.99).count() as f64 / n;
    (var.sqrt(), saturated)
}

fn main() {
    let inits = [
        (
            "normal σ = 0.5/√fan_in (too small)",
            Init::KaimingNormal { gain: 0.5 },
        ),
        (
            "normal σ = 1 (too large)",
            Init::KaimingNormal {
                gain: (WIDTH as f64).sqrt(),
            },
        ),
        ("Xavier normal, gain 1", Init::XavierNormal { gain: 1.0 }),
        ("orthogonal, gain 1", Init::Orthogonal { gain: 1.0 }),
        (
            "orthogonal, gain √2",
            Init::Orthogonal { gain: 2f64.sqrt() },
        ),
    ];
    print!("{:<36}", "std of h (saturated share) at depth");
    for d in REPORT_AT {
        print!("{:>18}", d);
    }
    println!();
    for (name, init) in inits {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x = autograd::Tensor::<f32>::randn(&[BATCH, WIDTH], &mut rng);
        let mut h = x.data().to_vec();
        let mut next = vec![0.0f32; BATCH * WIDTH];
        print!("{name:<36}");
        for depth in 1..=DEPTH {
            let w: autograd::Tensor<f32> = init.weight(WIDTH, WIDTH, &mut rng);
            let (a, b) = (
                MatRef::row_major(&h, BATCH, WIDTH),
                MatRef::row_major(w.data(), WIDTH, WIDTH),
            );
            gemm(1.0, a, b, 0.0, MatMut::row_major(&mut next, BATCH, WIDTH)); // next = h·W
            next.iter_mut().for_each(|z| *z = z.tanh());
            std::mem::swap(&mut h, &mut next);
            if REPORT_AT.contains(&depth) {
                let (sd, saturated) = stats(&h);
                print!("{:>18}", format!("{sd:.3} ({:.0}%)", 100.0 * saturated));
            }
        }
        println!();
    }
}
