//! PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects: content,
//! metadata, limits, special keys, conditional writes.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, StorageClass};

use crate::common::sdk::sdk_err;
use crate::common::{
    crc32_b64, enc_key, etag_of, expect_sdk_err, http_date, md5_b64, test_data, xml_all, xml_blocks, xml_text, Ctx, Req,
};

#[tokio::test]
async fn put_get_head_with_metadata_and_system_headers() {
    let ctx = Ctx::new("meta").await;
    let data = test_data(3000, 1);
    let expires = DateTime::from_secs(4_102_444_800); // 2100-01-01T00:00:00Z
    let put = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("docs/report.txt")
        .body(data.clone().into())
        .metadata("color", "blue")
        .metadata("Mixed-Case", "Value With Spaces")
        .content_type("text/plain; charset=utf-8")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"report.txt\"")
        .content_language("en-GB")
        .cache_control("max-age=3600, public")
        .expires(expires)
        .storage_class(StorageClass::Standard)
        .send()
        .await
        .expect("put with metadata");
    assert_eq!(put.e_tag(), Some(etag_of(&data).as_str()), "ETag is the quoted hex MD5");

    let get = ctx.s3.get_object().bucket(&ctx.bucket).key("docs/report.txt").send().await.expect("get");
    assert_eq!(get.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(get.content_length(), Some(3000));
    assert_eq!(get.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(get.content_encoding(), Some("gzip"));
    assert_eq!(get.content_disposition(), Some("attachment; filename=\"report.txt\""));
    assert_eq!(get.content_language(), Some("en-GB"));
    assert_eq!(get.cache_control(), Some("max-age=3600, public"));
    assert_eq!(get.expires_string(), Some("Fri, 01 Jan 2100 00:00:00 GMT"));
    assert_eq!(get.accept_ranges(), Some("bytes"));
    let meta = get.metadata().expect("user metadata");
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(meta.get("mixed-case").map(String::as_str), Some("Value With Spaces"), "metadata names are lower-cased");
    assert_eq!(meta.len(), 2, "{meta:?}");
    let last_modified = get.last_modified().expect("Last-Modified").secs();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock").as_secs() as i64;
    assert!((now - last_modified).abs() < 300, "Last-Modified {last_modified} is about now ({now})");
    let body = get.body.collect().await.expect("body").into_bytes();
    assert_eq!(&body[..], &data[..]);

    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("docs/report.txt").send().await.expect("head");
    assert_eq!(head.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(head.content_length(), Some(3000));
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.cache_control(), Some("max-age=3600, public"));
    assert_eq!(head.metadata().and_then(|m| m.get("color")).map(String::as_str), Some("blue"));
    assert_eq!(head.last_modified().map(|t| t.secs()), Some(last_modified));

    // The raw headers, as any HTTP client sees them.
    let raw = Req::new(&ctx.server, "GET", &ctx.path("docs/report.txt")).send().await;
    raw.assert_status(200);
    assert_eq!(raw.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(raw.header("content-length"), Some("3000"));
    assert_eq!(raw.header("accept-ranges"), Some("bytes"));
    let lm = raw.header("last-modified").expect("Last-Modified header");
    assert!(lm.ends_with(" GMT"), "Last-Modified is an HTTP date: {lm}");
    assert!(raw.header("x-amz-request-id").is_some());
}

#[tokio::test]
async fn default_content_type_and_overwrite_replaces_everything() {
    let ctx = Ctx::new("overwrite").await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("k")
        .body(b"first version".to_vec().into())
        .metadata("gen", "1")
        .content_type("text/x-first")
        .send()
        .await
        .expect("put v1");
    ctx.put("k", b"second".to_vec()).await;
    let get = ctx.s3.get_object().bucket(&ctx.bucket).key("k").send().await.expect("get");
    assert!(get.metadata().map(|m| m.is_empty()).unwrap_or(true), "old metadata is gone: {:?}", get.metadata());
    assert_ne!(get.content_type(), Some("text/x-first"));
    assert_eq!(get.e_tag(), Some(etag_of(b"second").as_str()));
    assert_eq!(&get.body.collect().await.expect("body").into_bytes()[..], b"second");
}

#[tokio::test]
async fn round_trips_across_size_thresholds() {
    let ctx = Ctx::new("sizes").await;
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    let sizes = [0, 1, 128 * KIB - 1, 128 * KIB, 128 * KIB + 1, MIB, 5 * MIB + 3];
    for (i, &size) in sizes.iter().enumerate() {
        let key = format!("size/{size}");
        let data = test_data(size, 100 + i as u64);
        let put = ctx.put(&key, data.clone()).await;
        assert_eq!(put.e_tag(), Some(etag_of(&data).as_str()), "ETag for {size} bytes");
        let head = ctx.s3.head_object().bucket(&ctx.bucket).key(&key).send().await.expect("head");
        assert_eq!(head.content_length(), Some(size as i64), "HEAD Content-Length for {size}");
        let got = ctx.get_bytes(&key).await;
        assert_eq!(got.len(), size, "length for {size}");
        assert!(got == data, "content for {size} bytes is byte-identical");
    }
    let listing = ctx.s3.list_objects_v2().bucket(&ctx.bucket).prefix("size/").send().await.expect("list");
    let mut listed: Vec<(String, i64)> =
        listing.contents().iter().map(|o| (o.key().unwrap_or_default().to_string(), o.size().unwrap_or(-1))).collect();
    listed.sort();
    let mut expected: Vec<(String, i64)> = sizes.iter().map(|s| (format!("size/{s}"), *s as i64)).collect();
    expected.sort();
    assert_eq!(listed, expected, "listing sizes");
}

#[tokio::test]
async fn missing_key_get_and_head() {
    let ctx = Ctx::new("missing").await;
    let resp = Req::new(&ctx.server, "GET", &ctx.path("no/such key")).send().await;
    resp.assert_error(404, "NoSuchKey");
    assert_eq!(xml_text(&resp.text(), "Key").as_deref(), Some("no/such key"));
    expect_sdk_err(ctx.s3.get_object().bucket(&ctx.bucket).key("no/such key").send().await, 404, "NoSuchKey");

    let head = Req::new(&ctx.server, "HEAD", &ctx.path("no/such key")).send().await;
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty(), "HEAD 404 has no body");
    let err = ctx.s3.head_object().bucket(&ctx.bucket).key("no/such key").send().await.expect_err("404");
    assert!(err.into_service_error().is_not_found());
}

#[tokio::test]
async fn delete_object_is_idempotent() {
    let ctx = Ctx::new("delete").await;
    ctx.put("victim", b"bye".to_vec()).await;
    let resp = Req::new(&ctx.server, "DELETE", &ctx.path("victim")).send().await;
    resp.assert_status(204);
    assert!(resp.body.is_empty());
    ctx.assert_absent("victim").await;
    let again = Req::new(&ctx.server, "DELETE", &ctx.path("victim")).send().await;
    again.assert_status(204);
    let never = Req::new(&ctx.server, "DELETE", &ctx.path("never-existed")).send().await;
    never.assert_status(204);
    ctx.s3.delete_object().bucket(&ctx.bucket).key("never-existed").send().await.expect("SDK delete of a missing key");
}

fn delete_of(keys: &[&str], quiet: bool) -> Delete {
    let objects = keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().expect("identifier")).collect();
    Delete::builder().set_objects(Some(objects)).quiet(quiet).build().expect("delete")
}

