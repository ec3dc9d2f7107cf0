//! Bucket versioning: version ids on writes, reads and deletes by version,
//! delete markers, ListObjectVersions with markers and delimiters, the null
//! version under Suspended and in buckets that never had versioning, copies
//! from a version, DeleteObjects with versions.

use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl, ObjectIdentifier, Tag,
    Tagging, VersioningConfiguration,
};

use crate::common::{sdk_err, test_data, Ctx, Req};

async fn set_versioning(ctx: &Ctx, status: BucketVersioningStatus) {
    ctx.s3
        .put_bucket_versioning()
        .bucket(&ctx.bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .expect("put versioning");
}

async fn put_v(ctx: &Ctx, key: &str, data: &[u8]) -> String {
    let out = ctx.put(key, data.to_vec()).await;
    out.version_id().expect("a versioned PUT returns its version id").to_string()
}

async fn get_v(ctx: &Ctx, key: &str, version: &str) -> Vec<u8> {
    let out = ctx.s3.get_object().bucket(&ctx.bucket).key(key).version_id(version).send().await.expect("get version");
    assert_eq!(out.version_id(), Some(version));
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

/// (key, version id, is latest, is delete marker) of every version, all pages of `max_keys`.
async fn all_versions(ctx: &Ctx, prefix: &str, max_keys: i32) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = ctx
            .s3
            .list_object_versions()
            .bucket(&ctx.bucket)
            .prefix(prefix)
            .max_keys(max_keys)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .expect("list versions");
        // Versions and markers interleave by key, newest first: merge them back in that order.
        let mut rows: Vec<(String, String, bool, bool, i64)> = Vec::new();
        for v in page.versions() {
            let t = v.last_modified().map(|t| t.as_nanos() as i64).unwrap_or(0);
            rows.push((
                v.key().unwrap_or_default().into(),
                v.version_id().unwrap_or_default().into(),
                v.is_latest() == Some(true),
                false,
                t,
            ));
        }
        for m in page.delete_markers() {
            let t = m.last_modified().map(|t| t.as_nanos() as i64).unwrap_or(0);
            rows.push((
                m.key().unwrap_or_default().into(),
                m.version_id().unwrap_or_default().into(),
                m.is_latest() == Some(true),
                true,
                t,
            ));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.4.cmp(&a.4)).then(b.1.cmp(&a.1)));
        out.extend(rows.into_iter().map(|(k, v, l, d, _)| (k, v, l, d)));
        if page.is_truncated() != Some(true) {
            return out;
        }
        km = page.next_key_marker().map(str::to_string);
        vm = page.next_version_id_marker().map(str::to_string);
        assert!(km.is_some(), "a truncated page has a next key marker");
    }
}

