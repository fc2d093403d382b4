//! Steady-state allocation counts, with a counting global allocator (this test binary only):
//! optimiser steps and clipping allocate nothing; tape-free inference allocates nothing once its
//! per-thread buffers are warm; a GEMM reuses its packing buffers.

use std::alloc::{GlobalAlloc, Layout, System};

use autograd::Tensor;
use dense::optim::{Adam, AdamConfig, Sgd, SgdConfig, clip_grad_norm};
use dense::{Activation, Init, MatMut, MatRef, Mlp};
use rand::SeedableRng;

struct Counting;

thread_local! {
    /// Only allocations made by the thread under test are counted (the test harness has others,
    /// and tests run in parallel), so both the switch and the count are per thread.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(|n| n.get());
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|n| n.get()) - before
}

#[test]
fn steady_state_does_not_allocate() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut mlp: Mlp<f32> = Mlp::new(
        &[4, 64, 64, 2],
        Activation::Tanh,
        Activation::Identity,
        Init::TorchDefault,
        Init::TorchDefault,
        &mut rng,
    );
    let mut grads: Vec<Tensor<f32>> = mlp
        .params()
        .iter()
        .map(|p| Tensor::full(p.shape(), 0.01))
        .collect();

    let mut adam = Adam::new(AdamConfig::default());
    adam.step(mlp.params_mut(), &grads); // first step creates the moments
    assert_eq!(
        allocations(|| adam.step(mlp.params_mut(), &grads)),
        0,
        "Adam::step"
    );
    let mut sgd = Sgd::new(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::default()
    });
    sgd.step(mlp.params_mut(), &grads);
    assert_eq!(
        allocations(|| sgd.step(mlp.params_mut(), &grads)),
        0,
        "Sgd::step"
    );
    assert_eq!(
        allocations(|| {
            clip_grad_norm(&mut grads, 0.1);
        }),
        0,
        "clip_grad_norm"
    );

    for batch in [1usize, 64] {
        let x = vec![0.5f32; batch * 4];
        let mut out = vec![0.0f32; batch * 2];
        mlp.infer(&x, &mut out); // warms the per-thread buffers
        assert_eq!(
            allocations(|| mlp.infer(&x, &mut out)),
            0,
            "Mlp::infer at batch {batch}"
        );
    }

    let a = vec![1.0f32; 300 * 300];
    let mut c = vec![0.0f32; 300 * 300];
    let run = |c: &mut Vec<f32>| {
        dense::gemm(
            1.0,
            MatRef::row_major(&a, 300, 300),
            MatRef::row_major(&a, 300, 300).t(),
            0.0,
            MatMut::row_major(c, 300, 300),
        )
    };
    run(&mut c);
    assert_eq!(allocations(|| run(&mut c)), 0, "gemm 300×300");
}

/// A whole training step with the parameters lent to the tape and the gradients swapped out
/// (`Mlp::lend`, `LentMlp::backward_to`): once warm it allocates nothing, at batch 1 and on
/// batches large enough for the thread pool.
#[test]
fn lent_training_step_does_not_allocate() {
    use autograd::Tape;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut mlp: Mlp<f32> = Mlp::new(
        &[4, 64, 64, 2],
        Activation::Tanh,
        Activation::Identity,
        Init::TorchDefault,
        Init::TorchDefault,
        &mut rng,
    );
    let mut grads = mlp.zeros_like_params();
    let mut adam = Adam::new(AdamConfig::default());
    let mut tape = Tape::new();
    // Two threads, so the large batches run their GEMMs on the pool, and the largest also the
    // fused backward pass (16384 × 64 ≥ `PARALLEL_MIN_ELEMENTS`), the pool warmed by the first
    // steps; results do not depend on it.
    const { assert!(16384 * 64 >= dense::threads::PARALLEL_MIN_ELEMENTS) };
    dense::threads::set_threads(2);
    for batch in [1usize, 64, 300, 4096, 16384] {
        let x = Tensor::<f32>::full(&[batch, 4], 0.3);
        let w = Tensor::<f32>::full(&[batch, 2], -0.7);
        let mut counts = Vec::new();
        for _ in 0..4 {
            counts.push(allocations(|| {
                tape.reset();
                let lent = mlp.lend(&tape);
                let y = lent.forward(tape.constant(&x));
                lent.backward_to((y * tape.constant(&w)).sum(), &mut grads);
                drop(lent);
                adam.step(mlp.params_mut(), &grads);
            }));
        }
        assert_eq!(
            &counts[2..],
            &[0, 0],
            "allocations per lent step at batch {batch}: {counts:?}"
        );
    }
}
