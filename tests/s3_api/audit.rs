//! The access log (one JSON line per request, secrets never written), JSON
//! server logs, and `coffer --version`.

use std::time::{Duration, Instant};

use crate::common::server::{ACCESS_KEY, SECRET_KEY};
use crate::common::{Ctx, Req, ServerOptions};

#[tokio::test]
async fn access_log_lines_without_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("access.log");
    let options = ServerOptions {
        extra_args: vec!["--access-log".into(), log.display().to_string(), "--log-format".into(), "json".into()],
        ..Default::default()
    };
    let ctx = Ctx::with_options("audit", options).await;
    ctx.put("a/b.txt", b"hello".to_vec()).await;
    assert!(ctx.get_bytes("a/b.txt").await == b"hello");
    let missing = ctx.s3.get_object().bucket(&ctx.bucket).key("nope").send().await;
    assert!(missing.is_err());
    // A presigned GET: its signature is in the query string, which is never logged.
    let presigned = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("a/b.txt")
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).expect("cfg"))
        .await
        .expect("presign");
    let uri: http::Uri = presigned.uri().parse().expect("uri");
    let signature = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("X-Amz-Signature=")))
        .expect("sig")
        .to_string();
    Req::new(&ctx.server, "GET", uri.path_and_query().expect("pq").as_str()).send_anonymous().await.assert_status(200);
    Req::new(&ctx.server, "GET", "/").send_anonymous().await.assert_status(403);

    let deadline = Instant::now() + Duration::from_secs(10);
    let lines: Vec<serde_json::Value> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
        if lines.len() >= 6 || Instant::now() > deadline {
            assert!(!text.contains(SECRET_KEY), "the secret key is never logged");
            assert!(!text.contains(&signature), "presigned signatures are never logged");
            assert!(!text.contains("X-Amz-Signature"), "query strings are never logged");
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let put = lines.iter().find(|l| l["operation"] == "PutObject").expect("PutObject line");
    assert_eq!(put["principal"], ACCESS_KEY);
    assert_eq!(put["bucket"], ctx.bucket.as_str());
    assert_eq!(put["key"], "a/b.txt");
    assert_eq!(put["status"], 200);
    assert_eq!(put["bytes_in"], 5);
    assert_eq!(put["client"], "127.0.0.1");
    assert!(put["request_id"].as_str().is_some_and(|r| r.len() == 16), "{put}");
    assert!(put["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{put}");
    assert!(put["duration_ms"].is_u64() && put["user_agent"].is_string(), "{put}");
    let get = lines.iter().find(|l| l["operation"] == "GetObject" && l["status"] == 200).expect("GetObject line");
    assert_eq!(get["bytes_out"], 5);
    let miss = lines.iter().find(|l| l["status"] == 404).expect("404 line");
    assert_eq!(miss["error_code"], "NoSuchKey");
    let anon = lines.iter().find(|l| l["operation"] == "ListBuckets" && l["status"] == 403).expect("anonymous line");
    assert_eq!(anon["principal"], "anonymous");
    assert_eq!(anon["error_code"], "AccessDenied");
}

#[test]
fn version_names_the_commit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).arg("--version").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // "coffer 0.1.0 (<commit>[-dirty] <date>)"
    assert!(text.starts_with(&format!("coffer {} (", env!("CARGO_PKG_VERSION"))), "{text}");
    let commit = text.split('(').nth(1).and_then(|r| r.split([' ', ')']).next()).unwrap_or_default();
    assert!(commit == "unknown" || commit.trim_end_matches("-dirty").len() == 12, "{text}");
}
