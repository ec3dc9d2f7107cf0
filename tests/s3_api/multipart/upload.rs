//! The basic flow and its errors: create/upload/complete and read back,
//! GET/HEAD by part number, part number bounds, unknown upload ids, bad part
//! lists, EntityTooSmall, completing twice, abort, malformed XML, part
//! replacement, completing with a subset of parts, PutObject during an upload.

use super::{
    assert_bytes, complete, completed, concat, create, get_part, listed_uploads, multipart_etag, small_parts,
    upload_all, upload_part, MIB,
};
use crate::common::{enc_query, etag_of, expect_sdk_err, test_data, Ctx, Req};

#[tokio::test]
async fn upload_complete_and_read_back() {
    let ctx = Ctx::new("mpu-basic").await;
    let key = "dir/multi part.bin";
    let created = ctx
        .s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .content_type("application/x-coffer-test")
        .metadata("purpose", "e2e")
        .metadata("colour", "blue")
        .send()
        .await
        .expect("create upload");
    assert_eq!(created.bucket(), Some(ctx.bucket.as_str()));
    assert_eq!(created.key(), Some(key));
    assert_eq!(created.checksum_algorithm(), None, "no algorithm was asked for");
    let id = created.upload_id().expect("UploadId").to_string();
    assert_eq!(listed_uploads(&ctx.s3, &ctx.bucket, "").await, vec![(key.to_string(), id.clone())]);

    // Real-size parts on the default server: two of 5 MiB and more, a small last one.
    let parts = vec![test_data(5 * MIB, 1), test_data(5 * MIB + 123, 2), test_data(MIB + 7, 3)];
    let listed = upload_all(&ctx, key, &id, &parts).await;
    let done = complete(&ctx, key, &id, &listed).await;
    let etag = multipart_etag(&parts);
    assert_eq!(done.e_tag(), Some(etag.as_str()), "multipart ETag");
    assert_eq!(done.bucket(), Some(ctx.bucket.as_str()));
    assert_eq!(done.key(), Some(key));

    let whole = concat(&parts);
    let get = ctx.s3.get_object().bucket(&ctx.bucket).key(key).send().await.expect("get");
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.content_length(), Some(whole.len() as i64));
    assert_eq!(get.content_type(), Some("application/x-coffer-test"));
    let meta = get.metadata().expect("user metadata");
    assert_eq!(meta.get("purpose").map(String::as_str), Some("e2e"));
    assert_eq!(meta.get("colour").map(String::as_str), Some("blue"));
    assert_bytes(&get.body.collect().await.expect("body").into_bytes(), &whole, "GetObject of the completed upload");

    let head = ctx.s3.head_object().bucket(&ctx.bucket).key(key).send().await.expect("head");
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some(whole.len() as i64));
    assert_eq!(head.content_type(), Some("application/x-coffer-test"));
    assert_eq!(head.metadata().and_then(|m| m.get("purpose")).map(String::as_str), Some("e2e"));

    let mut offset = 0usize;
    for (i, part) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let (count, length, part_etag, range, body) = get_part(&ctx, key, n).await;
        assert_eq!(count, Some(3), "x-amz-mp-parts-count for part {n}");
        assert_eq!(length, Some(part.len() as i64), "Content-Length of part {n}");
        assert_eq!(part_etag.as_deref(), Some(etag.as_str()), "GET by part number carries the object's ETag");
        let want_range = format!("bytes {}-{}/{}", offset, offset + part.len() - 1, whole.len());
        assert_eq!(range.as_deref(), Some(want_range.as_str()), "Content-Range of part {n}");
        assert_bytes(&body, part, &format!("GetObject partNumber={n}"));
        let head = ctx.s3.head_object().bucket(&ctx.bucket).key(key).part_number(n).send().await.expect("head part");
        assert_eq!(head.parts_count(), Some(3), "HEAD x-amz-mp-parts-count for part {n}");
        assert_eq!(head.content_length(), Some(part.len() as i64), "HEAD Content-Length of part {n}");
        offset += part.len();
    }

    assert!(listed_uploads(&ctx.s3, &ctx.bucket, "").await.is_empty(), "a completed upload is no longer listed");
    let parts_after = ctx.s3.list_parts().bucket(&ctx.bucket).key(key).upload_id(&id).send().await;
    expect_sdk_err(parts_after, 404, "NoSuchUpload");
}

