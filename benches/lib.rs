//! Empty library target: this package exists for its criterion benchmarks in `statistics.rs`.
