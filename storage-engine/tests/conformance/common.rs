//! Shared helpers: a three-zone cluster in a temp dir, deterministic data, and file-level fault injection.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use storage_engine::{CommitCondition, Engine, EngineConfig, ObjectInfo};

pub const STRIPE: usize = 4096;
pub const INLINE: usize = 1000;

pub struct Cluster {
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub fn new() -> Cluster {
        Cluster { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn config(&self) -> EngineConfig {
        let mut c = EngineConfig::new(self.dir.path());
        c.stripe_size_bytes = STRIPE;
        c.inline_threshold_bytes = INLINE;
        c
    }

    pub fn zone_dir(&self, z: usize) -> PathBuf {
        self.config().zone_dirs[z].clone()
    }

    pub async fn open(&self) -> Engine {
        Engine::open(self.config()).await.expect("open engine")
    }

    /// Deletes a whole zone directory (the engine must be closed).
    pub fn lose_zone(&self, z: usize) {
        std::fs::remove_dir_all(self.zone_dir(z)).expect("remove zone dir");
    }

    /// Every final shard file in a zone.
    pub fn shard_files(&self, z: usize) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let Ok(subs) = std::fs::read_dir(self.zone_dir(z).join("shards")) else { return out };
        for s in subs.flatten() {
            for f in std::fs::read_dir(s.path()).expect("read shard subdir").flatten() {
                out.push(f.path());
            }
        }
        out.sort();
        out
    }

    pub fn all_shard_files(&self) -> Vec<PathBuf> {
        (0..3).flat_map(|z| self.shard_files(z)).collect()
    }

    pub fn tmp_files(&self) -> usize {
        (0..3).map(|z| std::fs::read_dir(self.zone_dir(z).join("tmp")).map(|d| d.count()).unwrap_or(0)).sum()
    }

    /// The shard file with index `i` among all zones (for an object stored as one chunk).
    pub fn shard_file(&self, i: usize) -> PathBuf {
        let suffix = format!(".{i}");
        let found: Vec<PathBuf> =
            self.all_shard_files().into_iter().filter(|p| p.to_string_lossy().ends_with(&suffix)).collect();
        assert_eq!(found.len(), 1, "expected exactly one shard file {i}: {found:?}");
        found[0].clone()
    }
}

/// Flips one byte of a file at `offset` (fault injection: silent corruption).
pub fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read shard");
    let at = (offset as usize).min(bytes.len() - 1);
    bytes[at] ^= 0x5A;
    std::fs::write(path, bytes).expect("write shard");
}

pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes `body` in uneven pieces.
pub async fn put(engine: &Engine, bucket: &str, key: &str, body: &[u8]) -> ObjectInfo {
    try_put(engine, bucket, key, body, CommitCondition::None).await.expect("put")
}

pub async fn try_put(
    engine: &Engine,
    bucket: &str,
    key: &str,
    body: &[u8],
    cond: CommitCondition,
) -> storage_engine::Result<ObjectInfo> {
    let mut w = engine.object_writer(bucket, key).await?;
    for piece in body.chunks(1337) {
        w.write(Bytes::copy_from_slice(piece)).await?;
    }
    assert_eq!(w.bytes_written(), body.len() as u64);
    w.commit(format!("\"etag-{}\"", body.len()), b"attrs".to_vec(), cond).await
}

pub async fn read_all(
    engine: &Engine,
    bucket: &str,
    key: &str,
    range: Option<(u64, u64)>,
) -> storage_engine::Result<Vec<u8>> {
    let (_, mut reader) = engine.read_object(bucket, key, range).await?;
    let mut out = Vec::new();
    while let Some(piece) = reader.next().await {
        let piece = piece?;
        assert!(piece.len() <= STRIPE, "a piece is at most one stripe");
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

pub async fn get(engine: &Engine, bucket: &str, key: &str) -> Vec<u8> {
    read_all(engine, bucket, key, None).await.expect("read")
}

/// Sizes around every boundary: empty, tiny, inline threshold, one stripe, many stripes plus a tail.
pub fn interesting_sizes() -> Vec<usize> {
    vec![0, 1, INLINE - 1, INLINE, INLINE + 1, STRIPE - 1, STRIPE, STRIPE + 1, 5 * STRIPE + 123]
}