#[tokio::test]
async fn versions_markers_and_reads_by_version() {
    let ctx = Ctx::new("versioning").await;
    let got = ctx.s3.get_bucket_versioning().bucket(&ctx.bucket).send().await.expect("get");
    assert_eq!(got.status(), None, "never enabled");
    set_versioning(&ctx, BucketVersioningStatus::Enabled).await;
    let got = ctx.s3.get_bucket_versioning().bucket(&ctx.bucket).send().await.expect("get");
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Enabled));

    let datas: Vec<Vec<u8>> = vec![test_data(10, 1), test_data(300_000, 2), test_data(20, 3)];
    let mut ids = Vec::new();
    for d in &datas {
        ids.push(put_v(&ctx, "doc", d).await);
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    assert!(ctx.get_bytes("doc").await == datas[2]);
    for (id, d) in ids.iter().zip(&datas) {
        assert!(get_v(&ctx, "doc", id).await == *d, "version {id}");
    }
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("doc").version_id(&ids[1]).send().await.expect("head");
    assert_eq!(head.content_length(), Some(300_000));
    assert_eq!(ctx.list_keys("").await, vec!["doc".to_string()]);
    let versions = all_versions(&ctx, "", 1000).await;
    let expect: Vec<(String, String, bool, bool)> =
        ids.iter().rev().enumerate().map(|(i, id)| ("doc".to_string(), id.clone(), i == 0, false)).collect();
    assert_eq!(versions, expect);

    // DELETE adds a delete marker: the key reads as 404 with x-amz-delete-marker.
    let del = ctx.s3.delete_object().bucket(&ctx.bucket).key("doc").send().await.expect("delete");
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().expect("marker version").to_string();
    let path = ctx.path("doc");
    let r = Req::new(&ctx.server, "GET", &path).send().await;
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(r.header("x-amz-version-id"), Some(marker.as_str()));
    let r = Req::new(&ctx.server, "GET", &format!("{path}?versionId={marker}")).send().await;
    r.assert_error(405, "MethodNotAllowed");
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    assert!(ctx.list_keys("").await.is_empty());
    let versions = all_versions(&ctx, "", 1000).await;
    assert_eq!(versions[0], ("doc".to_string(), marker.clone(), true, true));
    assert_eq!(versions.len(), 4);
    // An old version still reads.
    assert!(get_v(&ctx, "doc", &ids[0]).await == datas[0]);

    // Removing the marker brings the object back.
    let del =
        ctx.s3.delete_object().bucket(&ctx.bucket).key("doc").version_id(&marker).send().await.expect("delete marker");
    assert_eq!(del.delete_marker(), Some(true));
    assert!(ctx.get_bytes("doc").await == datas[2]);
    // Removing the current version makes the previous one current; removing a middle one leaves the rest.
    ctx.s3.delete_object().bucket(&ctx.bucket).key("doc").version_id(&ids[2]).send().await.expect("delete v3");
    assert!(ctx.get_bytes("doc").await == datas[1]);
    ctx.s3.delete_object().bucket(&ctx.bucket).key("doc").version_id(&ids[0]).send().await.expect("delete v1");
    let gone = ctx.s3.get_object().bucket(&ctx.bucket).key("doc").version_id(&ids[0]).send().await;
    assert_eq!(sdk_err(gone), (404, Some("NoSuchVersion".into())));
    assert_eq!(all_versions(&ctx, "", 1000).await, vec![("doc".to_string(), ids[1].clone(), true, false)]);

    // Copy from an old version.
    let v_new = put_v(&ctx, "doc", b"newest").await;
    let copy = ctx
        .s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("copy")
        .copy_source(format!("{}/doc?versionId={}", ctx.bucket, ids[1]))
        .send()
        .await
        .expect("copy a version");
    assert_eq!(copy.copy_source_version_id(), Some(ids[1].as_str()));
    assert!(copy.version_id().is_some());
    assert!(ctx.get_bytes("copy").await == datas[1]);
    assert_ne!(v_new, ids[1]);

    // A bucket with versions left is not empty.
    let busy = ctx.s3.delete_bucket().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(busy), (409, Some("BucketNotEmpty".into())));
    let mut objects = Vec::new();
    for (k, v, _, _) in all_versions(&ctx, "", 1000).await {
        objects.push(ObjectIdentifier::builder().key(k).version_id(v).build().expect("id"));
    }
    let out = ctx
        .s3
        .delete_objects()
        .bucket(&ctx.bucket)
        .delete(Delete::builder().set_objects(Some(objects)).build().expect("delete"))
        .send()
        .await
        .expect("delete objects");
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert!(all_versions(&ctx, "", 1000).await.is_empty());
    ctx.s3.delete_bucket().bucket(&ctx.bucket).send().await.expect("empty bucket deletes");
}

