//! Additional accounts: created with `coffer admin account`, each a separate
//! owner of buckets and objects. Across accounts, access needs a bucket
//! policy or an ACL naming the other account, as on AWS.

use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, ObjectOwnership};

use crate::common::{bucket_name, client_with, expect_sdk_err, Ctx, Server};
use crate::ops::{cli, options};

use super::users::aws_iam_with;

struct Account {
    access_key: String,
    secret_key: String,
    account_id: String,
    canonical_id: String,
}

fn create_account(server: &Server, name: &str, email: &str) -> Account {
    let (code, json, stderr) = cli(server, &["account", "create", name, "--email", email]);
    assert_eq!(code, 0, "account create: {stderr}");
    let field = |f: &str| json[f].as_str().unwrap_or_else(|| panic!("{f} in {json}")).to_string();
    Account {
        access_key: field("access_key_id"),
        secret_key: field("secret_access_key"),
        account_id: field("account_id"),
        canonical_id: field("canonical_id"),
    }
}

#[tokio::test]
async fn accounts_own_their_buckets_and_see_nothing_of_each_other() {
    let ctx = Ctx::with_options("acct-own", options(&[])).await;
    ctx.put("private", b"main's data".to_vec()).await;
    let alt = create_account(&ctx.server, "alt", "alt@example.com");
    assert_eq!(alt.account_id.len(), 12);
    let alt_s3 = client_with(&ctx.server, &alt.access_key, &alt.secret_key);

    // ListBuckets shows the caller's own buckets, owned by its account.
    let listed = alt_s3.list_buckets().send().await.expect("alt lists");
    assert!(listed.buckets().is_empty(), "{:?}", listed.buckets());
    assert_eq!(listed.owner().and_then(|o| o.id()), Some(alt.canonical_id.as_str()));
    assert_eq!(listed.owner().and_then(|o| o.display_name()), Some("alt"));

    // Another account's private bucket and object are refused.
    expect_sdk_err(alt_s3.get_object().bucket(&ctx.bucket).key("private").send().await, 403, "AccessDenied");
    expect_sdk_err(alt_s3.list_objects_v2().bucket(&ctx.bucket).send().await, 403, "AccessDenied");
    expect_sdk_err(
        alt_s3.put_object().bucket(&ctx.bucket).key("x").body(b"x".to_vec().into()).send().await,
        403,
        "AccessDenied",
    );
    expect_sdk_err(alt_s3.delete_bucket().bucket(&ctx.bucket).send().await, 403, "AccessDenied");

    // The bucket namespace is shared: taken by another account (yours: 200 in us-east-1).
    expect_sdk_err(alt_s3.create_bucket().bucket(&ctx.bucket).send().await, 409, "BucketAlreadyExists");

    // alt's own bucket: main does not list it and cannot read from it.
    let alt_bucket = bucket_name("acct-alt");
    alt_s3.create_bucket().bucket(&alt_bucket).send().await.expect("alt creates a bucket");
    alt_s3
        .put_object()
        .bucket(&alt_bucket)
        .key("a")
        .body(b"alt's data".to_vec().into())
        .send()
        .await
        .expect("alt writes");
    let main_list = ctx.s3.list_buckets().send().await.expect("main lists");
    let names: Vec<&str> = main_list.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, [ctx.bucket.as_str()]);
    let alt_names: Vec<String> = alt_s3
        .list_buckets()
        .send()
        .await
        .expect("alt lists")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(alt_names, [alt_bucket.clone()]);
    expect_sdk_err(ctx.s3.get_object().bucket(&alt_bucket).key("a").send().await, 403, "AccessDenied");

    // A bucket policy naming alt's account lets it read, and only read.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*"}}]}}"#,
        alt.account_id, ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(policy).send().await.expect("put policy");
    let got = alt_s3.get_object().bucket(&ctx.bucket).key("private").send().await.expect("granted read");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"main's data");
    expect_sdk_err(alt_s3.list_objects_v2().bucket(&ctx.bucket).send().await, 403, "AccessDenied");
    expect_sdk_err(alt_s3.delete_object().bucket(&ctx.bucket).key("private").send().await, 403, "AccessDenied");

    // The IAM API manages the installation's own account only.
    let refused =
        aws_iam_with(&ctx.server, (&alt.access_key, &alt.secret_key), &["create-user", "--user-name", "mallory"]);
    assert!(matches!(&refused, Err(e) if e.contains("AccessDenied")), "alt may not create users here: {refused:?}");

    // The accounts are listed; one that still owns a bucket is not deleted.
    let (code, json, _) = cli(&ctx.server, &["account", "list"]);
    assert_eq!(code, 0);
    let listed: Vec<&str> = json.as_array().expect("array").iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(listed, ["root", "alt"]);
    let (code, _, stderr) = cli(&ctx.server, &["account", "delete", "alt"]);
    assert_ne!(code, 0, "an account owning a bucket is kept");
    assert!(stderr.contains("409"), "{stderr}");
    alt_s3.delete_object().bucket(&alt_bucket).key("a").send().await.expect("alt deletes its object");
    alt_s3.delete_bucket().bucket(&alt_bucket).send().await.expect("alt deletes its bucket");
    let (code, _, stderr) = cli(&ctx.server, &["account", "delete", "alt"]);
    assert_eq!(code, 0, "{stderr}");
    expect_sdk_err(alt_s3.list_buckets().send().await, 403, "InvalidAccessKeyId");
    let (code, _, _) = cli(&ctx.server, &["account", "create", "ROOT"]);
    assert_ne!(code, 0, "the installation's own account name is taken");
}

