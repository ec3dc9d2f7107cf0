//! Multipart upload end to end: create/upload/complete with every checksum
//! algorithm and type, the multipart ETag, GET/HEAD by part number, the error
//! cases, part replacement and subsets, ListParts and ListMultipartUploads
//! paging, UploadPartCopy, concurrency (parts in parallel, complete racing
//! abort), 10,000 parts, SIGKILL mid-upload and mid-complete, and the `aws`
//! CLI (multipart with its default 8 MiB parts).
//!
//! Tests that need small parts start the server with the hidden
//! `--test-min-part-size-bytes 1`; the EntityTooSmall test and the tests with
//! 5 MiB parts use the default 5 MiB minimum.
//!
//! The 1 GiB `aws s3 cp` test is ignored; run it with
//!   CARGO_TARGET_DIR=/root/.cache/coffer-target cargo test --release -p coffer --test s3_api multipart::aws_cli -- --ignored

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::Instant;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use tokio::io::AsyncWriteExt as _;

use crate::common::http::{send_body, serialize_head};
use crate::common::sdk::client;
use crate::common::server::{ACCESS_KEY, REGION, SECRET_KEY};
use crate::common::{
    b64, bucket_name, crc32_b64, enc_key, enc_query, etag_of, expect_sdk_err, test_data, xml_text, Ctx, Req, Server,
    ServerOptions,
};

const MIB: usize = 1024 * 1024;

/// A server that accepts parts of any size (test-only flag).
fn small_parts() -> ServerOptions {
    ServerOptions { extra_args: vec!["--test-min-part-size-bytes".into(), "1".into()], ..ServerOptions::default() }
}

/// The ETag of a multipart object: MD5 of the concatenated binary part MD5s, `-N`.
fn multipart_etag<T: AsRef<[u8]>>(parts: &[T]) -> String {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(Md5::digest(part.as_ref()));
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len())
}

fn concat<T: AsRef<[u8]>>(parts: &[T]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.as_ref().iter().copied()).collect()
}

/// Byte equality without printing megabytes on failure.
#[track_caller]
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!("{what}: {} bytes, expected {}; first difference at {first:?}", got.len(), want.len());
    }
}

/// The raw (binary) checksum of `data`.
fn raw_checksum(alg: &ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    use crc_fast::CrcAlgorithm as C;
    match alg {
        ChecksumAlgorithm::Crc32 => (crc_fast::checksum(C::Crc32IsoHdlc, data) as u32).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc32C => (crc_fast::checksum(C::Crc32Iscsi, data) as u32).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc64Nvme => crc_fast::checksum(C::Crc64Nvme, data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        ChecksumAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        other => panic!("algorithm {other:?} is not tested"),
    }
}

/// A COMPOSITE checksum: the checksum of the concatenated raw part checksums, `-N`.
fn composite_checksum<T: AsRef<[u8]>>(alg: &ChecksumAlgorithm, parts: &[T]) -> String {
    let raw: Vec<u8> = parts.iter().flat_map(|p| raw_checksum(alg, p.as_ref())).collect();
    format!("{}-{}", b64(raw_checksum(alg, &raw)), parts.len())
}

/// The `alg` checksum field of any SDK output (or part) that has the five.
macro_rules! checksum_of {
    ($out:expr, $alg:expr) => {
        match $alg {
            ChecksumAlgorithm::Crc32 => $out.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $out.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => $out.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => $out.checksum_sha256(),
            other => panic!("algorithm {other:?} is not tested"),
        }
        .map(str::to_string)
    };
}

async fn create(ctx: &Ctx, key: &str) -> String {
    let out = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key(key).send().await;
    let out = out.unwrap_or_else(|e| panic!("create upload {key}: {e:?}"));
    out.upload_id().expect("CreateMultipartUpload returns an UploadId").to_string()
}

/// Uploads one part and checks its ETag (the quoted MD5 of the part).
async fn upload_part(s3: &Client, bucket: &str, key: &str, upload_id: &str, number: i32, data: &[u8]) -> String {
    let out = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload part {number} of {key}: {e:?}"));
    let etag = out.e_tag().expect("UploadPart returns an ETag").to_string();
    assert_eq!(etag, etag_of(data), "part {number} ETag is the quoted MD5 of its bytes");
    etag
}

/// Uploads `parts` as parts 1..=N, in order; returns (number, ETag).
async fn upload_all(ctx: &Ctx, key: &str, upload_id: &str, parts: &[Vec<u8>]) -> Vec<(i32, String)> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        out.push((n, upload_part(&ctx.s3, &ctx.bucket, key, upload_id, n, data).await));
    }
    out
}

fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    let list = parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build()).collect();
    CompletedMultipartUpload::builder().set_parts(Some(list)).build()
}

async fn complete(ctx: &Ctx, key: &str, upload_id: &str, parts: &[(i32, String)]) -> CompleteMultipartUploadOutput {
    ctx.s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete {key}: {e:?}"))
}

/// Every upload in progress under `prefix`, as (key, upload id), in listing order.
async fn listed_uploads(s3: &Client, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    let out = s3.list_multipart_uploads().bucket(bucket).prefix(prefix).send().await.expect("list multipart uploads");
    assert_eq!(out.is_truncated(), Some(false), "test listings fit in one page");
    out.uploads()
        .iter()
        .map(|u| (u.key().expect("Upload Key").to_string(), u.upload_id().expect("Upload UploadId").to_string()))
        .collect()
}

async fn get_part(ctx: &Ctx, key: &str, n: i32) -> (Option<i32>, Option<i64>, Option<String>, Option<String>, Vec<u8>) {
    let out = ctx.s3.get_object().bucket(&ctx.bucket).key(key).part_number(n).send().await;
    let out = out.unwrap_or_else(|e| panic!("get part {n} of {key}: {e:?}"));
    let meta = (
        out.parts_count(),
        out.content_length(),
        out.e_tag().map(str::to_string),
        out.content_range().map(str::to_string),
    );
    let body = out.body.collect().await.expect("part body").into_bytes().to_vec();
    (meta.0, meta.1, meta.2, meta.3, body)
}

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

