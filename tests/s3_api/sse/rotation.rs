//! Master key rotation: every SSE-S3 data key re-wrapped under a new version
//! (objects and uploads in progress), old objects still readable, the old
//! version dropped from the keyring, and all of it surviving a restart.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};

use super::{get, put, sse_options, Mode, MIN_PART};
use crate::common::{client, test_data, Ctx, Server};

#[tokio::test]
async fn rotation_rewraps_without_rewriting_data() {
    let dir = tempfile::Builder::new().prefix("coffer-sse-rot-").tempdir().expect("tmp");
    let server = Server::start_in(dir.path(), sse_options(&[])).await;
    let s3 = client(&server);
    let bucket = crate::common::bucket_name("sse-rotate");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let ctx = Ctx { server, s3, bucket };
    let mut objects = Vec::new();
    for i in 0..12u64 {
        let data = test_data(if i % 3 == 0 { 2_000_000 } else { 5_000 + i as usize }, i);
        let mode = match i % 4 {
            0 | 1 => Mode::S3,
            2 => Mode::Kms(None),
            _ => Mode::C([i as u8; 32]),
        };
        put(&ctx, &format!("obj{i}"), &data, &mode).await;
        objects.push((format!("obj{i}"), data, mode));
    }
    // An SSE-S3 upload in progress, with one part stored before the rotation.
    let up = ctx
        .s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mpu")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("create");
    let id = up.upload_id().expect("id").to_string();
    let part1 = test_data(MIN_PART, 77);
    let p1 = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(&id)
        .part_number(1)
        .body(part1.clone().into())
        .send()
        .await
        .expect("part 1");
    let shard_mtimes = shard_mtimes(dir.path());

    let (code, before, out) = crate::ops::cli(&ctx.server, &["master-key", "status"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(before["current"], 1, "{out}");
    let (code, report, out) = crate::ops::cli(&ctx.server, &["master-key", "rotate"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["new_version"], 2, "{out}");
    assert_eq!(report["objects_rewrapped"], 6, "six SSE-S3 objects: {out}");
    assert_eq!(report["uploads_rewrapped"], 1, "{out}");
    assert_eq!(report["failed"], 0, "{out}");
    assert_eq!(report["removed_versions"], serde_json::json!([1]), "{out}");
    let (_, after, out) = crate::ops::cli(&ctx.server, &["master-key", "status"]);
    assert_eq!(after["versions"], serde_json::json!([2]), "{out}");
    // No shard file was rewritten.
    assert_eq!(shard_mtimes, self::shard_mtimes(dir.path()), "rotation must not touch object data");

    for (key, data, mode) in &objects {
        assert!(get(&ctx, key, mode, None).await.0 == *data, "{key} after rotation");
    }
    // The upload continues under the new version.
    let part2 = test_data(1000, 78);
    let p2 = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(&id)
        .part_number(2)
        .body(part2.clone().into())
        .send()
        .await
        .expect("part 2");
    let parts = vec![
        CompletedPart::builder().part_number(1).e_tag(p1.e_tag().expect("etag")).build(),
        CompletedPart::builder().part_number(2).e_tag(p2.e_tag().expect("etag")).build(),
    ];
    ctx.s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    let whole = [part1, part2].concat();
    assert!(get(&ctx, "mpu", &Mode::None, None).await.0 == whole);

    // A second rotation, then a restart: everything still reads.
    let (code, report, out) = crate::ops::cli(&ctx.server, &["master-key", "rotate"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["objects_rewrapped"], 7, "{out}");
    let Ctx { mut server, bucket, .. } = ctx;
    server.stop();
    drop(server);
    let server = Server::start_in(dir.path(), sse_options(&[])).await;
    let s3 = client(&server);
    let ctx = Ctx { server, s3, bucket };
    for (key, data, mode) in &objects {
        assert!(get(&ctx, key, mode, None).await.0 == *data, "{key} after restart");
    }
    assert!(get(&ctx, "mpu", &Mode::None, None).await.0 == whole);
    let ring = std::fs::read_to_string(dir.path().join("keyring.json")).expect("keyring");
    let ring: serde_json::Value = serde_json::from_str(&ring).expect("json");
    assert_eq!(ring["current_master"], 3);
    assert_eq!(ring["master"].as_array().map(Vec::len), Some(1));
}

fn shard_mtimes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut out: Vec<_> = crate::ops::shard_files(dir)
        .into_iter()
        .filter_map(|p| std::fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (p, t)))
        .collect();
    out.sort();
    out
}

/// Rotation re-wraps older versions too, so they still read once the old master version is gone.
#[tokio::test]
async fn rotation_covers_older_versions() {
    let ctx = Ctx::with_options("sse-rotate-versions", sse_options(&[])).await;
    ctx.s3
        .put_bucket_versioning()
        .bucket(&ctx.bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    let old = test_data(200_000, 1);
    let new = test_data(1_000, 2);
    let v1 = put(&ctx, "k", &old, &Mode::S3).await.version_id().expect("v1").to_string();
    put(&ctx, "k", &new, &Mode::S3).await;
    let (code, report, out) = crate::ops::cli(&ctx.server, &["master-key", "rotate"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["objects_rewrapped"], 2, "{out}");
    assert_eq!(report["removed_versions"], serde_json::json!([1]), "{out}");
    let got = ctx.s3.get_object().bucket(&ctx.bucket).key("k").version_id(&v1).send().await.expect("old version");
    assert!(got.body.collect().await.expect("body").into_bytes().as_ref() == old.as_slice());
    assert!(get(&ctx, "k", &Mode::S3, None).await.0 == new);
}
