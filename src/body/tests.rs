//! Body verification tests: every payload mode, checksum source and error.

use std::convert::Infallible;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt as _;
use http_body::Frame;
use http_body_util::{Full, StreamBody};

use super::*;
use crate::auth::canonical::sha256_hex;
use crate::auth::chunked::encode;
use crate::auth::{ChunkSigningContext, StreamingMode};

const MAX: u64 = 1 << 30;
const IDLE: Duration = Duration::from_secs(5);

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn checksum_b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = alg.hasher();
    h.update(data);
    h.finalize_base64()
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn headers(list: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (n, v) in list {
        h.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
    }
    h
}

fn ctx() -> ChunkSigningContext {
    let key = aws_sigv4::sign::v4::generate_signing_key(
        "secret",
        crate::auth::parse_amz_date("20250101T000000Z").unwrap(),
        "us-east-1",
        "s3",
    );
    ChunkSigningContext::new(
        key.as_ref().to_vec(),
        "20250101T120000Z".into(),
        "20250101/us-east-1/s3/aws4_request".into(),
        "0".repeat(64),
    )
}

fn streaming(signed: bool, trailer: bool) -> PayloadMode {
    PayloadMode::Streaming(StreamingMode { chunk_signing: signed.then(ctx), trailer })
}

/// A body delivering `data` in frames of `frame` bytes.
fn framed(
    data: Vec<u8>,
    frame: usize,
) -> StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>> {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        data.chunks(frame.max(1)).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
    StreamBody::new(futures::stream::iter(frames))
}

async fn drain(mut body: VerifiedBody) -> Result<(Vec<u8>, BodySummary), ApiError> {
    let mut out = Vec::new();
    while let Some(piece) = body.next().await {
        out.extend_from_slice(&piece?);
    }
    // After the end the stream stays ended.
    assert!(body.next().await.is_none());
    let summary = body.summary().expect("summary after a verified end");
    Ok((out, summary))
}

async fn run(data: Vec<u8>, hdrs: &[(&str, &str)], payload: PayloadMode) -> Result<(Vec<u8>, BodySummary), ApiError> {
    let body = verified_body(framed(data, 7), &headers(hdrs), payload, MAX, IDLE)?;
    drain(body).await
}

#[test]
fn verified_body_is_send_unpin_static() {
    fn check<T: futures::Stream + Send + Unpin + 'static>() {}
    check::<VerifiedBody>();
}

#[tokio::test]
async fn unsigned_body_summary() {
    let data = b"Welcome to Amazon S3.".to_vec();
    let len = data.len().to_string();
    let (out, s) = run(data.clone(), &[("content-length", &len)], PayloadMode::Unsigned).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(s, BodySummary { size_bytes: 21, md5: md5_of(&data), checksum: None });
    // Full body too.
    let body =
        verified_body(Full::new(Bytes::from(data.clone())), &headers(&[]), PayloadMode::Unsigned, MAX, IDLE).unwrap();
    assert_eq!(drain(body).await.unwrap().0, data);
}