#[tokio::test]
async fn get_part_number_beyond_the_part_count() {
    let ctx = Ctx::with_options("mpu-partnum", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let parts = vec![test_data(1000, 4), test_data(10, 5)];
    let listed = upload_all(&ctx, "obj", &id, &parts).await;
    complete(&ctx, "obj", &id, &listed).await;
    // AWS: 416 InvalidPartNumber "The requested partnumber is not satisfiable".
    let got = ctx.s3.get_object().bucket(&ctx.bucket).key("obj").part_number(3).send().await;
    expect_sdk_err(got, 416, "InvalidPartNumber");
}

#[tokio::test]
async fn part_number_bounds() {
    let ctx = Ctx::new("mpu-bounds").await;
    let id = create(&ctx, "obj").await;
    for n in [0, 10_001] {
        let got = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key("obj")
            .upload_id(&id)
            .part_number(n)
            .body(b"x".to_vec().into())
            .send()
            .await;
        expect_sdk_err(got, 400, "InvalidArgument");
    }
    // The bounds themselves are valid.
    upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 1, b"first").await;
    upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 10_000, b"last").await;
    let parts = ctx.s3.list_parts().bucket(&ctx.bucket).key("obj").upload_id(&id).send().await.expect("list parts");
    let numbers: Vec<i32> = parts.parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(numbers, vec![1, 10_000], "only the valid part numbers were stored");
}

#[tokio::test]
async fn unknown_upload_id() {
    let ctx = Ctx::new("mpu-unknown").await;
    let bogus = "0123456789abcdef0123456789abcdef";
    let got = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("obj")
        .upload_id(bogus)
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await;
    expect_sdk_err(got, 404, "NoSuchUpload");
    expect_sdk_err(
        ctx.s3.list_parts().bucket(&ctx.bucket).key("obj").upload_id(bogus).send().await,
        404,
        "NoSuchUpload",
    );
    expect_sdk_err(
        ctx.s3.abort_multipart_upload().bucket(&ctx.bucket).key("obj").upload_id(bogus).send().await,
        404,
        "NoSuchUpload",
    );
    let done = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("obj")
        .upload_id(bogus)
        .multipart_upload(completed(&[(1, etag_of(b"x"))]))
        .send()
        .await;
    expect_sdk_err(done, 404, "NoSuchUpload");
    // A real upload id under another key is unknown for this key.
    let id = create(&ctx, "a").await;
    let got = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("b")
        .upload_id(&id)
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await;
    expect_sdk_err(got, 404, "NoSuchUpload");
    ctx.assert_absent("obj").await;
    ctx.assert_absent("b").await;
}

#[tokio::test]
async fn complete_rejects_bad_part_lists() {
    let ctx = Ctx::with_options("mpu-badlist", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let parts = vec![test_data(100, 31), test_data(200, 32), test_data(300, 33)];
    let good = upload_all(&ctx, "obj", &id, &parts).await;
    let attempt = |list: Vec<(i32, String)>| {
        let s3 = ctx.s3.clone();
        let (bucket, id) = (ctx.bucket.clone(), id.clone());
        async move {
            s3.complete_multipart_upload()
                .bucket(bucket)
                .key("obj")
                .upload_id(id)
                .multipart_upload(completed(&list))
                .send()
                .await
        }
    };
    let mut wrong_etag = good.clone();
    wrong_etag[1].1 = etag_of(b"something else");
    expect_sdk_err(attempt(wrong_etag).await, 400, "InvalidPart");
    let mut missing = good.clone();
    missing.push((4, etag_of(b"never uploaded")));
    expect_sdk_err(attempt(missing).await, 400, "InvalidPart");
    let out_of_order = vec![good[1].clone(), good[0].clone(), good[2].clone()];
    expect_sdk_err(attempt(out_of_order).await, 400, "InvalidPartOrder");
    let duplicated = vec![good[0].clone(), good[0].clone(), good[1].clone()];
    expect_sdk_err(attempt(duplicated).await, 400, "InvalidPartOrder");
    ctx.assert_absent("obj").await;

    // Failed attempts leave the upload intact.
    let done = complete(&ctx, "obj", &id, &good).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&parts).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&parts), "object after failed completes");
}

