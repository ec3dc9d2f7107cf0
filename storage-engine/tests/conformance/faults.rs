//! Fault injection: lost zones, corrupt shards, crashes, full disks, wrong directories.

use crate::common::*;
use bytes::Bytes;
use storage_engine::{CommitCondition, Engine, EngineError, InjectedFault, ZoneState};

async fn populate(e: &Engine) -> Vec<(String, Vec<u8>)> {
    e.create_bucket("b", b"battrs".to_vec()).await.expect("bucket");
    e.create_bucket("other", vec![]).await.expect("bucket");
    let mut out = Vec::new();
    for (i, size) in interesting_sizes().into_iter().enumerate() {
        let key = format!("dir/obj-{size}");
        let body = data(1000 + i as u64, size);
        put(e, "b", &key, &body).await;
        out.push((key, body));
    }
    out
}

async fn check_all(e: &Engine, objects: &[(String, Vec<u8>)]) {
    for (k, body) in objects {
        assert_eq!(&get(e, "b", k).await, body, "object {k}");
    }
    let names: Vec<String> = e.list_buckets().await.expect("buckets").into_iter().map(|b| b.name).collect();
    assert_eq!(names, vec!["b", "other"]);
    assert_eq!(e.get_bucket("b").await.expect("bucket").attrs, b"battrs");
    let req = storage_engine::ListRequest { max_keys: 1000, ..Default::default() };
    let page = e.list_objects("b", &req).await.expect("list");
    assert_eq!(page.objects.len(), objects.len());
}

