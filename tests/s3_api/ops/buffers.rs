//! The stripe-buffer budgets (`--write-buffer-mib`, `--read-buffer-mib`):
//! uploads past the inline threshold share one, downloads of erasure-coded
//! objects the other; one that cannot get its share within the wait is
//! answered 503 SlowDown, one that gets it in time goes through, and small
//! objects are never held up. Each budget here is one request's share, held
//! by a raw upload whose body stalls halfway or a raw download whose client
//! stops reading.

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;

use super::{admin, admin_json, options, ADMIN_TOKEN};
use crate::common::http::send_body;
use crate::common::sdk::{client, expect_sdk_err};
use crate::common::sign::Creds;
use crate::common::{bucket_name, test_data, Req, Server};

const WAIT_MS: u64 = 1500;

/// `side` = "write_buffers" or "read_buffers" of the status document.
async fn buffers(server: &Server, side: &str) -> serde_json::Value {
    admin_json(server, "GET", "/admin/v1/status").await[side].clone()
}

async fn in_use_becomes(server: &Server, side: &str, want: impl Fn(u64) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = buffers(server, side).await["in_use_bytes"].as_u64().expect("in_use_bytes");
        if want(now) {
            return;
        }
        assert!(Instant::now() < deadline, "{side} in use stay at {now}\n{}", server.output());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server whose budget `flag` (`--write-buffer-mib`, `--read-buffer-mib`)
/// is one request's share, with a client and a bucket; returns the limit too.
async fn one_share(flag: &str, side: &str) -> (Server, aws_sdk_s3::Client, String, u64) {
    let wait = WAIT_MS.to_string();
    let server = Server::start_with(options(&[flag, "1", "--test-buffer-wait-ms", &wait])).await;
    let s3 = client(&server);
    let bucket = bucket_name("buffers");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let limit = buffers(&server, side).await["limit_bytes"].as_u64().expect("limit_bytes");
    assert!(limit > 1 << 20, "at least one request's share: {limit}");
    (server, s3, bucket, limit)
}

#[tokio::test]
async fn uploads_beyond_the_write_buffers_wait_then_get_slow_down() {
    let (server, s3, bucket, limit) = one_share("--write-buffer-mib", "write_buffers").await;

    // An upload that stalls after its first MiB holds the only share.
    let held = test_data(8 << 20, 1);
    let req = Req::new(&server, "PUT", &format!("/{bucket}/held")).header("content-length", held.len().to_string());
    let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), "UNSIGNED-PAYLOAD");
    let (mut parts, _) = signed.into_parts();
    parts.uri = parts.uri.path_and_query().expect("path").as_str().parse().expect("origin-form");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let addr = server.s3_addr;
    let upload = tokio::spawn(async move {
        let resp = send_body(addr, http::Request::from_parts(parts, StreamBody::new(frames))).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
    });
    tx.send(Bytes::copy_from_slice(&held[..1 << 20])).await.expect("first MiB");
    in_use_becomes(&server, "write_buffers", |n| n == limit).await;

    // Small objects are stored inline and need no share.
    let small = test_data(4096, 2);
    s3.put_object().bucket(&bucket).key("small").body(small.clone().into()).send().await.expect("small put");

    // A large upload waits for the whole wait, then gets 503 SlowDown.
    let started = Instant::now();
    let refused = s3.put_object().bucket(&bucket).key("refused").body(test_data(3 << 20, 3).into()).send().await;
    expect_sdk_err(refused, 503, "SlowDown");
    assert!(started.elapsed() >= Duration::from_millis(WAIT_MS), "refused after {:?}", started.elapsed());
    assert_eq!(buffers(&server, "write_buffers").await["uploads_refused_busy"], 1);

    // One that starts waiting goes through once the stalled upload finishes.
    let later = test_data(3 << 20, 4);
    let put_later = {
        let s3 = s3.clone();
        let (bucket, body) = (bucket.clone(), later.clone());
        tokio::spawn(async move { s3.put_object().bucket(&bucket).key("later").body(body.into()).send().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!put_later.is_finished(), "the second upload waits for the share");
    for piece in held[1 << 20..].chunks(1 << 20) {
        tx.send(Bytes::copy_from_slice(piece)).await.expect("rest of the body");
    }
    drop(tx);
    let (status, text) = upload.await.expect("upload task").expect("stalled upload");
    assert_eq!(status, 200, "{text}");
    put_later.await.expect("task").expect("the waiting upload got the share");

    for (key, want) in [("held", &held), ("later", &later), ("small", &small)] {
        let got = s3.get_object().bucket(&bucket).key(key).send().await.expect("get");
        assert_eq!(&got.body.collect().await.expect("body").into_bytes().to_vec(), want, "{key}");
    }
    let missing = s3.head_object().bucket(&bucket).key("refused").send().await;
    assert!(missing.is_err(), "the refused upload left nothing: {missing:?}");
    in_use_becomes(&server, "write_buffers", |n| n == 0).await;
    let metrics = admin(&server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert!(metrics.contains("coffer_uploads_refused_busy_total 1"), "{metrics}");
    assert!(metrics.contains(&format!("coffer_write_buffers_limit_bytes {limit}")), "{metrics}");
    assert!(metrics.contains("coffer_write_buffers_in_use_bytes 0"), "{metrics}");
}

#[tokio::test]
async fn downloads_beyond_the_read_buffers_wait_then_get_slow_down() {
    let (server, s3, bucket, limit) = one_share("--read-buffer-mib", "read_buffers").await;
    // More than the loopback socket buffers hold, so that a client that
    // stops reading leaves the server's reader open.
    let held = test_data(64 << 20, 11);
    let other = test_data(3 << 20, 12);
    let small = test_data(4096, 13);
    for (key, body) in [("held", &held), ("other", &other), ("small", &small)] {
        s3.put_object().bucket(&bucket).key(key).body(body.clone().into()).send().await.expect("put");
    }
    in_use_becomes(&server, "read_buffers", |n| n == 0).await;

    // A download whose client reads nothing after the headers holds the only share.
    let signed = Req::new(&server, "GET", &format!("/{bucket}/held")).signed();
    let (mut parts, _) = signed.into_parts();
    parts.uri = parts.uri.path_and_query().expect("path").as_str().parse().expect("origin-form");
    let stalled =
        send_body(server.s3_addr, http::Request::from_parts(parts, Empty::<Bytes>::new())).await.expect("GET");
    assert_eq!(stalled.status(), 200);
    in_use_becomes(&server, "read_buffers", |n| n == limit).await;

    // Small objects are stored inline and need no share.
    let got = s3.get_object().bucket(&bucket).key("small").send().await.expect("small get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().to_vec(), small);

    // A download of stripes, even a range of them, waits the whole wait, then gets 503 SlowDown.
    let started = Instant::now();
    let refused = s3.get_object().bucket(&bucket).key("other").range("bytes=0-99").send().await;
    expect_sdk_err(refused, 503, "SlowDown");
    assert!(started.elapsed() >= Duration::from_millis(WAIT_MS), "refused after {:?}", started.elapsed());
    assert_eq!(buffers(&server, "read_buffers").await["downloads_refused_busy"], 1);

    // One that starts waiting goes through once the stalled client reads on.
    let later = {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        tokio::spawn(async move {
            let got = s3.get_object().bucket(&bucket).key("other").send().await.map_err(|e| format!("{e:?}"))?;
            Ok::<_, String>(got.body.collect().await.map_err(|e| e.to_string())?.into_bytes().to_vec())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!later.is_finished(), "the second download waits for the share");
    let body = stalled.into_body().collect().await.expect("the stalled body").to_bytes();
    assert!(body == held, "the stalled download reads its object whole");
    assert_eq!(later.await.expect("task").expect("the waiting download got the share"), other);

    in_use_becomes(&server, "read_buffers", |n| n == 0).await;
    assert_eq!(buffers(&server, "write_buffers").await["in_use_bytes"], 0);
    let metrics = admin(&server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert!(metrics.contains("coffer_downloads_refused_busy_total 1"), "{metrics}");
    assert!(metrics.contains(&format!("coffer_read_buffers_limit_bytes {limit}")), "{metrics}");
    assert!(metrics.contains("coffer_read_buffers_in_use_bytes 0"), "{metrics}");
    assert!(metrics.contains("coffer_uploads_refused_busy_total 0"), "{metrics}");
}
