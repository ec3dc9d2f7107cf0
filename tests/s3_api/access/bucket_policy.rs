//! Bucket policies and Block Public Access, with anonymous requests.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use super::{allow_public, anonymous_get, public_read_policy};
use crate::common::{expect_sdk_err, Ctx, Req};

#[tokio::test]
async fn new_buckets_block_public_access_and_enforce_ownership() {
    let ctx = Ctx::new("defaults").await;
    let bpa = ctx.s3.get_public_access_block().bucket(&ctx.bucket).send().await.expect("get bpa");
    let conf = bpa.public_access_block_configuration().expect("configuration");
    assert_eq!(
        (
            conf.block_public_acls(),
            conf.ignore_public_acls(),
            conf.block_public_policy(),
            conf.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let own = ctx.s3.get_bucket_ownership_controls().bucket(&ctx.bucket).send().await.expect("ownership");
    let rules = own.ownership_controls().expect("controls").rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].object_ownership().as_str(), "BucketOwnerEnforced");
    expect_sdk_err(ctx.s3.get_bucket_policy().bucket(&ctx.bucket).send().await, 404, "NoSuchBucketPolicy");
    expect_sdk_err(ctx.s3.get_bucket_policy_status().bucket(&ctx.bucket).send().await, 404, "NoSuchBucketPolicy");
    // With Block Public Access on, a public policy cannot even be put.
    expect_sdk_err(
        ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(public_read_policy(&ctx.bucket)).send().await,
        403,
        "AccessDenied",
    );
    // No configuration at all means no restriction (and 404 on GET), not "deny".
    allow_public(&ctx).await;
    expect_sdk_err(
        ctx.s3.get_public_access_block().bucket(&ctx.bucket).send().await,
        404,
        "NoSuchPublicAccessBlockConfiguration",
    );
    ctx.s3.delete_bucket_ownership_controls().bucket(&ctx.bucket).send().await.expect("delete ownership");
    expect_sdk_err(
        ctx.s3.get_bucket_ownership_controls().bucket(&ctx.bucket).send().await,
        404,
        "OwnershipControlsNotFoundError",
    );
}

#[tokio::test]
async fn public_read_policy_then_public_access_block() {
    let ctx = Ctx::new("public-read").await;
    ctx.put("site/index.html", b"hello world".to_vec()).await;
    anonymous_get(&ctx, "site/index.html").await.assert_error(403, "AccessDenied");

    allow_public(&ctx).await;
    ctx.s3
        .put_bucket_policy()
        .bucket(&ctx.bucket)
        .policy(public_read_policy(&ctx.bucket))
        .send()
        .await
        .expect("put public policy");
    let stored = ctx.s3.get_bucket_policy().bucket(&ctx.bucket).send().await.expect("get policy");
    assert_eq!(stored.policy(), Some(public_read_policy(&ctx.bucket).as_str()), "returned as put");
    let status = ctx.s3.get_bucket_policy_status().bucket(&ctx.bucket).send().await.expect("status");
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));

    let got = anonymous_get(&ctx, "site/index.html").await;
    got.assert_status(200);
    assert_eq!(&got.body[..], b"hello world");
    // A public object policy does not make the bucket listable, nor writable.
    Req::new(&ctx.server, "GET", &format!("/{}?list-type=2", ctx.bucket))
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "PUT", &ctx.path("site/evil.html"))
        .body(&b"x"[..])
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");
    // A missing key is not revealed to a caller that may not list: 403, not 404.
    anonymous_get(&ctx, "site/missing.html").await.assert_error(403, "AccessDenied");

    // RestrictPublicBuckets turns the public policy off for anonymous callers.
    ctx.s3
        .put_public_access_block()
        .bucket(&ctx.bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder().restrict_public_buckets(true).build(),
        )
        .send()
        .await
        .expect("put bpa");
    anonymous_get(&ctx, "site/index.html").await.assert_error(403, "AccessDenied");
    // The owner still reads.
    assert_eq!(ctx.get_bytes("site/index.html").await, b"hello world");
}

#[tokio::test]
async fn explicit_deny_binds_root_but_root_keeps_the_policy() {
    let ctx = Ctx::new("deny-root").await;
    ctx.put("secret", b"s".to_vec()).await;
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:PutBucketPolicy","s3:DeleteBucketPolicy","s3:GetBucketPolicy"],"Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"]}}]}}"#,
        b = ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(&deny).send().await.expect("put deny policy");
    expect_sdk_err(ctx.s3.get_object().bucket(&ctx.bucket).key("secret").send().await, 403, "AccessDenied");
    // Lock-out protection: the root may still read and remove the policy.
    let stored = ctx.s3.get_bucket_policy().bucket(&ctx.bucket).send().await.expect("root reads policy");
    assert_eq!(stored.policy(), Some(deny.as_str()));
    ctx.s3.delete_bucket_policy().bucket(&ctx.bucket).send().await.expect("root deletes policy");
    assert_eq!(ctx.get_bytes("secret").await, b"s");
}

