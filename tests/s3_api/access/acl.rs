//! ACLs and Object Ownership.

use aws_sdk_s3::types::{
    BucketCannedAcl, ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration,
};

use super::{allow_public, anonymous_get};
use crate::common::{bucket_name, client, expect_sdk_err, Ctx, Req, Server};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

#[tokio::test]
async fn public_acls_are_refused_while_acls_are_disabled() {
    let ctx = Ctx::new("acl-enforced").await;
    expect_sdk_err(
        ctx.s3
            .put_object()
            .bucket(&ctx.bucket)
            .key("k")
            .acl(ObjectCannedAcl::PublicRead)
            .body(b"x".to_vec().into())
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
    );
    ctx.assert_absent("k").await;
    // The one ACL BucketOwnerEnforced accepts.
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(b"x".to_vec().into())
        .send()
        .await
        .expect("bucket-owner-full-control is accepted");
    expect_sdk_err(
        ctx.s3.put_bucket_acl().bucket(&ctx.bucket).acl(BucketCannedAcl::PublicRead).send().await,
        400,
        "AccessControlListNotSupported",
    );
    let acl = ctx.s3.get_object_acl().bucket(&ctx.bucket).key("k").send().await.expect("get object acl");
    let grants = acl.grants();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].permission().map(|p| p.as_str()), Some("FULL_CONTROL"));
    let owner = acl.owner().and_then(|o| o.id()).expect("owner id");
    assert_eq!(grants[0].grantee().and_then(|g| g.id()), Some(owner));
    // CreateBucket with a public ACL and no ownership header: the default (enforced) refuses it.
    let name = bucket_name("acl-create");
    expect_sdk_err(
        ctx.s3.create_bucket().bucket(&name).acl(BucketCannedAcl::PublicRead).send().await,
        400,
        "InvalidBucketAclWithObjectOwnership",
    );
}

async fn object_writer_bucket(server: &Server, tag: &str) -> (aws_sdk_s3::Client, String) {
    let s3 = client(server);
    let bucket = bucket_name(tag);
    s3.create_bucket()
        .bucket(&bucket)
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .expect("create ObjectWriter bucket");
    (s3, bucket)
}

