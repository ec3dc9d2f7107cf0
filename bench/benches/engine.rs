//! The storage engine end to end on the local disk, with its default
//! geometry (RS(4,2), 1 MiB stripes, 128 KiB inline threshold).
//!
//! Groups:
//! - `engine_put`: one PUT of a new key (stream the body in 64 KiB pieces,
//!   encode, write 6 shard files, fsync, commit the metadata to the replicas).
//!   The objects of a sample are deleted after it, outside the timing.
//! - `engine_put_concurrent`: 16 PUTs in flight at once (commits contend).
//! - `engine_get`: one full GET of an existing object, page cache warm.
//! - `engine_get_cold`: the same with the page cache dropped before every read
//!   (only with `COFFER_BENCH_DROP_CACHES=1`: it writes to
//!   /proc/sys/vm/drop_caches, which needs root and affects the whole machine).
//! - `engine_list`: one page of 1000 entries from a bucket of
//!   `COFFER_BENCH_LIST_KEYS` keys (default 1,000,000) laid out as
//!   `logs/d<5 digits>/obj-<4 digits>.json`, 1000 keys per "directory".
//!
//! Everything lives under `COFFER_BENCH_DIR` (default `$HOME/.cache/coffer-bench`):
//! put/get use a temporary directory in `tmp/`, removed at the end; the list
//! dataset is built once in `list-<keys>/` by many concurrent writers of empty
//! objects (resumable if interrupted) and reused while its `COMPLETE` marker
//! matches. The list bench always runs on a freshly opened engine.

use bench::{bench_dir, runtime, scratch_dir};
use std::cell::{Cell, OnceCell};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use futures::{future, stream, StreamExt, TryStreamExt};
use rand::RngCore;
use storage_engine::{CommitCondition, Engine, EngineConfig, EngineError, ListRequest};
use tokio::runtime::Runtime;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const SIZES: [(&str, usize); 3] = [("4KiB", 4 * KIB), ("1MiB", MIB), ("64MiB", 64 * MIB)];
/// Size of the pieces handed to `ObjectWriter::write`, as an HTTP body would arrive.
const WRITE_PIECE_BYTES: usize = 64 * KIB;
const CONCURRENT_PUTS: usize = 16;
const BUCKET: &str = "bench";
/// The server stores the quoted MD5; computing it is the checksum bench's business.
const ETAG: &str = "\"00000000000000000000000000000000\"";

const LIST_KEYS_ENV: &str = "COFFER_BENCH_LIST_KEYS";
const LIST_KEYS_DEFAULT: u64 = 1_000_000;
const LIST_PREFILL_CONCURRENCY_ENV: &str = "COFFER_BENCH_PREFILL_CONCURRENCY";
const LIST_KEYS_PER_DIR: u64 = 1000;
const LIST_PAGE: usize = 1000;
const LIST_PREFILL_BATCH: u64 = 10_000;
const LIST_LAYOUT: &str = "coffer-bench list dataset v1: logs/d{:05}/obj-{:04}.json, 1000 keys per directory";

async fn open_engine(dir: &std::path::Path) -> Engine {
    Engine::open(EngineConfig::new(dir)).await.unwrap_or_else(|e| panic!("open engine in {}: {e}", dir.display()))
}

/// An engine in a fresh temporary directory, with the bench bucket.
fn scratch_engine(rt: &Runtime) -> (tempfile::TempDir, Engine) {
    let dir = scratch_dir("engine-");
    let engine = rt.block_on(async {
        let engine = open_engine(dir.path()).await;
        engine.create_bucket(BUCKET, Vec::new()).await.unwrap_or_else(|e| panic!("create bucket: {e}"));
        engine
    });
    (dir, engine)
}

fn random_bytes(len: usize) -> Bytes {
    let mut data = vec![0u8; len];
    rand::rng().fill_bytes(&mut data);
    Bytes::from(data)
}

async fn put(engine: &Engine, key: &str, body: &Bytes) {
    let mut writer = engine.object_writer(BUCKET, key).await.unwrap_or_else(|e| panic!("object writer for {key}: {e}"));
    let mut offset = 0;
    while offset < body.len() {
        let end = (offset + WRITE_PIECE_BYTES).min(body.len());
        writer.write(body.slice(offset..end)).await.unwrap_or_else(|e| panic!("write {key}: {e}"));
        offset = end;
    }
    writer
        .commit(ETAG.to_string(), Vec::new(), CommitCondition::None)
        .await
        .unwrap_or_else(|e| panic!("commit {key}: {e}"));
}

async fn delete(engine: &Engine, key: &str) {
    engine.delete_object(BUCKET, key).await.unwrap_or_else(|e| panic!("delete {key}: {e}"));
}

