//! Bucket lifecycle rules and the worker that applies them, with the
//! test-only short lifecycle day (`--test-lifecycle-day-ms`): expiration by
//! prefix and tag, noncurrent versions, expired delete markers, incomplete
//! multipart uploads, `x-amz-expiration`, rules surviving a restart.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    Tag, VersioningConfiguration,
};

use crate::common::{client, sdk_err, Ctx, Req, Server, ServerOptions};

/// One lifecycle day lasts a second in these tests.
fn options() -> ServerOptions {
    ServerOptions { extra_args: vec!["--test-lifecycle-day-ms".into(), "1000".into()], ..Default::default() }
}

async fn put_rules(ctx: &Ctx, rules: Vec<LifecycleRule>) {
    ctx.s3
        .put_bucket_lifecycle_configuration()
        .bucket(&ctx.bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().expect("config"),
        )
        .send()
        .await
        .expect("put lifecycle");
}

fn rule(id: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder().id(id).status(ExpirationStatus::Enabled)
}

/// Polls `check` until it holds (the worker runs every quarter day), at most 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn configuration_round_trip_and_errors() {
    let ctx = Ctx::with_options("lc-config", options()).await;
    let missing = ctx.s3.get_bucket_lifecycle_configuration().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(missing), (404, Some("NoSuchLifecycleConfiguration".into())));
    let filter = LifecycleRuleFilter::builder()
        .and(
            LifecycleRuleAndOperator::builder()
                .prefix("logs/")
                .tags(Tag::builder().key("t").value("v").build().expect("tag"))
                .build(),
        )
        .build();
    put_rules(
        &ctx,
        vec![
            rule("a").filter(filter).expiration(LifecycleExpiration::builder().days(30).build()).build().expect("rule"),
            rule("b")
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
                )
                .build()
                .expect("rule"),
        ],
    )
    .await;
    let got = ctx.s3.get_bucket_lifecycle_configuration().bucket(&ctx.bucket).send().await.expect("get");
    let ids: Vec<&str> = got.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert_eq!(got.rules()[0].expiration().and_then(|e| e.days()), Some(30));
    let and = got.rules()[0].filter().and_then(|f| f.and()).expect("and filter");
    assert_eq!(and.prefix(), Some("logs/"));
    let path = format!("/{}?lifecycle", ctx.bucket);
    for (body, code) in [
        ("<LifecycleConfiguration></LifecycleConfiguration>", "MalformedXML"),
        ("<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule></LifecycleConfiguration>", "MalformedXML"),
        (
            "<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>",
            "InvalidArgument",
        ),
    ] {
        Req::new(&ctx.server, "PUT", &path).header("content-md5", content_md5(body)).body(body).send().await.assert_error(400, code);
    }
    // A rule with the legacy rule-level <Prefix> (no <Filter>) reads back in that form.
    let legacy = "<LifecycleConfiguration><Rule><ID>old</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>";
    Req::new(&ctx.server, "PUT", &path)
        .header("content-md5", content_md5(legacy))
        .body(legacy)
        .send()
        .await
        .assert_status(200);
    let got = Req::new(&ctx.server, "GET", &path).send().await;
    got.assert_status(200);
    let xml = got.text();
    assert!(xml.contains("<Prefix>old/</Prefix>") && !xml.contains("<Filter>"), "legacy rule read back: {xml}");
    let sdk_view = ctx.s3.get_bucket_lifecycle_configuration().bucket(&ctx.bucket).send().await.expect("get legacy");
    #[allow(deprecated)]
    let prefix = sdk_view.rules()[0].prefix();
    assert_eq!(prefix, Some("old/"));
    ctx.s3.delete_bucket_lifecycle().bucket(&ctx.bucket).send().await.expect("delete");
    let missing = ctx.s3.get_bucket_lifecycle_configuration().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(missing).0, 404);
}

fn content_md5(body: &str) -> String {
    use base64::Engine as _;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()))
}