/// Create with `alg` (and `requested` type), upload three parts with the
/// checksum, complete, and check the object checksum everywhere it appears.
async fn checksum_round_trip(
    ctx: &Ctx,
    alg: ChecksumAlgorithm,
    requested: Option<ChecksumType>,
    expected_type: ChecksumType,
) {
    let key = format!("cksum-{}-{}", alg.as_str(), expected_type.as_str());
    let what = format!("{} {}", alg.as_str(), expected_type.as_str());
    let created = ctx
        .s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key(&key)
        .checksum_algorithm(alg.clone())
        .set_checksum_type(requested)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {what}: {e:?}"));
    assert_eq!(created.checksum_algorithm(), Some(&alg), "{what}: x-amz-checksum-algorithm");
    assert_eq!(created.checksum_type(), Some(&expected_type), "{what}: x-amz-checksum-type");
    let id = created.upload_id().expect("UploadId").to_string();

    let parts = vec![test_data(300_000, 11), test_data(250_001, 12), test_data(77_777, 13)];
    let mut listed = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key(&key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(alg.clone())
            .body(data.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: upload part {n}: {e:?}"));
        let want = b64(raw_checksum(&alg, data));
        assert_eq!(checksum_of!(out, &alg).as_deref(), Some(want.as_str()), "{what}: part {n} checksum");
        let part = CompletedPart::builder().part_number(n).e_tag(out.e_tag().expect("ETag"));
        let part = match &alg {
            ChecksumAlgorithm::Crc32 => part.checksum_crc32(want),
            ChecksumAlgorithm::Crc32C => part.checksum_crc32_c(want),
            ChecksumAlgorithm::Crc64Nvme => part.checksum_crc64_nvme(want),
            ChecksumAlgorithm::Sha1 => part.checksum_sha1(want),
            _ => part.checksum_sha256(want),
        };
        listed.push(part.build());
    }
    let whole = concat(&parts);
    let expected = match expected_type {
        ChecksumType::Composite => composite_checksum(&alg, &parts),
        _ => b64(raw_checksum(&alg, &whole)),
    };
    let done = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(&key)
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(listed)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: complete: {e:?}"));
    assert_eq!(done.e_tag(), Some(multipart_etag(&parts).as_str()), "{what}: ETag");
    assert_eq!(checksum_of!(done, &alg).as_deref(), Some(expected.as_str()), "{what}: complete checksum");
    assert_eq!(done.checksum_type(), Some(&expected_type), "{what}: complete ChecksumType");

    let get = ctx.s3.get_object().bucket(&ctx.bucket).key(&key).checksum_mode(ChecksumMode::Enabled).send().await;
    let get = get.unwrap_or_else(|e| panic!("{what}: get: {e:?}"));
    assert_eq!(checksum_of!(get, &alg).as_deref(), Some(expected.as_str()), "{what}: GET checksum");
    assert_eq!(get.checksum_type(), Some(&expected_type), "{what}: GET x-amz-checksum-type");
    // For a full-object checksum the SDK also validates the body against it.
    let body = get.body.collect().await.unwrap_or_else(|e| panic!("{what}: body: {e:?}")).into_bytes();
    assert_bytes(&body, &whole, &what);

    let head = ctx.s3.head_object().bucket(&ctx.bucket).key(&key).checksum_mode(ChecksumMode::Enabled).send().await;
    let head = head.unwrap_or_else(|e| panic!("{what}: head: {e:?}"));
    assert_eq!(checksum_of!(head, &alg).as_deref(), Some(expected.as_str()), "{what}: HEAD checksum");
    assert_eq!(head.checksum_type(), Some(&expected_type), "{what}: HEAD x-amz-checksum-type");

    let plain = ctx.s3.head_object().bucket(&ctx.bucket).key(&key).send().await.expect("head");
    assert_eq!(checksum_of!(plain, &alg), None, "{what}: no checksum without checksum mode");
}

#[tokio::test]
async fn composite_checksums() {
    let ctx = Ctx::with_options("mpu-composite", small_parts()).await;
    for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32C, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256]
    {
        checksum_round_trip(&ctx, alg, None, ChecksumType::Composite).await;
    }
}

