//! CopyObject: metadata directives, copying onto itself, copy-source
//! conditionals, missing sources.

use aws_sdk_s3::types::MetadataDirective;

use crate::common::{enc_key, etag_of, expect_sdk_err, test_data, Ctx, Req};

async fn put_source(ctx: &Ctx, key: &str, data: &[u8]) {
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(key)
        .body(data.to_vec().into())
        .metadata("origin", "source")
        .content_type("text/x-source")
        .cache_control("max-age=5")
        .send()
        .await
        .expect("put source");
}

fn source(ctx: &Ctx, key: &str) -> String {
    format!("{}/{}", ctx.bucket, enc_key(key))
}

#[tokio::test]
async fn copy_keeps_metadata_by_default() {
    let ctx = Ctx::new("copy").await;
    let data = test_data(200_000, 3);
    put_source(&ctx, "src", &data).await;
    let out = ctx
        .s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst")
        .copy_source(source(&ctx, "src"))
        .send()
        .await
        .expect("copy");
    let result = out.copy_object_result().expect("CopyObjectResult");
    assert_eq!(result.e_tag(), Some(etag_of(&data).as_str()));
    assert!(result.last_modified().is_some());

    let get = ctx.s3.get_object().bucket(&ctx.bucket).key("dst").send().await.expect("get copy");
    assert_eq!(get.content_type(), Some("text/x-source"));
    assert_eq!(get.cache_control(), Some("max-age=5"));
    assert_eq!(get.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("source"));
    assert!(get.body.collect().await.expect("body").into_bytes()[..] == data[..]);

    // Explicit COPY behaves the same, and ignores metadata given with the request.
    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst2")
        .copy_source(source(&ctx, "src"))
        .metadata_directive(MetadataDirective::Copy)
        .metadata("ignored", "yes")
        .send()
        .await
        .expect("copy with COPY");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("dst2").send().await.expect("head");
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("origin").map(String::as_str), Some("source"));
    assert!(!meta.contains_key("ignored"), "{meta:?}");
    // The source is unchanged.
    assert!(ctx.get_bytes("src").await == data);
}

#[tokio::test]
async fn copy_with_replace_replaces_metadata() {
    let ctx = Ctx::new("copy-replace").await;
    put_source(&ctx, "src", b"replace me").await;
    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst")
        .copy_source(source(&ctx, "src"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("fresh", "value")
        .content_type("application/json")
        .send()
        .await
        .expect("copy with REPLACE");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("dst").send().await.expect("head");
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("fresh").map(String::as_str), Some("value"));
    assert!(!meta.contains_key("origin"), "old metadata is replaced: {meta:?}");
    assert_eq!(head.content_type(), Some("application/json"));
    assert_ne!(head.cache_control(), Some("max-age=5"), "REPLACE drops the old Cache-Control");
    assert_eq!(ctx.get_bytes("dst").await, b"replace me");
}

#[tokio::test]
async fn copy_onto_itself() {
    let ctx = Ctx::new("copy-self").await;
    put_source(&ctx, "same", b"self").await;
    let r = ctx.s3.copy_object().bucket(&ctx.bucket).key("same").copy_source(source(&ctx, "same")).send().await;
    expect_sdk_err(r, 400, "InvalidRequest");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("same").send().await.expect("head");
    assert_eq!(head.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("source"), "unchanged");

    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("same")
        .copy_source(source(&ctx, "same"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "rewritten")
        .send()
        .await
        .expect("self-copy with REPLACE updates metadata");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("same").send().await.expect("head");
    assert_eq!(head.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("rewritten"));
    assert_eq!(head.e_tag(), Some(etag_of(b"self").as_str()));
    assert_eq!(ctx.get_bytes("same").await, b"self");
}

#[tokio::test]
async fn copy_source_conditionals() {
    let ctx = Ctx::new("copy-cond").await;
    put_source(&ctx, "src", b"conditional source").await;
    let etag = etag_of(b"conditional source");

    let r = ctx
        .s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst-a")
        .copy_source(source(&ctx, "src"))
        .copy_source_if_match("\"99999999999999999999999999999999\"")
        .send()
        .await;
    expect_sdk_err(r, 412, "PreconditionFailed");
    ctx.assert_absent("dst-a").await;

    let r = ctx
        .s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst-b")
        .copy_source(source(&ctx, "src"))
        .copy_source_if_none_match(&etag)
        .send()
        .await;
    expect_sdk_err(r, 412, "PreconditionFailed");
    ctx.assert_absent("dst-b").await;

    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("dst-c")
        .copy_source(source(&ctx, "src"))
        .copy_source_if_match(&etag)
        .send()
        .await
        .expect("matching copy-source-if-match");
    assert_eq!(ctx.get_bytes("dst-c").await, b"conditional source");
}

#[tokio::test]
async fn copy_from_missing_source() {
    let ctx = Ctx::new("copy-missing").await;
    let r = ctx.s3.copy_object().bucket(&ctx.bucket).key("dst").copy_source(source(&ctx, "nope")).send().await;
    expect_sdk_err(r, 404, "NoSuchKey");
    ctx.assert_absent("dst").await;
    let r = ctx.s3.copy_object().bucket(&ctx.bucket).key("dst").copy_source("no-such-bucket-zz/nope").send().await;
    expect_sdk_err(r, 404, "NoSuchBucket");
    ctx.assert_absent("dst").await;
}

#[tokio::test]
async fn copy_with_special_character_keys() {
    let ctx = Ctx::new("copy-keys").await;
    let src = "dir/a b+c%d?é.txt";
    put_source(&ctx, src, b"odd key").await;
    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("copies/ü n+i")
        .copy_source(source(&ctx, src))
        .send()
        .await
        .expect("copy of an encoded source key");
    assert_eq!(ctx.get_bytes("copies/ü n+i").await, b"odd key");
    // A leading slash on x-amz-copy-source is accepted too.
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("copies/second"))
        .header("x-amz-copy-source", format!("/{}", source(&ctx, src)))
        .send()
        .await;
    resp.assert_status(200);
    assert!(resp.text().contains("<CopyObjectResult"), "{}", resp.text());
    assert_eq!(ctx.get_bytes("copies/second").await, b"odd key");
}
