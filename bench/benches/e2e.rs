//! The whole server end to end: the real `coffer` S3 listener started
//! in-process on 127.0.0.1 (random port), driven by a real `aws_sdk_s3::Client`
//! over HTTP/1.1 on loopback, with the SDK's default checksum behaviour (CRC32
//! computed on uploads, response checksums validated), as real clients run.
//!
//! Server and client share one multi-thread tokio runtime, so on a small
//! machine they compete for the same cores: the figures are what one box
//! serving itself can do, not a network benchmark.
//!
//! Groups:
//! - `e2e_put/{4KiB,1MiB}`: one PutObject of a new key. The sample's objects
//!   are deleted after it, outside the timing.
//! - `e2e_get/{4KiB,1MiB}`: one GetObject of an existing object, body drained.
//! - `e2e_head/4KiB`, `e2e_delete/4KiB`: one HeadObject; one DeleteObject of an
//!   existing object (created before the sample, outside the timing).
//! - `e2e_large/{put,get}/64MiB`: the same as put/get with a 64 MiB object.
//! - `e2e_list/5000keys`: one ListObjectsV2 page of 1000 keys from a bucket of
//!   5,000 empty objects (built once per run, outside the timing).
//! - `e2e_multipart/256MiB/16MiBx4`: CreateMultipartUpload, 16 UploadParts of
//!   16 MiB with 4 in flight, CompleteMultipartUpload. The object is deleted
//!   after every iteration, outside the timing.
//!
//! The data directory is a temporary directory under
//! `$COFFER_BENCH_DIR/tmp/` (default `$HOME/.cache/coffer-bench/tmp/`),
//! removed at the end. Bodies are random bytes generated before the timing.

use bench::{runtime, scratch_dir};
use std::cell::{Cell, OnceCell};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials as SdkCredentials;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use coffer::config::{Config, ServerArgs};
use coffer::credentials::{Credentials, Loaded};
use coffer::server::RunningServer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use futures::{stream, StreamExt};
use rand::RngCore;
use storage_engine::{Engine, EngineConfig};
use tokio::runtime::Runtime;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const SMALL_SIZES: [(&str, usize); 2] = [("4KiB", 4 * KIB), ("1MiB", MIB)];
const LARGE: (&str, usize) = ("64MiB", 64 * MIB);
const MULTIPART_BYTES: usize = 256 * MIB;
const MULTIPART_PART_BYTES: usize = 16 * MIB;
const MULTIPART_CONCURRENCY: usize = 4;
const LIST_KEYS: u64 = 5000;
const LIST_PAGE: i32 = 1000;
/// PUTs in flight while preparing objects outside the timing.
const SETUP_CONCURRENCY: usize = 32;

const BUCKET: &str = "e2e-bench";
const LIST_BUCKET: &str = "e2e-list";
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "COFFERBENCHACCESSKEY";
const SECRET_KEY: &str = "coffer-bench-secret-key-0123456789abcdef";

/// The server, its data directory and a client pointed at it.
struct Harness {
    server: RunningServer,
    client: Client,
    _dir: tempfile::TempDir,
}

/// Starts the server in `rt` on random loopback ports, with the bench bucket.
fn start(rt: &Runtime) -> Harness {
    let dir = scratch_dir("e2e-");
    let args = ServerArgs {
        data_dir: Some(dir.path().to_path_buf()),
        listen: Some("127.0.0.1:0".parse().expect("loopback address")),
        admin_listen: Some("127.0.0.1:0".parse().expect("loopback address")),
        root_access_key: Some(ACCESS_KEY.to_string()),
        root_secret_key: Some(SECRET_KEY.to_string()),
        ..Default::default()
    };
    let config = Config::from_args(&args).unwrap_or_else(|e| panic!("server config: {e}"));
    let credentials = match Credentials::load(&config).unwrap_or_else(|e| panic!("root credentials: {e}")) {
        Loaded::FromConfig(c) => c,
        Loaded::FromFile(_) | Loaded::Generated(_) => panic!("root credentials should come from the config"),
    };
    rt.block_on(async {
        let engine = Engine::open(EngineConfig::new(&config.data_dir))
            .await
            .unwrap_or_else(|e| panic!("open engine in {}: {e}", config.data_dir.display()));
        let server = RunningServer::start(Arc::new(config), engine, credentials)
            .await
            .unwrap_or_else(|e| panic!("start server: {e}"));
        let client = client(&format!("http://{}", server.s3_addr));
        client.create_bucket().bucket(BUCKET).send().await.unwrap_or_else(|e| panic!("create bucket: {e:?}"));
        Harness { server, client, _dir: dir }
    })
}