/// Reads a whole object, returning its length (or its bytes when `keep`).
async fn get(engine: &Engine, key: &str, keep: bool) -> (u64, Vec<u8>) {
    let (_info, reader) = engine.read_object(BUCKET, key, None).await.unwrap_or_else(|e| panic!("get {key}: {e}"));
    reader
        .try_fold((0u64, Vec::new()), |(len, mut kept), piece| async move {
            if keep {
                kept.extend_from_slice(&piece);
            }
            Ok((len + piece.len() as u64, kept))
        })
        .await
        .unwrap_or_else(|e| panic!("read {key}: {e}"))
}

/// Flat sampling (the same number of iterations in every sample, which suits
/// slow iterations); 64 MiB objects take only 10 samples.
fn sampling_for(size: usize) -> (SamplingMode, Option<usize>) {
    if size >= 64 * MIB {
        (SamplingMode::Flat, Some(10))
    } else {
        (SamplingMode::Flat, None)
    }
}

fn bench_put(c: &mut Criterion) {
    let rt = runtime();
    let engine_cell: OnceCell<(tempfile::TempDir, Engine)> = OnceCell::new();
    let next_key = Cell::new(0u64);
    let mut group = c.benchmark_group("engine_put");
    for (label, size) in SIZES {
        let body = random_bytes(size);
        let (mode, samples) = sampling_for(size);
        group.sampling_mode(mode);
        if let Some(n) = samples {
            group.sample_size(n);
        }
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            let (_, engine) = engine_cell.get_or_init(|| scratch_engine(&rt));
            b.to_async(&rt).iter_custom(|iters| {
                let body = body.clone();
                let first = next_key.get();
                next_key.set(first + iters);
                async move {
                    let keys: Vec<String> = (first..first + iters).map(|n| format!("put/{label}/{n}")).collect();
                    let start = Instant::now();
                    for key in &keys {
                        put(engine, key, &body).await;
                    }
                    let elapsed = start.elapsed();
                    for key in &keys {
                        delete(engine, key).await;
                    }
                    elapsed
                }
            })
        });
    }
    group.finish();
    if let Some((_dir, engine)) = engine_cell.get() {
        rt.block_on(engine.shutdown()).unwrap_or_else(|e| panic!("shutdown: {e}"));
    }
}

fn bench_put_concurrent(c: &mut Criterion) {
    let rt = runtime();
    let engine_cell: OnceCell<(tempfile::TempDir, Engine)> = OnceCell::new();
    let next_key = Cell::new(0u64);
    let mut group = c.benchmark_group("engine_put_concurrent");
    group.sampling_mode(SamplingMode::Flat);
    for (label, size) in &SIZES[..2] {
        let body = random_bytes(*size);
        group.throughput(Throughput::Bytes((size * CONCURRENT_PUTS) as u64));
        group.bench_function(BenchmarkId::new(*label, format!("x{CONCURRENT_PUTS}")), |b| {
            let (_, engine) = engine_cell.get_or_init(|| scratch_engine(&rt));
            b.to_async(&rt).iter_custom(|iters| {
                let body = body.clone();
                let count = iters * CONCURRENT_PUTS as u64;
                let first = next_key.get();
                next_key.set(first + count);
                async move {
                    let keys: Vec<String> = (first..first + count).map(|n| format!("putc/{label}/{n}")).collect();
                    let start = Instant::now();
                    for batch in keys.chunks(CONCURRENT_PUTS) {
                        future::join_all(batch.iter().map(|key| put(engine, key, &body))).await;
                    }
                    let elapsed = start.elapsed();
                    for key in &keys {
                        delete(engine, key).await;
                    }
                    elapsed
                }
            })
        });
    }
    group.finish();
    if let Some((_dir, engine)) = engine_cell.get() {
        rt.block_on(engine.shutdown()).unwrap_or_else(|e| panic!("shutdown: {e}"));
    }
}

/// Puts each object once (on first use) and checks that it reads back intact.
fn stored_object(rt: &Runtime, engine: &Engine, cell: &OnceCell<String>, label: &str, size: usize) -> String {
    cell.get_or_init(|| {
        let key = format!("get/{label}");
        let body = random_bytes(size);
        rt.block_on(async {
            put(engine, &key, &body).await;
            let (len, back) = get(engine, &key, true).await;
            assert_eq!(len, size as u64);
            assert!(back == body[..], "{key} read back differs from what was written");
        });
        key
    })
    .clone()
}

fn drop_page_cache() {
    std::fs::write("/proc/sys/vm/drop_caches", "1")
        .unwrap_or_else(|e| panic!("drop the page cache (COFFER_BENCH_DROP_CACHES=1 needs root): {e}"));
}