#[tokio::test]
async fn full_object_checksums() {
    let ctx = Ctx::with_options("mpu-fullobj", small_parts()).await;
    checksum_round_trip(&ctx, ChecksumAlgorithm::Crc64Nvme, None, ChecksumType::FullObject).await;
    checksum_round_trip(&ctx, ChecksumAlgorithm::Crc32, Some(ChecksumType::FullObject), ChecksumType::FullObject).await;
    checksum_round_trip(&ctx, ChecksumAlgorithm::Crc32C, Some(ChecksumType::FullObject), ChecksumType::FullObject)
        .await;
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
    complete(&ctx, "done", &id, &listed).await;
    let again = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("done")
        .upload_id(&id)
        .multipart_upload(completed(&listed))
        .send()
        .await;
    expect_sdk_err(again, 404, "NoSuchUpload");
    assert_bytes(&ctx.get_bytes("done").await, &concat(&parts), "object after the second complete");

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
async fn list_parts_pages() {
    let ctx = Ctx::with_options("mpu-listparts", small_parts()).await;
    let id = create(&ctx, "obj").await;
    let numbers = [1, 2, 3, 5, 8];
    let mut expected = Vec::new();
    for n in numbers {
        let data = test_data(100 + n as usize, 80 + n as u64);
        let etag = upload_part(&ctx.s3, &ctx.bucket, "obj", &id, n, &data).await;
        expected.push((n, etag, data));
    }
    let mut marker: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let out = ctx
            .s3
            .list_parts()
            .bucket(&ctx.bucket)
            .key("obj")
            .upload_id(&id)
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .expect("list parts");
        assert_eq!(out.max_parts(), Some(2));
        assert_eq!(out.upload_id(), Some(id.as_str()));
        assert_eq!(out.part_number_marker(), Some(marker.as_deref().unwrap_or("0")), "PartNumberMarker echoed");
        let page: Vec<i32> = out.parts().iter().filter_map(|p| p.part_number()).collect();
        for part in out.parts() {
            let (_, etag, data) =
                expected.iter().find(|(n, _, _)| Some(*n) == part.part_number()).expect("a part we uploaded");
            assert_eq!(part.e_tag(), Some(etag.as_str()));
            assert_eq!(part.size(), Some(data.len() as i64));
            assert_eq!(part.checksum_crc32(), Some(crc32_b64(data).as_str()), "the SDK's default CRC32 of the part");
        }
        let truncated = out.is_truncated() == Some(true);
        pages.push((page, truncated, out.next_part_number_marker().map(str::to_string)));
        if !truncated {
            break;
        }
        marker = out.next_part_number_marker().map(str::to_string);
        assert!(pages.len() < 10, "ListParts paging does not end: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![
            (vec![1, 2], true, Some("2".to_string())),
            (vec![3, 5], true, Some("5".to_string())),
            (vec![8], false, Some("8".to_string())),
        ]
    );
    let after4 = ctx.s3.list_parts().bucket(&ctx.bucket).key("obj").upload_id(&id).part_number_marker("4").send().await;
    let after4: Vec<i32> = after4.expect("list parts after 4").parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(after4, vec![5, 8]);
}

/// Creates one upload per key (in this order); returns (key, id) sorted as S3 lists them.
async fn create_uploads(ctx: &Ctx, keys: &[&str]) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for key in keys {
        all.push((key.to_string(), create(ctx, key).await));
    }
    all.sort();
    all
}

#[tokio::test]
async fn list_uploads_prefix_delimiter_markers() {
    let ctx = Ctx::new("mpu-listup").await;
    let all = create_uploads(&ctx, &["c", "a/2", "d/x/y", "a/1", "b/1", "c"]).await;
    let c_ids: Vec<String> = all.iter().filter(|(k, _)| k == "c").map(|(_, id)| id.clone()).collect();
    let pairs =
        |out: &aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput| -> Vec<(String, String)> {
            out.uploads()
                .iter()
                .map(|u| (u.key().unwrap_or_default().to_string(), u.upload_id().unwrap_or_default().to_string()))
                .collect()
        };
    let prefixes = |out: &aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput| -> Vec<String> {
        out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)).collect()
    };
    let list = || ctx.s3.list_multipart_uploads().bucket(&ctx.bucket);

    assert_eq!(listed_uploads(&ctx.s3, &ctx.bucket, "").await, all, "every upload, by key then upload id");
    assert_eq!(pairs(&list().prefix("a/").send().await.expect("prefix")), all[..2].to_vec());

    let out = list().delimiter("/").send().await.expect("delimiter");
    assert_eq!(out.delimiter(), Some("/"));
    assert_eq!(pairs(&out), vec![("c".to_string(), c_ids[0].clone()), ("c".to_string(), c_ids[1].clone())]);
    assert_eq!(prefixes(&out), vec!["a/", "b/", "d/"]);

    let out = list().prefix("d/").delimiter("/").send().await.expect("prefix + delimiter");
    assert!(pairs(&out).is_empty());
    assert_eq!(prefixes(&out), vec!["d/x/"]);

    // max-uploads paging; the second page ends between the two uploads of "c".
    let p1 = list().max_uploads(2).send().await.expect("page 1");
    assert_eq!(p1.max_uploads(), Some(2));
    assert_eq!((pairs(&p1), p1.is_truncated()), (all[0..2].to_vec(), Some(true)));
    assert_eq!((p1.next_key_marker(), p1.next_upload_id_marker()), (Some("a/2"), Some(all[1].1.as_str())));
    let p2 = list()
        .max_uploads(2)
        .key_marker(p1.next_key_marker().unwrap_or_default())
        .upload_id_marker(p1.next_upload_id_marker().unwrap_or_default())
        .send()
        .await
        .expect("page 2");
    assert_eq!((pairs(&p2), p2.is_truncated()), (all[2..4].to_vec(), Some(true)));
    assert_eq!(p2.key_marker(), Some("a/2"));
    assert_eq!((p2.next_key_marker(), p2.next_upload_id_marker()), (Some("c"), Some(c_ids[0].as_str())));
    let p3 = list().max_uploads(2).key_marker("c").upload_id_marker(&c_ids[0]).send().await.expect("page 3");
    assert_eq!((pairs(&p3), p3.is_truncated()), (all[4..6].to_vec(), Some(false)));

    // key-marker alone: uploads of keys after it.
    assert_eq!(pairs(&list().key_marker("c").send().await.expect("key-marker")), all[5..].to_vec());
    assert_eq!(pairs(&list().key_marker("b").send().await.expect("key-marker b")), all[2..].to_vec());
}

