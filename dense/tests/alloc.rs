//! Steady-state allocation counts, with a counting global allocator (this test binary only):
//! optimiser steps and clipping allocate nothing; tape-free inference allocates nothing once its
//! per-thread buffers are warm; a GEMM reuses its packing buffers; a whole training step on two
//! threads allocates nothing on either thread once warm.
//!
//! The binary has its own `main` (`harness = false` in `Cargo.toml`) and runs its checks one
//! after another on the main thread, so the only other threads are the pool's workers. That lets
//! the allocator count every thread while a window is open: an allocation a worker makes for its
//! part of a product counts as the step's. (Under the standard harness, tests and the harness's
//! own bookkeeping run on other threads at the same time, and only the calling thread could be
//! counted.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use autograd::Tensor;
use dense::optim::{Adam, AdamConfig, Sgd, SgdConfig, clip_grad_norm};
use dense::{Activation, Init, MatMut, MatRef, Mlp};
use rand::SeedableRng;

struct Counting;

/// Whether a window is open, and the allocations (on any thread) while it was.
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if COUNTING.load(Ordering::SeqCst) {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls (atomics, which do not
// allocate).
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

/// Allocations made by any thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst) - before
}

/// Runs each check in turn on this thread; a failed check panics, which fails the test binary.
fn main() {
    let checks: [(&str, fn()); 2] = [
        (
            "steady_state_does_not_allocate",
            steady_state_does_not_allocate,
        ),
        (
            "lent_training_step_does_not_allocate",
            lent_training_step_does_not_allocate,
        ),
    ];
    for (name, check) in checks {
        check();
        println!("test {name} ... ok");
    }
}

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
    // Warm: on two or more cores this product splits over the pool, and the worker allocates
    // its own packing buffers the first time it takes a part, which may be any early call.
    for _ in 0..WARM_CALLS {
        run(&mut c);
    }
    assert_eq!(allocations(|| run(&mut c)), 0, "gemm 300×300");
}

/// Uncounted calls before a counted one, when the pool takes part: a worker sets up its own
/// buffers (packing, scratch) the first time it takes each kind of part, and which thread takes
/// which part changes from call to call, so one warm-up call is not enough.
const WARM_CALLS: usize = 30;

/// A whole training step with the parameters lent to the tape and the gradients swapped out
/// (`Mlp::lend`, `LentMlp::backward_to`): once warm it allocates nothing, at batch 1 and on
/// batches large enough for the thread pool.
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
    // fused backward pass (16384 × 64 ≥ `PARALLEL_MIN_ELEMENTS`), the pool and its worker's
    // buffers warmed by the first `WARM_CALLS` steps; results do not depend on it.
    const { assert!(16384 * 64 >= dense::threads::PARALLEL_MIN_ELEMENTS) };
    dense::threads::set_threads(2);
    for batch in [1usize, 64, 300, 4096, 16384] {
        let x = Tensor::<f32>::full(&[batch, 4], 0.3);
        let w = Tensor::<f32>::full(&[batch, 2], -0.7);
        let mut step = || {
            tape.reset();
            let lent = mlp.lend(&tape);
            let y = lent.forward(tape.constant(&x));
            lent.backward_to((y * tape.constant(&w)).sum(), &mut grads);
            drop(lent);
            adam.step(mlp.params_mut(), &grads);
        };
        for _ in 0..WARM_CALLS {
            step();
        }
        let counts: Vec<usize> = (0..3).map(|_| allocations(&mut step)).collect();
        assert_eq!(
            counts,
            [0, 0, 0],
            "allocations per warm lent step at batch {batch}"
        );
    }
}
