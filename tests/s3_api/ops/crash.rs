//! SIGKILL crash loop: several clients put and overwrite objects of mixed
//! sizes (some multipart) while the server is killed at random moments.
//! After each restart every acknowledged write reads back byte-identical (or
//! a later write to the same key that may have landed before the kill), no
//! unacknowledged write is partly visible, and a heal finds nothing
//! unrecoverable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use rand::Rng;

use super::{admin_json, heal_wait, options};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Server};

const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 6;
const PART: usize = 64 * 1024;

/// What the clients know about one key.
#[derive(Debug, Default, Clone)]
struct KeyState {
    /// Version of the last acknowledged write (or the version found after a restart).
    acked: Option<u64>,
    /// Writes sent after it without an answer: each may or may not have landed.
    maybe: Vec<u64>,
}

/// The bytes of version `v` of `key`: 8-byte version, then data seeded by both.
fn content(key: &str, v: u64) -> Vec<u8> {
    let seed = key.bytes().fold(v.wrapping_mul(1_000_003), |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let size = match v % 6 {
        0 => 16,
        1 => 5_000,
        2 => 70_000,
        3 => 400_000,
        4 => 1_300_000,
        _ => 2 * PART + 7_777, // multipart: 3 parts
    };
    let mut data = v.to_le_bytes().to_vec();
    data.extend(test_data(size - 8, seed));
    data
}

async fn put(s3: &Client, bucket: &str, key: &str, v: u64) -> bool {
    let data = content(key, v);
    if v % 6 != 5 {
        return s3.put_object().bucket(bucket).key(key).body(data.into()).send().await.is_ok();
    }
    let Ok(created) = s3.create_multipart_upload().bucket(bucket).key(key).send().await else { return false };
    let Some(upload_id) = created.upload_id() else { return false };
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(PART).enumerate() {
        let n = i as i32 + 1;
        let Ok(out) = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .body(chunk.to_vec().into())
            .send()
            .await
        else {
            return false;
        };
        parts.push(CompletedPart::builder().part_number(n).set_e_tag(out.e_tag().map(str::to_string)).build());
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .is_ok()
}

async fn writer(
    s3: Client,
    bucket: String,
    w: usize,
    state: Arc<Mutex<BTreeMap<String, KeyState>>>,
    next_version: u64,
    stop: Arc<AtomicBool>,
) -> u64 {
    let mut acks = 0;
    let mut v = next_version;
    while !stop.load(Ordering::SeqCst) {
        let key = format!("w{w}/k{}", rand::rng().random_range(0..KEYS_PER_WRITER));
        v += 1;
        state.lock().expect("state").entry(key.clone()).or_default().maybe.push(v);
        if put(&s3, &bucket, &key, v).await {
            let mut st = state.lock().expect("state");
            let ks = st.entry(key).or_default();
            ks.acked = Some(v);
            ks.maybe.clear();
            acks += 1;
        }
    }
    acks
}

/// Checks every key after a restart and folds what was found into the state.
async fn verify(server: &Server, bucket: &str, state: &mut BTreeMap<String, KeyState>) -> u64 {
    let s3 = client(server);
    let mut checked = 0;
    for (key, ks) in state.iter_mut() {
        let got = s3.get_object().bucket(bucket).key(key).send().await;
        let found = match got {
            Ok(out) => Some(out.body.collect().await.expect("body").into_bytes().to_vec()),
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => None,
            Err(e) => panic!("get {key}: {e:?}"),
        };
        match found {
            None => assert!(ks.acked.is_none(), "{key}: acknowledged version {:?} lost", ks.acked),
            Some(bytes) => {
                let v = u64::from_le_bytes(bytes.get(..8).and_then(|b| b.try_into().ok()).expect("8-byte version"));
                let allowed = ks.acked.iter().chain(ks.maybe.iter()).any(|a| *a == v);
                assert!(allowed, "{key}: found version {v}, acknowledged {:?}, in flight {:?}", ks.acked, ks.maybe);
                assert!(bytes == content(key, v), "{key}: version {v} is not byte-identical (partly written?)");
                ks.acked = Some(v);
            }
        }
        ks.maybe.clear();
        checked += 1;
    }
    let listed: Vec<String> = {
        let out = s3.list_objects_v2().bucket(bucket).send().await.expect("list");
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
    };
    let expected: Vec<String> = state.iter().filter(|(_, ks)| ks.acked.is_some()).map(|(k, _)| k.clone()).collect();
    assert_eq!(listed, expected, "listing shows exactly the visible keys");
    checked
}

async fn crash_loop(cycles: usize) {
    let dir = tempfile::tempdir().expect("data dir");
    let bucket = bucket_name("crash");
    let opts = options(&["--test-min-part-size-bytes", &PART.to_string()]);
    let state = Arc::new(Mutex::new(BTreeMap::<String, KeyState>::new()));
    {
        let server = Server::start_in(dir.path(), opts.clone()).await;
        client(&server).create_bucket().bucket(&bucket).send().await.expect("create bucket");
    }
    let (mut acks_total, mut checked_total) = (0u64, 0u64);
    for cycle in 0..cycles {
        let mut server = Server::start_in(dir.path(), opts.clone()).await;
        let checked = verify(&server, &bucket, &mut state.lock().expect("state")).await;
        checked_total += checked;
        // Nothing the crash left behind is beyond repair (`heal_wait` checks
        // `unrecoverable` is 0 and the exit code).
        heal_wait(&server);
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let base = (cycle as u64 * WRITERS as u64 + w as u64) * 1_000_000;
                tokio::spawn(writer(client(&server), bucket.clone(), w, state.clone(), base, stop.clone()))
            })
            .collect();
        // The fault: SIGKILL at a random moment of the write load.
        let at = rand::rng().random_range(100..1200);
        tokio::time::sleep(Duration::from_millis(at)).await;
        server.kill_hard();
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            acks_total += t.await.expect("writer task");
        }
    }
    let server = Server::start_in(dir.path(), opts).await;
    checked_total += verify(&server, &bucket, &mut state.lock().expect("state")).await;
    let summary = heal_wait(&server);
    let status = admin_json(&server, "GET", "/admin/v1/status").await;
    println!(
        "crash test: {cycles} SIGKILL cycles, {acks_total} acknowledged writes, {checked_total} key checks \
         after restarts, heal: {summary}, degraded objects now {}",
        status["degraded_objects"]
    );
    assert!(acks_total > 0, "the clients got writes through");
}

#[tokio::test]
async fn sigkill_during_writes_loses_nothing_acknowledged() {
    crash_loop(10).await;
}

/// Long version: `cargo test --release -p coffer --test s3_api ops::crash::long -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn long_sigkill_crash_loop() {
    crash_loop(120).await;
}