#[tokio::test]
async fn conditions_on_the_request() {
    let ctx = Ctx::new("conditions").await;
    ctx.put("doc", b"d".to_vec()).await;
    // Deny anything not over TLS: the test talks plain HTTP, so even root is refused.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#,
        ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(&policy).send().await.expect("put policy");
    expect_sdk_err(ctx.s3.get_object().bucket(&ctx.bucket).key("doc").send().await, 403, "AccessDenied");
    // The same condition decides a copy out of the bucket into one without a
    // policy (the request's own bucket has no policy; the source's has).
    let other = format!("{}-dst", ctx.bucket);
    ctx.s3.create_bucket().bucket(&other).send().await.expect("create destination");
    ctx.s3.put_object().bucket(&other).key("own").body(b"o".to_vec().into()).send().await.expect("put own");
    let copy = |source: String| ctx.s3.copy_object().bucket(&other).key("copy").copy_source(source).send();
    expect_sdk_err(copy(format!("{}/doc", ctx.bucket)).await, 403, "AccessDenied");
    copy(format!("{other}/own")).await.expect("a copy within the bucket without a policy");
    // Deny unless the User-Agent says so: the raw client chooses its User-Agent.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*","Condition":{{"StringNotLike":{{"aws:UserAgent":"trusted-tool/*"}}}}}}]}}"#,
        ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(&policy).send().await.expect("put policy");
    Req::new(&ctx.server, "GET", &ctx.path("doc"))
        .header("user-agent", "curl/8")
        .send()
        .await
        .assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "GET", &ctx.path("doc"))
        .header("user-agent", "trusted-tool/1.0")
        .send()
        .await
        .assert_status(200);
}

#[tokio::test]
async fn malformed_policies_are_refused_with_a_reason() {
    let ctx = Ctx::new("malformed-policy").await;
    let b = &ctx.bucket;
    let cases = [
        "not json".to_string(),
        "{}".to_string(),
        r#"{"Version":"2012-10-17","Statement":[]}"#.to_string(),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}}]}}"#
        ),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        ),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        ),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"NoSuchOperator":{{"aws:SourceIp":"1.2.3.4"}}}}}}]}}"#
        ),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"300.1.2.3/8"}}}}}}]}}"#
        ),
    ];
    for policy in cases {
        let result = ctx.s3.put_bucket_policy().bucket(b).policy(&policy).send().await;
        let err = result.expect_err(&policy);
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400), "{policy}");
        use aws_sdk_s3::error::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("MalformedPolicy"), "{policy}");
        assert!(err.message().is_some_and(|m| !m.is_empty()), "a reason is given for {policy}");
    }
    expect_sdk_err(ctx.s3.get_bucket_policy().bucket(b).send().await, 404, "NoSuchBucketPolicy");
}

#[tokio::test]
async fn account_level_public_access_block_through_the_admin_interface() {
    use crate::ops::{admin, cli, options, ADMIN_TOKEN};
    let ctx = Ctx::with_options("account-bpa", options(&[])).await;
    ctx.put("doc", b"d".to_vec()).await;
    allow_public(&ctx).await;
    ctx.s3
        .put_bucket_policy()
        .bucket(&ctx.bucket)
        .policy(public_read_policy(&ctx.bucket))
        .send()
        .await
        .expect("policy");
    anonymous_get(&ctx, "doc").await.assert_status(200);

    // The server-wide setting starts from the config file (all off here) and is set with `coffer admin`.
    let (code, shown, out) = cli(&ctx.server, &["public-access-block", "get"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(shown["restrict_public_buckets"], serde_json::json!(false), "{out}");
    let (code, _, out) = cli(&ctx.server, &["public-access-block", "put", "--restrict-public-buckets"]);
    assert_eq!(code, 0, "{out}");
    anonymous_get(&ctx, "doc").await.assert_error(403, "AccessDenied");
    // BlockPublicPolicy at the account level refuses a public policy for every bucket.
    let (code, _, out) = cli(&ctx.server, &["public-access-block", "put", "--block-public-policy"]);
    assert_eq!(code, 0, "{out}");
    expect_sdk_err(
        ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(public_read_policy(&ctx.bucket)).send().await,
        403,
        "AccessDenied",
    );
    anonymous_get(&ctx, "doc").await.assert_status(200);
    // Malformed settings are refused; the token is required.
    let bad = admin(&ctx.server, "PUT", "/admin/v1/public-access-block", None).await;
    assert_eq!(bad.status, 401);
    let mut req = http::Request::builder()
        .method("PUT")
        .uri("/admin/v1/public-access-block")
        .header("host", ctx.server.admin_addr.to_string())
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"));
    req = req.header("content-type", "application/json");
    let resp = crate::common::send(
        ctx.server.admin_addr,
        req.body(bytes::Bytes::from_static(b"{\"block_all\":true}")).expect("req"),
    )
    .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    let (code, _, out) = cli(&ctx.server, &["public-access-block", "delete"]);
    assert_eq!(code, 0, "{out}");
    let (_, shown, _) = cli(&ctx.server, &["public-access-block", "get"]);
    assert_eq!(shown["block_public_policy"], serde_json::json!(false));
}