#[tokio::test]
async fn sha256_mode() {
    let data = b"Welcome to Amazon S3.".to_vec();
    let hash: [u8; 32] = hex::decode(sha256_hex(&data)).unwrap().try_into().unwrap();
    run(data.clone(), &[], PayloadMode::Sha256(hash)).await.unwrap();
    let err = run(b"Welcome to Amazon S4.".to_vec(), &[], PayloadMode::Sha256(hash)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::XAmzContentSHA256Mismatch);
    let extra: Vec<&str> = err.extra.iter().map(|(n, _)| *n).collect();
    assert_eq!(extra, ["ClientComputedContentSHA256", "S3ComputedContentSHA256"]);
    assert_eq!(err.extra[0].1, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

#[tokio::test]
async fn content_md5() {
    let data = b"hello".to_vec();
    let good = b64(&md5_of(&data));
    run(data.clone(), &[("content-md5", &good)], PayloadMode::Unsigned).await.unwrap();
    let other = b64(&md5_of(b"other"));
    let err = run(data.clone(), &[("content-md5", &other)], PayloadMode::Unsigned).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::BadDigest);
    for bad in ["not base64!", "AAAA"] {
        let err =
            verified_body(framed(data.clone(), 3), &headers(&[("content-md5", bad)]), PayloadMode::Unsigned, MAX, IDLE)
                .err()
                .unwrap();
        assert_eq!(err.code, S3ErrorCode::InvalidDigest);
    }
}

#[tokio::test]
async fn checksum_headers() {
    let data = b"123456789".to_vec();
    for alg in ChecksumAlgorithm::ALL {
        let value = checksum_b64(alg, &data);
        let (_, s) = run(data.clone(), &[(alg.header_name(), &value)], PayloadMode::Unsigned).await.unwrap();
        assert_eq!(s.checksum, Some((alg, value)));
        let wrong = checksum_b64(alg, b"x");
        let err = run(data.clone(), &[(alg.header_name(), &wrong)], PayloadMode::Unsigned).await.unwrap_err();
        assert_eq!(err.code, S3ErrorCode::BadDigest);
        assert_eq!(err.message, format!("The {} you specified did not match the calculated checksum.", alg.as_str()));
    }
    let err = verified_body(
        framed(data.clone(), 3),
        &headers(&[("x-amz-checksum-crc32", "abc")]),
        PayloadMode::Unsigned,
        MAX,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert_eq!(err.message, "Value for x-amz-checksum-crc32 header is invalid.");
    // Two algorithms.
    let h = [("x-amz-checksum-crc32", "y/Q5Jg=="), ("x-amz-checksum-crc32c", "4waSgw==")];
    let err = verified_body(framed(data.clone(), 3), &headers(&h), PayloadMode::Unsigned, MAX, IDLE).err().unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    // Known values of "123456789", base64 of the big-endian CRCs.
    assert_eq!(checksum_b64(ChecksumAlgorithm::Crc32, &data), "y/Q5Jg==");
    assert_eq!(checksum_b64(ChecksumAlgorithm::Crc32c, &data), "4waSgw==");
}

#[tokio::test]
async fn sdk_checksum_algorithm_only_is_computed() {
    let data = b"123456789".to_vec();
    let (_, s) =
        run(data.clone(), &[("x-amz-sdk-checksum-algorithm", "crc64nvme")], PayloadMode::Unsigned).await.unwrap();
    assert_eq!(s.checksum, Some((ChecksumAlgorithm::Crc64Nvme, b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes()))));
    let err = verified_body(
        framed(data.clone(), 3),
        &headers(&[("x-amz-sdk-checksum-algorithm", "MD5")]),
        PayloadMode::Unsigned,
        MAX,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    // Header and SDK algorithm disagree.
    let h = [("x-amz-sdk-checksum-algorithm", "SHA1"), ("x-amz-checksum-crc32", "y/Q5Jg==")];
    assert_eq!(
        verified_body(framed(data, 3), &headers(&h), PayloadMode::Unsigned, MAX, IDLE).err().unwrap().code,
        S3ErrorCode::InvalidRequest
    );
}

fn trailer_headers<'a>(decoded_len: &'a str, trailer: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", decoded_len), ("x-amz-trailer", trailer)]
}

#[tokio::test]
async fn aws_sdk_rust_unsigned_trailer_body() {
    // aws-sdk-rust's own recorded request: 65 KiB of 'a', CRC32 trailer.
    let mut encoded = b"10400\r\n".to_vec();
    encoded.extend_from_slice(&[b'a'; 66560]);
    encoded.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:sK4Y7A==\r\n\r\n");
    assert_eq!(encoded.len(), 66605);
    let mut h = trailer_headers("66560", "x-amz-checksum-crc32");
    h.push(("content-length", "66605"));
    h.push(("x-amz-sdk-checksum-algorithm", "CRC32"));
    let (out, s) = run(encoded, &h, streaming(false, true)).await.unwrap();
    assert_eq!(out.len(), 66560);
    assert_eq!(s.size_bytes, 66560);
    assert_eq!(s.checksum, Some((ChecksumAlgorithm::Crc32, "sK4Y7A==".into())));
}

#[tokio::test]
async fn streaming_modes_every_frame_size() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let chunks: Vec<&[u8]> = data.chunks(1000).collect();
    let crc = checksum_b64(ChecksumAlgorithm::Crc32c, &data);
    let len = data.len().to_string();
    for (signed, trailer) in [(true, true), (true, false), (false, true)] {
        let c = ctx();
        let trailers: Vec<(&str, &str)> = if trailer { vec![("x-amz-checksum-crc32c", &crc)] } else { vec![] };
        let encoded = encode(signed.then_some(&c), &chunks, &trailers, signed && trailer);
        let mut h = vec![("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", len.as_str())];
        if trailer {
            h.push(("x-amz-trailer", "x-amz-checksum-crc32c"));
        }
        for frame in [1, 2, 3, 5, 64, 999, 1000, 1001, 4096] {
            let body =
                verified_body(framed(encoded.clone(), frame), &headers(&h), streaming(signed, trailer), MAX, IDLE)
                    .unwrap();
            let (out, s) = drain(body).await.unwrap();
            assert_eq!(out, data, "signed={signed} trailer={trailer} frame={frame}");
            assert_eq!(s.md5, md5_of(&data));
            let expected = trailer.then(|| (ChecksumAlgorithm::Crc32c, crc.clone()));
            assert_eq!(s.checksum, expected);
        }
    }
}