fn bench_get(c: &mut Criterion) {
    let rt = runtime();
    let engine_cell: OnceCell<(tempfile::TempDir, Engine)> = OnceCell::new();
    let keys: Vec<OnceCell<String>> = SIZES.iter().map(|_| OnceCell::new()).collect();

    let mut group = c.benchmark_group("engine_get");
    for ((label, size), key_cell) in SIZES.iter().zip(&keys) {
        let (mode, samples) = sampling_for(*size);
        group.sampling_mode(mode);
        if let Some(n) = samples {
            group.sample_size(n);
        }
        group.throughput(Throughput::Bytes(*size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            let (_, engine) = engine_cell.get_or_init(|| scratch_engine(&rt));
            let key = stored_object(&rt, engine, key_cell, label, *size);
            let key = &key;
            b.to_async(&rt).iter(|| async move {
                let (len, _) = get(engine, key, false).await;
                assert_eq!(len, *size as u64);
            })
        });
    }
    group.finish();

    if std::env::var_os("COFFER_BENCH_DROP_CACHES").is_some_and(|v| v == "1") {
        let mut group = c.benchmark_group("engine_get_cold");
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        for ((label, size), key_cell) in SIZES.iter().zip(&keys).skip(1) {
            group.throughput(Throughput::Bytes(*size as u64));
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                let (_, engine) = engine_cell.get_or_init(|| scratch_engine(&rt));
                let key = stored_object(&rt, engine, key_cell, label, *size);
                b.to_async(&rt).iter_custom(|iters| {
                    let key = key.clone();
                    async move {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            drop_page_cache();
                            let start = Instant::now();
                            let (len, _) = get(engine, &key, false).await;
                            elapsed += start.elapsed();
                            assert_eq!(len, *size as u64);
                        }
                        elapsed
                    }
                })
            });
        }
        group.finish();
    }

    if let Some((_dir, engine)) = engine_cell.get() {
        rt.block_on(engine.shutdown()).unwrap_or_else(|e| panic!("shutdown: {e}"));
    }
}

/// The persistent bucket of `keys` empty objects the list bench reads.
///
/// Built in batches of `LIST_PREFILL_BATCH` keys; after each batch a
/// `PROGRESS` file records how many keys are committed, so an interrupted
/// build resumes where it stopped (re-putting at most one batch, which is
/// harmless: a put of the same key is an overwrite). `COMPLETE` goes last.
struct ListDataset {
    keys: u64,
    dir: PathBuf,
}

