//! Buckets, object round trips, ranges, overwrite, delete, conditions.

use crate::common::*;
use futures::StreamExt;
use storage_engine::{CommitCondition, EngineError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_lifecycle() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("zeta", b"z".to_vec()).await.expect("create");
    e.create_bucket("alpha", b"a".to_vec()).await.expect("create");
    assert!(matches!(e.create_bucket("alpha", vec![]).await, Err(EngineError::BucketAlreadyExists { .. })));
    let names: Vec<String> = e.list_buckets().await.expect("list").into_iter().map(|b| b.name).collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
    assert!(matches!(e.get_bucket("nope").await, Err(EngineError::NoSuchBucket { .. })));
    e.set_bucket_attrs("alpha", b"new".to_vec()).await.expect("attrs");
    assert_eq!(e.get_bucket("alpha").await.expect("get").attrs, b"new");
    assert!(matches!(e.object_writer("nope", "k").await, Err(EngineError::NoSuchBucket { .. })));
    assert!(matches!(e.head_object("nope", "k").await, Err(EngineError::NoSuchBucket { .. })));
    assert!(matches!(e.head_object("alpha", "k").await, Err(EngineError::NoSuchKey { .. })));
    assert!(matches!(e.delete_object("nope", "k").await, Err(EngineError::NoSuchBucket { .. })));

    put(&e, "alpha", "k", b"v").await;
    assert!(matches!(e.delete_bucket("alpha").await, Err(EngineError::BucketNotEmpty { .. })));
    e.delete_object("alpha", "k").await.expect("delete");
    // An upload in progress does not keep the bucket alive (as AWS): it is aborted with it.
    let up = e.create_upload("alpha", "m", vec![]).await.expect("upload");
    let mut part = e.part_writer("alpha", "m", &up.upload_id, 1).await.expect("part writer");
    part.write(bytes::Bytes::from(vec![7u8; 300_000])).await.expect("part data");
    part.commit("\"e\"".into(), vec![]).await.expect("part");
    e.delete_bucket("alpha").await.expect("delete bucket with an upload in progress");
    assert!(matches!(
        e.get_upload("alpha", "m", &up.upload_id).await,
        Err(EngineError::NoSuchBucket { .. } | EngineError::NoSuchUpload { .. })
    ));
    e.create_bucket("alpha", vec![]).await.expect("recreate");
    assert!(e.list_uploads("alpha", "", None, None, 10).await.expect("uploads").0.is_empty(), "no upload survives");
    e.delete_bucket("alpha").await.expect("delete bucket");
    assert!(matches!(e.delete_bucket("alpha").await, Err(EngineError::NoSuchBucket { .. })));
    e.shutdown().await.expect("shutdown");
    e.shutdown().await.expect("shutdown is idempotent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_size_round_trips() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    for (i, size) in interesting_sizes().into_iter().enumerate() {
        let body = data(i as u64, size);
        let key = format!("obj-{size}");
        let info = put(&e, "b", &key, &body).await;
        assert_eq!(info.size_bytes, size as u64);
        let head = e.head_object("b", &key).await.expect("head");
        assert_eq!(head, info);
        assert_eq!(head.attrs, b"attrs");
        assert_eq!(get(&e, "b", &key).await, body, "size {size}");
    }
    // Inline objects leave no shard files; erasure-coded ones have k+m each.
    let ec = interesting_sizes().into_iter().filter(|s| *s >= INLINE).count();
    assert_eq!(c.all_shard_files().len(), ec * 6);
    // Default placement: two shards per zone.
    for z in 0..3 {
        assert_eq!(c.shard_files(z).len(), ec * 2);
    }
    e.shutdown().await.expect("shutdown");
    drop(e);
    // Everything survives a restart.
    let e = c.open().await;
    for (i, size) in interesting_sizes().into_iter().enumerate() {
        assert_eq!(get(&e, "b", &format!("obj-{size}")).await, data(i as u64, size));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_reads_across_stripes() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let size = 5 * STRIPE + 123;
    let body = data(7, size);
    put(&e, "b", "big", &body).await;
    let s = STRIPE as u64;
    let n = size as u64;
    for (a, b) in
        [(0, 1), (s - 3, s + 3), (s, 2 * s), (100, n), (n - 1, n), (1000, 3 * s + 17), (0, n), (2 * s + 1, 2 * s + 2)]
    {
        let got = read_all(&e, "b", "big", Some((a, b))).await.expect("range");
        assert_eq!(got, &body[a as usize..b as usize], "range {a}..{b}");
    }
    let small = data(8, 500);
    put(&e, "b", "small", &small).await;
    assert_eq!(read_all(&e, "b", "small", Some((10, 20))).await.expect("range"), &small[10..20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_and_delete_free_data() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    put(&e, "b", "k", &data(1, 3 * STRIPE)).await;
    put(&e, "b", "k", &data(2, 2 * STRIPE)).await;
    assert_eq!(get(&e, "b", "k").await, data(2, 2 * STRIPE));
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 6, "old version freed after the overwrite");
    put(&e, "b", "k", b"small now").await;
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 0);
    let gone = e.delete_object("b", "k").await.expect("delete");
    assert_eq!(gone.map(|i| i.size_bytes), Some(9));
    assert_eq!(e.delete_object("b", "k").await.expect("delete again"), None);
    assert!(matches!(e.head_object("b", "k").await, Err(EngineError::NoSuchKey { .. })));
    assert!(matches!(read_all(&e, "b", "k", None).await, Err(EngineError::NoSuchKey { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_while_reader_open_reads_old_data() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let old = data(10, 6 * STRIPE + 5);
    put(&e, "b", "k", &old).await;
    let (info, mut reader) = e.read_object("b", "k", None).await.expect("open reader");
    assert_eq!(info.size_bytes, old.len() as u64);
    let first = reader.next().await.expect("piece").expect("ok");
    // Overwrite, then delete, and run GC while the reader is open.
    put(&e, "b", "k", &data(11, 2 * STRIPE)).await;
    e.delete_object("b", "k").await.expect("delete");
    e.collect_orphans().await.expect("gc");
    let mut got = first.to_vec();
    while let Some(p) = reader.next().await {
        got.extend_from_slice(&p.expect("piece"));
    }
    assert_eq!(got, old);
    assert_eq!(c.all_shard_files().len(), 6, "pinned data kept while the reader is open");
    drop(reader);
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 0, "freed once the reader is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_conditions() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    try_put(&e, "b", "k", b"one", CommitCondition::IfAbsent).await.expect("absent");
    assert!(matches!(
        try_put(&e, "b", "k", b"two", CommitCondition::IfAbsent).await,
        Err(EngineError::PreconditionFailed)
    ));
    let etag = e.head_object("b", "k").await.expect("head").etag;
    assert!(matches!(
        try_put(&e, "b", "k", b"two", CommitCondition::IfEtagMatches("\"other\"".into())).await,
        Err(EngineError::PreconditionFailed)
    ));
    try_put(&e, "b", "k", b"three", CommitCondition::IfEtagMatches(etag)).await.expect("matches");
    assert_eq!(get(&e, "b", "k").await, b"three");
    assert!(matches!(
        try_put(
            &e,
            "b",
            "k",
            b"four",
            CommitCondition::IfEtagDiffers(e.head_object("b", "k").await.expect("head").etag)
        )
        .await,
        Err(EngineError::PreconditionFailed)
    ));
    try_put(&e, "b", "k", b"four", CommitCondition::IfEtagDiffers("\"other\"".into())).await.expect("differs");
    try_put(&e, "b", "k", b"five", CommitCondition::IfExists).await.expect("exists");
    assert_eq!(get(&e, "b", "k").await, b"five");
    // If-Match on a missing key is NoSuchKey, as S3 answers it.
    assert!(matches!(
        try_put(&e, "b", "new", &data(1, 2 * STRIPE), CommitCondition::IfEtagMatches("x".into())).await,
        Err(EngineError::NoSuchKey { .. })
    ));
    assert!(matches!(
        try_put(&e, "b", "new", &data(2, 2 * STRIPE), CommitCondition::IfExists).await,
        Err(EngineError::NoSuchKey { .. })
    ));
    // The refused erasure-coded write left nothing behind.
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_last_commit_wins_never_mixed() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let mut tasks = Vec::new();
    for seed in 0..6u64 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move { put(&e, "b", "k", &data(100 + seed, 3 * STRIPE + 7)).await }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let got = get(&e, "b", "k").await;
    assert!((0..6u64).any(|s| got == data(100 + s, 3 * STRIPE + 7)), "content is one whole version");
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 6);
    assert_eq!(c.tmp_files(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writer_leaves_nothing() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let mut w = e.object_writer("b", "k").await.expect("writer");
    w.write(bytes::Bytes::from(data(1, 3 * STRIPE))).await.expect("write");
    drop(w);
    assert!(matches!(e.head_object("b", "k").await, Err(EngineError::NoSuchKey { .. })));
    e.collect_orphans().await.expect("collect");
    assert_eq!(c.tmp_files(), 0);
    assert_eq!(c.all_shard_files().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_compare_and_swap() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", b"v1".to_vec()).await.expect("create");
    assert!(!e.replace_bucket_attrs("b", Some(b"stale".to_vec()), b"x".to_vec()).await.expect("cas"));
    assert_eq!(e.get_bucket("b").await.expect("get").attrs, b"v1");
    assert!(e.replace_bucket_attrs("b", Some(b"v1".to_vec()), b"v2".to_vec()).await.expect("cas"));
    assert_eq!(e.get_bucket("b").await.expect("get").attrs, b"v2");
    assert!(matches!(e.replace_bucket_attrs("nope", None, vec![]).await, Err(EngineError::NoSuchBucket { .. })));

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    put(&e, "b", "k", &data).await;
    let before = e.head_object("b", "k").await.expect("head");
    assert!(!e.replace_object_attrs("b", "k", b"stale".to_vec(), b"new".to_vec()).await.expect("cas"));
    assert!(e.replace_object_attrs("b", "k", before.attrs.clone(), b"new".to_vec()).await.expect("cas"));
    let after = e.head_object("b", "k").await.expect("head");
    assert_eq!(after.attrs, b"new");
    assert_eq!(
        (after.etag.as_str(), after.size_bytes, after.last_modified_ms),
        (before.etag.as_str(), before.size_bytes, before.last_modified_ms)
    );
    assert_eq!(get(&e, "b", "k").await, data, "the data is untouched");
    assert!(matches!(e.replace_object_attrs("b", "missing", vec![], vec![]).await, Err(EngineError::NoSuchKey { .. })));
    // Still there after a restart, and nothing was orphaned or freed.
    e.shutdown().await.expect("shutdown");
    let e = c.open().await;
    assert_eq!(e.head_object("b", "k").await.expect("head").attrs, b"new");
    assert_eq!(get(&e, "b", "k").await, data);
    assert_eq!(e.collect_orphans().await.expect("orphans"), 0);
    assert_eq!(e.stats().orphans_collected, 0, "nor did the collection after open remove anything");
    e.shutdown().await.expect("shutdown");
}

/// Metadata reads after a restart (from RocksDB's files, not its memtables)
/// go through the one block cache of the configured size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_reads_use_one_bounded_block_cache() {
    let c = Cluster::new();
    let mut config = c.config();
    config.metadata_cache_bytes = 1 << 20;
    let e = storage_engine::Engine::open(config.clone()).await.expect("open");
    e.create_bucket("b", vec![]).await.expect("bucket");
    let attrs = vec![b'a'; 500];
    for i in 0..4000 {
        let key = format!("key-{i:05}");
        let mut w = e.object_writer("b", &key).await.expect("writer");
        w.write(bytes::Bytes::from_static(b"x")).await.expect("write");
        w.commit("\"x\"".into(), attrs.clone(), CommitCondition::None).await.expect("commit");
    }
    e.shutdown().await.expect("shutdown");
    let e = storage_engine::Engine::open(config).await.expect("reopen");
    for i in 0..4000 {
        assert_eq!(e.head_object("b", &format!("key-{i:05}")).await.expect("head").attrs, attrs);
    }
    assert!(matches!(e.head_object("b", "key-99999").await, Err(EngineError::NoSuchKey { .. })));
    let used = e.stats().metadata_cache_bytes;
    // Several MB of records were read through it; it holds at most its size.
    assert!(used > 64 << 10, "the shared cache was used: {used} bytes");
    assert!(used <= (1 << 20) + (64 << 10), "bounded by its size: {used} bytes");
    e.shutdown().await.expect("shutdown");
}

/// Bytes of `path` resident in the page cache, as util-linux `fincore` reports them.
fn resident_bytes(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .expect("run fincore (util-linux)");
    assert!(out.status.success(), "fincore {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("fincore prints a byte count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_files_are_written_past_the_page_cache() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    // Over RS(4,2) a 16 MiB object has six shard files of 4 MiB, a 300 KiB
    // one six of 75 KiB (a tail shorter than one direct-write alignment).
    let big = data(1, 16 << 20);
    let small = data(2, 300 << 10);
    put(&e, "b", "big", &big).await;
    put(&e, "b", "small", &small).await;
    let files = c.all_shard_files();
    assert_eq!(files.len(), 12);
    for f in &files {
        assert_eq!(resident_bytes(f), 0, "{} is in the page cache", f.display());
    }
    assert_eq!(get(&e, "b", "big").await, big);
    assert_eq!(get(&e, "b", "small").await, small);
    let r = e.verify_object("b", "small", false).await.expect("verify");
    assert_eq!((r.unrecoverable, r.shards_repaired), (0, 0));
    e.shutdown().await.expect("shutdown");
}

/// Pieces of an object and where each starts.
async fn pieces(e: &storage_engine::Engine, key: &str, range: Option<(u64, u64)>) -> Vec<(u64, Vec<u8>)> {
    let (_, mut reader) = e.read_object("b", key, range).await.expect("read");
    let mut at = range.map_or(0, |r| r.0);
    let mut out = Vec::new();
    while let Some(piece) = reader.next().await {
        let piece = piece.expect("piece").to_vec();
        let len = piece.len() as u64;
        out.push((at, piece));
        at += len;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripes_aligned_to_a_unit_hand_out_whole_units() {
    const UNIT: usize = 300;
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    // RS(4,2) over 4096-byte stripes: aligned to 300-byte units, a stripe
    // holds 4800 bytes and each data block 1200.
    let body = data(7, 5 * 4800 + 123);
    let mut w = e.object_writer("b", "aligned").await.expect("writer");
    w.align_blocks(UNIT);
    for piece in body.chunks(1337) {
        w.write(bytes::Bytes::copy_from_slice(piece)).await.expect("write");
    }
    w.commit("\"a\"".into(), vec![], CommitCondition::None).await.expect("commit");
    let got = pieces(&e, "aligned", None).await;
    assert_eq!(got.iter().flat_map(|(_, p)| p.clone()).collect::<Vec<u8>>(), body);
    // The five full stripes come as 20 blocks of 4 units; the 123-byte tail as its own blocks.
    let full: Vec<(u64, usize)> = got.iter().filter(|(at, _)| *at < 5 * 4800).map(|(at, p)| (*at, p.len())).collect();
    assert_eq!(full, (0..20).map(|i| (i * 1200, 1200)).collect::<Vec<_>>());
    // A range starting on a unit boundary keeps every later piece on one.
    let ranged = pieces(&e, "aligned", Some((900, 9000))).await;
    assert_eq!(ranged.iter().flat_map(|(_, p)| p.clone()).collect::<Vec<u8>>(), body[900..9000].to_vec());
    assert!(ranged.iter().all(|(at, _)| at % UNIT as u64 == 0), "{:?}", ranged.iter().map(|r| r.0).collect::<Vec<_>>());

    // Asked for after the first write, alignment changes nothing.
    let mut late = e.object_writer("b", "late").await.expect("writer");
    late.write(bytes::Bytes::copy_from_slice(&body[..10])).await.expect("write");
    late.align_blocks(UNIT);
    late.write(bytes::Bytes::copy_from_slice(&body[10..])).await.expect("write");
    late.commit("\"l\"".into(), vec![], CommitCondition::None).await.expect("commit");
    let got = pieces(&e, "late", None).await;
    assert_eq!(got[0].1.len(), 1024, "the configured 4096-byte stripe");
    assert_eq!(get(&e, "b", "late").await, body);

    // Reconstruction works on the aligned geometry too.
    e.shutdown().await.expect("shutdown");
    c.lose_zone(1);
    let e = c.open().await;
    assert_eq!(get(&e, "b", "aligned").await, body);
    e.shutdown().await.expect("shutdown");
}
