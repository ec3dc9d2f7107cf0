//! Flexible checksums as the SDK sends them (headers or aws-chunked trailers,
//! its choice), Content-MD5, and what GET returns.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType};

use crate::common::sdk::sdk_err;
use crate::common::{
    b64, crc32_b64, crc32c_b64, crc64nvme_b64, etag_of, expect_sdk_err, md5_b64, sha1_b64, sha256_b64, test_data, Ctx,
    Req,
};

#[tokio::test]
async fn every_algorithm_is_stored_and_returned() {
    let ctx = Ctx::new("cksum").await;
    let data = test_data(300_001, 21);
    let cases = [
        (ChecksumAlgorithm::Crc32, crc32_b64(&data)),
        (ChecksumAlgorithm::Crc32C, crc32c_b64(&data)),
        (ChecksumAlgorithm::Crc64Nvme, crc64nvme_b64(&data)),
        (ChecksumAlgorithm::Sha1, sha1_b64(&data)),
        (ChecksumAlgorithm::Sha256, sha256_b64(&data)),
    ];
    for (alg, expected) in cases {
        let key = format!("obj-{}", alg.as_str());
        let put = ctx
            .s3
            .put_object()
            .bucket(&ctx.bucket)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(data.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put with {alg:?}: {e:?}"));
        let pick = |c32: Option<&str>, c32c: Option<&str>, c64: Option<&str>, s1: Option<&str>, s256: Option<&str>| {
            match alg {
                ChecksumAlgorithm::Crc32 => c32,
                ChecksumAlgorithm::Crc32C => c32c,
                ChecksumAlgorithm::Crc64Nvme => c64,
                ChecksumAlgorithm::Sha1 => s1,
                ChecksumAlgorithm::Sha256 => s256,
                _ => unreachable!("only the five algorithms are tested"),
            }
            .map(str::to_string)
        };
        let got = pick(
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
            put.checksum_sha1(),
            put.checksum_sha256(),
        );
        assert_eq!(got.as_deref(), Some(expected.as_str()), "PutObject returns the {alg:?} checksum");
        assert_eq!(put.e_tag(), Some(etag_of(&data).as_str()));

        let get = ctx
            .s3
            .get_object()
            .bucket(&ctx.bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("get with checksum mode");
        let got = pick(
            get.checksum_crc32(),
            get.checksum_crc32_c(),
            get.checksum_crc64_nvme(),
            get.checksum_sha1(),
            get.checksum_sha256(),
        );
        assert_eq!(got.as_deref(), Some(expected.as_str()), "GetObject returns the stored {alg:?} checksum");
        if let Some(t) = get.checksum_type() {
            assert_eq!(t, &ChecksumType::FullObject, "single PUT checksum is FULL_OBJECT");
        }
        assert!(get.body.collect().await.expect("body (validated by the SDK)").into_bytes()[..] == data[..]);

        let head = ctx
            .s3
            .head_object()
            .bucket(&ctx.bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("head with checksum mode");
        let got = pick(
            head.checksum_crc32(),
            head.checksum_crc32_c(),
            head.checksum_crc64_nvme(),
            head.checksum_sha1(),
            head.checksum_sha256(),
        );
        assert_eq!(got.as_deref(), Some(expected.as_str()), "HeadObject returns the stored {alg:?} checksum");
    }
}

#[tokio::test]
async fn default_sdk_upload_carries_crc32() {
    let ctx = Ctx::new("cksum-default").await;
    let data = test_data(1000, 22);
    ctx.put("plain", data.clone()).await;
    let get = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("plain")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(get.checksum_crc32(), Some(crc32_b64(&data).as_str()), "the SDK's default CRC32 was stored");
}

#[tokio::test]
async fn checksums_only_when_asked_and_never_on_ranges() {
    let ctx = Ctx::new("cksum-mode").await;
    let data = test_data(5000, 23);
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("obj")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(data.clone().into())
        .send()
        .await
        .expect("put");
    let path = ctx.path("obj");
    let plain = Req::new(&ctx.server, "GET", &path).send().await;
    plain.assert_status(200);
    assert!(plain.header("x-amz-checksum-crc32").is_none(), "no checksum without x-amz-checksum-mode");

    let full = Req::new(&ctx.server, "GET", &path).header("x-amz-checksum-mode", "ENABLED").send().await;
    full.assert_status(200);
    assert_eq!(full.header("x-amz-checksum-crc32"), Some(crc32_b64(&data).as_str()));

    let ranged = Req::new(&ctx.server, "GET", &path)
        .header("x-amz-checksum-mode", "ENABLED")
        .header("range", "bytes=0-99")
        .send()
        .await;
    assert_eq!(ranged.status, 206);
    assert_eq!(&ranged.body[..], &data[..100]);
    for name in [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
    ] {
        assert!(ranged.header(name).is_none(), "ranged GET must not carry the full-object {name}");
    }
    // The SDK agrees: ranged GET with checksum mode succeeds and reports no checksum.
    let out = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("obj")
        .range("bytes=100-199")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("ranged get");
    assert!(out.checksum_crc32().is_none());
    assert_eq!(&out.body.collect().await.expect("body").into_bytes()[..], &data[100..200]);
}

#[tokio::test]
async fn wrong_checksum_value_is_bad_digest() {
    let ctx = Ctx::new("cksum-bad").await;
    let data = test_data(4096, 24);
    let r = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("bad")
        .checksum_crc32("AAAAAA==")
        .body(data.clone().into())
        .send()
        .await;
    expect_sdk_err(r, 400, "BadDigest");
    ctx.assert_absent("bad").await;

    let r = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("bad-sha")
        .checksum_sha256(sha256_b64(b"something else"))
        .body(data.clone().into())
        .send()
        .await;
    expect_sdk_err(r, 400, "BadDigest");
    ctx.assert_absent("bad-sha").await;

    // Raw, header only.
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("bad-raw"))
        .header("x-amz-checksum-crc32c", crc32c_b64(b"not the body"))
        .body(data.clone())
        .send()
        .await;
    resp.assert_error(400, "BadDigest");
    ctx.assert_absent("bad-raw").await;

    // The right value explicitly given is accepted.
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("good")
        .checksum_crc32(crc32_b64(&data))
        .body(data.clone().into())
        .send()
        .await
        .expect("correct explicit CRC32");
}

#[tokio::test]
async fn content_md5_bad_and_invalid() {
    let ctx = Ctx::new("md5").await;
    let data = test_data(10_000, 25);
    let r = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("wrong")
        .content_md5(md5_b64(b"other"))
        .body(data.clone().into())
        .send()
        .await;
    expect_sdk_err(r, 400, "BadDigest");
    ctx.assert_absent("wrong").await;

    let r = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("garbage")
        .content_md5("not-base64!!")
        .body(data.clone().into())
        .send()
        .await;
    assert_eq!(sdk_err(r), (400, Some("InvalidDigest".to_string())));
    ctx.assert_absent("garbage").await;

    // Valid base64 of the wrong length is not an MD5 either.
    let resp = Req::new(&ctx.server, "PUT", &ctx.path("short"))
        .header("content-md5", b64([1u8; 15]))
        .body(data.clone())
        .send()
        .await;
    resp.assert_error(400, "InvalidDigest");
    ctx.assert_absent("short").await;

    let ok = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("right")
        .content_md5(md5_b64(&data))
        .body(data.clone().into())
        .send()
        .await;
    assert_eq!(ok.expect("correct Content-MD5").e_tag(), Some(etag_of(&data).as_str()));
}

#[tokio::test]
async fn sdk_streaming_upload_from_file() {
    let ctx = Ctx::new("cksum-stream").await;
    let data = test_data(1024 * 1024 + 7, 26);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("upload.bin");
    std::fs::write(&path, &data).expect("write upload file");
    for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc64Nvme] {
        let key = format!("stream-{}", alg.as_str());
        let body = ByteStream::from_path(&path).await.expect("file body");
        ctx.s3
            .put_object()
            .bucket(&ctx.bucket)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("streaming put {alg:?}: {e:?}"));
        let got = ctx.get_bytes(&key).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "streamed upload is stored without framing");
    }
}