/// Path-style SDK client with the default checksum behaviour. Retries are off:
/// a failure panics instead of being hidden (and timed) as a second attempt.
fn client(endpoint: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SdkCredentials::new(ACCESS_KEY, SECRET_KEY, None, None, "coffer-bench"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

fn random_bytes(len: usize) -> Bytes {
    let mut data = vec![0u8; len];
    rand::rng().fill_bytes(&mut data);
    Bytes::from(data)
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &Bytes) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"));
}

/// PUTs `keys` with `SETUP_CONCURRENCY` in flight (setup, not timed).
async fn put_many(s3: &Client, bucket: &str, keys: &[String], body: &Bytes) {
    stream::iter(keys).for_each_concurrent(SETUP_CONCURRENCY, |key| put(s3, bucket, key, body)).await;
}

async fn delete(s3: &Client, bucket: &str, key: &str) {
    s3.delete_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("delete {bucket}/{key}: {e:?}"));
}

async fn delete_many(s3: &Client, bucket: &str, keys: &[String]) {
    stream::iter(keys).for_each_concurrent(SETUP_CONCURRENCY, |key| delete(s3, bucket, key)).await;
}

/// GETs a whole object, draining the body; returns its length.
async fn get(s3: &Client, key: &str) -> u64 {
    let out = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    let mut body = out.body;
    let mut len = 0u64;
    while let Some(piece) = body.try_next().await.unwrap_or_else(|e| panic!("read {key}: {e:?}")) {
        len += piece.len() as u64;
    }
    len
}

/// Times `iters` PUTs of new keys; deletes them afterwards, untimed.
async fn timed_puts(s3: &Client, prefix: String, first: u64, iters: u64, body: &Bytes) -> Duration {
    let keys: Vec<String> = (first..first + iters).map(|n| format!("{prefix}/{n}")).collect();
    let start = Instant::now();
    for key in &keys {
        put(s3, BUCKET, key, body).await;
    }
    let elapsed = start.elapsed();
    delete_many(s3, BUCKET, &keys).await;
    elapsed
}

fn bench_put(c: &mut Criterion, rt: &Runtime, h: &Harness, next_key: &Cell<u64>) {
    let mut group = c.benchmark_group("e2e_put");
    group.sampling_mode(SamplingMode::Flat);
    for (label, size) in SMALL_SIZES {
        let body = random_bytes(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.to_async(rt).iter_custom(|iters| {
                let first = next_key.get();
                next_key.set(first + iters);
                timed_puts(&h.client, format!("put/{label}"), first, iters, &body)
            })
        });
    }
    group.finish();
}

fn bench_get(c: &mut Criterion, rt: &Runtime, h: &Harness) {
    let mut group = c.benchmark_group("e2e_get");
    for (label, size) in SMALL_SIZES {
        let key = format!("get/{label}");
        rt.block_on(put(&h.client, BUCKET, &key, &random_bytes(size)));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.to_async(rt).iter(|| async {
                let len = get(&h.client, &key).await;
                assert_eq!(len, size as u64, "{key}");
                black_box(len)
            })
        });
    }
    group.finish();
}

fn bench_head(c: &mut Criterion, rt: &Runtime, h: &Harness) {
    let (label, size) = SMALL_SIZES[0];
    let key = format!("head/{label}");
    rt.block_on(put(&h.client, BUCKET, &key, &random_bytes(size)));
    let mut group = c.benchmark_group("e2e_head");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.to_async(rt).iter(|| async {
            let out = h
                .client
                .head_object()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
            assert_eq!(out.content_length(), Some(size as i64), "{key}");
            out
        })
    });
    group.finish();
}

fn bench_delete(c: &mut Criterion, rt: &Runtime, h: &Harness, next_key: &Cell<u64>) {
    let (label, size) = SMALL_SIZES[0];
    let body = random_bytes(size);
    let mut group = c.benchmark_group("e2e_delete");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let first = next_key.get();
            next_key.set(first + iters);
            let body = &body;
            async move {
                let keys: Vec<String> = (first..first + iters).map(|n| format!("delete/{label}/{n}")).collect();
                put_many(&h.client, BUCKET, &keys, body).await;
                let start = Instant::now();
                for key in &keys {
                    delete(&h.client, BUCKET, key).await;
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

fn bench_large(c: &mut Criterion, rt: &Runtime, h: &Harness, next_key: &Cell<u64>) {
    let (label, size) = LARGE;
    let body = random_bytes(size);
    let mut group = c.benchmark_group("e2e_large");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function(BenchmarkId::new("put", label), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let first = next_key.get();
            next_key.set(first + iters);
            timed_puts(&h.client, format!("large/{label}"), first, iters, &body)
        })
    });
    let key = format!("large/get/{label}");
    rt.block_on(put(&h.client, BUCKET, &key, &body));
    group.bench_function(BenchmarkId::new("get", label), |b| {
        b.to_async(rt).iter(|| async {
            let len = get(&h.client, &key).await;
            assert_eq!(len, size as u64, "{key}");
            black_box(len)
        })
    });
    group.finish();
    rt.block_on(delete(&h.client, BUCKET, &key));
}

