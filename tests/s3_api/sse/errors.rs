//! Missing, wrong and malformed keys; unknown and disabled KMS keys; SSE-C
//! over plain HTTP.

use aws_sdk_s3::types::ServerSideEncryption;

use super::{get, put, sse_options, Mode};
use crate::common::{sdk_err, test_data, Ctx, Req, Server, ServerOptions};

#[tokio::test]
async fn sse_c_needs_the_right_key() {
    let ctx = Ctx::with_options("sse-c-keys", sse_options(&[])).await;
    let right = Mode::C([7; 32]);
    let wrong = Mode::C([8; 32]);
    let data = test_data(200_000, 1);
    put(&ctx, "secret", &data, &right).await;
    // No key: 400 InvalidRequest. The wrong key: 403 AccessDenied (GET and HEAD).
    let no_key = ctx.s3.get_object().bucket(&ctx.bucket).key("secret").send().await;
    assert_eq!(sdk_err(no_key), (400, Some("InvalidRequest".into())));
    let (a, k, m) = wrong.c_headers().expect("c");
    let bad = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("secret")
        .sse_customer_algorithm(&a)
        .sse_customer_key(&k)
        .sse_customer_key_md5(&m)
        .send()
        .await;
    assert_eq!(sdk_err(bad).0, 403);
    let head = ctx
        .s3
        .head_object()
        .bucket(&ctx.bucket)
        .key("secret")
        .sse_customer_algorithm(&a)
        .sse_customer_key(&k)
        .sse_customer_key_md5(&m)
        .send()
        .await
        .expect_err("wrong key");
    assert_eq!(head.raw_response().map(|r| r.status().as_u16()), Some(403));
    // The MD5 of the key must match the key.
    let (_, right_key, _) = right.c_headers().expect("c");
    let mismatch = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&right_key)
        .sse_customer_key_md5(&m)
        .send()
        .await;
    assert_eq!(sdk_err(mismatch), (400, Some("InvalidArgument".into())));
    // SSE-C headers on an object that is not SSE-C: 400.
    put(&ctx, "plain", b"x", &Mode::S3).await;
    let (a, k, m) = right.c_headers().expect("c");
    let not_c = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("plain")
        .sse_customer_algorithm(a)
        .sse_customer_key(k)
        .sse_customer_key_md5(m)
        .send()
        .await;
    assert_eq!(sdk_err(not_c), (400, Some("InvalidRequest".into())));
    // The right key still reads it.
    assert!(get(&ctx, "secret", &right, None).await.0 == data);
}

#[tokio::test]
async fn malformed_encryption_headers() {
    let ctx = Ctx::with_options("sse-bad-headers", sse_options(&[])).await;
    let path = ctx.path("k");
    let cases: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
        (vec![("x-amz-server-side-encryption", "AES128")], 400, "InvalidArgument"),
        (vec![("x-amz-server-side-encryption-aws-kms-key-id", "alias/aws/s3")], 400, "InvalidArgument"),
        (
            vec![("x-amz-server-side-encryption", "aws:kms"), ("x-amz-server-side-encryption-context", "%%%")],
            400,
            "InvalidArgument",
        ),
        (vec![("x-amz-server-side-encryption-customer-algorithm", "AES256")], 400, "InvalidArgument"),
        (
            vec![
                ("x-amz-server-side-encryption-customer-algorithm", "DES"),
                ("x-amz-server-side-encryption-customer-key", "AAAA"),
            ],
            400,
            "InvalidEncryptionAlgorithmError",
        ),
        (
            vec![
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", "c2hvcnQ="),
                ("x-amz-server-side-encryption-customer-key-MD5", "c2hvcnQ="),
            ],
            400,
            "InvalidArgument",
        ),
    ];
    for (headers, status, code) in cases {
        let mut req = Req::new(&ctx.server, "PUT", &path).body("data");
        for (n, v) in &headers {
            req = req.header(n, *v);
        }
        req.send().await.assert_error(status, code);
    }
    // Nothing was stored by the refused requests.
    ctx.assert_absent("k").await;

    // Reads never name SSE-S3 or SSE-KMS (they are decrypted unasked): AWS refuses them.
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("enc")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(b"secret".to_vec().into())
        .send()
        .await
        .expect("put SSE-S3");
    for method in ["GET", "HEAD"] {
        for (name, value) in
            [("x-amz-server-side-encryption", "AES256"), ("x-amz-server-side-encryption-aws-kms-key-id", "k")]
        {
            let resp = Req::new(&ctx.server, method, &ctx.path("enc")).header(name, value).send().await;
            assert_eq!(resp.status, 400, "{method} with {name}");
            if method == "GET" {
                resp.assert_error(400, "InvalidArgument");
            }
        }
    }
    assert_eq!(ctx.get_bytes("enc").await, b"secret");
}

