//! A scrub pass survives a crash and a pause: its cursor is saved after every
//! batch, a restarted server resumes the pass where it stood (no object is
//! counted twice), and `scrub pause` / `scrub start` stop and resume it (a
//! pause outlasts a restart).

use std::time::{Duration, Instant};

use super::{admin_json, cli, options};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Server};

const OBJECTS: usize = 400;

/// Slow enough that a pass over the objects takes several seconds.
fn scrub_options() -> crate::common::ServerOptions {
    options(&["--test-scrub-interval-ms", "3600000", "--scrub-bytes-per-sec", "16000000"])
}

/// Polls `scrub status` until `done` holds.
async fn wait_scrub(server: &Server, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = admin_json(server, "GET", "/admin/v1/scrub/status").await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "scrub never reached: {what}: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn checked(s: &serde_json::Value) -> u64 {
    s["progress"]["objects_checked"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn scrub_resumes_after_sigkill_and_pause() {
    let dir = tempfile::tempdir().expect("data dir");
    let mut server = Server::start_in(dir.path(), scrub_options()).await;
    let s3 = client(&server);
    let bucket = bucket_name("scrub-resume");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    for i in 0..OBJECTS {
        let body = test_data(200_000, i as u64);
        s3.put_object().bucket(&bucket).key(format!("o{i:04}")).body(body.into()).send().await.expect("put");
    }

    let (code, _, out) = cli(&server, &["scrub", "start"]);
    assert_eq!(code, 0, "{out}");
    let before = wait_scrub(&server, "first batch", |s| checked(s) > 0).await;
    assert!(before["last"].is_null(), "the pass has not finished yet: {before}");
    let done_before = checked(&before);
    assert!(done_before < OBJECTS as u64, "{before}");
    server.kill_hard();

    // The restarted server resumes the pass at once from the saved cursor.
    let mut server = Server::start_in(dir.path(), scrub_options()).await;
    let resumed = admin_json(&server, "GET", "/admin/v1/scrub/status").await;
    assert!(checked(&resumed) >= done_before, "progress kept across the crash: {before} then {resumed}");
    assert!(resumed["progress"]["table"] == 0, "still walking the objects: {resumed}");

    // Pause stops the pass at a batch boundary; start resumes it.
    let (code, _, out) = cli(&server, &["scrub", "pause"]);
    assert_eq!(code, 0, "{out}");
    let paused = wait_scrub(&server, "paused", |s| s["running"] == false && s["paused"] == true).await;
    assert!(paused["last"].is_null() && !paused["progress"].is_null(), "paused mid-pass: {paused}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = admin_json(&server, "GET", "/admin/v1/scrub/status").await;
    assert_eq!(checked(&still), checked(&paused), "no progress while paused: {still}");
    // A pause outlasts a restart.
    server.kill_hard();
    let server = Server::start_in(dir.path(), scrub_options()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_restart = admin_json(&server, "GET", "/admin/v1/scrub/status").await;
    assert_eq!(after_restart["paused"], true, "still paused after a restart: {after_restart}");
    assert_eq!(after_restart["running"], false, "{after_restart}");
    assert_eq!(checked(&after_restart), checked(&paused), "no progress while paused: {after_restart}");
    let (code, _, out) = cli(&server, &["scrub", "start"]);
    assert_eq!(code, 0, "{out}");

    let finished = wait_scrub(&server, "pass finished", |s| s["passes"] == 1 && s["running"] == false).await;
    assert_eq!(
        finished["last"]["objects_checked"].as_u64(),
        Some(OBJECTS as u64),
        "every object checked exactly once over the crash and the pause: {finished}"
    );
    assert_eq!(finished["last"]["unrecoverable"], 0, "{finished}");
    assert!(finished["progress"].is_null(), "{finished}");
    println!(
        "scrub resume: {done_before} of {OBJECTS} objects done before SIGKILL; pass finished after restart and pause"
    );
}
