//! CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket.

use aws_sdk_s3::types::{BucketCannedAcl, BucketLocationConstraint, CreateBucketConfiguration, Permission};

use crate::common::sdk::client;
use crate::common::{bucket_name, expect_sdk_err, xml_all, Ctx, Req, Server, ServerOptions};

#[tokio::test]
async fn create_bucket_without_body_then_head_and_location() {
    let server = Server::start().await;
    let s3 = client(&server);
    let bucket = bucket_name("plain");

    let resp = Req::new(&server, "PUT", &format!("/{bucket}")).send().await;
    resp.assert_status(200);
    assert_eq!(resp.header("location"), Some(format!("/{bucket}").as_str()), "Location of a new bucket");
    assert!(resp.header("x-amz-request-id").is_some());

    s3.head_bucket().bucket(&bucket).send().await.expect("head existing bucket");
    let head = Req::new(&server, "HEAD", &format!("/{bucket}")).send().await;
    head.assert_status(200);
    assert_eq!(head.header("x-amz-bucket-region"), Some("us-east-1"));

    let location = s3.get_bucket_location().bucket(&bucket).send().await.expect("get location");
    // AWS answers an empty LocationConstraint for us-east-1; "us-east-1" is also understood by SDKs.
    let constraint = location.location_constraint().map(|c| c.as_str().to_string()).unwrap_or_default();
    assert!(constraint.is_empty() || constraint == "us-east-1", "location constraint {constraint:?}");
}

#[tokio::test]
async fn create_bucket_with_configuration_body() {
    let server = Server::start().await;
    let s3 = client(&server);

    // A configuration without LocationConstraint means the default region.
    let bucket = bucket_name("withcfg");
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CreateBucketConfiguration>"#;
    Req::new(&server, "PUT", &format!("/{bucket}")).body(body).send().await.assert_status(200);
    s3.head_bucket().bucket(&bucket).send().await.expect("bucket exists");
    let bucket_sdk = bucket_name("withcfg-sdk");
    s3.create_bucket()
        .bucket(&bucket_sdk)
        .create_bucket_configuration(CreateBucketConfiguration::builder().build())
        .send()
        .await
        .expect("create with an empty CreateBucketConfiguration");
    s3.head_bucket().bucket(&bucket_sdk).send().await.expect("bucket exists");

    // LocationConstraint naming the server's own region is accepted (real AWS
    // answers InvalidLocationConstraint for us-east-1; Coffer treats its region
    // uniformly, as the brief asks).
    let bucket_explicit = bucket_name("withcfg-east");
    s3.create_bucket()
        .bucket(&bucket_explicit)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from("us-east-1"))
                .build(),
        )
        .send()
        .await
        .expect("create with LocationConstraint us-east-1");
    s3.head_bucket().bucket(&bucket_explicit).send().await.expect("bucket exists");
    let bucket_raw = bucket_name("withcfg-east-raw");
    let body =
        "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>";
    Req::new(&server, "PUT", &format!("/{bucket_raw}")).body(body).send().await.assert_status(200);
    s3.head_bucket().bucket(&bucket_raw).send().await.expect("bucket exists");
}

#[tokio::test]
async fn create_bucket_in_another_region_is_rejected() {
    let server = Server::start().await;
    let bucket = bucket_name("otherregion");
    let body =
        "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
    let resp = Req::new(&server, "PUT", &format!("/{bucket}")).body(body).send().await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    let code = resp.code().unwrap_or_default();
    assert!(code == "IllegalLocationConstraintException" || code == "InvalidLocationConstraint", "code {code:?}");
    Req::new(&server, "HEAD", &format!("/{bucket}")).send().await.assert_status(404);
}

#[tokio::test]
async fn recreating_an_owned_bucket_in_us_east_1_is_200_and_resets_its_acl() {
    // AWS's legacy us-east-1 rule (elsewhere BucketAlreadyOwnedByYou).
    let server = Server::start_with(ServerOptions {
        extra_args: vec!["--new-bucket-defaults".into(), "legacy".into()],
        ..ServerOptions::default()
    })
    .await;
    let s3 = client(&server);
    let bucket = bucket_name("dup");
    s3.create_bucket().bucket(&bucket).acl(BucketCannedAcl::PublicRead).send().await.expect("create");
    s3.put_object().bucket(&bucket).key("keep").body(b"still here".to_vec().into()).send().await.expect("put");
    s3.create_bucket().bucket(&bucket).send().await.expect("re-create answers 200");
    let resp = Req::new(&server, "PUT", &format!("/{bucket}")).send().await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // The content is untouched; the ACL is the new request's (private).
    let got = s3.get_object().bucket(&bucket).key("keep").send().await.expect("get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"still here");
    let acl = s3.get_bucket_acl().bucket(&bucket).send().await.expect("acl");
    assert_eq!(acl.grants().len(), 1, "{acl:?}");
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::FullControl));
}

#[tokio::test]
async fn invalid_bucket_names_are_rejected() {
    let server = Server::start().await;
    let names = [
        "ab".to_string(),               // too short
        "a".repeat(64),                 // too long
        "UpperCase-bucket".to_string(), // uppercase
        "under_score".to_string(),      // underscore
        "192.168.5.4".to_string(),      // IP address
        "-leading-dash".to_string(),    // must start with a letter or digit
        "trailing-dash-".to_string(),   // must end with a letter or digit
        "double..dots".to_string(),     // adjacent periods
    ];
    for name in &names {
        let resp = Req::new(&server, "PUT", &format!("/{name}")).send().await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("InvalidBucketName")),
            "bucket name {name:?}: {}",
            resp.text()
        );
    }
    // Nothing was created.
    let list = Req::new(&server, "GET", "/").send().await;
    list.assert_status(200);
    assert!(xml_all(&list.text(), "Name").is_empty(), "no buckets: {}", list.text());
    // Boundary lengths are valid.
    for name in ["abc".to_string(), "a".repeat(63)] {
        Req::new(&server, "PUT", &format!("/{name}")).send().await.assert_status(200);
    }
}

