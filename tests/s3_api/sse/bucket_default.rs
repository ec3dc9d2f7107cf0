//! Default bucket encryption, the server-wide default, and the policy
//! condition `s3:x-amz-server-side-encryption`.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use super::{get, put, sse_options, Mode};
use crate::common::{sdk_err, test_data, Ctx, Req};

fn config(alg: ServerSideEncryption, key: Option<&str>) -> ServerSideEncryptionConfiguration {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(alg)
        .set_kms_master_key_id(key.map(str::to_string))
        .build()
        .expect("default");
    ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build())
        .build()
        .expect("config")
}

async fn head_sse(ctx: &Ctx, key: &str) -> Option<ServerSideEncryption> {
    let out = ctx.s3.head_object().bucket(&ctx.bucket).key(key).send().await.expect("head");
    out.server_side_encryption().cloned()
}

#[tokio::test]
async fn bucket_default_applies_to_writes_without_headers() {
    let ctx = Ctx::with_options("sse-default", sse_options(&[])).await;
    let missing = ctx.s3.get_bucket_encryption().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(missing), (404, Some("ServerSideEncryptionConfigurationNotFoundError".into())));
    let data = test_data(200_000, 3);
    ctx.put("before", data.clone()).await;
    assert_eq!(head_sse(&ctx, "before").await, None, "no default: stored in plaintext");

    ctx.s3
        .put_bucket_encryption()
        .bucket(&ctx.bucket)
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .expect("put encryption");
    let got = ctx.s3.get_bucket_encryption().bucket(&ctx.bucket).send().await.expect("get encryption");
    let rule = &got.server_side_encryption_configuration().expect("config").rules()[0];
    let alg = rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().clone());
    assert_eq!(alg, Some(ServerSideEncryption::Aes256));
    ctx.put("s3", data.clone()).await;
    assert_eq!(head_sse(&ctx, "s3").await, Some(ServerSideEncryption::Aes256));
    // Explicit headers win over the default.
    put(&ctx, "explicit-c", &data, &Mode::C([2; 32])).await;
    assert!(get(&ctx, "explicit-c", &Mode::C([2; 32]), None).await.0 == data);

    ctx.s3
        .put_bucket_encryption()
        .bucket(&ctx.bucket)
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKms, Some("alias/aws/s3")))
        .send()
        .await
        .expect("put kms default");
    ctx.put("kms", data.clone()).await;
    assert_eq!(head_sse(&ctx, "kms").await, Some(ServerSideEncryption::AwsKms));
    // Multipart uploads and copies take the default too.
    let up = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key("mpu").send().await.expect("create");
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    ctx.s3
        .abort_multipart_upload()
        .bucket(&ctx.bucket)
        .key("mpu")
        .upload_id(up.upload_id().expect("id"))
        .send()
        .await
        .expect("abort");
    ctx.s3
        .copy_object()
        .bucket(&ctx.bucket)
        .key("copied")
        .copy_source(format!("{}/before", ctx.bucket))
        .send()
        .await
        .expect("copy");
    assert_eq!(head_sse(&ctx, "copied").await, Some(ServerSideEncryption::AwsKms));

    ctx.s3.delete_bucket_encryption().bucket(&ctx.bucket).send().await.expect("delete encryption");
    ctx.put("after", data.clone()).await;
    assert_eq!(head_sse(&ctx, "after").await, None);
    for key in ["before", "s3", "kms", "copied", "after"] {
        assert!(ctx.get_bytes(key).await == data, "{key}");
    }
    // Malformed configurations.
    let path = format!("/{}?encryption", ctx.bucket);
    Req::new(&ctx.server, "PUT", &path)
        .body("<ServerSideEncryptionConfiguration>")
        .send()
        .await
        .assert_error(400, "MalformedXML");
    let kms_key_on_aes = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
    Req::new(&ctx.server, "PUT", &path).body(kms_key_on_aes).send().await.assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn server_wide_default_and_policy_condition() {
    let ctx = Ctx::with_options("sse-server-default", sse_options(&["--default-encryption", "sse-s3"])).await;
    ctx.put("k", b"hello".to_vec()).await;
    assert_eq!(head_sse(&ctx, "k").await, Some(ServerSideEncryption::Aes256));
    let got = ctx.s3.get_bucket_encryption().bucket(&ctx.bucket).send().await.expect("get encryption");
    assert!(got.server_side_encryption_configuration().is_some());

    // A bucket policy that requires the SSE header on PutObject (an explicit deny binds the root user too).
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{}/*","Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption":"AES256"}}}}}}]}}"#,
        ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(policy).send().await.expect("policy");
    let denied = ctx.s3.put_object().bucket(&ctx.bucket).key("no-header").body(b"x".to_vec().into()).send().await;
    assert_eq!(sdk_err(denied).0, 403);
    put(&ctx, "with-header", b"x", &Mode::S3).await;
}
