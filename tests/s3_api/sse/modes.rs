//! Each mode × {small (inline), large (erasure-coded), multipart, range, copy}.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use md5::Digest;

use super::{get, put, sse_options, Mode, MIN_PART};
use crate::common::{test_data, Ctx};

fn modes() -> Vec<Mode> {
    vec![Mode::None, Mode::S3, Mode::Kms(None), Mode::Kms(Some("alias/team-a".into())), Mode::C([0x5a; 32])]
}

/// Ranges across block (64 KiB) and stripe boundaries, as `bytes=` values, for an object of `len` bytes.
fn ranges(len: usize) -> Vec<(usize, usize)> {
    let mut out = vec![(0, 1), (len - 1, len), (0, len)];
    for (s, e) in [(65_535, 65_537), (65_536, 131_072), (100, 200_000), (1_000_000, 1_200_000), (len - 70_000, len - 3)]
    {
        if e <= len && s < e {
            out.push((s, e));
        }
    }
    out
}

async fn check_headers(
    ctx: &Ctx,
    mode: &Mode,
    sse: Option<&ServerSideEncryption>,
    kms_key: Option<&str>,
    c_md5: Option<&str>,
) {
    match mode {
        Mode::None => assert_eq!(sse, None),
        Mode::S3 => assert_eq!(sse, Some(&ServerSideEncryption::Aes256)),
        Mode::Kms(_) => {
            assert_eq!(sse, Some(&ServerSideEncryption::AwsKms));
            let arn = kms_key.expect("KMS responses carry the key id");
            assert!(arn.starts_with("arn:aws:kms:us-east-1:") && arn.contains(":key/"), "{arn}");
        }
        Mode::C(_) => {
            assert_eq!(sse, None);
            assert_eq!(c_md5, mode.c_headers().map(|h| h.2).as_deref());
        }
    }
    let _ = ctx;
}

#[tokio::test]
async fn every_mode_small_large_range_and_etag() {
    let ctx = Ctx::with_options("sse-modes", sse_options(&[])).await;
    let out = super::super::ops::cli(&ctx.server, &["kms", "create", "--alias", "team-a"]);
    assert_eq!(out.0, 0, "{}", out.2);
    for (i, mode) in modes().into_iter().enumerate() {
        for (j, len) in [1_000usize, 3 * 1024 * 1024 + 12_345].into_iter().enumerate() {
            let key = format!("m{i}/obj{j}");
            let data = test_data(len, (i * 10 + j) as u64);
            let put_out = put(&ctx, &key, &data, &mode).await;
            check_headers(
                &ctx,
                &mode,
                put_out.server_side_encryption(),
                put_out.ssekms_key_id(),
                put_out.sse_customer_key_md5(),
            )
            .await;
            let md5_hex = format!("\"{}\"", hex::encode(md5::Md5::digest(&data)));
            let etag = put_out.e_tag().expect("etag").to_string();
            match mode {
                // ETag: the plaintext MD5 without encryption and with SSE-S3; not it with SSE-KMS and SSE-C (as AWS).
                Mode::None | Mode::S3 => assert_eq!(etag, md5_hex, "{mode:?}"),
                _ => assert_ne!(etag, md5_hex, "{mode:?}"),
            }
            let (body, got) = get(&ctx, &key, &mode, None).await;
            assert!(body == data, "{mode:?} {len}: whole object differs");
            assert_eq!(got.content_length(), Some(len as i64));
            assert_eq!(got.e_tag(), Some(etag.as_str()));
            check_headers(&ctx, &mode, got.server_side_encryption(), got.ssekms_key_id(), got.sse_customer_key_md5())
                .await;
            for (s, e) in ranges(len) {
                let (part, out) = get(&ctx, &key, &mode, Some(&format!("bytes={s}-{}", e - 1))).await;
                assert!(part == data[s..e], "{mode:?} {len}: range {s}..{e} differs");
                if e - s < len {
                    assert_eq!(out.content_range(), Some(format!("bytes {s}-{}/{len}", e - 1).as_str()));
                }
            }
            // A conditional GET with the ETag is answered 304 (the keys are still required for SSE-C).
            let mut cond = ctx.s3.get_object().bucket(&ctx.bucket).key(&key).if_none_match(&etag);
            if let Some((a, k, m)) = mode.c_headers() {
                cond = cond.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
            }
            let err = cond.send().await.expect_err("304");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(304), "{mode:?}");
        }
        // HEAD and listings show plaintext sizes.
        let mut head = ctx.s3.head_object().bucket(&ctx.bucket).key(format!("m{i}/obj1"));
        if let Some((a, k, m)) = mode.c_headers() {
            head = head.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
        }
        let head = head.send().await.expect("head");
        assert_eq!(head.content_length(), Some(3 * 1024 * 1024 + 12_345));
        let list = ctx.s3.list_objects_v2().bucket(&ctx.bucket).prefix(format!("m{i}/")).send().await.expect("list");
        let sizes: Vec<i64> = list.contents().iter().filter_map(|o| o.size()).collect();
        assert_eq!(sizes, vec![1_000, 3 * 1024 * 1024 + 12_345], "{mode:?}");
    }
}