#[tokio::test]
async fn small_non_last_part_is_entity_too_small() {
    // Default server: 5 MiB minimum for every part but the last.
    let ctx = Ctx::new("mpu-small").await;
    let id = create(&ctx, "obj").await;
    let parts = vec![test_data(MIB, 41), test_data(5 * MIB, 42), test_data(MIB, 43)];
    let all = upload_all(&ctx, "obj", &id, &parts).await;
    let got = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(completed(&all))
        .send()
        .await;
    expect_sdk_err(got, 400, "EntityTooSmall");
    ctx.assert_absent("obj").await;
    // Without the small first part: 5 MiB then a small last part is fine.
    let done = complete(&ctx, "obj", &id, &all[1..]).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&parts[1..]).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&parts[1..]), "object from parts 2 and 3");
}

#[tokio::test]
async fn complete_twice_and_abort() {
    let ctx = Ctx::with_options("mpu-twice", small_parts()).await;
    let id = create(&ctx, "done").await;
    let parts = vec![test_data(1000, 51), test_data(17, 52)];
    let listed = upload_all(&ctx, "done", &id, &parts).await;
    let first = complete(&ctx, "done", &id, &listed).await;
    // A retried Complete (its first response lost) is answered again, as AWS
    // does while the object it made is the key's current version.
    let complete_again = || {
        ctx.s3
            .complete_multipart_upload()
            .bucket(&ctx.bucket)
            .key("done")
            .upload_id(&id)
            .multipart_upload(completed(&listed))
            .send()
    };
    let again = complete_again().await.expect("a repeated complete is answered again");
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(again.checksum_crc32(), first.checksum_crc32());
    assert_bytes(&ctx.get_bytes("done").await, &concat(&parts), "object after the second complete");
    // Once the key holds something else, the upload is simply gone.
    ctx.put("done", b"replaced".to_vec()).await;
    expect_sdk_err(complete_again().await, 404, "NoSuchUpload");
    assert_eq!(ctx.get_bytes("done").await, b"replaced");

    let id = create(&ctx, "aborted").await;
    upload_part(&ctx.s3, &ctx.bucket, "aborted", &id, 1, b"part one").await;
    ctx.s3.abort_multipart_upload().bucket(&ctx.bucket).key("aborted").upload_id(&id).send().await.expect("abort");
    let got = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("aborted")
        .upload_id(&id)
        .part_number(2)
        .body(b"x".to_vec().into())
        .send()
        .await;
    expect_sdk_err(got, 404, "NoSuchUpload");
    expect_sdk_err(
        ctx.s3.list_parts().bucket(&ctx.bucket).key("aborted").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
    );
    expect_sdk_err(
        ctx.s3.abort_multipart_upload().bucket(&ctx.bucket).key("aborted").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
    );
    assert!(listed_uploads(&ctx.s3, &ctx.bucket, "").await.is_empty());
    ctx.assert_absent("aborted").await;
}

