//! Heap allocations of one warm training step of each language-model policy (forward, loss,
//! backward, optimiser step), counted with a counting global allocator (this test binary only).
//!
//! Each step reuses its tape, its gradient buffers and the optimiser's moments, lends the
//! parameters to the tape instead of copying them, and its custom ops (the fused linear layers
//! and the attention) write their output shapes into the tape's buffers: a warm step allocates
//! nothing. The GPT is stepped directly; the MLP as `pg lm pretrain` steps either policy
//! (refilling its batch, [`LmPolicy::nll_gradients`], [`LmPolicy::clip_and_step`]); both
//! policies as `pg lm rl` updates them ([`RlUpdate::step`]: the forward pass over the sampled
//! completions, the surrogate with the KL term, backward, clipping, Adam, and the PPO epochs).
//!
//! The binary has its own `main` (`harness = false` in `Cargo.toml`) and runs its checks one
//! after another on the main thread, so the allocator counts every thread while a window is
//! open, the thread pool's workers included (`dense/tests/alloc.rs` explains why).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use autograd::{Tape, Tensor};
use dense::optim::{Adam, AdamConfig};
use policy_gradient::config::Activation;
use policy_gradient::config::Update;
use policy_gradient::lm::config::{Estimator, KlMode, RlConfig};
use policy_gradient::lm::gpt::batch::SeqBatch;
use policy_gradient::lm::gpt::train::weighted_nll_gradients;
use policy_gradient::lm::gpt::{Gpt, GptSpec};
use policy_gradient::lm::model::ModelSpec;
use policy_gradient::lm::policy::{LmPolicy, NllBatch, PolicySpec, TransformerSpec};
use policy_gradient::lm::rl::RlUpdate;
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
    let checks: [(&str, fn()); 5] = [
        (
            "a_warm_training_step_allocates_nothing",
            a_warm_training_step_allocates_nothing,
        ),
        (
            "a_warm_mlp_pretraining_step_allocates_nothing",
            a_warm_mlp_pretraining_step_allocates_nothing,
        ),
        (
            "a_warm_transformer_pretraining_step_allocates_nothing",
            a_warm_transformer_pretraining_step_allocates_nothing,
        ),
        (
            "a_warm_mlp_rl_update_allocates_nothing",
            a_warm_mlp_rl_update_allocates_nothing,
        ),
        (
            "a_warm_transformer_rl_update_allocates_nothing",
            a_warm_transformer_rl_update_allocates_nothing,
        ),
    ];
    for (name, check) in checks {
        check();
        println!("test {name} ... ok");
    }
}

/// A GPT training step on two threads, at a size whose layer products are split over the thread
/// pool (`32·16` rows of width 64: millions of multiply-adds each), so that the pool's worker
/// takes part and its allocations would count.
fn a_warm_training_step_allocates_nothing() {
    dense::threads::set_threads(2);
    let spec = GptSpec {
        vocab: 32,
        context: 16,
        width: 64,
        heads: 4,
        layers: 2,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut model = Gpt::<f32>::new(spec, &mut rng);
    let (batch, len) = (32, 16);
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
        loss as f64
    };
    warm_step_allocates_nothing_and_learns(&mut step, WARM_WITH_POOL, "the GPT");
    dense::threads::set_threads(0);
}

/// Runs `step` (one training step on a fixed batch, returning its loss) `warm + 1` times;
/// asserts that the last, warm, step allocates nothing and that the loss went down. `what` names
/// the model in the message.
fn warm_step_allocates_nothing_and_learns(step: &mut impl FnMut() -> f64, warm: usize, what: &str) {
    let first = step();
    for _ in 1..warm {
        step();
    }
    let mut last = 0.0;
    let n = allocations(|| last = step());
    assert_eq!(n, 0, "allocations in a warm step of {what}");
    assert!(
        last < first,
        "the optimiser lowers the loss of {what} on a fixed batch: {first} -> {last}"
    );
}

/// Steps before the counted one when one thread does all the work: the first sets the buffers
/// up, the second finds them all.
const WARM_ALONE: usize = 2;

/// Steps before the counted one when the pool's worker takes part: it sets up its own buffers
/// the first time it takes each kind of part, and which thread takes which part changes from
/// step to step, so a few steps are not enough.
const WARM_WITH_POOL: usize = 20;

