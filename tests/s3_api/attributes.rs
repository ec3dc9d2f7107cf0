//! GetObjectAttributes through aws-sdk-s3: single PUT with a checksum,
//! multipart parts with pagination and part checksums, versions and delete markers, SSE-C keys,
//! and the request errors.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
    VersioningConfiguration,
};
use base64::Engine as _;

use crate::common::{md5_b64, sdk_err, test_data, Ctx, Req, ServerOptions};

const ALL: [ObjectAttributes; 5] = [
    ObjectAttributes::Etag,
    ObjectAttributes::Checksum,
    ObjectAttributes::ObjectParts,
    ObjectAttributes::StorageClass,
    ObjectAttributes::ObjectSize,
];

async fn ctx() -> Ctx {
    Ctx::with_options(
        "attrs",
        ServerOptions {
            extra_args: vec!["--test-min-part-size-bytes".into(), "1".into(), "--allow-sse-c-over-http".into()],
            ..ServerOptions::default()
        },
    )
    .await
}

#[tokio::test]
async fn single_put_multipart_and_pagination() {
    let ctx = ctx().await;
    let body = test_data(1024, 1);
    let put = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("single")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    let got = ctx
        .s3
        .get_object_attributes()
        .bucket(&ctx.bucket)
        .key("single")
        .set_object_attributes(Some(ALL.to_vec()))
        .send()
        .await
        .expect("attributes");
    assert_eq!(got.e_tag(), put.e_tag().map(|e| e.trim_matches('"')));
    assert_eq!(got.object_size(), Some(1024));
    assert_eq!(got.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    assert_eq!(got.checksum().and_then(|c| c.checksum_sha256()), put.checksum_sha256());
    assert!(got.object_parts().is_none(), "a single PUT has no parts");
    assert!(got.version_id().is_none() && got.delete_marker().is_none());
    assert!(got.last_modified().is_some());

    // Only what was asked for.
    let got = ctx
        .s3
        .get_object_attributes()
        .bucket(&ctx.bucket)
        .key("single")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .expect("size only");
    assert_eq!(got.object_size(), Some(1024));
    assert!(got.e_tag().is_none() && got.checksum().is_none() && got.storage_class().is_none());

    // Six parts of different sizes, listed two at a time.
    let sizes = [3000usize, 2000, 1000, 500, 250, 7];
    let up = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("mp").send().await.expect("create");
    let id = up.upload_id().expect("upload id").to_string();
    let mut done = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let part = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(test_data(*size, n as u64)))
            .send()
            .await
            .expect("part");
        done.push(CompletedPart::builder().part_number(n).set_e_tag(part.e_tag().map(String::from)).build());
    }
    let complete = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .expect("complete");
    let mut marker = None;
    let mut seen = Vec::new();
    loop {
        let got = ctx
            .s3
            .get_object_attributes()
            .bucket(&ctx.bucket)
            .key("mp")
            .set_object_attributes(Some(ALL.to_vec()))
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .expect("attributes page");
        assert_eq!(got.e_tag(), complete.e_tag().map(|e| e.trim_matches('"')));
        assert_eq!(got.object_size(), Some(sizes.iter().sum::<usize>() as i64));
        let parts = got.object_parts().expect("parts");
        assert_eq!(parts.total_parts_count(), Some(6));
        assert_eq!(parts.max_parts(), Some(2));
        for p in parts.parts() {
            seen.push((p.part_number().expect("number"), p.size().expect("size")));
        }
        if parts.is_truncated() != Some(true) {
            break;
        }
        marker = parts.next_part_number_marker().map(String::from);
    }
    let expected: Vec<(i32, i64)> = sizes.iter().enumerate().map(|(i, s)| (i as i32 + 1, *s as i64)).collect();
    assert_eq!(seen, expected);

    // An upload with a checksum algorithm: every part carries its checksum.
    let up = ctx
        .s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mp-sha")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .expect("create");
    let id = up.upload_id().expect("upload id").to_string();
    let (mut done, mut sums) = (Vec::new(), Vec::new());
    for n in 1..=3 {
        let part = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key("mp-sha")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(test_data(1000 * n as usize, 40 + n as u64)))
            .send()
            .await
            .expect("part");
        let sum = part.checksum_sha256().expect("part checksum").to_string();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(part.e_tag().map(String::from))
                .checksum_sha256(&sum)
                .build(),
        );
        sums.push(sum);
    }
    let complete = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mp-sha")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .expect("complete");
    let got = ctx
        .s3
        .get_object_attributes()
        .bucket(&ctx.bucket)
        .key("mp-sha")
        .set_object_attributes(Some(ALL.to_vec()))
        .send()
        .await
        .expect("attributes");
    assert_eq!(got.checksum().and_then(|c| c.checksum_sha256()), complete.checksum_sha256());
    let parts: Vec<String> = got
        .object_parts()
        .expect("parts")
        .parts()
        .iter()
        .map(|p| p.checksum_sha256().expect("part checksum").to_string())
        .collect();
    assert_eq!(parts, sums);
}