#[tokio::test]
async fn listing_pages_markers_and_delimiters() {
    let ctx = Ctx::new("versions-list").await;
    set_versioning(&ctx, BucketVersioningStatus::Enabled).await;
    for key in ["a/1", "a/2", "b", "c/x/1", "d"] {
        for i in 0..3u64 {
            put_v(&ctx, key, &test_data(5, i)).await;
        }
    }
    ctx.s3.delete_object().bucket(&ctx.bucket).key("b").send().await.expect("marker on b");
    let whole = all_versions(&ctx, "", 1000).await;
    assert_eq!(whole.len(), 16);
    for page_size in [1, 2, 3, 4, 7] {
        assert_eq!(all_versions(&ctx, "", page_size).await, whole, "pages of {page_size}");
    }
    // The first entry of each key is the latest.
    let latest: Vec<&str> = whole.iter().filter(|e| e.2).map(|e| e.0.as_str()).collect();
    assert_eq!(latest, vec!["a/1", "a/2", "b", "c/x/1", "d"]);
    let with_delim = ctx.s3.list_object_versions().bucket(&ctx.bucket).delimiter("/").send().await.expect("delimiter");
    let prefixes: Vec<&str> = with_delim.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, vec!["a/", "c/"]);
    let keys: Vec<&str> = with_delim.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(keys, vec!["b", "b", "b", "d", "d", "d"]);
    assert_eq!(with_delim.delete_markers().len(), 1);
    let prefixed = all_versions(&ctx, "a/", 1000).await;
    assert_eq!(prefixed.len(), 6);
    // DeleteObjects without versions adds markers and reports them.
    let out = ctx
        .s3
        .delete_objects()
        .bucket(&ctx.bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("d").build().expect("id"))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    let deleted = &out.deleted()[0];
    assert_eq!(deleted.delete_marker(), Some(true));
    assert!(deleted.delete_marker_version_id().is_some());
    assert!(!ctx.exists("d").await);
}

#[tokio::test]
async fn suspended_null_version_and_unversioned_null() {
    let ctx = Ctx::with_options("versions-null", crate::ops::options(&["--test-min-part-size-bytes", "1024"])).await;
    // A bucket that never had versioning: versionId=null addresses the object (rclone sends it).
    ctx.put("plain", b"one".to_vec()).await;
    assert!(get_v(&ctx, "plain", "null").await == b"one");
    let listed = all_versions(&ctx, "", 1000).await;
    assert_eq!(listed, vec![("plain".to_string(), "null".to_string(), true, false)]);
    ctx.s3.delete_object().bucket(&ctx.bucket).key("plain").version_id("null").send().await.expect("delete null");
    assert!(!ctx.exists("plain").await);
    // A bucket that never had versioning reports no status, until one is set
    // (Suspended too is stored and reported).
    let status = |b: &str| {
        let b = b.to_string();
        let s3 = ctx.s3.clone();
        async move { s3.get_bucket_versioning().bucket(b).send().await.expect("get versioning").status().cloned() }
    };
    let fresh = crate::common::bucket_name("versions-fresh");
    ctx.s3.create_bucket().bucket(&fresh).send().await.expect("create");
    assert_eq!(status(&fresh).await, None);
    let suspend = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    ctx.s3.put_bucket_versioning().bucket(&fresh).versioning_configuration(suspend).send().await.expect("suspend");
    assert_eq!(status(&fresh).await, Some(BucketVersioningStatus::Suspended));

    ctx.put("k", b"pre-versioning".to_vec()).await;
    set_versioning(&ctx, BucketVersioningStatus::Enabled).await;
    let v1 = put_v(&ctx, "k", b"enabled").await;
    set_versioning(&ctx, BucketVersioningStatus::Suspended).await;
    // A write under Suspended makes the null version, which the response does not name (as AWS).
    assert_eq!(ctx.put("k", b"suspended-1".to_vec()).await.version_id(), None);
    // The null version is replaced, the enabled-era version kept.
    assert_eq!(ctx.put("k", b"suspended-2".to_vec()).await.version_id(), None);
    let listed = all_versions(&ctx, "k", 1000).await;
    let ids: Vec<&str> = listed.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(ids, vec!["null", v1.as_str()], "{listed:?}");
    assert!(get_v(&ctx, "k", "null").await == b"suspended-2");
    assert!(get_v(&ctx, "k", &v1).await == b"enabled");
    // A delete under Suspended is a null delete marker.
    let del = ctx.s3.delete_object().bucket(&ctx.bucket).key("k").send().await.expect("delete");
    assert_eq!((del.delete_marker(), del.version_id()), (Some(true), Some("null")));
    assert!(!ctx.exists("k").await);

    // Multipart completion in a versioned bucket returns the version id.
    set_versioning(&ctx, BucketVersioningStatus::Enabled).await;
    let up = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("mpu").send().await.expect("create");
    let id = up.upload_id().expect("id");
    let p = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(id)
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .expect("part");
    let done = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(p.e_tag().expect("etag")).build())
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let vid = done.version_id().expect("version id").to_string();
    assert!(get_v(&ctx, "mpu", &vid).await == b"part");
    // Malformed version ids and configurations.
    let bad = ctx.s3.get_object().bucket(&ctx.bucket).key("mpu").version_id("nope").send().await;
    assert_eq!(sdk_err(bad), (400, Some("InvalidArgument".into())));
    let path = format!("/{}?versioning", ctx.bucket);
    Req::new(&ctx.server, "PUT", &path)
        .body("<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>")
        .send()
        .await
        .assert_error(400, "MalformedXML");
}