async fn multipart(ctx: &Ctx, key: &str, mode: &Mode, parts: &[Vec<u8>]) -> String {
    let mut create = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key(key);
    create = match mode {
        Mode::None => create,
        Mode::S3 => create.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::Kms(k) => create.server_side_encryption(ServerSideEncryption::AwsKms).set_ssekms_key_id(k.clone()),
        Mode::C(_) => {
            let (a, k, m) = mode.c_headers().expect("c");
            create.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m)
        }
    };
    let up = create.send().await.expect("create upload");
    let id = up.upload_id().expect("id").to_string();
    let mut done = Vec::new();
    // Part numbers 1, 3, 4...: the stored object must remember which number encrypted which part.
    for (i, data) in parts.iter().enumerate() {
        let number = if i == 0 { 1 } else { i as i32 + 2 };
        let mut req = ctx
            .s3
            .upload_part()
            .bucket(&ctx.bucket)
            .key(key)
            .upload_id(&id)
            .part_number(number)
            .body(data.clone().into());
        if let Some((a, k, m)) = mode.c_headers() {
            req = req.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
        }
        let out = req.send().await.unwrap_or_else(|e| panic!("part {number} ({mode:?}): {e:?}"));
        done.push(CompletedPart::builder().part_number(number).e_tag(out.e_tag().expect("etag")).build());
    }
    let parts_listed =
        ctx.s3.list_parts().bucket(&ctx.bucket).key(key).upload_id(&id).send().await.expect("list parts");
    let sizes: Vec<i64> = parts_listed.parts().iter().filter_map(|p| p.size()).collect();
    assert_eq!(sizes, parts.iter().map(|p| p.len() as i64).collect::<Vec<_>>(), "ListParts shows plaintext sizes");
    let out = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete ({mode:?}): {e:?}"));
    out.e_tag().expect("etag").to_string()
}

#[tokio::test]
async fn every_mode_multipart_parts_and_ranges() {
    let ctx = Ctx::with_options("sse-mpu", sse_options(&[])).await;
    for (i, mode) in modes().into_iter().enumerate() {
        if let Mode::Kms(Some(_)) = mode {
            continue;
        }
        let parts = vec![test_data(MIN_PART + 70_001, 1), test_data(MIN_PART * 2, 2), test_data(12_345, 3)];
        let whole: Vec<u8> = parts.concat();
        let key = format!("mpu{i}");
        let etag = multipart(&ctx, &key, &mode, &parts).await;
        assert!(etag.ends_with("-3\""), "{etag}");
        let (body, out) = get(&ctx, &key, &mode, None).await;
        assert!(body == whole, "{mode:?}: multipart object differs");
        assert_eq!(out.content_length(), Some(whole.len() as i64));
        // Ranges inside a part, across the part boundaries, and the last bytes.
        let b1 = parts[0].len();
        let b2 = b1 + parts[1].len();
        for (s, e) in [(0, 10), (b1 - 5, b1 + 5), (b1 - 100_000, b2 + 100), (b2 - 1, whole.len()), (70_000, 70_001)] {
            let (got, _) = get(&ctx, &key, &mode, Some(&format!("bytes={s}-{}", e - 1))).await;
            assert!(got == whole[s..e], "{mode:?}: range {s}..{e}");
        }
        // GET ?partNumber=2 is the second part's plaintext.
        let mut req = ctx.s3.get_object().bucket(&ctx.bucket).key(&key).part_number(2);
        if let Some((a, k, m)) = mode.c_headers() {
            req = req.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m);
        }
        let out = req.send().await.expect("part 2");
        assert_eq!(out.parts_count(), Some(3));
        let got = out.body.collect().await.expect("body").into_bytes();
        assert!(got.as_ref() == parts[1].as_slice(), "{mode:?}: part 2");
    }
}