#[tokio::test]
async fn delete_objects_verbose_and_quiet() {
    let ctx = Ctx::new("multidel").await;
    for key in ["a", "b", "c", "d", "dir/e f"] {
        ctx.put(key, key.as_bytes().to_vec()).await;
    }
    // Verbose: existing and missing keys are all reported as deleted.
    let out = ctx
        .s3
        .delete_objects()
        .bucket(&ctx.bucket)
        .delete(delete_of(&["a", "b", "missing-1", "dir/e f"], false))
        .send()
        .await
        .expect("DeleteObjects with the SDK's checksum header");
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["a", "b", "dir/e f", "missing-1"]);
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(ctx.list_keys("").await, ["c", "d"]);

    // Quiet: nothing reported on success.
    let out = ctx
        .s3
        .delete_objects()
        .bucket(&ctx.bucket)
        .delete(delete_of(&["c", "missing-2"], true))
        .send()
        .await
        .expect("quiet DeleteObjects");
    assert!(out.deleted().is_empty(), "quiet mode lists no deleted keys: {:?}", out.deleted());
    assert!(out.errors().is_empty());
    assert_eq!(ctx.list_keys("").await, ["d"]);
}

#[tokio::test]
async fn delete_objects_accepts_crc32_instead_of_content_md5() {
    let ctx = Ctx::new("multidel-raw").await;
    ctx.put("x", b"1".to_vec()).await;
    ctx.put("y", b"2".to_vec()).await;
    let body = r#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>x</Key></Object><Object><Key>nope</Key></Object></Delete>"#;
    // As boto3 >= 1.36 sends it: a CRC32 header and no Content-MD5.
    let resp = Req::new(&ctx.server, "POST", &format!("/{}?delete", ctx.bucket))
        .header("x-amz-checksum-crc32", crc32_b64(body.as_bytes()))
        .header("x-amz-sdk-checksum-algorithm", "CRC32")
        .body(body)
        .send()
        .await;
    resp.assert_status(200);
    let text = resp.text();
    let deleted: Vec<String> = xml_blocks(&text, "Deleted").iter().filter_map(|b| xml_text(b, "Key")).collect();
    assert_eq!(deleted, ["x", "nope"], "{text}");
    assert!(xml_all(&text, "Error").is_empty(), "{text}");
    // Classic Content-MD5 works as well.
    let body2 = "<Delete><Object><Key>y</Key></Object><Quiet>true</Quiet></Delete>";
    let resp = Req::new(&ctx.server, "POST", &format!("/{}?delete", ctx.bucket))
        .header("content-md5", md5_b64(body2.as_bytes()))
        .body(body2)
        .send()
        .await;
    resp.assert_status(200);
    assert!(ctx.list_keys("").await.is_empty());
}

