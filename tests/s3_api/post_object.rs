//! Browser uploads: POST Object with a multipart form and a signed POST
//! policy — success statuses and redirect, `${filename}`, a multi-MiB file
//! streamed, and the policy violations AWS refuses.

use std::time::{Duration, SystemTime};

use base64::Engine as _;

use crate::common::server::{ACCESS_KEY, REGION};
use crate::common::sign::{signing_key, Creds};
use crate::common::{test_data, Ctx, Req};

const BOUNDARY: &str = "----CofferFormBoundary7MA4YWxkTrZu0gW";

/// A signed POST policy for `conditions` expiring in `valid_for`: (policy b64, credential, date, signature).
pub fn sign_policy(conditions: serde_json::Value, valid_for: Duration) -> Vec<(String, String)> {
    let expiration = time::OffsetDateTime::from(SystemTime::now() + valid_for)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    sign_policy_expiring(conditions, &expiration)
}

/// As `sign_policy`, with the policy's `expiration` written as given.
fn sign_policy_expiring(conditions: serde_json::Value, expiration: &str) -> Vec<(String, String)> {
    let now = SystemTime::now();
    let day = time::OffsetDateTime::from(now);
    let date = format!("{:04}{:02}{:02}", day.year(), day.month() as u8, day.day());
    let amz_date = format!("{date}T000000Z");
    let credential = format!("{ACCESS_KEY}/{date}/{REGION}/s3/aws4_request");
    let mut conds = conditions.as_array().cloned().unwrap_or_default();
    conds.push(serde_json::json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
    conds.push(serde_json::json!({"x-amz-credential": credential}));
    conds.push(serde_json::json!({"x-amz-date": amz_date}));
    let policy = serde_json::json!({"expiration": expiration, "conditions": conds});
    let b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let key = signing_key(&Creds::root(), now);
    let signature = aws_sigv4::sign::v4::calculate_signature(&key, b64.as_bytes());
    vec![
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), amz_date),
        ("policy".into(), b64),
        ("x-amz-signature".into(), signature),
    ]
}

