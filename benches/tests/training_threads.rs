//! A short CartPole preset run gives the same metrics, bit for bit, at 1, 2 and 3 `dense`
//! threads (wall-clock columns aside): the thread pool splits work over outputs only, so every
//! number is summed in the same order whatever the thread count.

use dense::threads::set_threads;
use policy_gradient::config::Config;
use policy_gradient::metrics::EpochMetrics;
use policy_gradient::trainer::Trainer;

/// The first epochs of the preset, with the timing columns zeroed.
fn short_run(threads: usize) -> Vec<EpochMetrics> {
    set_threads(threads);
    let preset = Config::preset("CartPole-v1").expect("CartPole-v1 has a preset");
    let mut trainer = Trainer::new(preset).expect("the preset is valid");
    let metrics = (0..4)
        .map(|_| {
            let mut m = trainer.epoch().expect("training stays finite");
            m.steps_per_second = 0.0;
            m.elapsed_seconds = 0.0;
            m
        })
        .collect();
    set_threads(0);
    metrics
}

#[test]
fn preset_metrics_do_not_depend_on_the_thread_count() {
    let one = short_run(1);
    for threads in [2, 3] {
        let other = short_run(threads);
        for (a, b) in one.iter().zip(&other) {
            // Debug prints every f64 exactly (shortest round-trip form, -0.0 included), and unlike
            // `==` it does not call two NaN columns different.
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "epoch {}: {threads} threads differ from 1",
                a.epoch
            );
        }
    }
}