#[tokio::test]
async fn expiration_by_prefix_and_tag_survives_restart() {
    let dir = tempfile::Builder::new().prefix("coffer-lc-").tempdir().expect("tmp");
    let server = Server::start_in(dir.path(), options()).await;
    let s3 = client(&server);
    let bucket = crate::common::bucket_name("lc-expire");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let ctx = Ctx { server, s3, bucket };
    let tagged =
        LifecycleRuleFilter::builder().tag(Tag::builder().key("temp").value("yes").build().expect("tag")).build();
    put_rules(
        &ctx,
        vec![
            rule("tmp")
                .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
                .expiration(LifecycleExpiration::builder().days(2).build())
                .build()
                .expect("rule"),
            rule("tagged")
                .filter(tagged)
                .expiration(LifecycleExpiration::builder().days(2).build())
                .build()
                .expect("rule"),
        ],
    )
    .await;
    ctx.put("tmp/a", b"a".to_vec()).await;
    ctx.put("keep/b", b"b".to_vec()).await;
    for key in ["tmp/upload", "keep/upload"] {
        ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key(key).send().await.expect("create upload");
    }
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("keep/tagged")
        .tagging("temp=yes")
        .body(b"c".to_vec().into())
        .send()
        .await
        .expect("tagged");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("tmp/a").send().await.expect("head");
    let exp = head.expiration().expect("x-amz-expiration on a covered object");
    assert!(exp.contains("rule-id=\"tmp\"") && exp.contains("expiry-date="), "{exp}");
    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("keep/b").send().await.expect("head");
    assert_eq!(head.expiration(), None);
    // Restart before the objects are due: the rules are stored and the worker starts again.
    let Ctx { mut server, bucket, .. } = ctx;
    server.stop();
    drop(server);
    let server = Server::start_in(dir.path(), options()).await;
    let s3 = client(&server);
    let ctx = Ctx { server, s3, bucket };
    eventually("tmp/a and keep/tagged expire", || async { ctx.list_keys("").await == vec!["keep/b".to_string()] })
        .await;
    assert!(ctx.exists("keep/b").await);
}

#[tokio::test]
async fn noncurrent_versions_markers_and_uploads() {
    let ctx = Ctx::with_options("lc-versions", options()).await;
    ctx.s3
        .put_bucket_versioning()
        .bucket(&ctx.bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("versioning");
    for i in 0..4u8 {
        ctx.put("doc", vec![i; 10]).await;
    }
    ctx.put("gone", b"x".to_vec()).await;
    let up = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("big").send().await.expect("create upload");
    put_rules(
        &ctx,
        vec![rule("versions")
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder().noncurrent_days(1).newer_noncurrent_versions(1).build(),
            )
            .expiration(LifecycleExpiration::builder().expired_object_delete_marker(true).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
            )
            .build()
            .expect("rule")],
    )
    .await;
    // "gone": its only object version is removed by hand, leaving a lone delete marker.
    let del = ctx.s3.delete_object().bucket(&ctx.bucket).key("gone").send().await.expect("marker");
    assert_eq!(del.delete_marker(), Some(true));
    let versions = ctx.s3.list_object_versions().bucket(&ctx.bucket).prefix("gone").send().await.expect("versions");
    let v = versions.versions()[0].version_id().expect("id").to_string();
    ctx.s3
        .delete_object()
        .bucket(&ctx.bucket)
        .key("gone")
        .version_id(v)
        .send()
        .await
        .expect("remove the object version");
    eventually("old versions, the lone marker and the upload are gone", || async {
        let versions = ctx.s3.list_object_versions().bucket(&ctx.bucket).send().await.expect("versions");
        let doc_versions = versions.versions().iter().filter(|v| v.key() == Some("doc")).count();
        let uploads = ctx.s3.list_multipart_uploads().bucket(&ctx.bucket).send().await.expect("uploads");
        // The current version and the newest noncurrent one are kept.
        doc_versions == 2 && versions.delete_markers().is_empty() && uploads.uploads().is_empty()
    })
    .await;
    assert!(ctx.get_bytes("doc").await == vec![3u8; 10]);
    let gone = ctx
        .s3
        .abort_multipart_upload()
        .bucket(&ctx.bucket)
        .key("big")
        .upload_id(up.upload_id().expect("id"))
        .send()
        .await;
    assert_eq!(sdk_err(gone).0, 404);
}
