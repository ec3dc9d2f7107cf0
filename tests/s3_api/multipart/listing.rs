//! ListParts paging and ListMultipartUploads with prefix, delimiter, markers
//! and paging.

use std::collections::BTreeSet;

use super::{create, listed_uploads, small_parts, upload_part};
use crate::common::{crc32_b64, test_data, Ctx};

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
