//! criterion benchmarks of the workspace's hot paths live in `benches/benches/`; this library is
//! empty and exists so that the benchmarks form a crate of their own.
