//! How many threads the kernels may use, and the persistent pool they run on.
//!
//! One process-wide setting, [`set_threads`], read by [`threads`]; by default every core the
//! operating system offers. Large GEMMs split their *output* into row blocks, one per thread
//! (`gemm/mod.rs`; the GEMV routes too, by rows of C), and the fused layer's backward splits its
//! element-wise pass by rows and its bias-gradient sums by columns, then runs its two products
//! (x̄ and W̄) side by side, each whole on one thread (`linear.rs`); each output element is still
//! computed by one thread with the same instructions in the same order (the reduction over `k`,
//! or over the rows of a column sum, is never split), so **results are bit-identical for any
//! thread count**. Products below [`PARALLEL_MIN_MACS`] multiply-adds stay on the calling
//! thread: waking another thread costs a few microseconds, more than a small product takes.
//!
//! The pool is a handful of worker threads started on first use and kept for the life of the
//! process, so a training step pays no thread start-up .
//! A job is a function of a part number; the calling thread publishes it, takes parts itself,
//! and returns once every part is done. Handing out a job allocates nothing, so a warm training
//! step stays allocation-free; with one thread (or a small job) no other thread is involved.
//!
//! ```
//! dense::threads::set_threads(1); // e.g. one job of a sweep that runs one job per core
//! assert_eq!(dense::threads::threads(), 1);
//! dense::threads::set_threads(0); // back to the default: all cores
//! assert!(dense::threads::threads() >= 1);
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// Products with fewer multiply-adds (`m·n·k`, plus 16 per element of C for a tanh epilogue)
/// than this run on one thread. Measured on the
/// 2-core AVX-512 machine with `DENSE_GEMM_RATIOS=1 cargo bench -p benches --bench gemm`: a
/// 256×64·64×64 product (1 M multiply-adds, about 10 µs) gains little from a second thread; a
/// 512×64·64×64 one (2 M) gains clearly.
pub const PARALLEL_MIN_MACS: usize = 1 << 21;

/// One-row products (GEMVs: a layer with at most four outputs, or a weight gradient with at most
/// four inputs) with fewer multiply-adds in all than this run on one thread; larger ones give
/// each thread a block of C's rows. A GEMV reads its matrix once per multiply-add, so it runs at
/// a fraction of the packed GEMM's rate and pays for a second thread at a quarter of
/// [`PARALLEL_MIN_MACS`]: the batch-4096 step's head (4096·64·2), its weight gradient and the
/// first layer's weight gradient (4·4096·64) split; the CartPole preset's 2,000-row ones do not.
pub const PARALLEL_MIN_GEMV_MACS: usize = 1 << 19;

/// Element-wise passes (the fused layer's activation derivative and bias gradient) over fewer
/// elements than this run on one thread. Such a pass does a few operations per element, so
/// splitting it mostly moves data between the cores' caches: the rows were written by the
/// threads that computed them, and the bias gradient sums every row. At 2¹⁸ the batch-4096
/// step's 4096 × 64 activations split and the CartPole preset's 2,000 × 64 do not. With the
/// earlier threshold of 2¹⁶ those were split, and the whole CartPole run was 0.85× as fast on two
/// threads as on one (`TRAINING_RATIOS=1 cargo bench -p benches --bench training`); with 2²⁰ the
/// batch-4096 step ran its backward's element-wise passes on one thread. Measured on the 2-core
/// AVX-512 machine, a virtual machine whose speed drifts by 5–10% between runs.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;

/// The same for passes that do tens of operations per element: GELU (a `tanh` each) and the
/// layer norm (two sums per row and the normalisation; work counted as the input's elements).
/// At 2¹⁶ the transformer's `[1024, 64]` layer norms split, as well as its `[1024, 256]` GELUs.
/// Measured on the 2-core AVX-512 machine (a scratch program timing the 32 × 32 GPT training step
/// of `benches/benches/transformer.rs` on two threads, best of 300 steps, three alternations):
/// 5,505–5,648 µs with this threshold against 5,721–5,866 µs with 2¹⁷ (the GELUs alone split) on
/// AVX-512, 7,517–7,704 against 7,861–7,978 µs on AVX2.
pub const PARALLEL_MIN_HEAVY_ELEMENTS: usize = 1 << 16;

/// 0: the default (all cores); else the thread count set by [`set_threads`].
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads the kernels use for the whole process; `0` restores the default
/// (every core, [`std::thread::available_parallelism`]). Results do not depend on it.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads the kernels use (≥ 1).
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// Every core the operating system offers (1 if it cannot tell), asked once and cached: the
/// question reads files (cgroup quotas) and allocates, too slow to ask per GEMM.
pub fn default_threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// How many parts a job of `work` units should be cut into: 1 below `min_work`, else the thread
/// count, but never more parts than `max_parts`.
pub(crate) fn parts_for(work: usize, min_work: usize, max_parts: usize) -> usize {
    if work < min_work {
        return 1;
    }
    threads().min(max_parts).max(1)
}

