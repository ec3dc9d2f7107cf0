//! Every `x-amz-content-sha256` payload mode of PUT, hand-encoded: plain
//! signed payloads, aws-chunked with chunk signatures, unsigned aws-chunked
//! with checksum trailers, and the signed-trailer variant.

use std::time::SystemTime;

use crate::common::chunked::{self, signed_streaming_request, unsigned_streaming_request, Trailer};
use crate::common::sign::Creds;
use crate::common::{crc32_b64, etag_of, send, sha256_hex, test_data, Ctx, RawResponse, Req};

const CHUNK: usize = 64 * 1024;

fn crc_trailer(value: &str) -> Trailer {
    Trailer::Headers(vec![("x-amz-checksum-crc32".to_string(), value.to_string())])
}

async fn assert_stored(ctx: &Ctx, key: &str, data: &[u8]) {
    let got = ctx.get_bytes(key).await;
    assert_eq!(got.len(), data.len(), "{key}: stored length is the decoded length");
    assert!(got == data, "{key}: stored content is the decoded data, not the framing");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key(key).send().await.expect("head");
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.e_tag(), Some(etag_of(data).as_str()));
    assert!(
        head.content_encoding().map(|e| !e.contains("aws-chunked")).unwrap_or(true),
        "aws-chunked is not stored as Content-Encoding"
    );
}

#[tokio::test]
async fn unsigned_payload() {
    let ctx = Ctx::new("pl-unsigned").await;
    let data = test_data(70_000, 31);
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("u")).body(data.clone()).send_unsigned_payload().await;
    resp.assert_status(200);
    assert_eq!(resp.header("etag"), Some(etag_of(&data).as_str()));
    assert_stored(&ctx, "u", &data).await;
}

#[tokio::test]
async fn signed_sha256_payload_and_mismatch() {
    let ctx = Ctx::new("pl-sha").await;
    let data = test_data(70_000, 32);
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("s")).body(data.clone()).send().await;
    resp.assert_status(200);
    assert_stored(&ctx, "s", &data).await;

    let req = Req::new(&ctx.server, "PUT", &ctx.path("bad")).body(data.clone());
    let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), &sha256_hex(b"a different body"));
    send(ctx.server.s3_addr, signed).await.assert_error(400, "XAmzContentSHA256Mismatch");
    ctx.assert_absent("bad").await;

    // An empty body with the SHA-256 of the empty string.
    Req::new(&ctx.server, "PUT", &ctx.path("empty")).send().await.assert_status(200);
    assert_stored(&ctx, "empty", b"").await;
}

#[tokio::test]
async fn unknown_payload_hash_value_is_rejected() {
    let ctx = Ctx::new("pl-unknown").await;
    for value in ["NOT-A-HASH", "STREAMING-SOMETHING-ELSE", "abc123"] {
        let req = Req::new(&ctx.server, "PUT", &ctx.path("x")).body("x");
        let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), value);
        let resp = send(ctx.server.s3_addr, signed).await;
        assert_eq!(resp.status, 400, "x-amz-content-sha256: {value}: {}", resp.text());
        assert!(resp.code().is_some(), "an S3 error body");
    }
    ctx.assert_absent("x").await;
}

#[tokio::test]
async fn streaming_signed_payload() {
    let ctx = Ctx::new("pl-chunked").await;
    let data = test_data(3 * CHUNK + 1234, 33);
    let chunks = chunked::split(&data, CHUNK);
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("c")),
        &chunks,
        Trailer::None,
        &Creds::root(),
        SystemTime::now(),
    );
    let resp = send(ctx.server.s3_addr, req).await;
    resp.assert_status(200);
    assert_eq!(resp.header("etag"), Some(etag_of(&data).as_str()));
    assert_stored(&ctx, "c", &data).await;

    // A single small chunk (the last chunk may be smaller than 8 KiB).
    let small = b"tiny".to_vec();
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("tiny")),
        &[small.clone()],
        Trailer::None,
        &Creds::root(),
        SystemTime::now(),
    );
    send(ctx.server.s3_addr, req).await.assert_status(200);
    assert_stored(&ctx, "tiny", &small).await;

    // An empty body: just the final chunk.
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("none")),
        &[],
        Trailer::None,
        &Creds::root(),
        SystemTime::now(),
    );
    send(ctx.server.s3_addr, req).await.assert_status(200);
    assert_stored(&ctx, "none", b"").await;
}

