//! Coffer benchmarks.