/// A multipart/form-data body: the fields in order, then the file.
pub fn form(fields: &[(String, String)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn fields(pairs: &[(&str, &str)], signed: &[(String, String)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    f.extend_from_slice(signed);
    f
}

async fn post(ctx: &Ctx, body: Vec<u8>) -> crate::common::RawResponse {
    Req::new(&ctx.server, "POST", &format!("/{}", ctx.bucket))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send_anonymous()
        .await
}

#[tokio::test]
async fn post_object_with_a_signed_policy() {
    let ctx = Ctx::new("post").await;
    let b = ctx.bucket.clone();
    let conditions = serde_json::json!([
        {"bucket": b},
        ["starts-with", "$key", "uploads/"],
        {"success_action_status": "201"},
        ["starts-with", "$Content-Type", "image/"],
        ["content-length-range", 1, 10485760],
        {"x-amz-meta-origin": "browser"}
    ]);
    let signed = sign_policy(conditions.clone(), Duration::from_secs(300));
    let data = test_data(6 * 1024 * 1024 + 5, 3);
    let f = fields(
        &[
            ("key", "uploads/${filename}"),
            ("success_action_status", "201"),
            ("Content-Type", "image/png"),
            ("x-amz-meta-origin", "browser"),
        ],
        &signed,
    );
    let resp = post(&ctx, form(&f, "cat.png", &data)).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert!(resp.text().contains("<Key>uploads/cat.png</Key>"), "{}", resp.text());
    assert!(resp.header("etag").is_some());
    let got = ctx.s3.get_object().bucket(&ctx.bucket).key("uploads/cat.png").send().await.expect("get");
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(got.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("browser"));
    assert!(got.body.collect().await.expect("body").into_bytes() == data, "the uploaded file reads back");

    // Default status 204, and a redirect with bucket, key and etag.
    let signed = sign_policy(serde_json::json!([{"bucket": b}, ["starts-with", "$key", ""]]), Duration::from_secs(300));
    let resp = post(&ctx, form(&fields(&[("key", "plain.txt")], &signed), "x.txt", b"hello")).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let signed = sign_policy(
        serde_json::json!([{"bucket": b}, ["starts-with", "$key", ""], {"success_action_redirect": "https://app.example.com/done"}]),
        Duration::from_secs(300),
    );
    let resp = post(
        &ctx,
        form(
            &fields(&[("key", "r.txt"), ("success_action_redirect", "https://app.example.com/done")], &signed),
            "r.txt",
            b"r",
        ),
    )
    .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let loc = resp.header("location").expect("location");
    assert!(
        loc.starts_with("https://app.example.com/done?bucket=") && loc.contains("key=r.txt") && loc.contains("etag="),
        "{loc}"
    );

    // Refusals: a field the policy does not cover, a failed condition, an
    // expired policy, a size outside the range, a bad signature, no key.
    let cases: Vec<(Vec<(String, String)>, Vec<u8>, u16, &str)> = vec![
        (
            fields(
                &[
                    ("key", "uploads/a"),
                    ("success_action_status", "201"),
                    ("Content-Type", "image/png"),
                    ("x-amz-meta-origin", "browser"),
                    ("x-amz-meta-extra", "1"),
                ],
                &sign_policy(conditions.clone(), Duration::from_secs(300)),
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            fields(
                &[
                    ("key", "other/a"),
                    ("success_action_status", "201"),
                    ("Content-Type", "image/png"),
                    ("x-amz-meta-origin", "browser"),
                ],
                &sign_policy(conditions.clone(), Duration::from_secs(300)),
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            fields(
                &[
                    ("key", "uploads/a"),
                    ("success_action_status", "201"),
                    ("Content-Type", "image/png"),
                    ("x-amz-meta-origin", "browser"),
                ],
                &sign_policy(conditions.clone(), Duration::ZERO),
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            fields(
                &[
                    ("key", "uploads/a"),
                    ("success_action_status", "201"),
                    ("Content-Type", "image/png"),
                    ("x-amz-meta-origin", "browser"),
                ],
                &sign_policy(conditions.clone(), Duration::from_secs(300)),
            ),
            Vec::new(),
            400,
            "EntityTooSmall",
        ),
        (
            fields(&[("success_action_status", "201")], &sign_policy(conditions.clone(), Duration::from_secs(300))),
            b"x".to_vec(),
            400,
            "InvalidArgument",
        ),
    ];
    for (f, file, status, code) in cases {
        post(&ctx, form(&f, "f", &file)).await.assert_error(status, code);
    }
    let mut tampered = fields(
        &[
            ("key", "uploads/a"),
            ("success_action_status", "201"),
            ("Content-Type", "image/png"),
            ("x-amz-meta-origin", "browser"),
        ],
        &sign_policy(conditions.clone(), Duration::from_secs(300)),
    );
    if let Some(sig) = tampered.iter_mut().find(|(n, _)| n == "x-amz-signature") {
        sig.1 = "0".repeat(64);
    }
    post(&ctx, form(&tampered, "f", b"x")).await.assert_error(403, "SignatureDoesNotMatch");
    // Without a policy the upload is anonymous, and this bucket is private.
    post(&ctx, form(&[("key".into(), "anon.txt".into())], "f", b"x")).await.assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "POST", &format!("/{}", ctx.bucket))
        .header("content-type", "text/plain")
        .body("nope")
        .send_anonymous()
        .await
        .assert_error(400, "MalformedPOSTRequest");
    for key in ["uploads/a", "other/a", "anon.txt"] {
        assert!(!ctx.exists(key).await, "{key} must not exist");
    }
}

#[tokio::test]
async fn post_form_fields_act_as_put_headers() {
    let ctx = Ctx::with_options("post-fields", crate::ops::options(&["--new-bucket-defaults", "legacy"])).await;
    let b = ctx.bucket.clone();
    let tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>";
    let conditions = serde_json::json!([
        {"bucket": b},
        ["starts-with", "$key", "f/"],
        {"acl": "public-read"},
        {"tagging": tagging},
        {"x-amz-server-side-encryption": "AES256"},
        {"success_action_status": "201"},
    ]);
    let data = b"form data".to_vec();
    let sha256 = base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
    let upload = |checksum: &str| {
        fields(
            &[
                ("key", "f/one"),
                ("acl", "public-read"),
                ("tagging", tagging),
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-checksum-sha256", checksum),
                ("success_action_status", "201"),
            ],
            &sign_policy(conditions.clone(), Duration::from_secs(300)),
        )
    };
    // A checksum that does not match, or is not one, refuses the upload.
    let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    post(&ctx, form(&upload(&wrong), "f", &data)).await.assert_error(400, "BadDigest");
    assert_eq!(post(&ctx, form(&upload("not-base64!"), "f", &data)).await.status, 400);
    assert!(!ctx.exists("f/one").await);

    let resp = post(&ctx, form(&upload(&sha256), "f", &data)).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    // AWS's PostResponse has no namespace.
    assert!(resp.text().contains("<PostResponse><Location>"), "{}", resp.text());
    assert_eq!(resp.header("x-amz-server-side-encryption"), Some("AES256"));
    assert_eq!(resp.header("x-amz-checksum-sha256"), Some(sha256.as_str()));
    let head = ctx.s3.head_object().bucket(&b).key("f/one").send().await.expect("head");
    assert_eq!(head.server_side_encryption().map(|e| e.as_str()), Some("AES256"));
    let tags = ctx.s3.get_object_tagging().bucket(&b).key("f/one").send().await.expect("tags");
    let tags: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "blue")]);
    let public = Req::new(&ctx.server, "GET", &ctx.path("f/one")).send_anonymous().await;
    assert_eq!((public.status, public.body.as_ref()), (200, data.as_slice()), "acl public-read applied");

    // A public-read-write bucket takes anonymous uploads, with their ACL and tags.
    let open = crate::common::bucket_name("post-open");
    ctx.s3
        .create_bucket()
        .bucket(&open)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .expect("public-read-write bucket");
    let anon = [("key", "anon.txt"), ("acl", "public-read"), ("tagging", tagging)];
    let anon: Vec<(String, String)> = anon.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let resp = Req::new(&ctx.server, "POST", &format!("/{open}"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form(&anon, "f", b"anon"))
        .send_anonymous()
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let got = Req::new(&ctx.server, "GET", &format!("/{open}/anon.txt")).send_anonymous().await;
    assert_eq!((got.status, got.body.as_ref()), (200, b"anon".as_slice()));
    let tags = ctx.s3.get_object_tagging().bucket(&open).key("anon.txt").send().await.expect("tags");
    assert_eq!(tags.tag_set().len(), 1);

    // Malformed policies and forms: 400 with AWS's codes.
    let simple = serde_json::json!([{"bucket": b}, ["starts-with", "$key", ""]]);
    let spaced = sign_policy_expiring(simple.clone(), "2099-01-01 00:00:00+00:00");
    post(&ctx, form(&fields(&[("key", "x")], &spaced), "f", b"x")).await.assert_error(400, "InvalidPolicyDocument");
    let negative = serde_json::json!([{"bucket": b}, ["starts-with", "$key", ""], ["content-length-range", -1, 0]]);
    let negative = sign_policy(negative, Duration::from_secs(300));
    post(&ctx, form(&fields(&[("key", "x")], &negative), "f", b"x")).await.assert_error(400, "InvalidPolicyDocument");
    let mut unsigned = sign_policy(simple, Duration::from_secs(300));
    unsigned.retain(|(n, _)| n != "x-amz-signature");
    post(&ctx, form(&fields(&[("key", "x")], &unsigned), "f", b"x")).await.assert_error(400, "InvalidArgument");
    assert!(!ctx.exists("x").await);
}