#[tokio::test]
async fn trailer_errors() {
    let data = b"hello world".to_vec();
    // Declared trailer never comes.
    let encoded = encode(None, &[&data], &[], false);
    let err = run(encoded, &trailer_headers("11", "x-amz-checksum-crc32"), streaming(false, true)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::MalformedTrailerError);
    // Invalid base64 in the trailer.
    let encoded = encode(None, &[&data], &[("x-amz-checksum-crc32", "%%%")], false);
    let err = run(encoded, &trailer_headers("11", "x-amz-checksum-crc32"), streaming(false, true)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    // Wrong value.
    let encoded = encode(None, &[&data], &[("x-amz-checksum-crc32", "AAAAAA==")], false);
    let err = run(encoded, &trailer_headers("11", "x-amz-checksum-crc32"), streaming(false, true)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::BadDigest);
    assert_eq!(err.message, "The CRC32 you specified did not match the calculated checksum.");
    // Trailer and header both.
    let mut h = trailer_headers("11", "x-amz-checksum-crc32");
    h.push(("x-amz-checksum-crc32", "AAAAAA=="));
    let err = verified_body(framed(vec![], 1), &headers(&h), streaming(false, true), MAX, IDLE).err().unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert!(err.message.starts_with("Expecting a single x-amz-checksum- header"));
    // A trailer that is not a checksum, and a trailer without a trailer mode.
    let err = verified_body(
        framed(vec![], 1),
        &headers(&trailer_headers("0", "x-amz-foo")),
        streaming(false, true),
        MAX,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    let err = verified_body(
        framed(vec![], 1),
        &headers(&[("x-amz-trailer", "x-amz-checksum-crc32")]),
        PayloadMode::Unsigned,
        MAX,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    // aws-chunked framing in a mode that does not decode it.
    let err = verified_body(
        framed(vec![], 1),
        &headers(&[("content-encoding", "gzip, aws-chunked")]),
        PayloadMode::Unsigned,
        MAX,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    // Streaming without any trailer header: fine.
    let encoded = encode(None, &[&data], &[], false);
    let (out, s) = run(encoded, &[("x-amz-decoded-content-length", "11")], streaming(false, true)).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(s.checksum, None);
}

#[tokio::test]
async fn streaming_length_errors() {
    let data = b"hello world".to_vec();
    let encoded = encode(Some(&ctx()), &[&data], &[], false);
    let err =
        verified_body(framed(encoded.clone(), 4), &headers(&[]), streaming(true, false), MAX, IDLE).err().unwrap();
    assert_eq!(err.code, S3ErrorCode::MissingContentLength);
    let err =
        run(encoded.clone(), &[("x-amz-decoded-content-length", "12")], streaming(true, false)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);
    let err =
        run(encoded.clone(), &[("x-amz-decoded-content-length", "10")], streaming(true, false)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);
    let err = verified_body(
        framed(encoded.clone(), 4),
        &headers(&[("x-amz-decoded-content-length", "11")]),
        streaming(true, false),
        10,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
    // Truncated framing.
    let err =
        run(encoded[..encoded.len() - 4].to_vec(), &[("x-amz-decoded-content-length", "11")], streaming(true, false))
            .await
            .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);
    // Bad chunk signature, signed with another seed.
    let mut other = ctx();
    other.seed_signature = "1".repeat(64);
    let forged = encode(Some(&other), &[&data], &[], false);
    let err = run(forged, &[("x-amz-decoded-content-length", "11")], streaming(true, false)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
    // The framing of an unsigned stream sent as a signed one.
    let unsigned = encode(None, &[&data], &[], false);
    let err = run(unsigned, &[("x-amz-decoded-content-length", "11")], streaming(true, false)).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn size_limits() {
    let data = vec![7u8; 100];
    let err = verified_body(
        framed(data.clone(), 10),
        &headers(&[("content-length", "100")]),
        PayloadMode::Unsigned,
        99,
        IDLE,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
    // No Content-Length: caught while streaming, before the data is passed on.
    let mut body = verified_body(framed(data.clone(), 10), &headers(&[]), PayloadMode::Unsigned, 95, IDLE).unwrap();
    let mut passed = 0;
    let err = loop {
        match body.next().await {
            Some(Ok(p)) => passed += p.len(),
            Some(Err(e)) => break e,
            None => panic!("must fail"),
        }
    };
    assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
    assert!(passed <= 95);
    assert!(body.next().await.is_none());
    assert!(body.summary().is_none());
    // Shorter than Content-Length.
    let err = run(data.clone(), &[("content-length", "101")], PayloadMode::Unsigned).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);
    // Longer than Content-Length.
    let err = run(data, &[("content-length", "99")], PayloadMode::Unsigned).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);
}

#[tokio::test]
async fn disconnect_and_idle_timeout() {
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
        Ok(Frame::data(Bytes::from_static(b"abc"))),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
    ];
    let body = StreamBody::new(futures::stream::iter(frames));
    let err = drain(verified_body(body, &headers(&[]), PayloadMode::Unsigned, MAX, IDLE).unwrap()).await.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::IncompleteBody);

    let first = futures::stream::iter(vec![Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"abc")))]);
    let body = StreamBody::new(first.chain(futures::stream::pending()));
    let started = std::time::Instant::now();
    let err = drain(verified_body(body, &headers(&[]), PayloadMode::Unsigned, MAX, Duration::from_millis(50)).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::RequestTimeout);
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn stored_content_encoding_strips_aws_chunked() {
    let enc = |v: &[&str]| {
        let mut h = http::HeaderMap::new();
        for x in v {
            h.append("content-encoding", x.parse().unwrap());
        }
        stored_content_encoding(&h)
    };
    assert_eq!(enc(&[]), None);
    assert_eq!(enc(&["aws-chunked"]), None);
    assert_eq!(enc(&["AWS-Chunked"]), None);
    assert_eq!(enc(&["aws-chunked,gzip"]), Some("gzip".into()));
    assert_eq!(enc(&["gzip, aws-chunked"]), Some("gzip".into()));
    assert_eq!(enc(&["aws-chunked", "br"]), Some("br".into()));
    assert_eq!(enc(&["gzip"]), Some("gzip".into()));
    assert_eq!(enc(&["aws-chunked, deflate,gzip"]), Some("deflate, gzip".into()));
}

#[tokio::test]
async fn signed_request_end_to_end() {
    // authenticate → payload mode → verified body, with a signed trailer.
    struct Store;
    impl crate::auth::CredentialStore for Store {
        fn secret_key(&self, _: &str) -> Option<crate::auth::SecretKey> {
            Some(crate::auth::SecretKey::new("secret".into()))
        }
    }
    let amz_date = "20250101T120000Z";
    let now = crate::auth::parse_amz_date(amz_date).unwrap();
    let list = [
        ("content-encoding", "aws-chunked"),
        ("host", "localhost:9000"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
        ("x-amz-date", amz_date),
        ("x-amz-decoded-content-length", "5"),
        ("x-amz-trailer", "x-amz-checksum-sha256"),
    ];
    let h = headers(&list);
    let names: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
    let cr = crate::auth::canonical::canonical_request(
        "PUT",
        "/b/k",
        "",
        &crate::auth::canonical::canonical_headers(&h, &names, None),
        &names.join(";"),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    );
    let scope = "20250101/us-east-1/s3/aws4_request";
    let sts = crate::auth::canonical::string_to_sign(amz_date, scope, &cr);
    let key = aws_sigv4::sign::v4::generate_signing_key(
        "secret",
        crate::auth::parse_amz_date("20250101T000000Z").unwrap(),
        "us-east-1",
        "s3",
    );
    let sig = aws_sigv4::sign::v4::calculate_signature(key, sts.as_bytes());
    let mut b = http::Request::builder().method("PUT").uri("/b/k");
    for (n, v) in list {
        b = b.header(n, v);
    }
    let auth = format!("AWS4-HMAC-SHA256 Credential=AK/{scope}, SignedHeaders={}, Signature={sig}", names.join(";"));
    let parts = b.header("authorization", auth).body(()).unwrap().into_parts().0;
    let a = crate::auth::authenticate(&parts, &Store, "us-east-1", crate::auth::SigV2::Refused, now).unwrap();
    let PayloadMode::Streaming(StreamingMode { chunk_signing: Some(c), trailer: true }) = &a.payload else {
        panic!("expected signed trailer mode")
    };
    let sha = checksum_b64(ChecksumAlgorithm::Sha256, b"hello");
    let encoded = encode(Some(c), &[b"hel", b"lo"], &[("x-amz-checksum-sha256", &sha)], true);
    let body = verified_body(framed(encoded, 3), &parts.headers, a.payload.clone(), MAX, IDLE).unwrap();
    let (out, s) = drain(body).await.unwrap();
    assert_eq!(out, b"hello");
    assert_eq!(s.checksum, Some((ChecksumAlgorithm::Sha256, sha)));
}