#[tokio::test]
async fn delete_objects_over_1000_keys_is_malformed_xml() {
    let ctx = Ctx::new("multidel-big").await;
    ctx.put("survivor", b"s".to_vec()).await;
    let mut keys: Vec<String> = (0..1000).map(|i| format!("k{i:04}")).collect();
    keys.push("survivor".into());
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let result = ctx.s3.delete_objects().bucket(&ctx.bucket).delete(delete_of(&refs, false)).send().await;
    assert_eq!(sdk_err(result), (400, Some("MalformedXML".to_string())));
    assert!(ctx.exists("survivor").await, "a rejected DeleteObjects deletes nothing");
    // Exactly 1000 is allowed.
    let refs: Vec<&str> = keys[1..].iter().map(String::as_str).collect();
    assert_eq!(refs.len(), 1000);
    ctx.s3.delete_objects().bucket(&ctx.bucket).delete(delete_of(&refs, true)).send().await.expect("1000 keys");
    ctx.assert_absent("survivor").await;
}

#[tokio::test]
async fn conditional_put_if_none_match_star() {
    let ctx = Ctx::new("ifnonematch").await;
    let first = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("once")
        .if_none_match("*")
        .body(b"first".to_vec().into())
        .send()
        .await
        .expect("If-None-Match: * on an absent key succeeds");
    assert_eq!(first.e_tag(), Some(etag_of(b"first").as_str()));
    let second = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("once")
        .if_none_match("*")
        .body(b"second".to_vec().into())
        .send()
        .await;
    expect_sdk_err(second, 412, "PreconditionFailed");
    assert_eq!(ctx.get_bytes("once").await, b"first", "the existing object is unchanged");
}