impl ListDataset {
    fn from_env() -> ListDataset {
        let keys = match std::env::var(LIST_KEYS_ENV) {
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| panic!("{LIST_KEYS_ENV}={v:?}: expected a positive number of keys")),
            Err(_) => LIST_KEYS_DEFAULT,
        };
        ListDataset { keys, dir: bench_dir().join(format!("list-{keys}")) }
    }

    fn key(n: u64) -> String {
        format!("logs/d{:05}/obj-{:04}.json", n / LIST_KEYS_PER_DIR, n % LIST_KEYS_PER_DIR)
    }

    fn dirs(&self) -> u64 {
        self.keys.div_ceil(LIST_KEYS_PER_DIR)
    }

    fn header(&self) -> String {
        format!("{LIST_LAYOUT}\nkeys={}\n", self.keys)
    }

    fn is_complete(&self) -> bool {
        std::fs::read_to_string(self.dir.join("COMPLETE")).is_ok_and(|text| text == self.header())
    }

    /// Keys already committed by an interrupted build of this same dataset.
    fn progress(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.dir.join("PROGRESS")).ok()?;
        let done = text.strip_prefix(&self.header())?.strip_prefix("done=")?;
        done.trim().parse().ok().filter(|n| *n <= self.keys)
    }

    /// Replaces `name` in the dataset directory with `text`, atomically.
    fn write_file(&self, name: &str, text: &str) {
        let tmp = self.dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        std::fs::rename(&tmp, self.dir.join(name)).unwrap_or_else(|e| panic!("rename {}: {e}", tmp.display()));
    }

    /// Opens the dataset, building (or finishing) it first unless it is complete.
    /// The engine returned is always freshly opened, as after a server restart.
    async fn open(&self) -> Engine {
        if self.is_complete() {
            match Engine::open(EngineConfig::new(&self.dir)).await {
                Ok(engine) => return engine,
                // e.g. written by an older engine format: build it again.
                Err(e) => {
                    eprintln!("list dataset {} does not open ({e}); rebuilding", self.dir.display());
                    std::fs::remove_file(self.dir.join("COMPLETE")).ok();
                    std::fs::remove_file(self.dir.join("PROGRESS")).ok();
                }
            }
        }
        let engine = self.build().await;
        engine.shutdown().await.unwrap_or_else(|e| panic!("shutdown after building the list dataset: {e}"));
        drop(engine);
        open_engine(&self.dir).await
    }

    async fn build(&self) -> Engine {
        let resume_from = self.progress();
        if resume_from.is_none() && self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).unwrap_or_else(|e| panic!("remove {}: {e}", self.dir.display()));
        }
        std::fs::create_dir_all(&self.dir).unwrap_or_else(|e| panic!("create {}: {e}", self.dir.display()));
        let first = resume_from.unwrap_or(0);
        let concurrency = std::env::var(LIST_PREFILL_CONCURRENCY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(64);
        eprintln!(
            "building the list dataset: keys {first}..{} (empty objects) in {} with {concurrency} concurrent writers",
            self.keys,
            self.dir.display()
        );
        let engine = open_engine(&self.dir).await;
        match engine.create_bucket(BUCKET, Vec::new()).await {
            Ok(_) | Err(EngineError::BucketAlreadyExists { .. }) => {}
            Err(e) => panic!("create bucket: {e}"),
        }
        let empty = Bytes::new();
        let start = Instant::now();
        let mut done = first;
        while done < self.keys {
            let batch_end = (done + LIST_PREFILL_BATCH).min(self.keys);
            let batch_start = Instant::now();
            stream::iter(done..batch_end)
                .map(|n| {
                    let (engine, empty) = (&engine, &empty);
                    async move { put(engine, &Self::key(n), empty).await }
                })
                .buffer_unordered(concurrency)
                .collect::<Vec<()>>()
                .await;
            let batch_secs = batch_start.elapsed().as_secs_f64();
            eprintln!(
                "  {batch_end}/{} keys, {:.0} s, last batch {:.0} puts/s",
                self.keys,
                start.elapsed().as_secs_f64(),
                (batch_end - done) as f64 / batch_secs
            );
            done = batch_end;
            self.write_file("PROGRESS", &format!("{}done={done}\n", self.header()));
        }
        // Every commit above is durable; the marker goes last.
        self.write_file("COMPLETE", &self.header());
        std::fs::remove_file(self.dir.join("PROGRESS")).ok();
        engine
    }
}

fn bench_list(c: &mut Criterion) {
    let rt = runtime();
    let dataset = ListDataset::from_env();
    let engine_cell: OnceCell<Engine> = OnceCell::new();
    let open = || engine_cell.get_or_init(|| rt.block_on(dataset.open()));
    let keys = dataset.keys;
    let middle_dir = dataset.dirs() / 2;

    // (name, request, entries it must return)
    let cases = [
        (
            // One "directory" in the middle of the bucket: 1000 objects.
            "prefix_delimiter",
            ListRequest {
                prefix: format!("logs/d{middle_dir:05}/"),
                delimiter: Some("/".into()),
                start_after: None,
                max_keys: LIST_PAGE,
            },
            (keys - middle_dir * LIST_KEYS_PER_DIR).min(LIST_KEYS_PER_DIR).min(LIST_PAGE as u64),
        ),
        (
            // The directories themselves: each common prefix stands for 1000 keys.
            "common_prefixes",
            ListRequest { prefix: "logs/".into(), delimiter: Some("/".into()), start_after: None, max_keys: LIST_PAGE },
            dataset.dirs().min(LIST_PAGE as u64),
        ),
        (
            // No delimiter, continuing from the middle of the bucket.
            "start_after",
            ListRequest {
                prefix: String::new(),
                delimiter: None,
                start_after: Some(ListDataset::key(keys / 2)),
                max_keys: LIST_PAGE,
            },
            (keys - keys / 2 - 1).min(LIST_PAGE as u64),
        ),
    ];

    let mut group = c.benchmark_group("engine_list");
    for (name, request, expected) in &cases {
        group.throughput(Throughput::Elements(*expected));
        group.bench_function(BenchmarkId::new(*name, format!("{keys}keys")), |b| {
            let engine = open();
            b.to_async(&rt).iter(|| async move {
                let page = engine.list_objects(BUCKET, request).await.unwrap_or_else(|e| panic!("list {name}: {e}"));
                assert_eq!((page.objects.len() + page.common_prefixes.len()) as u64, *expected, "{name}");
                page
            })
        });
    }
    group.finish();
    if let Some(engine) = engine_cell.get() {
        rt.block_on(engine.shutdown()).unwrap_or_else(|e| panic!("shutdown: {e}"));
    }
}

criterion_group!(benches, bench_put, bench_put_concurrent, bench_get, bench_list);
criterion_main!(benches);
