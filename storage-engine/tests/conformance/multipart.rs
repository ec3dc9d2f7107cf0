//! Multipart uploads: parts, re-upload, complete, abort, listing.

use crate::common::*;
use bytes::Bytes;
use storage_engine::{CommitCondition, Engine, EngineError, PartInfo};

const MIN_PART: u64 = 2 * STRIPE as u64;

async fn upload_part(e: &Engine, key: &str, id: &str, n: u32, body: &[u8]) -> PartInfo {
    let mut w = e.part_writer("b", key, id, n).await.expect("part writer");
    for piece in body.chunks(999) {
        w.write(Bytes::copy_from_slice(piece)).await.expect("write");
    }
    assert_eq!(w.bytes_written(), body.len() as u64);
    w.commit(format!("\"part-{n}-{}\"", body.len()), vec![n as u8]).await.expect("commit part")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_with_reupload_and_unlisted_parts() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let up = e.create_upload("b", "mp", b"up".to_vec()).await.expect("create upload");
    assert_eq!(e.get_upload("b", "mp", &up.upload_id).await.expect("get"), up);
    let p1a = data(1, MIN_PART as usize + 10);
    let p1b = data(2, MIN_PART as usize + 20);
    let p2 = data(3, 3 * STRIPE + 5);
    let p3 = data(4, 300); // inline
    let p4 = data(5, 2 * STRIPE); // never listed
    upload_part(&e, "mp", &up.upload_id, 1, &p1a).await;
    let i1 = upload_part(&e, "mp", &up.upload_id, 1, &p1b).await; // re-upload: new storage id
    let i2 = upload_part(&e, "mp", &up.upload_id, 2, &p2).await;
    let i3 = upload_part(&e, "mp", &up.upload_id, 3, &p3).await;
    let i4 = upload_part(&e, "mp", &up.upload_id, 4, &p4).await;
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 3 * 6, "the first attempt of part 1 is freed");

    let (parts, truncated) = e.list_parts("b", "mp", &up.upload_id, 0, 1000).await.expect("parts");
    assert!(!truncated);
    assert_eq!(parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(parts[0], i1);
    let (page, truncated) = e.list_parts("b", "mp", &up.upload_id, 1, 2).await.expect("parts");
    assert!(truncated);
    assert_eq!(page.iter().map(|p| p.part_number).collect::<Vec<_>>(), vec![2, 3]);

    let listed = |v: &[&PartInfo]| v.iter().map(|p| (p.part_number, p.etag.clone())).collect::<Vec<_>>();
    // Validation errors leave the upload intact.
    let err = e
        .complete_upload(
            "b",
            "mp",
            &up.upload_id,
            &listed(&[&i2, &i1]),
            MIN_PART,
            "\"x\"".into(),
            vec![],
            CommitCondition::None,
        )
        .await;
    assert!(matches!(err, Err(EngineError::InvalidPartOrder)));
    let bad = vec![(1, i1.etag.clone()), (2, "\"wrong\"".to_string())];
    let err = e
        .complete_upload("b", "mp", &up.upload_id, &bad, MIN_PART, "\"x\"".into(), vec![], CommitCondition::None)
        .await;
    assert!(matches!(err, Err(EngineError::InvalidPart { part_number: 2 })));
    let missing = vec![(1, i1.etag.clone()), (9, "\"x\"".to_string())];
    let err = e
        .complete_upload("b", "mp", &up.upload_id, &missing, MIN_PART, "\"x\"".into(), vec![], CommitCondition::None)
        .await;
    assert!(matches!(err, Err(EngineError::InvalidPart { part_number: 9 })));
    let err = e
        .complete_upload(
            "b",
            "mp",
            &up.upload_id,
            &listed(&[&i3, &i4]),
            MIN_PART,
            "\"x\"".into(),
            vec![],
            CommitCondition::None,
        )
        .await;
    assert!(matches!(err, Err(EngineError::EntityTooSmall { part_number: 3 })));

    // Unquoted etags from the client match too.
    let mut parts = listed(&[&i1, &i2, &i3]);
    parts[0].1 = parts[0].1.trim_matches('"').to_string();
    let info = e
        .complete_upload(
            "b",
            "mp",
            &up.upload_id,
            &parts,
            MIN_PART,
            "\"mp-3\"".into(),
            b"obj".to_vec(),
            CommitCondition::None,
        )
        .await
        .expect("complete");
    let mut expected = p1b.clone();
    expected.extend_from_slice(&p2);
    expected.extend_from_slice(&p3);
    assert_eq!(info.size_bytes, expected.len() as u64);
    assert_eq!(info.part_sizes, vec![p1b.len() as u64, p2.len() as u64, p3.len() as u64]);
    assert_eq!(get(&e, "b", "mp").await, expected);
    // A range across the part boundaries.
    let (a, z) = (p1b.len() as u64 - 5, (p1b.len() + p2.len()) as u64 + 7);
    assert_eq!(read_all(&e, "b", "mp", Some((a, z))).await.expect("range"), &expected[a as usize..z as usize]);
    assert!(matches!(e.get_upload("b", "mp", &up.upload_id).await, Err(EngineError::NoSuchUpload { .. })));
    assert!(matches!(e.abort_upload("b", "mp", &up.upload_id).await, Err(EngineError::NoSuchUpload { .. })));
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 2 * 6, "unlisted part 4 freed, listed parts kept without copying");
    assert_eq!(e.verify_object("b", "mp", false).await.expect("verify").shards_repaired, 0);

    // Overwriting the object frees the parts' data.
    put(&e, "b", "mp", b"small").await;
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_frees_parts_and_blocks_late_parts() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let up = e.create_upload("b", "k", vec![]).await.expect("create");
    upload_part(&e, "k", &up.upload_id, 1, &data(1, 3 * STRIPE)).await;
    upload_part(&e, "k", &up.upload_id, 2, &data(2, 10)).await;
    let mut late = e.part_writer("b", "k", &up.upload_id, 3).await.expect("writer");
    late.write(Bytes::from(data(3, 2 * STRIPE))).await.expect("write");
    e.abort_upload("b", "k", &up.upload_id).await.expect("abort");
    let res = late.commit("\"e\"".into(), vec![]).await;
    assert!(matches!(res, Err(EngineError::NoSuchUpload { .. })));
    e.collect_orphans().await.expect("gc");
    assert_eq!(c.all_shard_files().len(), 0);
    assert_eq!(c.tmp_files(), 0);
    assert!(matches!(e.list_parts("b", "k", &up.upload_id, 0, 10).await, Err(EngineError::NoSuchUpload { .. })));
    assert!(matches!(e.part_writer("b", "k", &up.upload_id, 1).await, Err(EngineError::NoSuchUpload { .. })));
    assert!(matches!(e.get_upload("b", "other-key", "nope").await, Err(EngineError::NoSuchUpload { .. })));
    assert!(matches!(e.create_upload("nope", "k", vec![]).await, Err(EngineError::NoSuchBucket { .. })));
    assert!(matches!(e.head_object("b", "k").await, Err(EngineError::NoSuchKey { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_uploads_with_markers() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let mut ids = Vec::new();
    for key in ["a/1", "a/2", "a/2", "b/1"] {
        ids.push(e.create_upload("b", key, vec![]).await.expect("create"));
    }
    let (all, truncated) = e.list_uploads("b", "", None, None, 100).await.expect("list");
    assert!(!truncated);
    assert_eq!(all.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), vec!["a/1", "a/2", "a/2", "b/1"]);
    let (under_a, _) = e.list_uploads("b", "a/", None, None, 100).await.expect("list");
    assert_eq!(under_a.len(), 3);
    let (after, _) = e.list_uploads("b", "", Some("a/2"), None, 100).await.expect("list");
    assert_eq!(after.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), vec!["b/1"]);
    let (after_id, _) = e.list_uploads("b", "", Some("a/2"), Some(&all[1].upload_id), 100).await.expect("list");
    assert_eq!(
        after_id.iter().map(|u| u.upload_id.as_str()).collect::<Vec<_>>(),
        vec![all[2].upload_id.as_str(), all[3].upload_id.as_str()]
    );
    let (page, truncated) = e.list_uploads("b", "", None, None, 2).await.expect("list");
    assert!(truncated);
    assert_eq!(page.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_survives_zone_loss() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    let up = e.create_upload("b", "k", vec![]).await.expect("create");
    let p1 = data(1, MIN_PART as usize);
    let p2 = data(2, 3 * STRIPE + 1);
    let i1 = upload_part(&e, "k", &up.upload_id, 1, &p1).await;
    let i2 = upload_part(&e, "k", &up.upload_id, 2, &p2).await;
    e.shutdown().await.expect("shutdown");
    drop(e);
    c.lose_zone(1);
    let e = c.open().await;
    let parts = vec![(1, i1.etag.clone()), (2, i2.etag.clone())];
    e.complete_upload("b", "k", &up.upload_id, &parts, MIN_PART, "\"m\"".into(), vec![], CommitCondition::None)
        .await
        .expect("complete");
    let mut expected = p1;
    expected.extend_from_slice(&p2);
    assert_eq!(get(&e, "b", "k").await, expected);
    let r = e.heal_all(true, None).await.expect("heal");
    assert_eq!(r.unrecoverable, 0);
    assert_eq!(e.verify_object("b", "k", false).await.expect("verify").shards_repaired, 0);
}