#[tokio::test]
async fn object_acls_grant_and_revoke_anonymous_reads() {
    let ctx = Ctx::new("acl-object").await;
    let (s3, bucket) = object_writer_bucket(&ctx.server, "acl-writer").await;
    let ctx = Ctx { server: ctx.server, s3, bucket };
    // Block Public Access is on for the new bucket: a public ACL is refused.
    expect_sdk_err(
        ctx.s3
            .put_object()
            .bucket(&ctx.bucket)
            .key("pub")
            .acl(ObjectCannedAcl::PublicRead)
            .body(b"data".to_vec().into())
            .send()
            .await,
        403,
        "AccessDenied",
    );
    allow_public(&ctx).await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("pub")
        .acl(ObjectCannedAcl::PublicRead)
        .body(b"data".to_vec().into())
        .send()
        .await
        .expect("public-read object");
    let got = anonymous_get(&ctx, "pub").await;
    got.assert_status(200);
    assert_eq!(&got.body[..], b"data");
    let acl = ctx.s3.get_object_acl().bucket(&ctx.bucket).key("pub").send().await.expect("acl");
    assert!(
        acl.grants().iter().any(|g| g.grantee().and_then(|g| g.uri()) == Some(ALL_USERS)
            && g.permission().map(|p| p.as_str()) == Some("READ")),
        "{:?}",
        acl.grants()
    );
    // A private object next to it stays private.
    ctx.put("private", b"p".to_vec()).await;
    anonymous_get(&ctx, "private").await.assert_error(403, "AccessDenied");

    // IgnorePublicAcls: the ACL stays, but no longer counts.
    ctx.s3
        .put_public_access_block()
        .bucket(&ctx.bucket)
        .public_access_block_configuration(PublicAccessBlockConfiguration::builder().ignore_public_acls(true).build())
        .send()
        .await
        .expect("ignore public acls");
    anonymous_get(&ctx, "pub").await.assert_error(403, "AccessDenied");
    allow_public(&ctx).await;
    anonymous_get(&ctx, "pub").await.assert_status(200);

    // PutObjectAcl private revokes it; the data is untouched.
    ctx.s3
        .put_object_acl()
        .bucket(&ctx.bucket)
        .key("pub")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .expect("make private");
    anonymous_get(&ctx, "pub").await.assert_error(403, "AccessDenied");
    assert_eq!(ctx.get_bytes("pub").await, b"data");

    // Switching to BucketOwnerEnforced disables the ACLs.
    ctx.s3
        .put_object_acl()
        .bucket(&ctx.bucket)
        .key("pub")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .expect("public again");
    anonymous_get(&ctx, "pub").await.assert_status(200);
    ctx.s3
        .put_bucket_ownership_controls()
        .bucket(&ctx.bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("controls"),
        )
        .send()
        .await
        .expect("enforce ownership");
    anonymous_get(&ctx, "pub").await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn bucket_acl_xml_round_trip_and_errors() {
    let server = Server::start().await;
    let (s3, bucket) = object_writer_bucket(&server, "acl-bucket").await;
    s3.delete_public_access_block().bucket(&bucket).send().await.expect("allow public");
    let owner =
        s3.get_bucket_acl().bucket(&bucket).send().await.expect("acl").owner().and_then(|o| o.id().map(str::to_string));
    let owner = owner.expect("owner id");
    let body = format!(
        r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>{owner}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#
    );
    Req::new(&server, "PUT", &format!("/{bucket}?acl")).body(body.clone()).send().await.assert_status(200);
    let acl = s3.get_bucket_acl().bucket(&bucket).send().await.expect("get acl");
    assert_eq!(acl.grants().len(), 2, "{:?}", acl.grants());
    // AllUsers READ on the bucket: anyone may list it.
    Req::new(&server, "GET", &format!("/{bucket}?list-type=2")).send_anonymous().await.assert_status(200);
    // But not write to it.
    Req::new(&server, "PUT", &format!("/{bucket}/x"))
        .body(&b"x"[..])
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");

    let bad_permission = body.replace("<Permission>READ</Permission>", "<Permission>EVERYTHING</Permission>");
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .body(bad_permission)
        .send()
        .await
        .assert_error(400, "MalformedACLError");
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .body("<AccessControlPolicy>")
        .send()
        .await
        .assert_error(400, "MalformedACLError");
    let bad_id = body.replace(&format!("<ID>{owner}</ID></Grantee>"), "<ID>nobody</ID></Grantee>");
    Req::new(&server, "PUT", &format!("/{bucket}?acl")).body(bad_id).send().await.assert_error(400, "InvalidArgument");
    let email = body.replace(
        &format!(r#"xsi:type="CanonicalUser"><ID>{owner}</ID>"#),
        r#"xsi:type="AmazonCustomerByEmail"><EmailAddress>someone@example.com</EmailAddress>"#,
    );
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .body(email.clone())
        .send()
        .await
        .assert_error(400, "UnresolvableGrantByEmailAddress");
    // An address on record (a user's `email` tag) resolves to its account's canonical id, as on AWS.
    super::users::aws_iam(
        &server,
        &["create-user", "--user-name", "someone", "--tags", "Key=email,Value=someone@example.com"],
    )
    .expect("create-user with an email tag");
    Req::new(&server, "PUT", &format!("/{bucket}?acl")).body(email).send().await.assert_status(200);
    let acl = s3.get_bucket_acl().bucket(&bucket).send().await.expect("get acl");
    assert!(
        acl.grants()
            .iter()
            .all(|g| g.grantee().and_then(|g| g.id()).is_some() || g.grantee().and_then(|g| g.uri()).is_some()),
        "the e-mail grant is stored as a canonical user: {:?}",
        acl.grants()
    );
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .header("x-amz-acl", "public-read")
        .header("x-amz-grant-read", &format!("uri=\"{ALL_USERS}\""))
        .send()
        .await
        .assert_error(400, "InvalidRequest");
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .header("x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/Nobody\"")
        .send()
        .await
        .assert_error(400, "InvalidArgument");
    // Grant headers work too: replace with a private ACL given as a header grant.
    Req::new(&server, "PUT", &format!("/{bucket}?acl"))
        .header("x-amz-grant-full-control", &format!("id=\"{owner}\""))
        .send()
        .await
        .assert_status(200);
    Req::new(&server, "GET", &format!("/{bucket}?list-type=2"))
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");
}
