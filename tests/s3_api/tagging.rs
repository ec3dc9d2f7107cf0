//! Object and bucket tagging: the tagging sub-resources, `x-amz-tagging` on
//! writes, the tagging directive of copies, limits, and tags in policy
//! conditions.

use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};

use crate::common::{expect_sdk_err, sdk_err, Ctx, Req};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags: Vec<Tag> = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag")).collect();
    Tagging::builder().set_tag_set(Some(tags)).build().expect("tagging")
}

async fn object_tags(ctx: &Ctx, key: &str) -> Vec<(String, String)> {
    let out = ctx.s3.get_object_tagging().bucket(&ctx.bucket).key(key).send().await.expect("get tagging");
    out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

#[tokio::test]
async fn object_tagging_round_trip() {
    let ctx = Ctx::new("tags-object").await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("k")
        .tagging("team=blue&env=prod%20eu&bare")
        .body(b"data".to_vec().into())
        .send()
        .await
        .expect("put with tags");
    // Sorted by key (a query string has no order); a bare name has an empty value.
    assert_eq!(
        object_tags(&ctx, "k").await,
        vec![("bare".into(), "".into()), ("env".into(), "prod eu".into()), ("team".into(), "blue".into())]
    );
    let raw = Req::new(&ctx.server, "HEAD", &ctx.path("k")).send().await;
    assert_eq!(raw.header("x-amz-tagging-count"), Some("3"));

    let before = ctx.s3.head_object().bucket(&ctx.bucket).key("k").send().await.expect("head");
    ctx.s3
        .put_object_tagging()
        .bucket(&ctx.bucket)
        .key("k")
        .tagging(tagging(&[("a", "1")]))
        .send()
        .await
        .expect("put tagging");
    assert_eq!(object_tags(&ctx, "k").await, vec![("a".into(), "1".into())]);
    let after = ctx.s3.head_object().bucket(&ctx.bucket).key("k").send().await.expect("head");
    assert_eq!(before.e_tag(), after.e_tag(), "tagging does not rewrite the object");
    assert_eq!(before.last_modified(), after.last_modified());
    assert_eq!(ctx.get_bytes("k").await, b"data");

    ctx.s3.delete_object_tagging().bucket(&ctx.bucket).key("k").send().await.expect("delete tagging");
    assert!(object_tags(&ctx, "k").await.is_empty());
    assert_eq!(Req::new(&ctx.server, "HEAD", &ctx.path("k")).send().await.header("x-amz-tagging-count"), None);
    expect_sdk_err(ctx.s3.get_object_tagging().bucket(&ctx.bucket).key("nope").send().await, 404, "NoSuchKey");
}

#[tokio::test]
async fn tag_limits_and_malformed_documents() {
    let ctx = Ctx::new("tags-limits").await;
    ctx.put("k", b"d".to_vec()).await;
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_string())).collect();
    let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let put = |t: Tagging| ctx.s3.put_object_tagging().bucket(&ctx.bucket).key("k").tagging(t).send();
    expect_sdk_err(put(tagging(&eleven)).await, 400, "BadRequest");
    expect_sdk_err(put(tagging(&[("aws:reserved", "v")])).await, 400, "InvalidTag");
    let long_key = "k".repeat(129);
    expect_sdk_err(put(tagging(&[(long_key.as_str(), "v")])).await, 400, "InvalidTag");
    let long_value = "v".repeat(257);
    expect_sdk_err(put(tagging(&[("k", long_value.as_str())])).await, 400, "InvalidTag");
    expect_sdk_err(put(tagging(&[("k", "1"), ("k", "2")])).await, 400, "InvalidTag");
    Req::new(&ctx.server, "PUT", &format!("{}?tagging", ctx.path("k")))
        .body("<Tagging><TagSet><Tag><Key>a</Key>")
        .send()
        .await
        .assert_error(400, "MalformedXML");
    let err = sdk_err(
        ctx.s3.put_object().bucket(&ctx.bucket).key("bad").tagging("a=1&a=2").body(b"x".to_vec().into()).send().await,
    );
    assert_eq!(err, (400, Some("InvalidArgument".to_string())));
    ctx.assert_absent("bad").await;
    assert!(object_tags(&ctx, "k").await.is_empty(), "failed puts changed nothing");
}

#[tokio::test]
async fn copy_tagging_directive() {
    let ctx = Ctx::new("tags-copy").await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("src")
        .tagging("a=1")
        .body(b"data".to_vec().into())
        .send()
        .await
        .expect("put");
    let source = format!("{}/src", ctx.bucket);
    ctx.s3.copy_object().bucket(&ctx.bucket).key("copied").copy_source(&source).send().await.expect("copy");
    assert_eq!(object_tags(&ctx, "copied").await, vec![("a".into(), "1".into())]);
    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("replaced")
        .copy_source(&source)
        .tagging_directive(TaggingDirective::Replace)
        .tagging("b=2")
        .send()
        .await
        .expect("copy replace");
    assert_eq!(object_tags(&ctx, "replaced").await, vec![("b".into(), "2".into())]);
}

#[tokio::test]
async fn bucket_tagging() {
    let ctx = Ctx::new("tags-bucket").await;
    expect_sdk_err(ctx.s3.get_bucket_tagging().bucket(&ctx.bucket).send().await, 404, "NoSuchTagSet");
    ctx.s3
        .put_bucket_tagging()
        .bucket(&ctx.bucket)
        .tagging(tagging(&[("cost-center", "42"), ("owner", "ops")]))
        .send()
        .await
        .expect("put bucket tagging");
    let got = ctx.s3.get_bucket_tagging().bucket(&ctx.bucket).send().await.expect("get");
    assert_eq!(got.tag_set().len(), 2);
    ctx.s3.delete_bucket_tagging().bucket(&ctx.bucket).send().await.expect("delete");
    expect_sdk_err(ctx.s3.get_bucket_tagging().bucket(&ctx.bucket).send().await, 404, "NoSuchTagSet");
}

#[tokio::test]
async fn existing_object_tags_in_a_policy_condition() {
    let ctx = Ctx::new("tags-policy").await;
    ctx.s3.delete_public_access_block().bucket(&ctx.bucket).send().await.expect("allow public");
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("public-doc")
        .tagging("visibility=public")
        .body(b"p".to_vec().into())
        .send()
        .await
        .expect("put");
    ctx.put("internal-doc", b"i".to_vec()).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*","Condition":{{"StringEquals":{{"s3:ExistingObjectTag/visibility":"public"}}}}}}]}}"#,
        ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(policy).send().await.expect("policy");
    Req::new(&ctx.server, "GET", &ctx.path("public-doc")).send_anonymous().await.assert_status(200);
    Req::new(&ctx.server, "GET", &ctx.path("internal-doc")).send_anonymous().await.assert_error(403, "AccessDenied");
    // Retagging changes the decision at once.
    ctx.s3.delete_object_tagging().bucket(&ctx.bucket).key("public-doc").send().await.expect("untag");
    Req::new(&ctx.server, "GET", &ctx.path("public-doc")).send_anonymous().await.assert_error(403, "AccessDenied");
}