#[tokio::test]
async fn acl_grants_reach_another_account_and_object_writers_own_their_objects() {
    let ctx = Ctx::with_options("acct-acl", options(&["--new-bucket-defaults", "legacy"])).await;
    let alt = create_account(&ctx.server, "alt", "alt@example.com");
    let alt_s3 = client_with(&ctx.server, &alt.access_key, &alt.secret_key);
    let main_id = ctx.s3.list_buckets().send().await.expect("list").owner().and_then(|o| o.id()).unwrap().to_string();

    // A read grant to alt's canonical id, and one by its e-mail address.
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("by-id")
        .grant_read(format!("id={}", alt.canonical_id))
        .body(b"one".to_vec().into())
        .send()
        .await
        .expect("put with grant");
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("by-email")
        .grant_read("emailAddress=alt@example.com")
        .body(b"two".to_vec().into())
        .send()
        .await
        .expect("put with email grant");
    ctx.put("ungranted", b"three".to_vec()).await;
    for key in ["by-id", "by-email"] {
        alt_s3.get_object().bucket(&ctx.bucket).key(key).send().await.expect("granted object");
        let acl = ctx.s3.get_object_acl().bucket(&ctx.bucket).key(key).send().await.expect("acl");
        let grantee = acl
            .grants()
            .iter()
            .filter_map(|g| g.grantee())
            .find(|g| g.id() == Some(alt.canonical_id.as_str()))
            .unwrap_or_else(|| panic!("{key}: grant to alt in {:?}", acl.grants()));
        assert_eq!(grantee.display_name(), Some("alt"));
    }
    expect_sdk_err(alt_s3.get_object().bucket(&ctx.bucket).key("ungranted").send().await, 403, "AccessDenied");

    // A bucket WRITE grant lets alt write; under ObjectWriter alt owns what it
    // writes, and the bucket owner cannot read it without a grant.
    ctx.s3
        .put_bucket_acl()
        .bucket(&ctx.bucket)
        .grant_write(format!("id={}", alt.canonical_id))
        .grant_full_control(format!("id={main_id}"))
        .send()
        .await
        .expect("bucket write grant");
    alt_s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("alt-private")
        .body(b"alt's".to_vec().into())
        .send()
        .await
        .expect("alt writes with the grant");
    let acl = alt_s3.get_object_acl().bucket(&ctx.bucket).key("alt-private").send().await.expect("alt reads its acl");
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(alt.canonical_id.as_str()));
    expect_sdk_err(ctx.s3.get_object().bucket(&ctx.bucket).key("alt-private").send().await, 403, "AccessDenied");
    // The same write with bucket-owner-full-control (the WRITE grant is all it
    // needs, as on AWS): the bucket owner can read it.
    alt_s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("alt-shared")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(b"shared".to_vec().into())
        .send()
        .await
        .expect("alt writes with bucket-owner-full-control");
    ctx.s3.get_object().bucket(&ctx.bucket).key("alt-shared").send().await.expect("the bucket owner reads it");
    // An upload alt starts there: alt is its initiator and the object's owner,
    // in ListMultipartUploads and in ListParts.
    let upload = alt_s3.create_multipart_upload().bucket(&ctx.bucket).key("alt-upload").send().await.expect("create");
    let upload_id = upload.upload_id().expect("UploadId");
    let uploads = ctx.s3.list_multipart_uploads().bucket(&ctx.bucket).send().await.expect("owner lists uploads");
    let listed = uploads.uploads().iter().find(|u| u.upload_id() == Some(upload_id)).expect("alt's upload listed");
    assert_eq!(listed.initiator().and_then(|i| i.id()), Some(alt.canonical_id.as_str()));
    assert_eq!(listed.initiator().and_then(|i| i.display_name()), Some("alt"));
    assert_eq!(listed.owner().and_then(|o| o.id()), Some(alt.canonical_id.as_str()));
    let parts = alt_s3
        .list_parts()
        .bucket(&ctx.bucket)
        .key("alt-upload")
        .upload_id(upload_id)
        .send()
        .await
        .expect("alt lists its parts");
    assert_eq!(parts.initiator().and_then(|i| i.id()), Some(alt.canonical_id.as_str()));
    assert_eq!(parts.owner().and_then(|o| o.id()), Some(alt.canonical_id.as_str()));
    alt_s3
        .abort_multipart_upload()
        .bucket(&ctx.bucket)
        .key("alt-upload")
        .upload_id(upload_id)
        .send()
        .await
        .expect("abort");

    // x-amz-expected-bucket-owner: the right account passes, another is refused.
    let main_account = main_account_id(&ctx.server);
    ctx.s3.head_bucket().bucket(&ctx.bucket).expected_bucket_owner(&main_account).send().await.expect("owner matches");
    expect_sdk_err(
        alt_s3
            .put_object()
            .bucket(&ctx.bucket)
            .key("k")
            .expected_bucket_owner(&alt.account_id)
            .body(b"k".to_vec().into())
            .send()
            .await,
        403,
        "AccessDenied",
    );
    expect_sdk_err(
        ctx.s3.list_objects_v2().bucket(&ctx.bucket).expected_bucket_owner(&alt.account_id).send().await,
        403,
        "AccessDenied",
    );

    // BucketOwnerEnforced: whatever alt writes belongs to the bucket owner.
    let enforced = bucket_name("acct-enforced");
    ctx.s3
        .create_bucket()
        .bucket(&enforced)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .expect("enforced bucket");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{}/*"}}]}}"#,
        alt.account_id, enforced
    );
    ctx.s3.put_bucket_policy().bucket(&enforced).policy(policy).send().await.expect("policy");
    alt_s3.put_object().bucket(&enforced).key("k").body(b"k".to_vec().into()).send().await.expect("alt writes");
    let acl = ctx.s3.get_object_acl().bucket(&enforced).key("k").send().await.expect("owner reads acl");
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(main_id.as_str()));
    ctx.s3.get_object().bucket(&enforced).key("k").send().await.expect("the bucket owner reads it");
    expect_sdk_err(alt_s3.get_object().bucket(&enforced).key("k").send().await, 403, "AccessDenied");
    // ACLs are disabled there: only bucket-owner-full-control (or none) is
    // accepted on writes, and ACLs cannot be set afterwards.
    alt_s3
        .put_object()
        .bucket(&enforced)
        .key("k2")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(b"k".to_vec().into())
        .send()
        .await
        .expect("bucket-owner-full-control is accepted");
    expect_sdk_err(
        alt_s3
            .put_object()
            .bucket(&enforced)
            .key("k3")
            .acl(ObjectCannedAcl::Private)
            .body(b"k".to_vec().into())
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
    );
    expect_sdk_err(
        ctx.s3.put_object_acl().bucket(&enforced).key("k").acl(ObjectCannedAcl::BucketOwnerFullControl).send().await,
        400,
        "AccessControlListNotSupported",
    );
    expect_sdk_err(
        ctx.s3.put_bucket_acl().bucket(&enforced).acl(BucketCannedAcl::Private).send().await,
        400,
        "AccessControlListNotSupported",
    );
}

/// The account id of the installation's own account (`coffer admin account list`).
fn main_account_id(server: &Server) -> String {
    let (code, json, stderr) = cli(server, &["account", "list"]);
    assert_eq!(code, 0, "account list: {stderr}");
    json[0]["account_id"].as_str().unwrap_or_else(|| panic!("account_id in {json}")).to_string()
}
