//! IAM users end to end: users and keys made with `aws iam` against Coffer,
//! then their S3 requests through aws-sdk-s3, presigned URLs and raw requests.

use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::server::{ACCESS_KEY, REGION, SECRET_KEY};
use crate::common::{client_with, expect_sdk_err, sdk_err, send, Ctx, Server};

/// Runs `aws iam ARGS --output json` as the root user against `server`.
pub fn aws_iam(server: &Server, args: &[&str]) -> Result<serde_json::Value, String> {
    aws_iam_with(server, (ACCESS_KEY, SECRET_KEY), args)
}

/// Runs `aws iam ARGS --output json` with the given (access key, secret); the
/// JSON printed, or stderr on failure.
pub fn aws_iam_with(server: &Server, creds: (&str, &str), args: &[&str]) -> Result<serde_json::Value, String> {
    let output = Command::new("aws")
        .arg("iam")
        .args(args)
        .args(["--endpoint-url", &server.endpoint(), "--region", REGION, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", creds.0)
        .env("AWS_SECRET_ACCESS_KEY", creds.1)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .map_err(|e| format!("cannot run aws: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("aws printed no JSON ({e}): {text}"))
}

/// Creates a user with one access key; returns (access key id, secret).
pub fn create_user(server: &Server, name: &str) -> (String, String) {
    aws_iam(server, &["create-user", "--user-name", name]).expect("create-user");
    let key = aws_iam(server, &["create-access-key", "--user-name", name]).expect("create-access-key");
    let ak = key["AccessKey"]["AccessKeyId"].as_str().expect("key id").to_string();
    let sk = key["AccessKey"]["SecretAccessKey"].as_str().expect("secret").to_string();
    (ak, sk)
}

fn put_user_policy(server: &Server, user: &str, name: &str, document: &str) {
    aws_iam(server, &["put-user-policy", "--user-name", user, "--policy-name", name, "--policy-document", document])
        .expect("put-user-policy");
}

#[tokio::test]
async fn a_user_without_policy_is_denied_everything() {
    let ctx = Ctx::new("user-nopolicy").await;
    ctx.put("k", b"v".to_vec()).await;
    let (ak, sk) = create_user(&ctx.server, "bob");
    let bob = client_with(&ctx.server, &ak, &sk);
    expect_sdk_err(bob.list_buckets().send().await, 403, "AccessDenied");
    expect_sdk_err(bob.get_object().bucket(&ctx.bucket).key("k").send().await, 403, "AccessDenied");
    assert_eq!(sdk_err(bob.head_object().bucket(&ctx.bucket).key("k").send().await).0, 403);
    expect_sdk_err(
        bob.put_object().bucket(&ctx.bucket).key("k").body(b"x".to_vec().into()).send().await,
        403,
        "AccessDenied",
    );
    expect_sdk_err(bob.delete_object().bucket(&ctx.bucket).key("k").send().await, 403, "AccessDenied");
    expect_sdk_err(bob.list_objects_v2().bucket(&ctx.bucket).send().await, 403, "AccessDenied");
    expect_sdk_err(bob.create_bucket().bucket("bob-bucket").send().await, 403, "AccessDenied");
    expect_sdk_err(bob.get_bucket_policy().bucket(&ctx.bucket).send().await, 403, "AccessDenied");
    assert_eq!(ctx.get_bytes("k").await, b"v", "nothing changed");
}

/// A policy granting a user its own home prefix, written with `${aws:username}`.
const HOME_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ListHome", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET",
     "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}},
    {"Sid": "RWHome", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": "arn:aws:s3:::BUCKET/home/${aws:username}/*"}
  ]
}"#;

#[tokio::test]
async fn a_user_policy_grants_one_prefix_only() {
    let ctx = Ctx::new("user-prefix").await;
    ctx.put("home/bob/secret", b"bob's".to_vec()).await;
    let (ak, sk) = create_user(&ctx.server, "alice");
    put_user_policy(&ctx.server, "alice", "home", &HOME_POLICY.replace("BUCKET", &ctx.bucket));
    let alice = client_with(&ctx.server, &ak, &sk);
    alice
        .put_object()
        .bucket(&ctx.bucket)
        .key("home/alice/notes.txt")
        .body(b"mine".to_vec().into())
        .send()
        .await
        .expect("write own prefix");
    let got = alice.get_object().bucket(&ctx.bucket).key("home/alice/notes.txt").send().await.expect("read own");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"mine");
    let listed = alice.list_objects_v2().bucket(&ctx.bucket).prefix("home/alice/").send().await.expect("list own");
    assert_eq!(listed.contents().len(), 1);
    expect_sdk_err(alice.list_objects_v2().bucket(&ctx.bucket).send().await, 403, "AccessDenied");
    expect_sdk_err(alice.list_objects_v2().bucket(&ctx.bucket).prefix("home/bob/").send().await, 403, "AccessDenied");
    expect_sdk_err(alice.get_object().bucket(&ctx.bucket).key("home/bob/secret").send().await, 403, "AccessDenied");
    expect_sdk_err(
        alice.put_object().bucket(&ctx.bucket).key("home/bob/evil").body(b"x".to_vec().into()).send().await,
        403,
        "AccessDenied",
    );
    expect_sdk_err(alice.delete_object().bucket(&ctx.bucket).key("home/bob/secret").send().await, 403, "AccessDenied");
    // A missing key: 404 where she may list a prefix that is the key (as AWS
    // decides it, with s3:prefix = the key), 403 elsewhere.
    expect_sdk_err(alice.get_object().bucket(&ctx.bucket).key("home/alice/none").send().await, 404, "NoSuchKey");
    expect_sdk_err(alice.get_object().bucket(&ctx.bucket).key("home/bob/none").send().await, 403, "AccessDenied");

    // Presigned URLs carry the signer's permissions.
    let presign = PresigningConfig::expires_in(Duration::from_secs(300)).expect("presign config");
    let own = alice
        .get_object()
        .bucket(&ctx.bucket)
        .key("home/alice/notes.txt")
        .presigned(presign.clone())
        .await
        .expect("presign");
    let other =
        alice.get_object().bucket(&ctx.bucket).key("home/bob/secret").presigned(presign).await.expect("presign");
    let request = |p: &aws_sdk_s3::presigning::PresignedRequest| {
        let mut b = http::Request::builder().method("GET").uri(p.uri());
        for (k, v) in p.headers() {
            b = b.header(k, v);
        }
        b.body(bytes::Bytes::new()).expect("request")
    };
    let resp = send(ctx.server.s3_addr, request(&own)).await;
    resp.assert_status(200);
    assert_eq!(&resp.body[..], b"mine");
    send(ctx.server.s3_addr, request(&other)).await.assert_error(403, "AccessDenied");
    assert_eq!(ctx.get_bytes("home/bob/secret").await, b"bob's");
}

#[tokio::test]
async fn a_bucket_policy_can_grant_a_user_and_a_deny_beats_the_user_policy() {
    let ctx = Ctx::new("user-bucket-policy").await;
    ctx.put("shared/report", b"r".to_vec()).await;
    ctx.put("shared/private", b"p".to_vec()).await;
    let (ak, sk) = create_user(&ctx.server, "carol");
    let user = aws_iam(&ctx.server, &["get-user", "--user-name", "carol"]).expect("get-user");
    let arn = user["User"]["Arn"].as_str().expect("arn").to_string();
    let carol = client_with(&ctx.server, &ak, &sk);
    expect_sdk_err(carol.get_object().bucket(&ctx.bucket).key("shared/report").send().await, 403, "AccessDenied");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/shared/*"}},
            {{"Effect":"Deny","Principal":{{"AWS":"{arn}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/shared/private"}}]}}"#,
        b = ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(policy).send().await.expect("bucket policy");
    carol.get_object().bucket(&ctx.bucket).key("shared/report").send().await.expect("granted by the bucket policy");
    // Even an identity policy allowing everything does not beat the explicit Deny.
    put_user_policy(
        &ctx.server,
        "carol",
        "all",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    expect_sdk_err(carol.get_object().bucket(&ctx.bucket).key("shared/private").send().await, 403, "AccessDenied");
    carol.list_buckets().send().await.expect("s3:* allows ListBuckets");
}

#[tokio::test]
async fn inactive_and_deleted_keys_stop_working_at_once() {
    let ctx = Ctx::new("user-keys").await;
    let (ak, sk) = create_user(&ctx.server, "dave");
    put_user_policy(
        &ctx.server,
        "dave",
        "list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
    );
    let dave = client_with(&ctx.server, &ak, &sk);
    dave.list_buckets().send().await.expect("works while active");
    aws_iam(&ctx.server, &["update-access-key", "--user-name", "dave", "--access-key-id", &ak, "--status", "Inactive"])
        .expect("deactivate");
    expect_sdk_err(dave.list_buckets().send().await, 403, "InvalidAccessKeyId");
    aws_iam(&ctx.server, &["update-access-key", "--user-name", "dave", "--access-key-id", &ak, "--status", "Active"])
        .expect("activate");
    dave.list_buckets().send().await.expect("works again");
    aws_iam(&ctx.server, &["delete-access-key", "--user-name", "dave", "--access-key-id", &ak]).expect("delete key");
    expect_sdk_err(dave.list_buckets().send().await, 403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn only_root_or_an_iam_policy_may_manage_users() {
    let server = Server::start().await;
    let (ak, sk) = create_user(&server, "erin");
    let as_erin = |args: &[&str]| {
        Command::new("aws")
            .arg("iam")
            .args(args)
            .args(["--endpoint-url", &server.endpoint(), "--region", REGION, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", &ak)
            .env("AWS_SECRET_ACCESS_KEY", &sk)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run aws")
    };
    let denied = as_erin(&["create-user", "--user-name", "mallory"]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("AccessDenied"), "{denied:?}");
    put_user_policy(
        &server,
        "erin",
        "iam-admin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    );
    let allowed = as_erin(&["create-user", "--user-name", "frank"]);
    assert!(allowed.status.success(), "{allowed:?}");
}
