//! SIGKILL (kill -9) mid-upload and mid-complete: acknowledged parts and
//! completes survive, an unacknowledged complete is all or nothing.

use std::os::unix::process::ExitStatusExt as _;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use tokio::io::AsyncWriteExt as _;

use super::{
    assert_bytes, complete, complete_request, concat, listed_uploads, multipart_etag, small_parts, upload_part, MIB,
};
use crate::common::http::{send_body, serialize_head};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Ctx, Server};

#[tokio::test]
async fn sigkill_keeps_acknowledged_parts() {
    let dir = tempfile::Builder::new().prefix("coffer-mpu-crash-").tempdir().expect("temp dir");
    let mut server = Server::start_in(dir.path(), small_parts()).await;
    let s3 = client(&server);
    let bucket = bucket_name("mpu-crash");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let created = s3.create_multipart_upload().bucket(&bucket).key("crash/obj").metadata("k", "v").send().await;
    let id = created.expect("create upload").upload_id().expect("UploadId").to_string();
    let empty_id = s3.create_multipart_upload().bucket(&bucket).key("crash/empty").send().await.expect("create");
    let empty_id = empty_id.upload_id().expect("UploadId").to_string();
    let parts = vec![test_data(300_000, 121), test_data(MIB + 7, 122), test_data(9, 123)];
    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        etags.push((i as i32 + 1, upload_part(&s3, &bucket, "crash/obj", &id, i as i32 + 1, data).await));
    }
    let status = server.kill_hard();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "the server died of SIGKILL");
    drop(server);

    let server = Server::start_in(dir.path(), small_parts()).await;
    let s3 = client(&server);
    let ctx = Ctx { server, s3, bucket };
    let mut want = vec![("crash/empty".to_string(), empty_id), ("crash/obj".to_string(), id.clone())];
    want.sort();
    assert_eq!(listed_uploads(&ctx.s3, &ctx.bucket, "").await, want, "uploads survive SIGKILL");
    let listed =
        ctx.s3.list_parts().bucket(&ctx.bucket).key("crash/obj").upload_id(&id).send().await.expect("list parts");
    let got: Vec<(Option<i32>, Option<String>, Option<i64>)> =
        listed.parts().iter().map(|p| (p.part_number(), p.e_tag().map(str::to_string), p.size())).collect();
    let expected: Vec<(Option<i32>, Option<String>, Option<i64>)> =
        etags.iter().zip(&parts).map(|((n, e), d)| (Some(*n), Some(e.clone()), Some(d.len() as i64))).collect();
    assert_eq!(got, expected, "acknowledged parts survive SIGKILL");
    let done = complete(&ctx, "crash/obj", &id, &etags).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&parts).as_str()));
    let get = ctx.s3.get_object().bucket(&ctx.bucket).key("crash/obj").send().await.expect("get");
    assert_eq!(get.metadata().and_then(|m| m.get("k")).map(String::as_str), Some("v"));
    assert_bytes(
        &get.body.collect().await.expect("body").into_bytes(),
        &concat(&parts),
        "object completed after restart",
    );
    drop(ctx);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_complete() {
    const GROUP: usize = 3;
    const PARTS: usize = 40;
    let dir = tempfile::Builder::new().prefix("coffer-mpu-crash2-").tempdir().expect("temp dir");
    let mut server = Server::start_in(dir.path(), small_parts()).await;
    let s3 = client(&server);
    let bucket = bucket_name("mpu-crash2");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let mut uploads = Vec::new();
    for u in 0..3 * GROUP {
        let key = format!("inflight/{u}");
        let out = s3.create_multipart_upload().bucket(&bucket).key(&key).send().await.expect("create");
        let id = out.upload_id().expect("UploadId").to_string();
        let parts: Vec<Vec<u8>> = (0..PARTS).map(|p| test_data(1024 + p * 13, (u * 1000 + p) as u64)).collect();
        let mut listed = Vec::new();
        for (i, data) in parts.iter().enumerate() {
            listed.push((i as i32 + 1, upload_part(&s3, &bucket, &key, &id, i as i32 + 1, data).await));
        }
        uploads.push((key, id, parts, listed));
    }
    let requests: Vec<http::Request<Bytes>> =
        uploads.iter().map(|(key, id, _, listed)| complete_request(&server, &bucket, key, id, listed)).collect();
    let mut requests = requests.into_iter();
    // Group 1: completed and acknowledged before the crash.
    for req in requests.by_ref().take(GROUP) {
        let (head, body) = req.into_parts();
        let resp = send_body(server.s3_addr, http::Request::from_parts(head, Full::new(body))).await.expect("complete");
        let text = String::from_utf8_lossy(&resp.into_body().collect().await.expect("body").to_bytes()).into_owned();
        assert!(text.contains("<CompleteMultipartUploadResult"), "complete before the crash: {text}");
    }
    // Group 2: the 200 header has arrived, the body (and maybe the commit) has not.
    let mut in_flight = Vec::new();
    for req in requests.by_ref().take(GROUP) {
        let (head, body) = req.into_parts();
        let resp = send_body(server.s3_addr, http::Request::from_parts(head, Full::new(body))).await.expect("complete");
        assert_eq!(resp.status(), 200);
        in_flight.push(resp);
    }
    // Group 3: sent in full, SIGKILL at once: maybe not even read.
    let mut streams = Vec::new();
    for req in requests {
        let mut bytes = serialize_head(&req);
        bytes.extend_from_slice(req.body());
        let mut stream = tokio::net::TcpStream::connect(server.s3_addr).await.expect("connect");
        stream.write_all(&bytes).await.expect("send CompleteMultipartUpload");
        streams.push(stream);
    }
    let status = server.kill_hard();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    drop((streams, in_flight, server));

    let server = Server::start_in(dir.path(), small_parts()).await;
    let s3 = client(&server);
    let ctx = Ctx { server, s3, bucket };
    let mut outcomes = Vec::new();
    for (u, (key, id, parts, _)) in uploads.iter().enumerate() {
        let exists = ctx.exists(key).await;
        let upload_listed = listed_uploads(&ctx.s3, &ctx.bucket, key).await.iter().any(|(_, i)| i == id);
        assert!(exists != upload_listed, "{key}: exactly one of object ({exists}) and open upload ({upload_listed})");
        if u < GROUP {
            assert!(exists, "{key}: an acknowledged CompleteMultipartUpload survives SIGKILL");
        }
        if exists {
            let get =
                ctx.s3.get_object().bucket(&ctx.bucket).key(key).send().await.expect("committed object is readable");
            assert_eq!(get.e_tag(), Some(multipart_etag(parts).as_str()));
            assert_bytes(&get.body.collect().await.expect("body").into_bytes(), &concat(parts), key);
        } else {
            ctx.s3.abort_multipart_upload().bucket(&ctx.bucket).key(key).upload_id(id).send().await.expect("abort");
            assert!(listed_uploads(&ctx.s3, &ctx.bucket, key).await.is_empty());
            ctx.assert_absent(key).await;
        }
        outcomes.push(if exists { "committed" } else { "open" });
    }
    // Never a listed object that cannot be read.
    for key in ctx.list_keys("").await {
        let (_, _, parts, _) = uploads.iter().find(|(k, ..)| *k == key).expect("only our keys are listed");
        assert_bytes(&ctx.get_bytes(&key).await, &concat(parts), &format!("listed {key}"));
    }
    eprintln!("SIGKILL during completes (acknowledged / 200 header seen / sent): {outcomes:?}");
    drop(ctx);
    drop(dir);
}
