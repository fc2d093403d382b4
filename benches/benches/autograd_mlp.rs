//! Forward+backward of a 4-64-64-2 tanh MLP built from `autograd` ops alone (reference matmul,
//! broadcasting bias add, tanh, log_softmax, gather: the policy-gradient loss of a CartPole-sized
//! policy) at batch 1, 64 and 4096, `f32`. One iteration = one training step: reset, record,
//! backward into reused gradient buffers.
//!
//! Run: `cargo bench -p benches --bench autograd_mlp -- --warm-up-time 1 --measurement-time 2`

use autograd::{Gradients, Tape, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

/// Layer sizes of the policy network.
const SIZES: [usize; 4] = [4, 64, 64, 2];

fn bench_mlp(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // Parameters: (W, b) per layer, W scaled by 1/sqrt(fan_in).
    let params: Vec<(Tensor<f32>, Tensor<f32>)> = SIZES
        .windows(2)
        .map(|w| {
            let mut wt = Tensor::<f32>::randn(&[w[0], w[1]], &mut rng);
            let s = 1.0 / (w[0] as f32).sqrt();
            wt.data_mut().iter_mut().for_each(|x| *x *= s);
            (wt, Tensor::zeros(&[w[1]]))
        })
        .collect();
    let mut group = c.benchmark_group("autograd_mlp_4_64_64_2");
    for batch in [1usize, 64, 4096] {
        let obs = Tensor::<f32>::randn(&[batch, SIZES[0]], &mut rng);
        let adv = Tensor::<f32>::randn(&[batch], &mut rng);
        let actions: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..SIZES[3])).collect();
        let mut tape = Tape::<f32>::new();
        let mut grads = Gradients::new();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("forward_backward", batch), |b| {
            b.iter(|| {
                tape.reset();
                let mut h = tape.constant(&obs);
                let last = params.len() - 1;
                for (i, (w, bias)) in params.iter().enumerate() {
                    let z = h.matmul(tape.param(w)) + tape.param(bias);
                    h = if i < last { z.tanh() } else { z };
                }
                // REINFORCE surrogate: −mean(log π(a|s) · A)
                let logp = h.log_softmax(1).gather(1, &actions);
                let loss = -(logp * tape.constant(&adv)).mean();
                loss.backward_into(&mut grads);
                black_box(grads.len());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mlp);
criterion_main!(benches);