#[tokio::test]
async fn malformed_complete_xml() {
    let ctx = Ctx::with_options("mpu-xml", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let etag = upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 1, b"data").await;
    let path = format!("{}?uploadId={}", ctx.path("obj"), enc_query(&id));
    let bodies = [
        "this is not XML".to_string(),
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>".to_string(),
        "<CompleteMultipartUpload></CompleteMultipartUpload>".to_string(),
        format!("<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"),
    ];
    for body in bodies {
        let resp = Req::new(&ctx.server, "POST", &path).body(body.clone()).send().await;
        assert!(resp.status == 400, "{body:?}: status {} body {:?}", resp.status, resp.text());
        resp.assert_error(400, "MalformedXML");
    }
    let good = format!(
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let resp = Req::new(&ctx.server, "POST", &path).body(good).send().await;
    resp.assert_status(200);
    assert!(resp.text().contains("<CompleteMultipartUploadResult"), "{}", resp.text());
    assert_eq!(ctx.get_bytes("obj").await, b"data");
}

#[tokio::test]
async fn reupload_replaces_a_part() {
    let ctx = Ctx::with_options("mpu-replace", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let (first, second, replacement) = (test_data(5000, 61), test_data(300, 62), test_data(4321, 63));
    let old_etag = upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 1, &first).await;
    let etag2 = upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 2, &second).await;
    let new_etag = upload_part(&ctx.s3, &ctx.bucket, "obj", &id, 1, &replacement).await;

    let listed = ctx.s3.list_parts().bucket(&ctx.bucket).key("obj").upload_id(&id).send().await.expect("list parts");
    let got: Vec<(Option<i32>, Option<String>, Option<i64>)> =
        listed.parts().iter().map(|p| (p.part_number(), p.e_tag().map(str::to_string), p.size())).collect();
    assert_eq!(
        got,
        vec![
            (Some(1), Some(new_etag.clone()), Some(replacement.len() as i64)),
            (Some(2), Some(etag2.clone()), Some(300))
        ]
    );
    let stale = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, old_etag), (2, etag2.clone())]))
        .send()
        .await;
    expect_sdk_err(stale, 400, "InvalidPart");
    let done = complete(&ctx, "obj", &id, &[(1, new_etag), (2, etag2)]).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&replacement, &second]).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&[&replacement, &second]), "object uses the re-uploaded part");
}

#[tokio::test]
async fn complete_with_a_subset_of_parts() {
    let ctx = Ctx::with_options("mpu-subset", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let parts: Vec<Vec<u8>> = (0..5).map(|i| test_data(1000 + i * 111, 70 + i as u64)).collect();
    let all = upload_all(&ctx, "obj", &id, &parts).await;
    let chosen = vec![all[0].clone(), all[2].clone(), all[4].clone()];
    let done = complete(&ctx, "obj", &id, &chosen).await;
    let used = [&parts[0], &parts[2], &parts[4]];
    assert_eq!(done.e_tag(), Some(multipart_etag(&used).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&used), "object is exactly parts 1, 3, 5");
    let (count, length, _, _, body) = get_part(&ctx, "obj", 2).await;
    assert_eq!((count, length), (Some(3), Some(parts[2].len() as i64)), "part 2 of the object is uploaded part 3");
    assert_bytes(&body, &parts[2], "partNumber=2");
    assert!(listed_uploads(&ctx.s3, &ctx.bucket, "").await.is_empty());
}

#[tokio::test]
async fn put_object_while_an_upload_is_in_progress() {
    let ctx = Ctx::with_options("mpu-putduring", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let parts = vec![test_data(3000, 101), test_data(33, 102)];
    let listed = upload_all(&ctx, "obj", &id, &parts).await;
    let plain = test_data(777, 103);
    let put = ctx.put("obj", plain.clone()).await;
    assert_eq!(put.e_tag(), Some(etag_of(&plain).as_str()));
    assert_bytes(&ctx.get_bytes("obj").await, &plain, "plain PUT is visible while the upload is open");
    assert_eq!(listed_uploads(&ctx.s3, &ctx.bucket, "").await, vec![("obj".to_string(), id.clone())]);
    complete(&ctx, "obj", &id, &listed).await;
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("obj").send().await.expect("head");
    assert_eq!(head.e_tag(), Some(multipart_etag(&parts).as_str()), "completion replaced the plain object");
    assert_bytes(&ctx.get_bytes("obj").await, &concat(&parts), "object after completion");
    assert_eq!(ctx.list_keys("").await, vec!["obj".to_string()]);
}
