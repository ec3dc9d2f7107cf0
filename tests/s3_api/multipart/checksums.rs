//! Multipart checksums: COMPOSITE and FULL_OBJECT types with every tested
//! algorithm, per part, on complete, and on GET/HEAD with checksum mode.

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
use md5::Digest as _;
use sha2::Sha256;

use super::{assert_bytes, concat, multipart_etag, small_parts};
use crate::common::{b64, expect_sdk_err, test_data, Ctx};

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
    // The SDK states the whole object's checksum in an x-amz-checksum-* header
    // (not the XML body's): a wrong value is BadDigest, the right one completes.
    let complete = |whole_checksum: &str| {
        let builder = ctx
            .s3
            .complete_multipart_upload()
            .bucket(&ctx.bucket)
            .key(&key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(listed.clone())).build());
        let whole_checksum = whole_checksum.to_string();
        match &alg {
            ChecksumAlgorithm::Crc32 => builder.checksum_crc32(whole_checksum),
            ChecksumAlgorithm::Crc32C => builder.checksum_crc32_c(whole_checksum),
            ChecksumAlgorithm::Crc64Nvme => builder.checksum_crc64_nvme(whole_checksum),
            ChecksumAlgorithm::Sha1 => builder.checksum_sha1(whole_checksum),
            _ => builder.checksum_sha256(whole_checksum),
        }
        .send()
    };
    let wrong = b64(raw_checksum(&alg, b"not the object"));
    expect_sdk_err(complete(&wrong).await, 400, "BadDigest");
    let done = complete(&expected).await.unwrap_or_else(|e| panic!("{what}: complete: {e:?}"));
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