/// How many of `items` (elements, rows…) each part takes when a job of `work` units over them
/// is cut as [`parts_for`] says (one part below `min_work`): nearly equal parts in whole
/// multiples of `align` items, the last one shorter; at least 1, so that `chunks` accepts it.
pub(crate) fn part_len(items: usize, align: usize, work: usize, min_work: usize) -> usize {
    let align = align.max(1);
    let parts = parts_for(work, min_work, items.div_ceil(align)).max(1);
    items.div_ceil(parts).next_multiple_of(align).max(1)
}

/// At most this many parts per job (more threads than this are not used).
pub const MAX_PARTS: usize = 64;

/// A job as the workers see it: the part function with its lifetime erased (see [`run_parts`]).
type Job = &'static (dyn Fn(usize) + Sync);

/// What the caller and the workers share, behind one lock.
struct State {
    /// The current job, `None` between jobs.
    job: Option<Job>,
    /// Parts of the current job: the next one to hand out, and how many exist.
    next: usize,
    parts: usize,
    /// Parts handed out and not yet finished.
    running: usize,
    /// A part of the current job panicked.
    panicked: bool,
    /// Workers asleep on `work`. A condition variable's signal is a system call even when
    /// nobody waits, so the pool signals only a thread that sleeps; one that polls sees the
    /// change by itself. This count and `caller_sleeping` are written under the lock, as is the
    /// wait that they announce, so no signal can be missed.
    sleeping_workers: usize,
    /// The caller is asleep on `done` (see `sleeping_workers`).
    caller_sleeping: bool,
}

/// The persistent pool: `default_threads() − 1` workers (the caller is the other thread).
struct Pool {
    state: Mutex<State>,
    /// Signalled when a job is published while a worker sleeps on it.
    work: Condvar,
    /// Signalled when the last running part of a job finishes while the caller sleeps on it.
    done: Condvar,
    /// Held by the one caller whose job is running; others run theirs on their own thread.
    busy: Mutex<()>,
    /// Parts published and not yet finished (a copy of `parts − next + running`, kept outside
    /// the lock so that the caller can poll it without taking the lock).
    unfinished: AtomicUsize,
    /// Parts published and not yet handed out (a copy of `parts − next`), which idle workers
    /// poll. Not `unfinished`: a worker that has finished its part while the caller still runs
    /// its own would see work that it cannot take, stop polling and fall asleep, and the next
    /// job would have to wake it.
    unclaimed: AtomicUsize,
}

/// How long a thread polls (yielding its CPU between looks) for new work (a worker) or for the
/// other parts to finish (the caller) before it sleeps on a condition variable. Waking a sleeping
/// thread costs tens of microseconds on a virtual machine, as much as a whole part of a mid-sized
/// product, while the jobs of a training step follow each other within microseconds.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Polls `ready` until it returns true or [`SPIN`] has passed; returns its last answer.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() > SPIN {
            return false;
        }
        // Yield rather than spin: on a shared machine the thread we wait for may need this CPU.
        std::thread::yield_now();
    }
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            state: Mutex::new(State {
                job: None,
                next: 0,
                parts: 0,
                running: 0,
                panicked: false,
                sleeping_workers: 0,
                caller_sleeping: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            busy: Mutex::new(()),
            unfinished: AtomicUsize::new(0),
            unclaimed: AtomicUsize::new(0),
        }));
        for i in 1..default_threads() {
            std::thread::Builder::new()
                .name(format!("dense-worker-{i}"))
                .spawn(move || pool.work_forever())
                .expect("dense: could not start a worker thread");
        }
        pool
    })
}

impl Pool {
    /// Takes the next part of the current job, if any is left: `(job, part)`.
    fn take_part(&self, state: &mut State) -> Option<(Job, usize)> {
        let job = state.job?;
        if state.next >= state.parts {
            return None;
        }
        state.next += 1;
        state.running += 1;
        self.unclaimed.fetch_sub(1, Ordering::Release);
        Some((job, state.next - 1))
    }

    /// Runs one part outside the lock, then reports it finished.
    fn run_part(&self, job: Job, part: usize) {
        let ok = catch_unwind(AssertUnwindSafe(|| job(part))).is_ok();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.running -= 1;
        state.panicked |= !ok;
        self.unfinished.fetch_sub(1, Ordering::Release);
        if state.running == 0 && state.next >= state.parts && state.caller_sleeping {
            self.done.notify_all();
        }
    }

    fn work_forever(&self) {
        loop {
            // Poll for parts to take first; sleep only when none has come for a while.
            spin_until(|| self.unclaimed.load(Ordering::Acquire) > 0);
            let taken = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(t) = self.take_part(&mut state) {
                        break t;
                    }
                    state.sleeping_workers += 1;
                    state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
                    state.sleeping_workers -= 1;
                }
            };
            self.run_part(taken.0, taken.1);
        }
    }
}