/// Copies from every mode to every mode (CopyObject), and UploadPartCopy between encrypted objects.
#[tokio::test]
async fn copies_between_all_modes() {
    let ctx = Ctx::with_options("sse-copy", sse_options(&[])).await;
    let all = [Mode::None, Mode::S3, Mode::Kms(None), Mode::C([1; 32])];
    let data = test_data(300_000, 9);
    for (i, src_mode) in all.iter().enumerate() {
        let src = format!("src{i}");
        put(&ctx, &src, &data, src_mode).await;
        for (j, dst_mode) in all.iter().enumerate() {
            let dst = format!("dst{i}-{j}");
            let mut req =
                ctx.s3.copy_object().bucket(&ctx.bucket).key(&dst).copy_source(format!("{}/{src}", ctx.bucket));
            if let Some((a, k, m)) = src_mode.c_headers() {
                req = req
                    .copy_source_sse_customer_algorithm(a)
                    .copy_source_sse_customer_key(k)
                    .copy_source_sse_customer_key_md5(m);
            }
            req = match dst_mode {
                Mode::None => req,
                Mode::S3 => req.server_side_encryption(ServerSideEncryption::Aes256),
                Mode::Kms(_) => req.server_side_encryption(ServerSideEncryption::AwsKms),
                Mode::C(_) => {
                    let (a, k, m) = dst_mode.c_headers().expect("c");
                    req.sse_customer_algorithm(a).sse_customer_key(k).sse_customer_key_md5(m)
                }
            };
            req.send().await.unwrap_or_else(|e| panic!("copy {src_mode:?} -> {dst_mode:?}: {e:?}"));
            let (body, out) = get(&ctx, &dst, dst_mode, None).await;
            assert!(body == data, "copy {src_mode:?} -> {dst_mode:?} differs");
            let expected = match dst_mode {
                Mode::S3 => Some(ServerSideEncryption::Aes256),
                Mode::Kms(_) => Some(ServerSideEncryption::AwsKms),
                _ => None,
            };
            assert_eq!(out.server_side_encryption(), expected.as_ref(), "{src_mode:?} -> {dst_mode:?}");
        }
    }
    // UploadPartCopy: a range of an SSE-C object into an SSE-KMS upload, plus an SSE-S3 object whole.
    let up = ctx
        .s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key("assembled")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .expect("create");
    let id = up.upload_id().expect("id");
    let (a, k, m) = all[3].c_headers().expect("c");
    let p1 = ctx
        .s3
        .upload_part_copy()
        .bucket(&ctx.bucket)
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{}/src3", ctx.bucket))
        .copy_source_range(format!("bytes=0-{}", MIN_PART - 1))
        .copy_source_sse_customer_algorithm(a)
        .copy_source_sse_customer_key(k)
        .copy_source_sse_customer_key_md5(m)
        .send()
        .await
        .expect("part copy from SSE-C");
    let p2 = ctx
        .s3
        .upload_part_copy()
        .bucket(&ctx.bucket)
        .key("assembled")
        .upload_id(id)
        .part_number(2)
        .copy_source(format!("{}/src1", ctx.bucket))
        .send()
        .await
        .expect("part copy from SSE-S3");
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(p1.copy_part_result().and_then(|r| r.e_tag()).expect("etag"))
            .build(),
        CompletedPart::builder()
            .part_number(2)
            .e_tag(p2.copy_part_result().and_then(|r| r.e_tag()).expect("etag"))
            .build(),
    ];
    ctx.s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("assembled")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    let (body, out) = get(&ctx, "assembled", &Mode::None, None).await;
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert!(body == [&data[..MIN_PART], &data[..]].concat(), "assembled object differs");
}
