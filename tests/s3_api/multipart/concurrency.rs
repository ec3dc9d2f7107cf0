//! Concurrency and scale: parts uploaded in parallel and out of order,
//! CompleteMultipartUpload racing AbortMultipartUpload, 10,000 parts.

use std::time::Instant;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Full};

use super::{
    assert_bytes, complete, complete_request, completed, concat, create, get_part, listed_uploads, multipart_etag,
    small_parts, upload_all, upload_part, MIB,
};
use crate::common::http::send_body;
use crate::common::{test_data, xml_text, Ctx};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_parts_out_of_order() {
    let ctx = Ctx::new("mpu-concurrent").await;
    let id = create(&ctx, "obj").await;
    let parts: Vec<Vec<u8>> =
        (0..6).map(|i| test_data(if i == 5 { 3 * MIB + 1 } else { 5 * MIB }, 110 + i as u64)).collect();
    let mut tasks = Vec::new();
    for n in [6, 3, 1, 5, 2, 4] {
        let (s3, bucket, id, data) = (ctx.s3.clone(), ctx.bucket.clone(), id.clone(), parts[n as usize - 1].clone());
        tasks.push(tokio::spawn(async move { (n, upload_part(&s3, &bucket, "obj", &id, n, &data).await) }));
    }
    let mut listed = Vec::new();
    for task in tasks {
        listed.push(task.await.expect("upload task"));
    }
    listed.sort();
    let stored = ctx.s3.list_parts().bucket(&ctx.bucket).key("obj").upload_id(&id).send().await.expect("list parts");
    let got: Vec<(i32, String)> =
        stored.parts().iter().map(|p| (p.part_number().expect("n"), p.e_tag().expect("etag").to_string())).collect();
    assert_eq!(got, listed, "ListParts after concurrent uploads");
    let done = complete(&ctx, "obj", &id, &listed).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&parts).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&parts), "object from concurrently uploaded parts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_races_abort() {
    let ctx = Ctx::with_options("mpu-race", small_parts()).await;
    let (mut completes, mut aborts, mut lost_after_200) = (0, 0, 0);
    for round in 0..18u64 {
        let key = format!("race/{round}");
        let id = create(&ctx, &key).await;
        let parts: Vec<Vec<u8>> = (0..20).map(|i| test_data(2000 + i, round * 100 + i as u64)).collect();
        let listed = upload_all(&ctx, &key, &id, &parts).await;
        let etag = multipart_etag(&parts);
        let s3a = ctx.s3.clone();
        let (ba, ka, ia) = (ctx.bucket.clone(), key.clone(), id.clone());
        let abort = async move { s3a.abort_multipart_upload().bucket(ba).key(ka).upload_id(ia).send().await };
        let (complete_won, a) = if round % 3 == 2 {
            // Abort once CompleteMultipartUpload has answered 200 and streams
            // its body while the engine commits.
            let req = complete_request(&ctx.server, &ctx.bucket, &key, &id, &listed);
            let (head, body) = req.into_parts();
            let resp = send_body(ctx.server.s3_addr, http::Request::from_parts(head, Full::new(body))).await;
            let resp = resp.unwrap_or_else(|e| panic!("round {round}: complete: {e}"));
            let status = resp.status().as_u16();
            let a = abort.await;
            let body = resp.into_body().collect().await.expect("complete body").to_bytes();
            let text = String::from_utf8_lossy(&body).into_owned();
            assert_eq!(status, 200, "round {round}: complete validated before the abort was sent: {text}");
            if text.contains("<CompleteMultipartUploadResult") {
                assert_eq!(xml_text(&text, "ETag").as_deref(), Some(etag.as_str()), "round {round}: {text}");
                (true, a)
            } else {
                assert_eq!(xml_text(&text, "Code").as_deref(), Some("NoSuchUpload"), "round {round}: {text}");
                lost_after_200 += 1;
                (false, a)
            }
        } else {
            let s3c = ctx.s3.clone();
            let (bc, kc, ic) = (ctx.bucket.clone(), key.clone(), id.clone());
            let complete = async move {
                s3c.complete_multipart_upload()
                    .bucket(bc)
                    .key(kc)
                    .upload_id(ic)
                    .multipart_upload(completed(&listed))
                    .send()
                    .await
            };
            // Alternate which request is started first.
            let (c, a) = if round % 3 == 0 {
                let c = tokio::spawn(complete);
                let a = tokio::spawn(abort);
                (c.await.expect("complete task"), a.await.expect("abort task"))
            } else {
                let a = tokio::spawn(abort);
                let c = tokio::spawn(complete);
                (c.await.expect("complete task"), a.await.expect("abort task"))
            };
            match &c {
                Ok(out) => {
                    assert_eq!(
                        out.e_tag(),
                        Some(etag.as_str()),
                        "round {round}: a successful complete returns the ETag"
                    );
                    (true, a)
                }
                Err(e) => {
                    // 404 before the response started, or an <Error> inside the 200 body after.
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    assert_eq!(e.code(), Some("NoSuchUpload"), "round {round}: losing complete: {e:?}");
                    assert!(matches!(status, Some(404 | 200)), "round {round}: losing complete status {status:?}");
                    if status == Some(200) {
                        lost_after_200 += 1;
                    }
                    (false, a)
                }
            }
        };
        let abort_won = match &a {
            Ok(_) => true,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                assert_eq!((status, e.code()), (Some(404), Some("NoSuchUpload")), "round {round}: losing abort: {e:?}");
                false
            }
        };
        assert!(
            complete_won != abort_won,
            "round {round}: exactly one of complete ({complete_won}) and abort ({a:?}) succeeds"
        );
        assert!(listed_uploads(&ctx.s3, &ctx.bucket, &key).await.is_empty(), "round {round}: upload gone either way");
        if complete_won {
            completes += 1;
            let get =
                ctx.s3.get_object().bucket(&ctx.bucket).key(&key).send().await.expect("winner's object is readable");
            assert_eq!(get.e_tag(), Some(etag.as_str()));
            assert_bytes(&get.body.collect().await.expect("body").into_bytes(), &concat(&parts), &key);
            assert_eq!(ctx.list_keys(&key).await, vec![key.clone()]);
        } else {
            aborts += 1;
            ctx.assert_absent(&key).await;
        }
    }
    eprintln!(
        "complete/abort race: complete won {completes}, abort won {aborts} \
         (of which {lost_after_200} after the complete had answered 200)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_parts() {
    let ctx = Ctx::with_options("mpu-10k", small_parts()).await;
    let id = create(&ctx, "many").await;
    const N: i32 = 10_000;
    let parts: Vec<Vec<u8>> = (1..=N).map(|n| test_data(1 + (n % 5) as usize, n as u64)).collect();
    let started = Instant::now();
    let mut listed: Vec<(i32, String)> = futures::stream::iter(1..=N)
        .map(|n| {
            let (s3, bucket, id, data) =
                (ctx.s3.clone(), ctx.bucket.clone(), id.clone(), parts[n as usize - 1].clone());
            tokio::spawn(async move { (n, upload_part(&s3, &bucket, "many", &id, n, &data).await) })
        })
        .buffer_unordered(32)
        .map(|r| r.expect("upload task"))
        .collect()
        .await;
    let upload_time = started.elapsed();
    listed.sort();

    let first = ctx.s3.list_parts().bucket(&ctx.bucket).key("many").upload_id(&id).send().await.expect("list parts");
    assert_eq!(first.parts().len(), 1000, "default max-parts is 1000");
    assert_eq!((first.is_truncated(), first.next_part_number_marker()), (Some(true), Some("1000")));

    let started = Instant::now();
    let done = complete(&ctx, "many", &id, &listed).await;
    let complete_time = started.elapsed();
    let etag = multipart_etag(&parts);
    assert!(etag.ends_with("-10000\""));
    assert_eq!(done.e_tag(), Some(etag.as_str()));
    assert_bytes(&ctx.get_bytes("many").await, &concat(&parts), "object of 10,000 parts");
    let head =
        ctx.s3.head_object().bucket(&ctx.bucket).key("many").part_number(N).send().await.expect("head part 10000");
    assert_eq!(head.parts_count(), Some(N), "x-amz-mp-parts-count");
    assert_eq!(head.content_length(), Some(parts[N as usize - 1].len() as i64));
    let (count, _, _, _, body) = get_part(&ctx, "many", N).await;
    assert_eq!(count, Some(N));
    assert_bytes(&body, &parts[N as usize - 1], "part 10000");
    eprintln!("10,000 parts: uploads {upload_time:?} (32 at a time), complete {complete_time:?}");
}
