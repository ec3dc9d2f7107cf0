//! What someone holding the disks finds: no plaintext of encrypted objects
//! anywhere under the data directory (zones, metadata replicas, logs), while
//! the same scan finds unencrypted objects (so the scan can fail). And healing
//! a lost zone needs no keys.

use super::{all_files, put, sse_options, Mode, MIN_PART};
use crate::common::{client, Ctx, Server};

const MARKER: &[u8] = b"COFFER-PLAINTEXT-MARKER-7f3a9c1e-do-not-store-me";

/// `len` bytes of the marker repeated with a counter, so no block is all one pattern.
fn marked(len: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = seed;
    while out.len() < len {
        out.extend_from_slice(MARKER);
        out.extend_from_slice(format!("#{i:08}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn files_with_marker(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    all_files(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).map(|b| b.windows(MARKER.len()).any(|w| w == MARKER)).unwrap_or(false))
        .collect()
}

/// Writes marked objects (inline, erasure-coded, multipart) in `mode`, stops
/// the server, and returns the files under the data directory that contain the marker.
async fn scan_after_writes(mode: Mode) -> Vec<std::path::PathBuf> {
    let dir = tempfile::Builder::new().prefix("coffer-sse-scan-").tempdir().expect("tmp");
    let server = Server::start_in(dir.path(), sse_options(&[])).await;
    let s3 = client(&server);
    let bucket = crate::common::bucket_name("sse-scan");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let ctx = Ctx { server, s3, bucket };
    for i in 0..20usize {
        let len = [300, 20_000, 100_000, 1_500_000][i % 4];
        put(&ctx, &format!("o{i}"), &marked(len, i * 1000), &mode).await;
    }
    // A multipart object of two parts.
    let mut create = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("mpu");
    let c = mode.c_headers();
    create = match &mode {
        Mode::S3 => create.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256),
        Mode::Kms(_) => create.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms),
        _ => create,
    };
    if let Some((a, k, m)) = &c {
        create = create.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
    }
    let id = create.send().await.expect("create").upload_id().expect("id").to_string();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let mut req = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key("mpu")
            .upload_id(&id)
            .part_number(n)
            .body(marked(MIN_PART + 1000, n as usize).into());
        if let Some((a, k, m)) = &c {
            req = req.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
        }
        let out = req.send().await.expect("part");
        parts
            .push(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(out.e_tag().expect("etag")).build());
    }
    ctx.s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(&id)
        .multipart_upload(aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    let Ctx { mut server, .. } = ctx;
    server.stop();
    drop(server);
    files_with_marker(dir.path())
}

#[tokio::test]
async fn no_plaintext_at_rest_with_sse() {
    // The control: without encryption the scan finds the marker (in shard files and metadata).
    let plain = scan_after_writes(Mode::None).await;
    assert!(!plain.is_empty(), "the scan must find unencrypted data");
    for mode in [Mode::S3, Mode::Kms(None), Mode::C([0x42; 32])] {
        let found = scan_after_writes(mode.clone()).await;
        assert!(found.is_empty(), "{mode:?}: plaintext found in {found:?}");
    }
}

#[tokio::test]
async fn lost_zone_heals_without_keys() {
    let dir = tempfile::Builder::new().prefix("coffer-sse-heal-").tempdir().expect("tmp");
    let server = Server::start_in(dir.path(), sse_options(&[])).await;
    let s3 = client(&server);
    let bucket = crate::common::bucket_name("sse-heal");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let ctx = Ctx { server, s3, bucket };
    let modes = [Mode::S3, Mode::Kms(None), Mode::C([9; 32])];
    let mut objects = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let data = marked(2_500_000 + i, i);
        put(&ctx, &format!("k{i}"), &data, mode).await;
        objects.push((format!("k{i}"), data, mode.clone()));
    }
    let Ctx { mut server, bucket, .. } = ctx;
    server.stop();
    drop(server);
    std::fs::remove_dir_all(dir.path().join("az2")).expect("remove az2");
    let server = Server::start_in(dir.path(), sse_options(&[])).await;
    let s3 = client(&server);
    let ctx = Ctx { server, s3, bucket };
    for (key, data, mode) in &objects {
        assert!(super::get(&ctx, key, mode, None).await.0 == *data, "{key}: degraded read");
    }
    let summary = crate::ops::heal_wait(&ctx.server);
    assert_eq!(summary["objects_checked"], 3, "{summary}");
    for (key, data, mode) in &objects {
        assert!(super::get(&ctx, key, mode, None).await.0 == *data, "{key}: after heal");
    }
}