fn flip_byte(req: http::Request<bytes::Bytes>, at: usize) -> http::Request<bytes::Bytes> {
    let (parts, body) = req.into_parts();
    let mut body = body.to_vec();
    body[at] ^= 0x01;
    http::Request::from_parts(parts, bytes::Bytes::from(body))
}

#[tokio::test]
async fn streaming_signed_payload_tampered_chunk() {
    let ctx = Ctx::new("pl-tamper").await;
    let data = test_data(2 * CHUNK + 100, 34);
    let chunks = chunked::split(&data, CHUNK);
    // Tamper with data in the second chunk: its signature no longer matches.
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("t")),
        &chunks,
        Trailer::None,
        &Creds::root(),
        SystemTime::now(),
    );
    let header_len = format!("{:x};chunk-signature=", CHUNK).len() + 64 + 2;
    let second_chunk_data = header_len + CHUNK + 2 + header_len + 10;
    let resp = send(ctx.server.s3_addr, flip_byte(req, second_chunk_data)).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    ctx.assert_absent("t").await;

    // Tamper with a chunk signature itself.
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("t2")),
        &chunks,
        Trailer::None,
        &Creds::root(),
        SystemTime::now(),
    );
    let first_sig = format!("{:x};chunk-signature=", CHUNK).len() + 5;
    let (parts, body) = req.into_parts();
    let mut body = body.to_vec();
    body[first_sig] = if body[first_sig] == b'0' { b'1' } else { b'0' };
    let resp = send(ctx.server.s3_addr, http::Request::from_parts(parts, bytes::Bytes::from(body))).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    ctx.assert_absent("t2").await;

    // Chunks signed with the wrong secret (seed and chunks consistent, but not ours).
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("t3")),
        &chunks,
        Trailer::None,
        &Creds::with_secret("another-secret-entirely"),
        SystemTime::now(),
    );
    send(ctx.server.s3_addr, req).await.assert_error(403, "SignatureDoesNotMatch");
    ctx.assert_absent("t3").await;
}

#[tokio::test]
async fn streaming_signed_payload_length_mismatch() {
    let ctx = Ctx::new("pl-declen").await;
    let data = test_data(CHUNK + 10, 35);
    let chunks = chunked::split(&data, CHUNK);
    // x-amz-decoded-content-length that disagrees with the chunks.
    // Correctly signed, but the decoded length disagrees with the chunks.
    let req = Req::new(&ctx.server, "PUT", &ctx.path("d")).header("x-amz-decoded-content-length", "5");
    let signed = signed_streaming_request(req, &chunks, Trailer::None, &Creds::root(), SystemTime::now());
    let resp = send(ctx.server.s3_addr, signed).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    ctx.assert_absent("d").await;
}

async fn put_unsigned_trailer(
    ctx: &Ctx,
    key: &str,
    data: &[u8],
    declared: Option<&str>,
    trailer: Trailer,
) -> RawResponse {
    let chunks = chunked::split(data, CHUNK);
    let req = unsigned_streaming_request(Req::new(&ctx.server, "PUT", &ctx.path(key)), &chunks, declared, trailer);
    send(ctx.server.s3_addr, req).await
}

#[tokio::test]
async fn streaming_unsigned_trailer() {
    let ctx = Ctx::new("pl-trailer").await;
    let data = test_data(2 * CHUNK + 77, 36);
    let crc = crc32_b64(&data);
    let resp = put_unsigned_trailer(&ctx, "ok", &data, Some("x-amz-checksum-crc32"), crc_trailer(&crc)).await;
    resp.assert_status(200);
    assert_eq!(resp.header("x-amz-checksum-crc32"), Some(crc.as_str()), "PutObject echoes the checksum");
    assert_stored(&ctx, "ok", &data).await;
    let get = Req::new(&ctx.server, "GET", &ctx.path("ok")).header("x-amz-checksum-mode", "ENABLED").send().await;
    assert_eq!(get.header("x-amz-checksum-crc32"), Some(crc.as_str()), "the trailer checksum is stored");

    // Streaming without any trailer succeeds.
    let resp = put_unsigned_trailer(&ctx, "no-trailer", &data, None, Trailer::None).await;
    resp.assert_status(200);
    assert_stored(&ctx, "no-trailer", &data).await;
}

