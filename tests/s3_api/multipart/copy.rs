//! UploadPartCopy: ranges of plain and multipart sources, copy-source
//! conditionals, mixed with an uploaded part.

use super::{assert_bytes, complete, concat, create, multipart_etag, small_parts, upload_all, upload_part};
use crate::common::{etag_of, expect_sdk_err, test_data, Ctx};

#[tokio::test]
async fn upload_part_copy() {
    let ctx = Ctx::with_options("mpu-copy", small_parts()).await;
    let plain = test_data(100_000, 90);
    let plain_etag = ctx.put("src/plain", plain.clone()).await.e_tag().expect("ETag").to_string();
    // A multipart source of 40,000 + 40,000 + 20,000 bytes.
    let src_parts = vec![test_data(40_000, 91), test_data(40_000, 92), test_data(20_000, 93)];
    let src_id = create(&ctx, "src/mp").await;
    let listed = upload_all(&ctx, "src/mp", &src_id, &src_parts).await;
    complete(&ctx, "src/mp", &src_id, &listed).await;
    let mp = concat(&src_parts);

    let id = create(&ctx, "dst").await;
    let copy = |n: i32, source: &str, range: Option<&str>| {
        ctx.s3
            .upload_part_copy()
            .bucket(&ctx.bucket)
            .key("dst")
            .upload_id(&id)
            .part_number(n)
            .copy_source(format!("{}/{}", ctx.bucket, source))
            .set_copy_source_range(range.map(str::to_string))
    };
    let mut expected: Vec<Vec<u8>> = Vec::new();
    let mut list = Vec::new();
    for (n, source, range, data) in [
        (1, "src/plain", Some("bytes=1000-60999"), plain[1000..61_000].to_vec()),
        // Spans all three parts of the multipart source.
        (2, "src/mp", Some("bytes=30000-89999"), mp[30_000..90_000].to_vec()),
        (3, "src/plain", None, plain.clone()),
    ] {
        let out = copy(n, source, range).send().await.unwrap_or_else(|e| panic!("copy part {n}: {e:?}"));
        let etag = out.copy_part_result().and_then(|r| r.e_tag()).expect("CopyPartResult ETag").to_string();
        assert_eq!(etag, etag_of(&data), "copied part {n} ETag is the MD5 of the copied range");
        list.push((n, etag));
        expected.push(data);
    }
    let got = copy(4, "src/plain", Some("bytes=0-9"))
        .copy_source_if_match("\"00000000000000000000000000000000\"")
        .send()
        .await;
    expect_sdk_err(got, 412, "PreconditionFailed");
    let got = copy(4, "src/plain", Some("bytes=0-9")).copy_source_if_none_match(&plain_etag).send().await;
    expect_sdk_err(got, 412, "PreconditionFailed");
    let out = copy(4, "src/plain", Some("bytes=0-9"))
        .copy_source_if_match(&plain_etag)
        .send()
        .await
        .expect("matching if-match");
    list.push((4, out.copy_part_result().and_then(|r| r.e_tag()).expect("ETag").to_string()));
    expected.push(plain[..10].to_vec());
    list.push((5, upload_part(&ctx.s3, &ctx.bucket, "dst", &id, 5, b"tail").await));
    expected.push(b"tail".to_vec());

    let parts = ctx.s3.list_parts().bucket(&ctx.bucket).key("dst").upload_id(&id).send().await.expect("list parts");
    let sizes: Vec<Option<i64>> = parts.parts().iter().map(|p| p.size()).collect();
    assert_eq!(sizes, expected.iter().map(|d| Some(d.len() as i64)).collect::<Vec<_>>());
    let done = complete(&ctx, "dst", &id, &list).await;
    assert_eq!(done.e_tag(), Some(multipart_etag(&expected).as_str()));
    assert_bytes(&ctx.get_bytes("dst").await, &concat(&expected), "object assembled from copied parts");
}