#[tokio::test]
async fn conditional_put_if_match() {
    let ctx = Ctx::new("ifmatch").await;
    let put = ctx.put("obj", b"v1".to_vec()).await;
    let etag = put.e_tag().expect("etag").to_string();
    let wrong = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("obj")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(b"v2".to_vec().into())
        .send()
        .await;
    expect_sdk_err(wrong, 412, "PreconditionFailed");
    assert_eq!(ctx.get_bytes("obj").await, b"v1");
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("obj")
        .if_match(&etag)
        .body(b"v3".to_vec().into())
        .send()
        .await
        .expect("If-Match with the current ETag succeeds");
    assert_eq!(ctx.get_bytes("obj").await, b"v3");
    // If-Match on a key that does not exist: NoSuchKey.
    let absent =
        ctx.s3.put_object().bucket(&ctx.bucket).key("absent").if_match(&etag).body(b"x".to_vec().into()).send().await;
    expect_sdk_err(absent, 404, "NoSuchKey");
    ctx.assert_absent("absent").await;
}

#[tokio::test]
async fn conditional_writes_with_star_and_etags() {
    let ctx = Ctx::new("condwrite").await;
    let put = |key: &'static str, body: &'static [u8]| {
        ctx.s3.put_object().bucket(&ctx.bucket).key(key).body(body.to_vec().into())
    };
    // If-Match: * needs the key to exist.
    expect_sdk_err(put("k", b"a").if_match("*").send().await, 404, "NoSuchKey");
    ctx.assert_absent("k").await;
    // If-None-Match with an ETag: refused only when the current object has it.
    let first = put("k", b"a").if_none_match("\"0123456789abcdef0123456789abcdef\"").send().await.expect("absent key");
    let etag = first.e_tag().expect("etag").to_string();
    expect_sdk_err(put("k", b"b").if_none_match(&etag).send().await, 412, "PreconditionFailed");
    assert_eq!(ctx.get_bytes("k").await, b"a");
    put("k", b"b").if_none_match("\"0123456789abcdef0123456789abcdef\"").send().await.expect("another etag");
    put("k", b"c").if_match("*").send().await.expect("If-Match: * on an existing key");
    assert_eq!(ctx.get_bytes("k").await, b"c");

    // The same conditions on CompleteMultipartUpload.
    let c = &ctx;
    let complete = |cond: (&'static str, String)| async move {
        let up = c.s3.create_multipart_upload().bucket(&c.bucket).key("m").send().await.expect("create");
        let id = up.upload_id().expect("id").to_string();
        let part =
            c.s3.upload_part()
                .bucket(&c.bucket)
                .key("m")
                .upload_id(&id)
                .part_number(1)
                .body(b"part".to_vec().into())
                .send()
                .await
                .expect("part");
        let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
            .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
            .build();
        let req = c.s3.complete_multipart_upload().bucket(&c.bucket).key("m").upload_id(&id).multipart_upload(done);
        match cond.0 {
            "if-match" => req.if_match(cond.1).send().await,
            _ => req.if_none_match(cond.1).send().await,
        }
    };
    expect_sdk_err(complete(("if-match", "*".into())).await, 404, "NoSuchKey");
    let m = complete(("if-none-match", "*".into())).await.expect("absent key");
    let m_etag = m.e_tag().expect("etag").to_string();
    expect_sdk_err(complete(("if-none-match", m_etag.clone())).await, 412, "PreconditionFailed");
    expect_sdk_err(complete(("if-match", etag.clone())).await, 412, "PreconditionFailed");
    complete(("if-match", m_etag)).await.expect("If-Match with the current ETag");
    complete(("if-match", "*".into())).await.expect("If-Match: *");
}

#[tokio::test]
async fn key_length_limit_is_1024_bytes() {
    let ctx = Ctx::new("keylen").await;
    let ascii = "k".repeat(1024);
    ctx.put(&ascii, b"ascii".to_vec()).await;
    assert_eq!(ctx.get_bytes(&ascii).await, b"ascii");
    let two_byte = "é".repeat(512); // 1024 bytes, 512 characters
    ctx.put(&two_byte, b"utf8".to_vec()).await;
    assert_eq!(ctx.get_bytes(&two_byte).await, b"utf8");

    let too_long = "k".repeat(1025);
    let r = ctx.s3.put_object().bucket(&ctx.bucket).key(&too_long).body(b"x".to_vec().into()).send().await;
    expect_sdk_err(r, 400, "KeyTooLongError");
    let too_long_utf8 = format!("{two_byte}x"); // 513 characters, 1025 bytes
    let r = ctx.s3.put_object().bucket(&ctx.bucket).key(&too_long_utf8).body(b"x".to_vec().into()).send().await;
    expect_sdk_err(r, 400, "KeyTooLongError");
    let mut keys = ctx.list_keys("").await;
    keys.sort();
    let mut expected = vec![ascii, two_byte];
    expected.sort();
    assert_eq!(keys, expected, "only the valid keys exist");
}