async fn assert_whole(e: &Engine, objects: &[(String, Vec<u8>)]) {
    for (k, _) in objects {
        let r = e.verify_object("b", k, false).await.expect("verify");
        assert_eq!((r.shards_repaired, r.unrecoverable), (0, 0), "object {k} whole");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lose_any_one_zone() {
    for lost in 0..3 {
        let c = Cluster::new();
        let e = c.open().await;
        let objects = populate(&e).await;
        let files_before = c.all_shard_files().len();
        e.shutdown().await.expect("shutdown");
        drop(e);

        c.lose_zone(lost);
        let e = c.open().await;
        assert!(c.zone_dir(lost).join("meta").exists(), "metadata replica rebuilt at open");
        check_all(&e, &objects).await;
        e.heal_all(true, None).await.expect("heal");
        let stats = e.stats();
        assert_eq!(stats.zones[lost].state, ZoneState::Online, "zone {lost} healed");
        assert!(stats.zones.iter().all(|z| z.metadata_fresh));
        assert_eq!(c.all_shard_files().len(), files_before);
        assert_eq!(c.shard_files(lost).len(), files_before / 3, "home placement restored");
        assert_whole(&e, &objects).await;
        e.shutdown().await.expect("shutdown");
        drop(e);

        // The rebuilt zone is real: now lose another one and read everything again.
        let next = (lost + 1) % 3;
        c.lose_zone(next);
        let e = c.open().await;
        check_all(&e, &objects).await;
        e.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_any_shard_is_detected_and_repaired() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let body = data(5, 3 * STRIPE + 99);
    put(&e, "b", "k", &body).await;
    for shard in 0..6 {
        let path = c.shard_file(shard);
        // Inside the block of the second stripe (header 16 + block 1024 + crc 4).
        flip_byte(&path, 16 + 1028 + 10);
        let before = e.stats().degraded_reads;
        assert_eq!(get(&e, "b", "k").await, body, "read correct with shard {shard} corrupt");
        if shard < 4 {
            assert!(e.stats().degraded_reads > before, "data shard corruption detected by the read");
        }
        let found = e.verify_object("b", "k", false).await.expect("verify");
        assert_eq!(found.shards_repaired, 1, "shard {shard} reported");
        let fixed = e.verify_object("b", "k", true).await.expect("repair");
        assert_eq!((fixed.shards_repaired, fixed.unrecoverable), (1, 0));
        let after = e.verify_object("b", "k", false).await.expect("verify");
        assert_eq!(after.shards_repaired, 0, "shard {shard} repaired");
        assert_eq!(get(&e, "b", "k").await, body);
    }
    // A damaged header and a truncated file are caught too.
    flip_byte(&c.shard_file(0), 5);
    let len = std::fs::metadata(c.shard_file(3)).expect("meta").len();
    std::fs::OpenOptions::new().write(true).open(c.shard_file(3)).expect("open").set_len(len - 7).expect("truncate");
    assert_eq!(get(&e, "b", "k").await, body);
    let fixed = e.verify_object("b", "k", true).await.expect("repair");
    assert_eq!((fixed.shards_repaired, fixed.unrecoverable), (2, 0));
    assert_eq!(e.verify_object("b", "k", false).await.expect("verify").shards_repaired, 0);

    // m shards lost: still readable. m+1: a clear error, not garbage.
    std::fs::remove_file(c.shard_file(1)).expect("rm");
    flip_byte(&c.shard_file(4), 16 + 3);
    assert_eq!(get(&e, "b", "k").await, body);
    flip_byte(&c.shard_file(2), 16 + 3);
    assert!(matches!(
        read_all(&e, "b", "k", None).await,
        Err(EngineError::InsufficientZones { available: 3, needed: 4 })
    ));
    let r = e.verify_object("b", "k", true).await.expect("verify");
    assert_eq!(r.unrecoverable, 1);
}

async fn wait_orphan_pass(e: &Engine) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while e.stats().orphan_passes == 0 {
        assert!(std::time::Instant::now() < deadline, "no orphan collection after open");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_shard_write_and_commit() {
    let c = Cluster::new();
    let e = c.open().await;
    // The orphan collection that follows an open would take the "crashed"
    // write's files at once: let it finish first.
    wait_orphan_pass(&e).await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    put(&e, "b", "kept", &data(1, 2 * STRIPE)).await;
    let mut w = e.object_writer("b", "lost").await.expect("writer");
    w.write(Bytes::from(data(2, 4 * STRIPE + 1))).await.expect("write");
    w.fault_crash_before_commit().await.expect("shards durable");
    assert_eq!(c.all_shard_files().len(), 12, "the crashed write's shards are on disk");
    assert!(matches!(e.head_object("b", "lost").await, Err(EngineError::NoSuchKey { .. })));
    e.shutdown().await.expect("shutdown");
    drop(e);

    // The open after the "crash" collects the orphans, in the background.
    let e = c.open().await;
    assert!(matches!(e.head_object("b", "lost").await, Err(EngineError::NoSuchKey { .. })));
    wait_orphan_pass(&e).await;
    assert_eq!(e.stats().orphans_collected, 6);
    assert_eq!(c.all_shard_files().len(), 6);
    assert_eq!(get(&e, "b", "kept").await, data(1, 2 * STRIPE));

    // And collect_orphans does the same at run time.
    let mut w = e.object_writer("b", "lost2").await.expect("writer");
    w.write(Bytes::from(data(3, 2 * STRIPE))).await.expect("write");
    w.fault_crash_before_commit().await.expect("shards durable");
    assert_eq!(e.collect_orphans().await.expect("collect"), 6);
    assert_eq!(c.all_shard_files().len(), 6);
    assert_eq!(get(&e, "b", "kept").await, data(1, 2 * STRIPE));
}

/// A second engine on a data directory in use fails to open with a clear
/// error (so a handover successor retries), and leaves the first one working
/// and its replicas untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_use_is_refused() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    put(&e, "b", "k", &data(5, 3 * STRIPE)).await;
    match Engine::open(c.config()).await {
        Err(EngineError::Metadata { message, .. }) => {
            assert!(message.contains("in use by another process"), "{message}")
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a second engine opened a data directory in use"),
    }
    assert_eq!(get(&e, "b", "k").await, data(5, 3 * STRIPE));
    put(&e, "b", "k2", &data(6, 10)).await;
    assert!(e.stats().zones.iter().all(|z| z.metadata_fresh && z.state == ZoneState::Online));
    e.shutdown().await.expect("shutdown");
    drop(e);
    let e = c.open().await;
    assert_eq!(get(&e, "b", "k2").await, data(6, 10));
    assert!(e.stats().zones.iter().all(|z| z.metadata_fresh));
    e.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_lost_is_a_clear_error() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    put(&e, "b", "big", &data(1, 3 * STRIPE)).await;
    put(&e, "b", "small", b"tiny").await;

    // At run time: writes need two metadata replicas; reads still use the
    // shard files of failed zones while they can be read (a zone gone
    // read-only), and need k shards once those are gone too.
    e.fault_fail_zone(0);
    e.fault_fail_zone(1);
    assert_eq!(get(&e, "b", "big").await, data(1, 3 * STRIPE));
    for z in [0, 1] {
        for f in c.shard_files(z) {
            std::fs::remove_file(f).expect("remove shard");
        }
    }
    assert!(matches!(
        read_all(&e, "b", "big", None).await,
        Err(EngineError::InsufficientZones { available: 2, needed: 4 })
    ));
    assert!(matches!(
        try_put(&e, "b", "new", b"x", CommitCondition::None).await,
        Err(EngineError::InsufficientZones { .. })
    ));
    e.shutdown().await.expect("shutdown");
    drop(e);

    // At open: one surviving replica may be stale, so the engine refuses.
    c.lose_zone(0);
    c.lose_zone(1);
    match Engine::open(c.config()).await {
        Err(EngineError::InsufficientZones { available: 1, needed: 2 }) => {}
        other => panic!("expected InsufficientZones, got {:?}", other.err()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_writes_while_a_zone_is_down_then_heal() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    e.fault_fail_zone(1);
    assert_eq!(e.stats().zones[1].state, ZoneState::Missing);
    let body = data(9, 3 * STRIPE + 1);
    put(&e, "b", "k", &body).await;
    put(&e, "b", "s", b"inline while degraded").await;
    assert_eq!(c.shard_files(1).len(), 0, "nothing placed on the failed zone");
    assert_eq!(c.shard_files(0).len() + c.shard_files(2).len(), 6, "all k+m shards on the remaining zones");
    assert_eq!(get(&e, "b", "k").await, body);

    let report = e.heal_all(true, None).await.expect("heal");
    assert_eq!(report.unrecoverable, 0);
    assert!(report.shards_repaired >= 2);
    let stats = e.stats();
    assert!(stats.zones.iter().all(|z| z.state == ZoneState::Online && z.metadata_fresh));
    for z in 0..3 {
        assert_eq!(c.shard_files(z).len(), 2, "normal placement restored in zone {z}");
    }
    assert_eq!(get(&e, "b", "k").await, body);
    e.shutdown().await.expect("shutdown");
    drop(e);
    // Zone 1's replica was rebuilt: lose zone 0 and everything is still there.
    c.lose_zone(0);
    let e = c.open().await;
    assert_eq!(get(&e, "b", "k").await, body);
    assert_eq!(get(&e, "b", "s").await, b"inline while degraded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_in_one_zone_degrades_and_heals() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    // ENOSPC in one zone: that zone is taken out of service and the write goes
    // on with its shards on the other two.
    e.fault_inject(2, InjectedFault::NoSpace);
    put(&e, "b", "k", &data(1, 3 * STRIPE)).await;
    assert_eq!(e.stats().zones[2].state, ZoneState::Missing);
    assert_eq!(get(&e, "b", "k").await, data(1, 3 * STRIPE));
    assert_eq!(c.tmp_files(), 0);
    e.fault_inject(2, InjectedFault::None);
    let r = e.heal_all(true, None).await.expect("heal");
    assert_eq!(r.unrecoverable, 0);
    assert_eq!(e.stats().zones[2].state, ZoneState::Online);
    assert_eq!(get(&e, "b", "k").await, data(1, 3 * STRIPE));

    // An I/O error (not ENOSPC) on one zone: the write goes on degraded.
    e.fault_inject(0, InjectedFault::IoError);
    put(&e, "b", "k2", &data(2, 3 * STRIPE)).await;
    assert_eq!(e.stats().zones[0].state, ZoneState::Missing);
    assert_eq!(get(&e, "b", "k2").await, data(2, 3 * STRIPE));
}

/// Writes `body` in stripe-sized pieces; zone `fault.0` starts failing after `after` of them.
async fn put_failing_midway(e: &Engine, key: &str, body: &[u8], after: usize, fault: (usize, InjectedFault)) {
    let mut w = e.object_writer("b", key).await.expect("writer");
    for (n, piece) in body.chunks(STRIPE).enumerate() {
        if n == after {
            e.fault_inject(fault.0, fault.1);
        }
        w.write(Bytes::copy_from_slice(piece)).await.expect("write goes on while one zone fails");
    }
    if after >= body.len().div_ceil(STRIPE) {
        // After the last block: the zone fails at fsync time.
        e.fault_inject(fault.0, fault.1);
    }
    w.commit("\"e\"".into(), vec![], CommitCondition::None).await.expect("commit with one zone failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_failing_during_a_write_moves_its_shards() {
    // (zone, fault, stripes written before it fails): mid-write EIO, mid-write
    // ENOSPC, and a failure after the last block (the fsync fails).
    let cases = [(1, InjectedFault::IoError, 3), (0, InjectedFault::NoSpace, 5), (2, InjectedFault::IoError, 8)];
    for (zone, fault, after) in cases {
        let c = Cluster::new();
        let e = c.open().await;
        e.create_bucket("b", vec![]).await.expect("bucket");
        let body = data(zone as u64 + 7, 8 * STRIPE);
        put_failing_midway(&e, "k", &body, after, (zone, fault)).await;
        assert_eq!(e.stats().zones[zone].state, ZoneState::Missing, "zone {zone} taken out of service");
        assert_eq!(c.shard_files(zone).len(), 0, "no shard left in the failed zone");
        let others: Vec<usize> = (0..3).filter(|z| *z != zone).map(|z| c.shard_files(z).len()).collect();
        assert_eq!(others, vec![3, 3], "all six shards written, spread over the two other zones");
        assert_eq!(c.tmp_files(), 0);
        assert_eq!(get(&e, "b", "k").await, body);
        // Every shard is whole, though two are away from home.
        let r = e.verify_object("b", "k", false).await.expect("verify");
        assert_eq!(r.unrecoverable, 0);

        // Once the zone is back, a heal moves the shards home, and then any
        // other zone may be lost.
        e.fault_inject(zone, InjectedFault::None);
        let r = e.heal_all(true, None).await.expect("heal");
        assert_eq!((r.unrecoverable, r.shards_repaired), (0, 2), "the two moved shards go home");
        assert!((0..3).all(|z| c.shard_files(z).len() == 2), "home placement restored");
        let lose = (zone + 1) % 3;
        e.shutdown().await.expect("shutdown");
        drop(e);
        c.lose_zone(lose);
        let e = c.open().await;
        assert_eq!(get(&e, "b", "k").await, body, "read with zone {lose} lost after zone {zone} came back");
        e.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_metadata_replica_is_left_for_the_next() {
    let c = Cluster::new();
    let e = c.open().await;
    let objects = populate(&e).await;
    e.shutdown().await.expect("shutdown");
    drop(e);
    // Opening again moves the commits from the WAL into table files.
    let e = c.open().await;
    e.shutdown().await.expect("shutdown");
    drop(e);

    let e = c.open().await;
    // Zone 0's replica (the one read first) goes bad under the running
    // engine: the front of every table file, where its data blocks are, is
    // overwritten in place.
    let tables: Vec<std::path::PathBuf> = std::fs::read_dir(c.zone_dir(0).join("meta"))
        .expect("meta dir")
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .collect();
    assert!(!tables.is_empty(), "the replica has table files");
    for t in &tables {
        let len = std::fs::metadata(t).expect("stat").len();
        let f = std::fs::OpenOptions::new().write(true).open(t).expect("open table");
        std::os::unix::fs::FileExt::write_all_at(&f, &vec![0xA5; (len / 3) as usize], 0).expect("corrupt");
    }
    // Every read and write still answers, from the other replicas.
    check_all(&e, &objects).await;
    put(&e, "b", "after", b"written after the replica failed").await;
    assert_eq!(e.stats().zones[0].state, ZoneState::Missing, "the zone of the bad replica is out of service");
    assert!(!e.stats().zones[0].metadata_fresh);
    // A heal rebuilds the replica from a good one.
    let r = e.heal_all(true, None).await.expect("heal");
    assert_eq!(r.unrecoverable, 0);
    assert!(e.stats().zones.iter().all(|z| z.state == ZoneState::Online && z.metadata_fresh));
    e.shutdown().await.expect("shutdown");
    drop(e);
    // The rebuilt replica is whole: zone 1 may go.
    c.lose_zone(1);
    let e = c.open().await;
    for (k, body) in &objects {
        assert_eq!(&get(&e, "b", k).await, body, "object {k}");
    }
    assert_eq!(get(&e, "b", "after").await, b"written after the replica failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_or_misplaced_zone_dirs_are_refused() {
    let c = Cluster::new();
    let e = c.open().await;
    e.shutdown().await.expect("shutdown");
    drop(e);
    // Swap az1 and az2.
    let (a, b, t) = (c.zone_dir(0), c.zone_dir(1), c.dir.path().join("swap"));
    std::fs::rename(&a, &t).expect("rename");
    std::fs::rename(&b, &a).expect("rename");
    std::fs::rename(&t, &b).expect("rename");
    match Engine::open(c.config()).await {
        Err(EngineError::Corrupt { what }) => assert!(what.contains("zone"), "{what}"),
        other => panic!("expected refusal, got {:?}", other.err()),
    }
    std::fs::rename(&a, &t).expect("rename");
    std::fs::rename(&b, &a).expect("rename");
    std::fs::rename(&t, &b).expect("rename");

    // A zone dir from another cluster.
    let other = Cluster::new();
    let e2 = other.open().await;
    e2.shutdown().await.expect("shutdown");
    drop(e2);
    std::fs::remove_dir_all(c.zone_dir(2)).expect("rm");
    std::fs::rename(other.zone_dir(2), c.zone_dir(2)).expect("move");
    match Engine::open(c.config()).await {
        Err(EngineError::Corrupt { what }) => assert!(what.contains("cluster"), "{what}"),
        other => panic!("expected refusal, got {:?}", other.err()),
    }

    // A non-empty directory without a marker.
    std::fs::remove_dir_all(c.zone_dir(2)).expect("rm");
    std::fs::create_dir_all(c.zone_dir(2)).expect("mkdir");
    std::fs::write(c.zone_dir(2).join("something"), b"x").expect("write");
    assert!(matches!(Engine::open(c.config()).await, Err(EngineError::Corrupt { .. })));
    std::fs::remove_file(c.zone_dir(2).join("something")).expect("rm");
    // Empty: recreated.
    let e = c.open().await;
    e.create_bucket("ok", vec![]).await.expect("works");
}