#[tokio::test]
async fn unknown_and_disabled_kms_keys() {
    let ctx = Ctx::with_options("sse-kms-errors", sse_options(&[])).await;
    let unknown = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("k")
        .body(b"x".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/no-such-key")
        .send()
        .await;
    assert_eq!(sdk_err(unknown), (400, Some("KMS.NotFoundException".into())));
    let (code, created, out) = crate::ops::cli(&ctx.server, &["kms", "create", "--alias", "app"]);
    assert_eq!(code, 0, "{out}");
    let id = created["id"].as_str().expect("key id").to_string();
    let data = test_data(150_000, 4);
    let first = put(&ctx, "k", &data, &Mode::Kms(Some(id.clone()))).await;
    // The key id comes back as an ARN, which is accepted when named explicitly.
    let arn = first.ssekms_key_id().expect("key id").to_string();
    assert!(arn.ends_with(&format!(":key/{id}")), "{arn}");
    put(&ctx, "k2", &data, &Mode::Kms(Some(arn.clone()))).await;
    put(&ctx, "k3", &data, &Mode::Kms(Some("alias/app".into()))).await;
    // Disabled: writes and reads with the key fail with KMS.DisabledException.
    let (code, _, out) = crate::ops::cli(&ctx.server, &["kms", "disable", "alias/app"]);
    assert_eq!(code, 0, "{out}");
    let write = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("k4")
        .body(b"x".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .send()
        .await;
    assert_eq!(sdk_err(write), (400, Some("KMS.DisabledException".into())));
    let read = ctx.s3.get_object().bucket(&ctx.bucket).key("k").send().await;
    assert_eq!(sdk_err(read), (400, Some("KMS.DisabledException".into())));
    let (_, listed, out) = crate::ops::cli(&ctx.server, &["kms", "list"]);
    let app = listed.as_array().expect("list").iter().find(|k| k["id"] == id.as_str()).cloned().expect("listed");
    assert_eq!(app["enabled"], false, "{out}");
    assert!(app.get("key").is_none(), "key material is never listed: {out}");
    // Enabled again: the objects read back.
    let (code, _, out) = crate::ops::cli(&ctx.server, &["kms", "enable", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(get(&ctx, "k", &Mode::None, None).await.0 == data);
    assert!(get(&ctx, "k2", &Mode::None, None).await.0 == data);
}

#[tokio::test]
async fn sse_c_is_refused_over_plain_http() {
    // Without --allow-sse-c-over-http, and with 127.0.0.1 as a trusted TLS-terminating proxy.
    let options =
        ServerOptions { extra_args: vec!["--trusted-proxy".into(), "127.0.0.1".into()], ..Default::default() };
    let server = Server::start_with(options).await;
    let s3 = crate::common::client(&server);
    let bucket = crate::common::bucket_name("sse-c-http");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let (a, k, m) = Mode::C([3; 32]).c_headers().expect("c");
    let path = format!("/{bucket}/k");
    let plain = Req::new(&server, "PUT", &path)
        .header("x-amz-server-side-encryption-customer-algorithm", &a)
        .header("x-amz-server-side-encryption-customer-key", &k)
        .header("x-amz-server-side-encryption-customer-key-MD5", &m)
        .body("data")
        .send()
        .await;
    plain.assert_error(400, "InvalidRequest");
    assert!(plain.text().contains("secure connection"), "{}", plain.text());
    // Through the trusted proxy that terminated TLS it is accepted, and reads back.
    Req::new(&server, "PUT", &path)
        .header("x-forwarded-proto", "https")
        .header("x-amz-server-side-encryption-customer-algorithm", &a)
        .header("x-amz-server-side-encryption-customer-key", &k)
        .header("x-amz-server-side-encryption-customer-key-MD5", &m)
        .body("data")
        .send()
        .await
        .assert_status(200);
    let got = Req::new(&server, "GET", &path)
        .header("x-forwarded-proto", "https")
        .header("x-amz-server-side-encryption-customer-algorithm", &a)
        .header("x-amz-server-side-encryption-customer-key", &k)
        .header("x-amz-server-side-encryption-customer-key-MD5", &m)
        .send()
        .await;
    got.assert_status(200);
    assert_eq!(&got.body[..], b"data");
    Req::new(&server, "GET", &path)
        .header("x-amz-server-side-encryption-customer-algorithm", &a)
        .header("x-amz-server-side-encryption-customer-key", &k)
        .header("x-amz-server-side-encryption-customer-key-MD5", &m)
        .send()
        .await
        .assert_error(400, "InvalidRequest");
}
