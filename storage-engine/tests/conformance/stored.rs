//! The stored counts (objects, older versions, data bytes) follow every kind
//! of write and delete exactly, and survive a reopen and a lost zone.

use crate::common::*;
use bytes::Bytes;
use storage_engine::{CommitCondition, Engine, StoredCounts, Versioning};

fn counts(e: &Engine) -> StoredCounts {
    e.stats().stored
}

async fn put_versioned(e: &Engine, key: &str, body: &[u8]) {
    let mut w = e.object_writer("v", key).await.expect("writer").with_versioning(Versioning::Enabled);
    w.write(Bytes::copy_from_slice(body)).await.expect("write");
    w.commit("\"e\"".into(), vec![], CommitCondition::None).await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_follow_writes_and_deletes() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    e.create_bucket("v", vec![]).await.expect("bucket");
    assert_eq!(counts(&e), StoredCounts::default());

    let (small, large) = (INLINE - 1, 3 * STRIPE + 7);
    put(&e, "b", "inline", &data(1, small)).await;
    put(&e, "b", "erasure", &data(2, large)).await;
    assert_eq!(counts(&e), StoredCounts { objects: 2, versions: 0, bytes: (small + large) as u64 });

    // Overwrites replace the bytes; the object count stays.
    put(&e, "b", "inline", &data(3, large)).await;
    put(&e, "b", "erasure", &data(4, small)).await;
    assert_eq!(counts(&e), StoredCounts { objects: 2, versions: 0, bytes: (small + large) as u64 });

    e.delete_object("b", "inline").await.expect("delete");
    e.delete_object("b", "missing").await.expect("delete of nothing");
    assert_eq!(counts(&e), StoredCounts { objects: 1, versions: 0, bytes: small as u64 });

    // Versioning: the old version moves to the versions table with its bytes.
    put_versioned(&e, "k", &data(5, large)).await;
    put_versioned(&e, "k", &data(6, small)).await;
    assert_eq!(counts(&e), StoredCounts { objects: 2, versions: 1, bytes: (2 * small + large) as u64 });
    e.delete_object_versioned("v", "k", Versioning::Enabled).await.expect("delete marker");
    let after_marker = counts(&e);
    assert_eq!(after_marker.objects, 1, "the current version became a noncurrent one");
    assert_eq!(after_marker.versions, 3, "two older versions and the delete marker");
    assert_eq!(after_marker.bytes, (2 * small + large) as u64, "a delete marker holds no data");

    // Parts of an upload in progress are stored bytes; completion keeps them, abort frees them.
    let part = data(7, 2 * STRIPE);
    let up = e.create_upload("b", "mp", vec![]).await.expect("upload");
    let mut w = e.part_writer("b", "mp", &up.upload_id, 1).await.expect("part");
    w.write(Bytes::copy_from_slice(&part)).await.expect("write part");
    let p = w.commit("\"p1\"".into(), vec![]).await.expect("part commit");
    let with_part = counts(&e);
    assert_eq!(with_part.bytes, after_marker.bytes + part.len() as u64);
    assert_eq!(with_part.objects, after_marker.objects, "a part is not an object");
    e.complete_upload("b", "mp", &up.upload_id, &[(1, p.etag)], 0, "\"mp\"".into(), vec![], CommitCondition::None)
        .await
        .expect("complete");
    let completed = counts(&e);
    assert_eq!(completed.objects, after_marker.objects + 1);
    assert_eq!(completed.bytes, with_part.bytes, "completion moves the part's bytes to the object");
    let up2 = e.create_upload("b", "aborted", vec![]).await.expect("upload");
    let mut w = e.part_writer("b", "aborted", &up2.upload_id, 1).await.expect("part");
    w.write(Bytes::copy_from_slice(&part)).await.expect("write part");
    w.commit("\"p\"".into(), vec![]).await.expect("part commit");
    e.abort_upload("b", "aborted", &up2.upload_id).await.expect("abort");
    assert_eq!(counts(&e), completed, "an aborted upload leaves nothing counted");

    // The counts are part of the metadata: the same after a reopen, and after
    // a zone is lost and its replica rebuilt.
    e.shutdown().await.expect("shutdown");
    drop(e);
    let e = c.open().await;
    assert_eq!(counts(&e), completed);
    e.shutdown().await.expect("shutdown");
    drop(e);
    c.lose_zone(0);
    let e = c.open().await;
    assert_eq!(counts(&e), completed);
    put(&e, "b", "after-rebuild", &data(8, small)).await;
    assert_eq!(counts(&e).objects, completed.objects + 1);
}
