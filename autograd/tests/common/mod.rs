//! Helpers shared by the property tests (`prop_ops.rs`, `prop_compose.rs`): the proptest
//! settings and a strategy for tensors of a given shape.

use autograd::Tensor;
use proptest::prelude::*;

/// 48 cases per property, or `AUTOGRAD_CASES` when set (e.g. `AUTOGRAD_CASES=1000` for a long
/// run); failures are not persisted to files.
pub fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("AUTOGRAD_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Number of elements of a shape.
pub fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

/// A tensor of shape `s` with elements drawn from `val`.
pub fn tensor_of(
    s: Vec<usize>,
    val: impl Strategy<Value = f64>,
) -> impl Strategy<Value = Tensor<f64>> {
    prop::collection::vec(val, numel(&s)).prop_map(move |d| Tensor::from_vec(d, &s))
}
