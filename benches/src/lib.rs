//! criterion benchmarks of the workspace's hot paths live in `benches/benches/`; this library holds
//! what more than one of them needs.

/// Every benchmark runs with the allocator the `pg` command uses: large buffers start on a cache
/// line (`dense::aligned_alloc`), so the figures are those of the command.
#[global_allocator]
static ALLOC: dense::CacheLineAlloc = dense::CacheLineAlloc;

/// Best time per call (seconds) of each contender over `rounds` interleaved rounds. Each
/// contender gets its own call count per round, calibrated to a window of about `window`
/// seconds: short windows are the ones a loaded machine's scheduler is least likely to
/// interrupt, so their minimum approaches the unloaded time.
pub fn interleaved(rounds: usize, window: f64, contenders: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    interleaved_rounds(rounds, window, false, contenders)
}

/// [`interleaved`], with one untimed call of each contender just before its timed window: every
/// window then measures calls that follow a call of the same contender, as in a loop that
/// repeats one product. For the thread pool this means workers that are awake: after the other
/// contenders' windows they have gone to sleep, and the first call of a window pays for waking
/// them (tens of microseconds on a virtual machine).
pub fn interleaved_warm(
    rounds: usize,
    window: f64,
    contenders: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    interleaved_rounds(rounds, window, true, contenders)
}

fn interleaved_rounds(
    rounds: usize,
    window: f64,
    warm_each_window: bool,
    contenders: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    let iters: Vec<usize> = contenders
        .iter_mut()
        .map(|f| {
            f(); // warm-up
            let t = std::time::Instant::now();
            f();
            ((window / t.elapsed().as_secs_f64().max(1e-9)) as usize).clamp(1, 100_000)
        })
        .collect();
    let mut best = vec![f64::INFINITY; contenders.len()];
    for _ in 0..rounds {
        for ((b, f), &n) in best.iter_mut().zip(contenders.iter_mut()).zip(&iters) {
            if warm_each_window {
                f();
            }
            let t = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            *b = b.min(t.elapsed().as_secs_f64() / n as f64);
        }
    }
    best
}

/// How many passes over a table's lines [`best_over_passes`] is asked for: `BENCH_PASSES` if set
/// (1 gives the single pass the ratio tables made before 2 Dec), else 5.
pub fn passes() -> usize {
    match std::env::var("BENCH_PASSES") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("BENCH_PASSES={v:?}: expected a whole number of passes, at least 1"),
        },
        Err(_) => 5,
    }
}

/// Each line's best times over `passes` passes of the whole table: every pass calls
/// `measure(line)` for each line in turn (an [`interleaved`] run of that line's contenders) and
/// keeps each contender's minimum. A virtual machine's speed changes in phases of seconds, longer
/// than one line takes; a line measured once falls wholly in a slow phase or a fast one, and the
/// next in another. Spread over passes, every line samples the same stretch of the machine's
/// time, so its best approaches the unloaded time as the best of one short run is meant to, and
/// the lines' ratios compare like with like.
pub fn best_over_passes(
    lines: usize,
    passes: usize,
    mut measure: impl FnMut(usize) -> Vec<f64>,
) -> Vec<Vec<f64>> {
    let mut best: Vec<Vec<f64>> = vec![Vec::new(); lines];
    for _ in 0..passes {
        for (line, best) in best.iter_mut().enumerate() {
            let times = measure(line);
            if best.is_empty() {
                *best = times;
            } else {
                best.iter_mut().zip(times).for_each(|(b, t)| *b = b.min(t));
            }
        }
    }
    best
}

/// [`interleaved`] for a table of one line, in [`passes`] passes: each contender's best over all
/// of them (see [`best_over_passes`]).
pub fn interleaved_in_passes(
    rounds: usize,
    window: f64,
    contenders: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    best_over_passes(1, passes(), |_| interleaved(rounds, window, contenders)).remove(0)
}

/// Runs `table` once per SIMD kernel path this CPU has, AVX-512 then AVX2 (each forced with
/// [`dense::Kernel::force`], so an AVX-512 machine also measures the AVX2 path), on one thread,
/// after printing the path's name; then gives the kernel choice and every core back.
pub fn on_each_simd_path(mut table: impl FnMut()) {
    use dense::Kernel;
    for kernel in [Kernel::Avx512, Kernel::Avx2Fma] {
        if kernel.is_available() {
            Kernel::force(Some(kernel));
            println!("kernel path: {}, 1 thread", kernel.name());
            dense::threads::set_threads(1);
            table();
        }
    }
    dense::threads::set_threads(0);
    Kernel::force(None);
}