#[tokio::test]
async fn list_uploads_paging_with_delimiter() {
    let ctx = Ctx::new("mpu-listdelim").await;
    let all = create_uploads(&ctx, &["a/1", "a/2", "b/1", "c", "c", "d/x/y", "d/z", "e"]).await;
    let mut want: BTreeSet<String> = ["a/", "b/", "d/"].iter().map(|p| format!("prefix {p}")).collect();
    want.extend(all.iter().filter(|(k, _)| !k.contains('/')).map(|(k, id)| format!("upload {k} {id}")));
    for max in [1, 2, 3] {
        let mut seen = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        for page in 0.. {
            assert!(page < 20, "max-uploads={max}: paging does not end; seen {seen:?}");
            let out = ctx
                .s3
                .list_multipart_uploads()
                .bucket(&ctx.bucket)
                .delimiter("/")
                .max_uploads(max)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .expect("list uploads");
            let n = out.uploads().len() + out.common_prefixes().len();
            assert!(n <= max as usize, "max-uploads={max}: page of {n}");
            seen.extend(out.common_prefixes().iter().map(|p| format!("prefix {}", p.prefix().unwrap_or_default())));
            seen.extend(
                out.uploads()
                    .iter()
                    .map(|u| format!("upload {} {}", u.key().unwrap_or_default(), u.upload_id().unwrap_or_default())),
            );
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = Some(out.next_key_marker().map(str::to_string).unwrap_or_else(|| {
                panic!("max-uploads={max}: truncated page {page} without NextKeyMarker; seen so far {seen:?}")
            }));
            id_marker = out.next_upload_id_marker().map(str::to_string);
        }
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "max-uploads={max}: nothing listed twice: {seen:?}");
        assert_eq!(unique, want, "max-uploads={max}: every upload and common prefix once");
    }
}

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

