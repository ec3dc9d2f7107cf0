//! Zones on real filesystems that fail as disks do: az3 starts answering
//! every I/O with EIO (an ext4 shutdown), then az2 turns read-only after a
//! filesystem error (ext4 `errors=remount-ro`). With one zone gone, writes go
//! on and everything reads back; with two zones unusable, writes fail with
//! 503 `ServiceUnavailable`, refused writes are never half visible, and every
//! object keeps reading back from the k shards left on az1 and the read-only
//! az2. Skipped (with a printed reason) where loop mounts are not permitted.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use super::{admin, admin_json, metric, options, LoopFs, ADMIN_TOKEN};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Server};

/// Sizes that cover an inline object, a one-stripe object and a multi-stripe one.
const SIZES: [usize; 3] = [2_000, 300_000, 3 << 20];

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) -> Result<(), (Option<u16>, Option<String>)> {
    match s3.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err((e.raw_response().map(|r| r.status().as_u16()), e.code().map(str::to_string))),
    }
}

async fn multipart(s3: &Client, bucket: &str, key: &str, seed: u64) -> Vec<u8> {
    let up = s3.create_multipart_upload().bucket(bucket).key(key).send().await.expect("create upload");
    let id = up.upload_id().expect("upload id").to_string();
    let mut whole = Vec::new();
    let mut done = Vec::new();
    for n in 1..=2 {
        let part = test_data(5 << 20, seed + n as u64);
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(part.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload part {n} of {key}: {e:?}"));
        done.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().expect("etag")).build());
        whole.extend_from_slice(&part);
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete {key}: {e:?}"));
    whole
}

async fn read_all(s3: &Client, bucket: &str, stored: &[(String, Vec<u8>)], phase: &str, server: &Server) {
    for (key, body) in stored {
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{phase}: get {key}: {e:?}\n{}", server.output()));
        let got = out.body.collect().await.expect("body").into_bytes();
        assert!(got[..] == body[..], "{phase}: {key} reads back identical");
    }
}

#[tokio::test]
async fn eio_zone_then_read_only_zone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let az3 = match LoopFs::mount(&dir.path().join("az3.img"), 160, &data.join("az3"), "loop") {
        Ok(fs) => fs,
        Err(reason) => {
            println!("SKIPPED eio_zone_then_read_only_zone: cannot loop-mount a filesystem here ({reason})");
            return;
        }
    };
    let az2 = LoopFs::mount(&dir.path().join("az2.img"), 160, &data.join("az2"), "loop,errors=remount-ro")
        .expect("second loop mount");
    let server = Server::start_in(&data, options(&[])).await;
    let s3 = client(&server);
    let bucket = bucket_name("iofault");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");

    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seed = 0u64;
    let mut next = |prefix: &str, size: usize| {
        seed += 1;
        (format!("{prefix}-{seed}"), test_data(size, seed))
    };
    for size in SIZES {
        let (key, body) = next("healthy", size);
        put(&s3, &bucket, &key, &body).await.expect("healthy put");
        stored.push((key, body));
    }
    stored.push(("healthy-multipart".into(), multipart(&s3, &bucket, "healthy-multipart", 100).await));

    // az3's disk dies: every I/O on it fails with EIO from now on.
    az3.shut_down().expect("shut down az3");
    for round in 0..2 {
        for size in SIZES {
            let (key, body) = next("eio", size);
            put(&s3, &bucket, &key, &body)
                .await
                .unwrap_or_else(|e| panic!("put {key} (round {round}) with az3 failing: {e:?}\n{}", server.output()));
            stored.push((key, body));
        }
    }
    stored.push(("eio-multipart".into(), multipart(&s3, &bucket, "eio-multipart", 200).await));
    let status = admin_json(&server, "GET", "/admin/v1/status").await;
    assert_eq!(status["zones"][2]["state"], "failed", "az3 is out of service: {status}");
    assert_eq!(status["zones"][0]["state"], "online", "{status}");
    assert_eq!(status["zones"][1]["state"], "online", "{status}");
    read_all(&s3, &bucket, &stored, "az3 failing", &server).await;
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.expect("list with az3 failing");
    assert_eq!(listed.key_count(), Some(stored.len() as i32));

    // az2 hits a filesystem error and ext4 turns it read-only: two zones are unusable.
    az2.force_read_only().expect("az2 read-only");
    let mut refused = Vec::new();
    for size in SIZES.into_iter().rev() {
        let (key, body) = next("refused", size);
        match put(&s3, &bucket, &key, &body).await {
            Ok(()) => panic!("put {key} acknowledged with az2 read-only and az3 failing\n{}", server.output()),
            Err((status, code)) => {
                assert_eq!(
                    (status, code.as_deref()),
                    (Some(503), Some("ServiceUnavailable")),
                    "write of {size} bytes with two zones unusable"
                );
                refused.push((key, body));
            }
        }
    }
    let create = s3.create_multipart_upload().bucket(&bucket).key("refused-multipart").send().await;
    let err = create.expect_err("CreateMultipartUpload with two zones unusable");
    assert_eq!(err.code(), Some("ServiceUnavailable"), "{err:?}");
    let status = admin_json(&server, "GET", "/admin/v1/status").await;
    assert_eq!(status["zones"][1]["state"], "failed", "az2 is out of service: {status}");

    // Reads go on from az1 and the read-only az2: every object has k healthy shards there.
    read_all(&s3, &bucket, &stored, "az2 read-only, az3 failing", &server).await;
    // A refused write is absent or, if its commit reached the one writable
    // replica before the others failed, whole; never partial.
    for (key, body) in &refused {
        if let Ok(out) = s3.get_object().bucket(&bucket).key(key).send().await {
            let got = out.body.collect().await.expect("body").into_bytes();
            assert!(got[..] == body[..], "refused {key} is visible but not whole");
        }
    }

    let metrics = admin(&server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert_eq!(metric(&metrics, "coffer_zone_state{zone=\"az2\"}"), 2.0, "{metrics}");
    assert_eq!(metric(&metrics, "coffer_zone_state{zone=\"az3\"}"), 2.0, "{metrics}");
    assert!(metric(&metrics, "coffer_requests_total{op=\"PutObject\",status=\"503\"}") >= 3.0, "{metrics}");
    println!(
        "io faults: {} objects acknowledged and read back with az3 on EIO and az2 read-only; {} writes refused with 503",
        stored.len(),
        refused.len()
    );
    drop(server);
    drop((az2, az3));
}