#[tokio::test]
async fn acl_and_tags_of_each_version() {
    let ctx = Ctx::with_options("versions-subres", crate::ops::options(&["--new-bucket-defaults", "legacy"])).await;
    set_versioning(&ctx, BucketVersioningStatus::Enabled).await;
    let v1 = put_v(&ctx, "k", b"one").await;
    let v2 = put_v(&ctx, "k", b"two").await;
    let tags = |pairs: &[(&str, &str)]| {
        let set = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag")).collect();
        Tagging::builder().set_tag_set(Some(set)).build().expect("tagging")
    };
    let tags_of = |version: Option<&str>| {
        let req = ctx.s3.get_object_tagging().bucket(&ctx.bucket).key("k").set_version_id(version.map(str::to_string));
        async move {
            let out = req.send().await.expect("get tagging");
            let got: Vec<(String, String)> =
                out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            (got, out.version_id().map(str::to_string))
        }
    };
    // Tags of the older version leave the current one alone, and the reverse.
    let put =
        ctx.s3.put_object_tagging().bucket(&ctx.bucket).key("k").version_id(&v1).tagging(tags(&[("era", "first")]));
    assert_eq!(put.send().await.expect("tag v1").version_id(), Some(v1.as_str()));
    ctx.s3
        .put_object_tagging()
        .bucket(&ctx.bucket)
        .key("k")
        .tagging(tags(&[("era", "now")]))
        .send()
        .await
        .expect("tag");
    assert_eq!(tags_of(Some(&v1)).await, (vec![("era".into(), "first".into())], Some(v1.clone())));
    assert_eq!(tags_of(None).await, (vec![("era".into(), "now".into())], Some(v2.clone())));
    ctx.s3.delete_object_tagging().bucket(&ctx.bucket).key("k").version_id(&v1).send().await.expect("untag v1");
    assert!(tags_of(Some(&v1)).await.0.is_empty());
    assert_eq!(tags_of(Some(&v2)).await.0.len(), 1);

    // The ACL of the older version: public-read there only.
    let acl = ctx.s3.put_object_acl().bucket(&ctx.bucket).key("k").version_id(&v1).acl(ObjectCannedAcl::PublicRead);
    acl.send().await.expect("acl of v1");
    let grants = |version: &str| {
        let req = ctx.s3.get_object_acl().bucket(&ctx.bucket).key("k").version_id(version);
        async move { req.send().await.expect("get acl").grants().len() }
    };
    assert_eq!((grants(&v1).await, grants(&v2).await), (2, 1));
    assert!(get_v(&ctx, "k", &v1).await == b"one", "data untouched");

    // A delete marker has no ACL or tags; an unknown version is NoSuchVersion.
    let del = ctx.s3.delete_object().bucket(&ctx.bucket).key("k").send().await.expect("delete");
    let marker = del.version_id().expect("marker id").to_string();
    let on_marker = ctx.s3.get_object_tagging().bucket(&ctx.bucket).key("k").version_id(&marker).send().await;
    assert_eq!(sdk_err(on_marker).0, 405);
    let unknown = ctx.s3.get_object_acl().bucket(&ctx.bucket).key("k").version_id("0".repeat(24)).send().await;
    assert_eq!(sdk_err(unknown), (404, Some("NoSuchVersion".into())));
    // The versions behind the marker keep theirs.
    assert_eq!(tags_of(Some(&v2)).await.0, vec![("era".to_string(), "now".to_string())]);
}