/// A signed CompleteMultipartUpload request for `parts` (origin-form URI).
fn complete_request(
    server: &Server,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[(i32, String)],
) -> http::Request<Bytes> {
    let mut xml = String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (n, etag) in parts {
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let path = format!("/{bucket}/{}?uploadId={}", enc_key(key), enc_query(upload_id));
    let req = Req::new(server, "POST", &path).header("content-length", xml.len().to_string()).body(xml).signed();
    let (mut head, body) = req.into_parts();
    head.uri = path.parse().expect("origin-form URI");
    http::Request::from_parts(head, body)
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

/// Writes `size` pseudo-random bytes to `path` without holding them in
/// memory; returns the SHA-256 (hex) and the MD5 of every `part_size` slice.
fn write_random_file(path: &Path, size: usize, part_size: usize) -> (String, Vec<Vec<u8>>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create source file"));
    let (mut sha, mut md5, mut md5s) = (Sha256::new(), Md5::new(), Vec::new());
    let (mut written, mut in_part, mut seed) = (0usize, 0usize, 7000u64);
    while written < size {
        let len = MIB.min(size - written).min(part_size - in_part);
        let chunk = test_data(len, seed);
        seed += 1;
        file.write_all(&chunk).expect("write source file");
        sha.update(&chunk);
        md5.update(&chunk);
        (written, in_part) = (written + len, in_part + len);
        if in_part == part_size || written == size {
            md5s.push(md5.finalize_reset().to_vec());
            in_part = 0;
        }
    }
    file.flush().expect("flush source file");
    (hex::encode(sha.finalize()), md5s)
}

fn sha256_file(path: &Path) -> (String, u64) {
    let mut file = std::fs::File::open(path).expect("open downloaded file");
    let (mut sha, mut buf, mut total) = (Sha256::new(), vec![0u8; MIB], 0u64);
    loop {
        let n = file.read(&mut buf).expect("read downloaded file");
        if n == 0 {
            return (hex::encode(sha.finalize()), total);
        }
        sha.update(&buf[..n]);
        total += n as u64;
    }
}

async fn aws_cli(ctx: &Ctx, config: &Path, args: &[&str]) {
    let out = tokio::process::Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &ctx.server.endpoint(), "--only-show-errors"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", config.with_file_name("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .output()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("the `aws` CLI is not on PATH; install awscli (e.g. `pip install awscli`) to run this test")
        }
        Err(e) => panic!("running `aws`: {e}"),
    };
    assert!(
        out.status.success(),
        "aws {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `aws s3 cp` up and down with the CLI's multipart transfer (8 MiB parts).
async fn aws_cli_round_trip(tag: &str, size: usize) {
    const PART: usize = 8 * MIB;
    let ctx = Ctx::new(tag).await;
    let tmp = tempfile::Builder::new().prefix("coffer-awscli-").tempdir().expect("temp dir");
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        "[default]\ns3 =\n    addressing_style = path\n    multipart_threshold = 8MB\n    multipart_chunksize = 8MB\n",
    )
    .expect("write aws config");
    let source = tmp.path().join("upload.bin");
    let (sha, md5s) = write_random_file(&source, size, PART);
    let url = format!("s3://{}/big/file.bin", ctx.bucket);
    let started = Instant::now();
    aws_cli(&ctx, &config, &["s3", "cp", source.to_str().expect("UTF-8 path"), &url]).await;
    let up = started.elapsed();

    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("big/file.bin").send().await.expect("head");
    assert_eq!(head.content_length(), Some(size as i64));
    let mut md5 = Md5::new();
    md5s.iter().for_each(|d| md5.update(d));
    let etag = format!("\"{}-{}\"", hex::encode(md5.finalize()), size.div_ceil(PART));
    assert_eq!(head.e_tag(), Some(etag.as_str()), "multipart ETag of the CLI's 8 MiB parts");

    let target = tmp.path().join("download.bin");
    let started = Instant::now();
    aws_cli(&ctx, &config, &["s3", "cp", &url, target.to_str().expect("UTF-8 path")]).await;
    let down = started.elapsed();
    assert_eq!(sha256_file(&target), (sha, size as u64), "downloaded file is byte-identical");
    eprintln!("aws s3 cp {size} bytes: upload {up:?}, download {down:?}");
}

#[tokio::test]
async fn aws_cli_cp_40_mib() {
    aws_cli_round_trip("mpu-awscli", 40 * MIB).await;
}

#[tokio::test]
#[ignore = "1 GiB through the aws CLI; run: CARGO_TARGET_DIR=/root/.cache/coffer-target cargo test --release -p coffer --test s3_api multipart::aws_cli -- --ignored"]
async fn aws_cli_cp_1_gib() {
    aws_cli_round_trip("mpu-awscli-1g", 1024 * MIB).await;
}
