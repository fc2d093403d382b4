//! Stepping allocates nothing on the heap: a counting global allocator watches single envs and
//! vector envs (autoresets included) step thousands of times with pre-generated random actions.
//!
//! Only allocations made by the test's own thread are counted (the test harness's threads may
//! allocate at any time), and this file holds one test.

use envs::{Action, Space, VecAction, VecEnv};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting every allocation and reallocation.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether allocations of this thread are counted (const-initialised: reading it never allocates).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// is an atomic and does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Random actions for `steps` steps of `n` copies, made before counting starts.
fn actions(space: &Space, n: usize, steps: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<f32>) {
    match space {
        Space::Discrete { n: k } => (
            (0..n * steps).map(|_| rng.gen_range(0..*k)).collect(),
            Vec::new(),
        ),
        Space::Box { low, high } => (
            Vec::new(),
            (0..n * steps)
                .map(|_| rng.gen_range(low[0]..=high[0]) * 1.5)
                .collect(), // some get clipped
        ),
    }
}

#[test]
fn stepping_single_and_vector_envs_does_not_allocate() {
    COUNTED.with(|c| c.set(true));
    // The counter sees allocations (so a zero below means something).
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 16]);
    assert!(allocations() > before && v.len() == 16);

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for spec in envs::specs() {
        // One env, through the registry (time limit included), several episodes long.
        let mut env = spec.make();
        let space = env.action_space();
        let steps = 3_000;
        let (disc, cont) = actions(&space, 1, steps, &mut rng);
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(1), &mut obs).unwrap();
        let before = allocations();
        let mut episodes = 0;
        for t in 0..steps {
            let a = if disc.is_empty() {
                Action::Continuous(&cont[t..t + 1])
            } else {
                Action::Discrete(disc[t])
            };
            let s = env.step(a, &mut obs).unwrap();
            if s.terminated || s.truncated {
                env.reset(None, &mut obs).unwrap();
                episodes += 1;
            }
        }
        let used = allocations() - before;
        assert_eq!(used, 0, "{}: {used} allocations in {steps} steps", spec.id);
        assert!(
            episodes >= 3,
            "{}: only {episodes} episodes ended; autoreset path not exercised",
            spec.id
        );

        // Vectors of 1, 8 and 64 copies.
        for n in [1usize, 8, 64] {
            let mut v = VecEnv::new(spec.id, n).unwrap();
            v.reset(7);
            let steps = 1_000;
            let (disc, cont) = actions(&space, n, steps, &mut rng);
            let before = allocations();
            let mut finished = 0;
            for t in 0..steps {
                if disc.is_empty() {
                    v.step(VecAction::Continuous(&cont[t * n..(t + 1) * n]))
                        .unwrap();
                } else {
                    v.step(VecAction::Discrete(&disc[t * n..(t + 1) * n]))
                        .unwrap();
                }
                finished += (0..n).filter(|&i| v.final_obs(i).is_some()).count();
            }
            let used = allocations() - before;
            assert_eq!(
                used, 0,
                "{} x{n}: {used} allocations in {steps} vector steps",
                spec.id
            );
            assert!(
                finished >= n,
                "{} x{n}: only {finished} episodes ended",
                spec.id
            );
        }
    }
}