fn bench_list(c: &mut Criterion, rt: &Runtime, h: &Harness) {
    // Built on first use, so a filter that skips the group skips the 5,000 PUTs.
    let prefilled = OnceCell::new();
    let mut group = c.benchmark_group("e2e_list");
    group.throughput(Throughput::Elements(LIST_PAGE as u64));
    group.bench_function(BenchmarkId::from_parameter(format!("{LIST_KEYS}keys")), |b| {
        prefilled.get_or_init(|| {
            let start = Instant::now();
            rt.block_on(async {
                h.client
                    .create_bucket()
                    .bucket(LIST_BUCKET)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("create bucket {LIST_BUCKET}: {e:?}"));
                let keys: Vec<String> = (0..LIST_KEYS).map(|n| format!("obj-{n:05}")).collect();
                put_many(&h.client, LIST_BUCKET, &keys, &Bytes::new()).await;
            });
            eprintln!("e2e_list: {LIST_KEYS} empty objects PUT in {:.1?}", start.elapsed());
        });
        b.to_async(rt).iter(|| async {
            let out = h
                .client
                .list_objects_v2()
                .bucket(LIST_BUCKET)
                .max_keys(LIST_PAGE)
                .send()
                .await
                .unwrap_or_else(|e| panic!("list {LIST_BUCKET}: {e:?}"));
            assert_eq!(out.contents().len(), LIST_PAGE as usize, "list page size");
            assert_eq!(out.is_truncated(), Some(true), "list page truncated");
            out
        })
    });
    group.finish();
}

/// One multipart upload of `body` in `MULTIPART_PART_BYTES` parts,
/// `MULTIPART_CONCURRENCY` in flight, completed.
async fn multipart_upload(s3: &Client, key: &str, body: &Bytes) {
    let created = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create multipart {key}: {e:?}"));
    let upload_id = created.upload_id().unwrap_or_else(|| panic!("no upload id for {key}"));
    let part_count = body.len().div_ceil(MULTIPART_PART_BYTES);
    let mut parts: Vec<CompletedPart> = stream::iter(0..part_count)
        .map(|i| {
            let start = i * MULTIPART_PART_BYTES;
            let data = body.slice(start..(start + MULTIPART_PART_BYTES).min(body.len()));
            let number = i32::try_from(i + 1).expect("part number fits in i32");
            async move {
                let out = s3
                    .upload_part()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("upload part {number} of {key}: {e:?}"));
                let etag = out.e_tag().unwrap_or_else(|| panic!("no ETag for part {number} of {key}"));
                CompletedPart::builder().part_number(number).e_tag(etag).build()
            }
        })
        .buffer_unordered(MULTIPART_CONCURRENCY)
        .collect()
        .await;
    parts.sort_by_key(|p| p.part_number());
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete multipart {key}: {e:?}"));
}

fn bench_multipart(c: &mut Criterion, rt: &Runtime, h: &Harness) {
    let body = random_bytes(MULTIPART_BYTES);
    let key = "multipart/256MiB";
    let mut group = c.benchmark_group("e2e_multipart");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Bytes(MULTIPART_BYTES as u64));
    let id = BenchmarkId::new(
        format!("{}MiB", MULTIPART_BYTES / MIB),
        format!("{}MiBx{MULTIPART_CONCURRENCY}", MULTIPART_PART_BYTES / MIB),
    );
    group.bench_function(id, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let body = &body;
            async move {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    multipart_upload(&h.client, key, body).await;
                    elapsed += start.elapsed();
                    delete(&h.client, BUCKET, key).await;
                }
                elapsed
            }
        })
    });
    group.finish();
}

fn e2e(c: &mut Criterion) {
    let rt = runtime();
    let harness = start(&rt);
    let next_key = Cell::new(0u64);
    bench_put(c, &rt, &harness, &next_key);
    bench_get(c, &rt, &harness);
    bench_head(c, &rt, &harness);
    bench_delete(c, &rt, &harness, &next_key);
    bench_large(c, &rt, &harness, &next_key);
    bench_list(c, &rt, &harness);
    bench_multipart(c, &rt, &harness);
    let Harness { server, client, _dir } = harness;
    // Close the client's pooled connections before the graceful shutdown waits on them.
    drop(client);
    rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(60), server.shutdown()).await {
            Ok(result) => result.unwrap_or_else(|e| panic!("server shutdown: {e}")),
            Err(_) => panic!("server shutdown took over 60 s"),
        }
    });
}

criterion_group!(benches, e2e);
criterion_main!(benches);
