//! Coffer benchmarks: criterion benches in `benches/` (see README.md) and the
//! helpers they share. Everything a bench writes goes under one directory on
//! the disk being measured. [`load`] is the S3 load generator behind the
//! `coffer-load` and `coffer-ceiling` binaries.

pub mod load;

use std::path::PathBuf;

/// A multi-threaded tokio runtime for async benches.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("build the tokio runtime")
}

/// Root of everything the benches write (`COFFER_BENCH_DIR`, default
/// `$HOME/.cache/coffer-bench`); keep it on the disk under test.
pub fn bench_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COFFER_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache").join("coffer-bench")
}

/// A fresh temporary directory under `<bench_dir>/tmp`, removed when dropped.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let parent = bench_dir().join("tmp");
    std::fs::create_dir_all(&parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .unwrap_or_else(|e| panic!("temp dir in {}: {e}", parent.display()))
}