#[tokio::test]
async fn user_metadata_over_2_kib_is_rejected() {
    let ctx = Ctx::new("metasize").await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("ok")
        .metadata("k", "v".repeat(1900))
        .body(b"x".to_vec().into())
        .send()
        .await
        .expect("1.9 KB of metadata is accepted");
    let r = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("big")
        .metadata("k", "v".repeat(2100))
        .body(b"x".to_vec().into())
        .send()
        .await;
    expect_sdk_err(r, 400, "MetadataTooLarge");
    ctx.assert_absent("big").await;
    // Many small entries adding up past the limit.
    let mut req = ctx.s3.put_object().bucket(&ctx.bucket).key("many").body(b"x".to_vec().into());
    for i in 0..30 {
        req = req.metadata(format!("field-{i:02}"), "x".repeat(80));
    }
    expect_sdk_err(req.send().await, 400, "MetadataTooLarge");
    ctx.assert_absent("many").await;
}

#[tokio::test]
async fn storage_class_standard_accepted_unknown_rejected() {
    let ctx = Ctx::new("storageclass").await;
    let resp =
        Req::new(&ctx.server, "PUT", &ctx.path("std")).header("x-amz-storage-class", "STANDARD").body("s").send().await;
    resp.assert_status(200);
    assert_eq!(ctx.get_bytes("std").await, b"s");
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("bogus"))
        .header("x-amz-storage-class", "FANCY_TIER")
        .body("s")
        .send()
        .await;
    resp.assert_error(400, "InvalidStorageClass");
    ctx.assert_absent("bogus").await;
}

#[tokio::test]
async fn special_character_keys_round_trip() {
    let ctx = Ctx::new("keys").await;
    let keys = [
        "ünïcödé/文件.txt",
        "with space.txt",
        "plus+sign",
        "percent%41literal",
        "question?mark",
        "hash#tag",
        "double//slash",
        "trailing/",
        "emoji😀",
        "semi;colon=eq&amp",
        "tilde~and*star",
        "quote\"s'and<angle>",
        "a/./b/../c",
        "back\\slash",
    ];
    for (i, key) in keys.iter().enumerate() {
        let data = format!("{i}:{key}").into_bytes();
        let put = ctx.put(key, data.clone()).await;
        assert_eq!(put.e_tag(), Some(etag_of(&data).as_str()), "put {key:?}");
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(ctx.get_bytes(key).await, format!("{i}:{key}").into_bytes(), "get {key:?}");
        // Raw path-style GET with our own encoding agrees with the SDK's.
        let raw = Req::new(&ctx.server, "GET", &format!("/{}/{}", ctx.bucket, enc_key(key))).send().await;
        raw.assert_status(200);
        assert_eq!(raw.body, format!("{i}:{key}").into_bytes(), "raw get {key:?}");
    }
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(ctx.list_keys("").await, expected, "listing returns every key exactly, in byte order");
    for key in keys {
        ctx.s3.delete_object().bucket(&ctx.bucket).key(key).send().await.expect("delete");
    }
    assert!(ctx.list_keys("").await.is_empty());
}

#[tokio::test]
async fn expires_header_round_trips_as_http_date() {
    let ctx = Ctx::new("expires").await;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("e")).header("expires", http_date(when)).body("e").send().await;
    resp.assert_status(200);
    let get = Req::new(&ctx.server, "GET", &ctx.path("e")).send().await;
    assert_eq!(get.header("expires"), Some(http_date(when).as_str()));
}
