//! Heap allocations of one warm GPT training step (forward, loss, backward, AdamW), counted with
//! a counting global allocator (this test binary only).
//!
//! The step reuses its tape, its gradient buffers and the optimiser's moments, lends the
//! parameters to the tape instead of copying them, and its custom ops (the fused linear layers
//! and the attention) write their output shapes into the tape's buffers: a warm step allocates
//! nothing.

use std::alloc::{GlobalAlloc, Layout, System};

use autograd::{Tape, Tensor};
use dense::optim::{Adam, AdamConfig};
use policy_gradient::lm::gpt::train::weighted_nll_gradients;
use policy_gradient::lm::gpt::{Gpt, GptSpec};
use rand::SeedableRng;

struct Counting;

thread_local! {
    /// Only the thread under test counts (the harness has others; tests run in parallel).
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
fn a_warm_training_step_allocates_nothing() {
    let spec = GptSpec {
        vocab: 32,
        context: 16,
        width: 32,
        heads: 4,
        layers: 2,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut model = Gpt::<f32>::new(spec, &mut rng);
    let (batch, len) = (4, 16);
    let tokens: Vec<usize> = (0..batch * len).map(|i| (i * 7 + 3) % 32).collect();
    let targets: Vec<usize> = (0..batch * len).map(|i| (i * 5 + 1) % 32).collect();
    let weights = vec![1.0 / (batch * len) as f32; batch * len];
    let mut tape = Tape::new();
    let mut grads = vec![Tensor::empty(); model.params().len()];
    let mut adamw = Adam::new(AdamConfig::adamw());
    let mut step = || {
        let loss = weighted_nll_gradients(
            &mut model, &mut tape, &tokens, batch, &targets, &weights, &mut grads,
        );
        adamw.step(model.params_mut(), &grads);
        loss
    };
    let first = step();
    step();
    let mut last = 0.0;
    let n = allocations(|| last = step());
    assert_eq!(n, 0, "allocations in a warm step");
    assert!(
        last < first,
        "AdamW lowers the loss on a fixed batch: {first} -> {last}"
    );
}