#[tokio::test]
async fn head_missing_bucket_is_404_without_body() {
    let server = Server::start().await;
    let resp = Req::new(&server, "HEAD", "/no-such-bucket-here").send().await;
    assert_eq!(resp.status, 404);
    assert!(resp.body.is_empty());
    assert!(resp.header("x-amz-request-id").is_some());
    let s3 = client(&server);
    let err = s3.head_bucket().bucket("no-such-bucket-here").send().await.expect_err("missing bucket");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert!(err.into_service_error().is_not_found());
}

#[tokio::test]
async fn list_buckets_sorted_with_prefix_and_pagination() {
    let server = Server::start().await;
    let s3 = client(&server);
    let tag = bucket_name("lb");
    let mut names: Vec<String> = ["c", "a", "b", "d"].iter().map(|s| format!("{tag}-{s}")).collect();
    names.push(format!("other-{tag}"));
    for name in &names {
        s3.create_bucket().bucket(name).send().await.expect("create");
    }
    names.sort();

    let all = s3.list_buckets().send().await.expect("list buckets");
    let listed: Vec<String> = all.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
    assert_eq!(listed, names, "all buckets, sorted by name");
    assert!(all.buckets().iter().all(|b| b.creation_date().is_some()), "creation dates");
    assert!(all.owner().and_then(|o| o.id()).is_some(), "owner id");

    let prefixed = s3.list_buckets().prefix(format!("{tag}-")).send().await.expect("list with prefix");
    let listed: Vec<&str> = prefixed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(
        listed,
        names.iter().filter(|n| n.starts_with(&format!("{tag}-"))).map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(prefixed.prefix(), Some(format!("{tag}-").as_str()));

    // Pages of two with continuation tokens.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s3.list_buckets().max_buckets(2).set_continuation_token(token.clone()).send().await.expect("page");
        pages += 1;
        assert!(page.buckets().len() <= 2, "max-buckets respected");
        seen.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_string)));
        match page.continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination terminates");
    }
    assert_eq!(seen, names, "pages concatenate to the full sorted list");
    assert_eq!(pages, 3, "5 buckets in pages of 2");
}

#[tokio::test]
async fn delete_bucket_empty_nonempty_missing() {
    let ctx = Ctx::new("del").await;
    ctx.put("obj", b"x".to_vec()).await;

    let resp = Req::new(&ctx.server, "DELETE", &format!("/{}", ctx.bucket)).send().await;
    resp.assert_error(409, "BucketNotEmpty");
    assert!(ctx.exists("obj").await, "object survives a refused bucket delete");
    expect_sdk_err(ctx.s3.delete_bucket().bucket(&ctx.bucket).send().await, 409, "BucketNotEmpty");

    ctx.s3.delete_object().bucket(&ctx.bucket).key("obj").send().await.expect("delete object");
    let resp = Req::new(&ctx.server, "DELETE", &format!("/{}", ctx.bucket)).send().await;
    resp.assert_status(204);
    assert!(resp.body.is_empty());
    Req::new(&ctx.server, "HEAD", &format!("/{}", ctx.bucket)).send().await.assert_status(404);

    let resp = Req::new(&ctx.server, "DELETE", &format!("/{}", ctx.bucket)).send().await;
    resp.assert_error(404, "NoSuchBucket");
    expect_sdk_err(ctx.s3.delete_bucket().bucket(&ctx.bucket).send().await, 404, "NoSuchBucket");

    // The name can be reused.
    ctx.s3.create_bucket().bucket(&ctx.bucket).send().await.expect("re-create");
    let listing = ctx.s3.list_objects_v2().bucket(&ctx.bucket).send().await.expect("list");
    assert_eq!(listing.key_count(), Some(0), "a re-created bucket starts empty");
}

#[tokio::test]
async fn operations_on_missing_bucket_are_no_such_bucket() {
    let server = Server::start().await;
    let s3 = client(&server);
    let missing = bucket_name("missing");
    expect_sdk_err(s3.list_objects_v2().bucket(&missing).send().await, 404, "NoSuchBucket");
    expect_sdk_err(s3.get_bucket_location().bucket(&missing).send().await, 404, "NoSuchBucket");
    expect_sdk_err(
        s3.put_object().bucket(&missing).key("k").body(b"x".to_vec().into()).send().await,
        404,
        "NoSuchBucket",
    );
    expect_sdk_err(s3.get_object().bucket(&missing).key("k").send().await, 404, "NoSuchBucket");
}

/// As AWS: multipart uploads in progress do not keep a bucket from being deleted.
#[tokio::test]
async fn delete_bucket_with_an_upload_in_progress() {
    let ctx = Ctx::new("del-mpu").await;
    let up = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("big").send().await.expect("create upload");
    ctx.s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key("big")
        .upload_id(up.upload_id().expect("id"))
        .part_number(1)
        .body(vec![1u8; 200_000].into())
        .send()
        .await
        .expect("part");
    ctx.s3.delete_bucket().bucket(&ctx.bucket).send().await.expect("delete bucket");
    ctx.s3.create_bucket().bucket(&ctx.bucket).send().await.expect("recreate");
    let uploads = ctx.s3.list_multipart_uploads().bucket(&ctx.bucket).send().await.expect("uploads");
    assert!(uploads.uploads().is_empty(), "the upload went with the old bucket");
}