/// Runs `f(0) … f(parts − 1)`, spread over the calling thread and the pool's workers, and
/// returns when all are done (re-raising a panic of any part). With `parts ≤ 1`, or while another
/// thread's job occupies the pool, every part runs on the calling thread, in order.
pub(crate) fn run_parts(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let parts = parts.min(MAX_PARTS);
    let busy = if parts > 1 && default_threads() > 1 {
        pool().busy.try_lock().ok()
    } else {
        None
    };
    let Some(_busy) = busy else {
        (0..parts).for_each(f);
        return;
    };
    let pool = pool();
    // SAFETY: only the lifetime is changed. The erased reference is stored in the pool's state
    // and used by workers only while this call is inside the loop below: it returns only after
    // every part has been handed out and has finished (`running == 0`, `next == parts`), and it
    // clears `job` before returning, so no worker can call `f` after `f`'s borrow ends.
    let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
    let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
    state.job = Some(job);
    (state.next, state.parts, state.running, state.panicked) = (0, parts, 0, false);
    pool.unfinished.store(parts, Ordering::Release);
    pool.unclaimed.store(parts, Ordering::Release);
    if state.sleeping_workers > 0 {
        pool.work.notify_all();
    }
    loop {
        if let Some((job, part)) = pool.take_part(&mut state) {
            drop(state);
            pool.run_part(job, part);
            state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        } else if state.running > 0 {
            drop(state);
            let finished = spin_until(|| pool.unfinished.load(Ordering::Acquire) == 0);
            state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            if !finished && state.running > 0 {
                state.caller_sleeping = true;
                state = pool.done.wait(state).unwrap_or_else(|e| e.into_inner());
                state.caller_sleeping = false;
            }
        } else {
            break;
        }
    }
    state.job = None;
    let panicked = state.panicked;
    drop(state);
    if panicked {
        resume_unwind(Box::new("dense: a thread-pool part panicked"));
    }
}

/// Runs `f(p, item_p)` for each of at most [`MAX_PARTS`] items (e.g. disjoint blocks of an output,
/// each moved to the thread that fills it) on the pool, as [`run_parts`] does.
pub(crate) fn for_each_part<I: Send>(items: impl Iterator<Item = I>, f: impl Fn(usize, I) + Sync) {
    let slots: [Mutex<Option<I>>; MAX_PARTS] = std::array::from_fn(|_| Mutex::new(None));
    let mut parts = 0;
    for (slot, item) in slots.iter().zip(items) {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(item);
        parts += 1;
    }
    run_parts(parts, &|p| {
        let item = slots[p].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(item) = item {
            f(p, item);
        }
    });
}

/// `[start, end)` of part `part` when `len` items, in whole groups of `align`, are cut into
/// `parts` nearly equal pieces.
pub(crate) fn part_range(len: usize, align: usize, parts: usize, part: usize) -> (usize, usize) {
    let groups = len.div_ceil(align);
    let per = groups / parts;
    let extra = groups % parts;
    let g0 = part * per + part.min(extra);
    let g1 = g0 + per + usize::from(part < extra);
    ((g0 * align).min(len), (g1 * align).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_range_in_aligned_pieces() {
        for len in [0, 1, 11, 12, 13, 100, 4096] {
            for parts in 1..5 {
                let mut next = 0;
                for p in 0..parts {
                    let (a, b) = part_range(len, 12, parts, p);
                    assert_eq!(a, next, "len {len}, {parts} parts, part {p}");
                    assert!(a <= b && (b == len || b % 12 == 0));
                    next = b;
                }
                assert_eq!(next, len);
            }
        }
    }

    /// A job published while the worker sleeps wakes it, and a caller that fell asleep waiting for
    /// the worker's part is woken when it ends: the pool signals only sleeping threads, so a
    /// missed signal would leave the two parts below on one thread (part 0 would wait in vain for
    /// part 1) or the call would never return. Each round first sleeps far longer than
    /// [`SPIN`], so that the worker is asleep; another test's job holding the pool would also put
    /// both parts on this thread, hence a few rounds, of which every one must finish and at least
    /// one must run the parts side by side.
    #[test]
    fn sleeping_threads_are_woken() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};
        if default_threads() < 2 {
            return;
        }
        run_parts(2, &|_| ()); // the pool started: its worker then polls, and soon sleeps
        let mut side_by_side = 0;
        for _ in 0..5 {
            std::thread::sleep(SPIN * 100);
            let second_started = AtomicBool::new(false);
            let met = AtomicBool::new(false);
            run_parts(2, &|part| {
                if part == 1 {
                    second_started.store(true, Ordering::Release);
                    // Longer than the caller polls, so a caller done first must sleep.
                    std::thread::sleep(SPIN * 20);
                    return;
                }
                let deadline = Instant::now() + Duration::from_millis(500);
                while Instant::now() < deadline {
                    if second_started.load(Ordering::Acquire) {
                        met.store(true, Ordering::Release);
                        return;
                    }
                    std::thread::yield_now();
                }
            });
            side_by_side += usize::from(met.load(Ordering::Acquire));
        }
        assert!(side_by_side > 0, "no job ran its two parts on two threads");
    }

    #[test]
    fn small_work_is_one_part() {
        assert_eq!(parts_for(10, 100, 8), 1);
        assert!(parts_for(1000, 100, 1) == 1);
        assert!(parts_for(1000, 100, 8) >= 1);
    }
}