#[tokio::test]
async fn streaming_unsigned_trailer_errors() {
    let ctx = Ctx::new("pl-trailer-bad").await;
    let data = test_data(CHUNK + 5, 37);

    let resp =
        put_unsigned_trailer(&ctx, "wrong", &data, Some("x-amz-checksum-crc32"), crc_trailer(&crc32_b64(b"other")))
            .await;
    resp.assert_error(400, "BadDigest");
    ctx.assert_absent("wrong").await;

    let resp =
        put_unsigned_trailer(&ctx, "garbage", &data, Some("x-amz-checksum-crc32"), crc_trailer("!!not base64!!")).await;
    resp.assert_error(400, "InvalidRequest");
    ctx.assert_absent("garbage").await;

    let resp = put_unsigned_trailer(&ctx, "missing", &data, Some("x-amz-checksum-crc32"), Trailer::None).await;
    assert_eq!(resp.status, 400, "declared trailer never sent: {}", resp.text());
    let code = resp.code().unwrap_or_default();
    assert!(["IncompleteBody", "MalformedTrailerError", "InvalidRequest"].contains(&code.as_str()), "code {code:?}");
    ctx.assert_absent("missing").await;

    // Both a trailer and a checksum header: ambiguous.
    let chunks = chunked::split(&data, CHUNK);
    let req = Req::new(&ctx.server, "PUT", &ctx.path("both")).header("x-amz-checksum-crc32", crc32_b64(&data));
    let req = unsigned_streaming_request(req, &chunks, Some("x-amz-checksum-crc32"), crc_trailer(&crc32_b64(&data)));
    send(ctx.server.s3_addr, req).await.assert_error(400, "InvalidRequest");
    ctx.assert_absent("both").await;

    // A trailer that differs from the one declared.
    let resp = put_unsigned_trailer(
        &ctx,
        "other-name",
        &data,
        Some("x-amz-checksum-crc32"),
        Trailer::Headers(vec![("x-amz-checksum-sha256".into(), crate::common::sha256_b64(&data))]),
    )
    .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    ctx.assert_absent("other-name").await;
}

#[tokio::test]
async fn streaming_signed_payload_trailer() {
    let ctx = Ctx::new("pl-signed-trailer").await;
    let data = test_data(2 * CHUNK + 3, 38);
    let chunks = chunked::split(&data, CHUNK);
    let crc = crc32_b64(&data);
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("st")),
        &chunks,
        crc_trailer(&crc),
        &Creds::root(),
        SystemTime::now(),
    );
    send(ctx.server.s3_addr, req).await.assert_status(200);
    assert_stored(&ctx, "st", &data).await;
    let get = Req::new(&ctx.server, "GET", &ctx.path("st")).header("x-amz-checksum-mode", "ENABLED").send().await;
    assert_eq!(get.header("x-amz-checksum-crc32"), Some(crc.as_str()));

    // Wrong checksum value in a correctly signed trailer.
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("st-bad")),
        &chunks,
        crc_trailer(&crc32_b64(b"nope")),
        &Creds::root(),
        SystemTime::now(),
    );
    send(ctx.server.s3_addr, req).await.assert_error(400, "BadDigest");
    ctx.assert_absent("st-bad").await;

    // Trailer signature tampered.
    let req = signed_streaming_request(
        Req::new(&ctx.server, "PUT", &ctx.path("st-sig")),
        &chunks,
        crc_trailer(&crc),
        &Creds::root(),
        SystemTime::now(),
    );
    let (parts, body) = req.into_parts();
    let mut body = body.to_vec();
    let marker = b"x-amz-trailer-signature:";
    let at = crate::common::http::find(&body, marker).expect("trailer signature present") + marker.len();
    body[at] = if body[at] == b'0' { b'1' } else { b'0' };
    let resp = send(ctx.server.s3_addr, http::Request::from_parts(parts, bytes::Bytes::from(body))).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    ctx.assert_absent("st-sig").await;
}