/// One `pg lm pretrain` step of `policy` on three fixed (prompt, completion) pairs: the batch
/// refilled, [`LmPolicy::nll_gradients`], [`LmPolicy::clip_and_step`]; the third step allocates
/// nothing and the loss goes down.
fn pretraining_steps_allocate_nothing(spec: PolicySpec) {
    let mut policy = LmPolicy::new(&spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    // Three pairs of different lengths, ids below the vocabulary of 13.
    let pairs: [(&[usize], &[usize]); 3] = [
        (&[2, 3, 4, 12], &[4, 3, 2, 1]),
        (&[7, 12], &[7, 1]),
        (&[5, 0, 9, 9, 6, 12], &[6, 9, 9, 0, 5, 1]),
    ];
    let mut batch = NllBatch::new(&policy);
    let mut adam = Adam::new(AdamConfig::default());
    let mut step = || {
        batch.clear();
        for (prompt, completion) in pairs {
            batch.push(prompt, completion);
        }
        let f = policy.nll_gradients(&mut batch);
        let loss = f.loss;
        policy.clip_and_step(&mut adam, f.grads, 1.0, 1e-2);
        loss
    };
    warm_step_allocates_nothing_and_learns(&mut step, WARM_ALONE, &format!("{spec:?}"));
}

/// One `pg lm rl` update ([`RlUpdate::step`]: the reference's pass, then the policy's updates)
/// of `policy` on four fixed completions in two groups with GRPO's advantages, for each KL mode
/// and with two PPO epochs; the reference is the initial policy. The third update allocates
/// nothing and lowers the surrogate.
fn rl_updates_allocate_nothing(spec: PolicySpec) {
    let mut reference = LmPolicy::new(&spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2));
    // Two prompts, two completions each (a right one and a wrong one), ids below 13.
    let pairs: [(&[usize], &[usize]); 4] = [
        (&[2, 3, 4, 12], &[4, 3, 2, 1]),
        (&[2, 3, 4, 12], &[4, 2, 1]),
        (&[7, 9, 12], &[9, 7, 1]),
        (&[7, 9, 12], &[7, 7, 9, 1]),
    ];
    let rewards = [1.0, 0.0, 1.0, 0.0];
    let (mut windows, mut seqs) = (reference.token_batch(), SeqBatch::default());
    for (prompt, completion) in pairs {
        windows.push(prompt, completion);
        if matches!(reference, LmPolicy::Transformer(_)) {
            seqs.push(prompt, completion);
        }
    }
    let mut cfg = RlConfig::preset("reverse").unwrap();
    (cfg.estimator, cfg.samples_per_prompt, cfg.kl_coef) = (Estimator::Grpo, 2, 0.1);
    (cfg.update, cfg.update_epochs) = (Update::Ppo, 2);
    for kl in [KlMode::None, KlMode::K1Reward, KlMode::K3Loss] {
        cfg.kl = kl;
        let mut policy = reference.clone();
        let frozen = reference.clone();
        let mut update = RlUpdate::default();
        let mut adam = Adam::new(AdamConfig::default());
        let mut step = || {
            let u = update.step(
                &cfg,
                &mut policy,
                &mut adam,
                &windows,
                &seqs,
                &rewards,
                &mut reference,
                1e-2,
            );
            u.expect("a finite loss").loss
        };
        warm_step_allocates_nothing_and_learns(
            &mut step,
            WARM_ALONE,
            &format!("RL with {kl:?}, {spec:?}"),
        );
        assert_eq!(
            reference, frozen,
            "the reference lends its parameters and gets them back"
        );
    }
}

fn mlp_spec() -> PolicySpec {
    PolicySpec::Mlp(ModelSpec {
        task: "reverse".into(),
        vocab: 13,
        context: 6,
        embed_dim: 4,
        hidden_sizes: vec![32, 16],
        activation: Activation::Relu,
    })
}

fn transformer_spec() -> PolicySpec {
    PolicySpec::Transformer(TransformerSpec {
        task: "reverse".into(),
        gpt: GptSpec {
            vocab: 13,
            context: 12,
            width: 16,
            heads: 2,
            layers: 2,
        },
    })
}

fn a_warm_mlp_pretraining_step_allocates_nothing() {
    pretraining_steps_allocate_nothing(mlp_spec());
}

fn a_warm_transformer_pretraining_step_allocates_nothing() {
    pretraining_steps_allocate_nothing(transformer_spec());
}

fn a_warm_mlp_rl_update_allocates_nothing() {
    rl_updates_allocate_nothing(mlp_spec());
}

fn a_warm_transformer_rl_update_allocates_nothing() {
    rl_updates_allocate_nothing(transformer_spec());
}