#[tokio::test]
async fn versions_delete_markers_and_sse_c() {
    let ctx = ctx().await;
    ctx.s3
        .put_bucket_versioning()
        .bucket(&ctx.bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("versioning");
    let first = ctx.put("k", b"foo".to_vec()).await;
    ctx.put("k", b"second".to_vec()).await;
    let attrs = |version: Option<&str>| {
        ctx.s3
            .get_object_attributes()
            .bucket(&ctx.bucket)
            .key("k")
            .set_version_id(version.map(String::from))
            .set_object_attributes(Some(ALL.to_vec()))
            .send()
    };
    let current = attrs(None).await.expect("current");
    assert_eq!(current.object_size(), Some(6));
    let old = attrs(first.version_id()).await.expect("by version");
    assert_eq!((old.object_size(), old.version_id()), (Some(3), first.version_id()));

    let marker = ctx.s3.delete_object().bucket(&ctx.bucket).key("k").send().await.expect("delete");
    assert_eq!(sdk_err(attrs(None).await).0, 404);
    assert_eq!(sdk_err(attrs(marker.version_id()).await).0, 405);
    assert_eq!(attrs(first.version_id()).await.expect("old version still there").object_size(), Some(3));

    // SSE-C: the key is needed, as for HEAD.
    let key = [7u8; 32];
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let key_md5 = md5_b64(&key);
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from(vec![b'A'; 1000]))
        .send()
        .await
        .expect("put sse-c");
    let sse = |with_key: bool| {
        let req =
            ctx.s3.get_object_attributes().bucket(&ctx.bucket).key("secret").set_object_attributes(Some(ALL.to_vec()));
        if with_key {
            req.sse_customer_algorithm("AES256").sse_customer_key(&key_b64).sse_customer_key_md5(&key_md5).send()
        } else {
            req.send()
        }
    };
    assert_eq!(sdk_err(sse(false).await).0, 400);
    assert_eq!(sse(true).await.expect("with the key").object_size(), Some(1000));
}

#[tokio::test]
async fn request_errors() {
    let ctx = ctx().await;
    ctx.put("k", b"x".to_vec()).await;
    let path = format!("/{}/k?attributes", ctx.bucket);
    Req::new(&ctx.server, "GET", &path).send().await.assert_error(400, "InvalidRequest");
    Req::new(&ctx.server, "GET", &path)
        .header("x-amz-object-attributes", "ETag,Colour")
        .send()
        .await
        .assert_error(400, "InvalidArgument");
    Req::new(&ctx.server, "GET", &path)
        .header("x-amz-object-attributes", "ObjectParts")
        .header("x-amz-max-parts", "many")
        .send()
        .await
        .assert_error(400, "InvalidArgument");
    Req::new(&ctx.server, "PUT", &path).send().await.assert_error(405, "MethodNotAllowed");
    let missing = format!("/{}/nope?attributes", ctx.bucket);
    Req::new(&ctx.server, "GET", &missing)
        .header("x-amz-object-attributes", "ETag")
        .send()
        .await
        .assert_error(404, "NoSuchKey");
    let ok = Req::new(&ctx.server, "GET", &path).header("x-amz-object-attributes", "ETag, ObjectSize").send().await;
    ok.assert_status(200);
    assert!(ok.text().contains("<ObjectSize>1</ObjectSize>"), "{}", ok.text());
}
