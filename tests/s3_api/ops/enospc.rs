//! A real full disk: az3 (and later az2) on small loop-mounted ext4
//! filesystems. One full zone is taken out of service and writes go on; with
//! two zones unusable writes fail with `InsufficientStorage` or
//! `ServiceUnavailable`, nothing half-written is visible, and everything
//! acknowledged still reads back. Skipped (with a printed reason) where
//! loop mounts are not permitted.

use super::{admin_json, options, LoopFs};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Server};

#[tokio::test]
async fn full_zones_on_real_small_filesystems() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let az3 = match LoopFs::mount(&dir.path().join("az3.img"), 48, &data.join("az3"), "loop") {
        Ok(fs) => fs,
        Err(reason) => {
            println!("SKIPPED full_zones_on_real_small_filesystems: cannot loop-mount a filesystem here ({reason})");
            return;
        }
    };
    let az2 = LoopFs::mount(&dir.path().join("az2.img"), 160, &data.join("az2"), "loop").expect("second loop mount");
    let server = Server::start_in(&data, options(&[])).await;
    let s3 = client(&server);
    let bucket = bucket_name("enospc");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");

    // Fill until az3 is full: every write is still acknowledged.
    let mut stored = Vec::new();
    let mut i = 0u64;
    let zone_state = |status: &serde_json::Value, zone: usize| status["zones"][zone]["state"].clone();
    loop {
        let key = format!("o{i}");
        let body = test_data(3 << 20, i);
        let put = s3.put_object().bucket(&bucket).key(&key).body(body.clone().into()).send().await;
        put.unwrap_or_else(|e| panic!("put {key} with one zone filling up: {e:?}\n{}", server.output()));
        stored.push((key, body));
        i += 1;
        let status = admin_json(&server, "GET", "/admin/v1/status").await;
        if zone_state(&status, 2) == "failed" {
            break;
        }
        assert!(i < 40, "az3 never filled up: {status}");
    }
    // Writes go on with az3 out of service.
    for _ in 0..3 {
        let key = format!("o{i}");
        let body = test_data(3 << 20, i);
        s3.put_object().bucket(&bucket).key(&key).body(body.clone().into()).send().await.expect("degraded put");
        stored.push((key, body));
        i += 1;
    }
    let metrics = super::admin(&server, "GET", "/metrics", Some(super::ADMIN_TOKEN)).await.text();
    assert!(metrics.contains("coffer_zone_state{zone=\"az3\"} 2"), "{metrics}");

    // Now fill az2: writes must start failing with a clear error.
    let mut refused = None;
    for _ in 0..80 {
        let key = format!("o{i}");
        let body = test_data(3 << 20, i);
        match s3.put_object().bucket(&bucket).key(&key).body(body.clone().into()).send().await {
            Ok(_) => stored.push((key, body)),
            Err(e) => {
                let raw = e.raw_response().map(|r| r.status().as_u16());
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string);
                refused = Some((key, body, raw, code));
                break;
            }
        }
        i += 1;
    }
    let (key, body, status, code) = refused.expect("writes fail once two zones are full");
    assert!(
        matches!(
            (status, code.as_deref()),
            (Some(507), Some("InsufficientStorage")) | (Some(503), Some("ServiceUnavailable"))
        ),
        "refused write: {status:?} {code:?}"
    );
    // The refused write is not half visible: absent, or (if its commit landed
    // on a surviving replica) whole.
    if let Ok(out) = s3.get_object().bucket(&bucket).key(&key).send().await {
        let got = out.body.collect().await.expect("body").into_bytes();
        assert!(got[..] == body[..], "refused {key} is visible but not whole");
    }
    // A copy is checked for room before it reads its source.
    let copy = s3
        .copy_object()
        .bucket(&bucket)
        .key("copy-when-full")
        .copy_source(format!("{bucket}/{}", stored[0].0))
        .send()
        .await
        .expect_err("copy refused once two zones are unusable");
    assert_eq!(copy.raw_response().map(|r| r.status().as_u16()), Some(507), "{copy:?}");
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&copy), Some("InsufficientStorage"));
    assert!(s3.head_object().bucket(&bucket).key("copy-when-full").send().await.is_err());
    // Everything acknowledged still reads back.
    for (key, body) in &stored {
        let out = s3.get_object().bucket(&bucket).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        let got = out.body.collect().await.expect("body").into_bytes();
        assert!(got[..] == body[..], "{key} reads back identical");
    }
    println!("enospc: {} objects acknowledged, write {} refused with {status:?} {code:?}", stored.len(), key);
    drop(server);
    drop((az2, az3));
}

/// The disk holding the log fills up: every write to stderr fails with
/// ENOSPC. Requests, including ones that log errors, still get their S3
/// answers, and the server stays up.
#[tokio::test]
async fn a_full_log_disk_does_not_fail_requests() {
    let server = Server::start_with(crate::common::ServerOptions { log_to_dev_full: true, ..options(&[]) }).await;
    let s3 = client(&server);
    let bucket = bucket_name("fulllog");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let good = test_data(3 << 20, 1);
    s3.put_object().bucket(&bucket).key("good").body(good.clone().into()).send().await.expect("put good");
    let of_good = super::shard_files(&server.data_dir);
    s3.put_object().bucket(&bucket).key("lost").body(test_data(3 << 20, 2).into()).send().await.expect("put lost");
    // Take four of the six shards of `lost` (k = 4): reading it fails, and
    // the engine and the server log that at error level.
    let of_lost: Vec<_> = super::shard_files(&server.data_dir).into_iter().filter(|f| !of_good.contains(f)).collect();
    assert_eq!(of_lost.len(), 6, "{of_lost:?}");
    for f in &of_lost[..4] {
        std::fs::remove_file(f).expect("remove shard");
    }
    // The response head is sent before the first stripe is read: the body
    // ends early, as the read of an unreadable object does (the length
    // promised is not delivered, so no client takes it as whole).
    let lost = s3.get_object().bucket(&bucket).key("lost").send().await.expect("response head");
    assert!(lost.body.collect().await.is_err(), "the body of an unreadable object is cut short");
    // The server is still up and serves the rest.
    let got = s3.get_object().bucket(&bucket).key("good").send().await.expect("get good");
    assert_eq!(got.body.collect().await.expect("body").into_bytes(), good);
    let missing = s3.head_object().bucket("no-such-bucket-here").key("k").send().await.expect_err("no bucket");
    assert_eq!(missing.raw_response().map(|r| r.status().as_u16()), Some(404));
}
