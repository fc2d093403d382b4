//! Steady-state training steps do not allocate: after a warm-up step, reset + record + backward
//! into reused `Gradients` performs zero heap allocations. Counted by a global allocator wrapper
//! that counts allocations made on the current thread.

use autograd::{Gradients, Tape, Tensor};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

#[test]
fn a_warm_training_step_allocates_nothing() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let w1 = Tensor::<f32>::randn(&[4, 32], &mut rng);
    let b1 = Tensor::<f32>::zeros(&[32]);
    let w2 = Tensor::<f32>::randn(&[32, 3], &mut rng);
    let obs = Tensor::<f32>::randn(&[16, 4], &mut rng);
    let adv = Tensor::<f32>::randn(&[16], &mut rng);
    let actions: Vec<usize> = (0..16).map(|i| i % 3).collect();
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let mut counts = Vec::new();
    for _ in 0..5 {
        let before = allocations();
        tape.reset();
        let (w1v, b1v, w2v) = (tape.param(&w1), tape.param(&b1), tape.param(&w2));
        let h = (tape.constant(&obs).matmul(w1v) + b1v).tanh();
        let logp = h.matmul(w2v).log_softmax(1).gather(1, &actions);
        let loss = -(logp * tape.constant(&adv)).mean() + 0.01 * h.square().mean();
        loss.backward_into(&mut grads);
        counts.push(allocations() - before);
    }
    assert!(counts[0] > 0, "the first step sizes the buffers");
    assert_eq!(
        &counts[1..],
        &[0, 0, 0, 0],
        "allocations per step: {counts:?}"
    );
}

/// The transformer ops (embed, layer_norm, gelu, permute, bmm, causal_softmax) reuse their
/// buffers too: a warm step through all of them allocates nothing.
#[test]
fn a_warm_step_through_the_transformer_ops_allocates_nothing() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let (b, t, d, heads) = (2, 5, 8, 2);
    let tokens = Tensor::<f32>::randn(&[7, d], &mut rng);
    let positions = Tensor::<f32>::randn(&[t, d], &mut rng);
    let (gain, bias) = (Tensor::<f32>::ones(&[d]), Tensor::<f32>::zeros(&[d]));
    let ids: Vec<usize> = (0..b * t).map(|i| (3 * i) % 7).collect();
    let pos: Vec<usize> = (0..b * t).map(|i| i % t).collect();
    let mut tape = Tape::new();
    let mut grads = Gradients::new();
    let mut counts = Vec::new();
    for _ in 0..4 {
        let before = allocations();
        tape.reset();
        let x = tape.param(&tokens).embed(&ids) + tape.param(&positions).embed(&pos);
        let h = x
            .layer_norm(tape.param(&gain), tape.param(&bias), 1e-5)
            .gelu();
        let heads_of = h
            .reshape(&[b, t, heads, d / heads])
            .permute(&[0, 2, 1, 3])
            .reshape(&[b * heads, t, d / heads]);
        let p = heads_of.bmm(heads_of.permute(&[0, 2, 1])).causal_softmax();
        p.bmm(heads_of).square().mean().backward_into(&mut grads);
        counts.push(allocations() - before);
    }
    assert!(counts[0] > 0, "the first step sizes the buffers");
    assert_eq!(&counts[1..], &[0, 0, 0], "allocations per step: {counts:?}");
}
