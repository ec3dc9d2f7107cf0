//! Hand-signed requests: presigned URLs, signature failures, unknown keys,
//! clock skew, anonymous access, request ids.

use std::time::{Duration, SystemTime};

use crate::common::sign::{presign, Creds};
use crate::common::{send, sha256_hex, xml_text, Ctx, Req};

fn presigned_url(ctx: &Ctx, method: &str, key: &str, time: SystemTime, expires: Duration) -> String {
    let url = format!("{}{}", ctx.server.endpoint(), ctx.path(key));
    presign(&Creds::root(), method, &url, time, expires, &[])
}

fn get(url: &str) -> http::Request<bytes::Bytes> {
    http::Request::builder().method("GET").uri(url).body(bytes::Bytes::new()).expect("request")
}

#[tokio::test]
async fn presigned_get_and_put() {
    let ctx = Ctx::new("presign").await;
    ctx.put("dir/shared file.txt", b"shared content".to_vec()).await;

    let url = presigned_url(&ctx, "GET", "dir/shared file.txt", SystemTime::now(), Duration::from_secs(300));
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let resp = send(ctx.server.s3_addr, get(&url)).await;
    resp.assert_status(200);
    assert_eq!(&resp.body[..], b"shared content");

    let url = presigned_url(&ctx, "PUT", "uploaded.bin", SystemTime::now(), Duration::from_secs(300));
    let req = http::Request::builder()
        .method("PUT")
        .uri(&url)
        .body(bytes::Bytes::from_static(b"via presigned PUT"))
        .expect("req");
    send(ctx.server.s3_addr, req).await.assert_status(200);
    assert_eq!(ctx.get_bytes("uploaded.bin").await, b"via presigned PUT");

    // HEAD is a different method: the GET URL does not authorize it.
    let url = presigned_url(&ctx, "GET", "dir/shared file.txt", SystemTime::now(), Duration::from_secs(300));
    let head = http::Request::builder().method("HEAD").uri(&url).body(bytes::Bytes::new()).expect("req");
    assert_eq!(send(ctx.server.s3_addr, head).await.status, 403);
}

#[tokio::test]
async fn presigned_url_tampering_is_signature_does_not_match() {
    let ctx = Ctx::new("presign-tamper").await;
    ctx.put("a", b"A".to_vec()).await;
    ctx.put("b", b"B".to_vec()).await;
    let url = presigned_url(&ctx, "GET", "a", SystemTime::now(), Duration::from_secs(300));

    let longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301");
    assert_ne!(longer, url);
    send(ctx.server.s3_addr, get(&longer)).await.assert_error(403, "SignatureDoesNotMatch");

    let other_key = url.replacen(&format!("/{}/a?", ctx.bucket), &format!("/{}/b?", ctx.bucket), 1);
    assert_ne!(other_key, url);
    send(ctx.server.s3_addr, get(&other_key)).await.assert_error(403, "SignatureDoesNotMatch");

    let extra = format!("{url}&response-content-type=text%2Fhtml");
    send(ctx.server.s3_addr, get(&extra)).await.assert_error(403, "SignatureDoesNotMatch");

    // A presigned PUT cannot be replayed onto another key.
    let put_url = presigned_url(&ctx, "PUT", "target", SystemTime::now(), Duration::from_secs(300));
    let moved = put_url.replacen("/target?", "/elsewhere?", 1);
    let req = http::Request::builder().method("PUT").uri(&moved).body(bytes::Bytes::from_static(b"x")).expect("req");
    send(ctx.server.s3_addr, req).await.assert_error(403, "SignatureDoesNotMatch");
    ctx.assert_absent("elsewhere").await;
}

#[tokio::test]
async fn presigned_url_expiry() {
    let ctx = Ctx::new("presign-expiry").await;
    ctx.put("obj", b"o".to_vec()).await;
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let url = presigned_url(&ctx, "GET", "obj", an_hour_ago, Duration::from_secs(1));
    let resp = send(ctx.server.s3_addr, get(&url)).await;
    resp.assert_error(403, "AccessDenied");

    let put_url = presigned_url(&ctx, "PUT", "late", an_hour_ago, Duration::from_secs(1));
    let req = http::Request::builder().method("PUT").uri(&put_url).body(bytes::Bytes::from_static(b"x")).expect("req");
    send(ctx.server.s3_addr, req).await.assert_error(403, "AccessDenied");
    ctx.assert_absent("late").await;

    // Longer than seven days is not allowed.
    let url = presigned_url(&ctx, "GET", "obj", SystemTime::now(), Duration::from_secs(604_801));
    assert!(url.contains("X-Amz-Expires=604801"), "{url}");
    send(ctx.server.s3_addr, get(&url)).await.assert_error(400, "AuthorizationQueryParametersError");
    // Exactly seven days is fine.
    let url = presigned_url(&ctx, "GET", "obj", SystemTime::now(), Duration::from_secs(604_800));
    send(ctx.server.s3_addr, get(&url)).await.assert_status(200);
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_with_details() {
    let ctx = Ctx::new("badsig").await;
    let time = SystemTime::now();
    let req = Req::new(&ctx.server, "PUT", &ctx.path("k")).body("data");
    let (signed, _) = req.signed_with(&Creds::with_secret("definitely-not-the-secret"), time, &sha256_hex(b"data"));
    let amz_date = signed.headers()["x-amz-date"].to_str().expect("ascii").to_string();
    let resp = send(ctx.server.s3_addr, signed).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    let text = resp.text();
    let sts = xml_text(&text, "StringToSign").expect("<StringToSign> in the error");
    assert!(sts.starts_with("AWS4-HMAC-SHA256\n"), "{sts:?}");
    assert!(sts.contains(&amz_date), "{sts:?}");
    assert!(sts.contains(&format!("{}/us-east-1/s3/aws4_request", &amz_date[..8])), "{sts:?}");
    let creq = xml_text(&text, "CanonicalRequest").expect("<CanonicalRequest> in the error");
    assert!(creq.starts_with("PUT\n"), "{creq:?}");
    assert!(creq.contains(&format!("/{}/k", ctx.bucket)), "{creq:?}");
    assert!(creq.contains(&sha256_hex(b"data")), "{creq:?}");
    assert!(!text.contains("definitely-not-the-secret"));
    ctx.assert_absent("k").await;

    // A header changed after signing breaks the signature too.
    let (mut signed, _) = Req::new(&ctx.server, "GET", &format!("/{}", ctx.bucket))
        .header("x-amz-meta-note", "a")
        .signed_with(&Creds::root(), SystemTime::now(), &sha256_hex(b""));
    signed.headers_mut().insert("x-amz-meta-note", "b".parse().expect("value"));
    send(ctx.server.s3_addr, signed).await.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id() {
    let ctx = Ctx::new("badkey").await;
    let req = Req::new(&ctx.server, "PUT", &ctx.path("k")).body("data");
    let (signed, _) =
        req.signed_with(&Creds::with_access_key("AKIANOTAREALKEY00000"), SystemTime::now(), &sha256_hex(b"data"));
    send(ctx.server.s3_addr, signed).await.assert_error(403, "InvalidAccessKeyId");
    ctx.assert_absent("k").await;

    let url = format!("{}{}", ctx.server.endpoint(), ctx.path("k"));
    let url = presign(
        &Creds::with_access_key("AKIANOTAREALKEY00000"),
        "GET",
        &url,
        SystemTime::now(),
        Duration::from_secs(60),
        &[],
    );
    send(ctx.server.s3_addr, get(&url)).await.assert_error(403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn wrong_region_in_scope_is_authorization_header_malformed() {
    let ctx = Ctx::new("badregion").await;
    let req = Req::new(&ctx.server, "GET", &format!("/{}", ctx.bucket));
    let (signed, _) = req.signed_with(&Creds::with_region("eu-west-1"), SystemTime::now(), &sha256_hex(b""));
    let resp = send(ctx.server.s3_addr, signed).await;
    resp.assert_error(400, "AuthorizationHeaderMalformed");
    assert!(resp.text().contains("us-east-1"), "the message names the expected region: {}", resp.text());
}

#[tokio::test]
async fn clock_skew_is_request_time_too_skewed() {
    let ctx = Ctx::new("skew").await;
    for offset in [-1200i64, 1200] {
        let time = if offset < 0 {
            SystemTime::now() - Duration::from_secs(offset.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(offset as u64)
        };
        let req = Req::new(&ctx.server, "PUT", &ctx.path("skewed")).body("x");
        let (signed, _) = req.signed_with(&Creds::root(), time, &sha256_hex(b"x"));
        let resp = send(ctx.server.s3_addr, signed).await;
        resp.assert_error(403, "RequestTimeTooSkewed");
    }
    ctx.assert_absent("skewed").await;
    // Ten minutes off is within the 15-minute window.
    let req = Req::new(&ctx.server, "PUT", &ctx.path("slightly")).body("x");
    let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now() - Duration::from_secs(600), &sha256_hex(b"x"));
    send(ctx.server.s3_addr, signed).await.assert_status(200);
}

#[tokio::test]
async fn anonymous_requests_are_denied() {
    let ctx = Ctx::new("anon").await;
    ctx.put("private", b"secret".to_vec()).await;
    Req::new(&ctx.server, "GET", &format!("/{}", ctx.bucket)).send_anonymous().await.assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "GET", &format!("/{}?list-type=2", ctx.bucket))
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "GET", &ctx.path("private")).send_anonymous().await.assert_error(403, "AccessDenied");
    let head = Req::new(&ctx.server, "HEAD", &ctx.path("private")).send_anonymous().await;
    assert_eq!(head.status, 403);
    assert!(head.body.is_empty());
    Req::new(&ctx.server, "PUT", &ctx.path("anon-write"))
        .body("x")
        .send_anonymous()
        .await
        .assert_error(403, "AccessDenied");
    ctx.assert_absent("anon-write").await;
    Req::new(&ctx.server, "DELETE", &ctx.path("private")).send_anonymous().await.assert_error(403, "AccessDenied");
    assert!(ctx.exists("private").await);
    Req::new(&ctx.server, "PUT", "/anon-bucket-create").send_anonymous().await.assert_error(403, "AccessDenied");
    Req::new(&ctx.server, "GET", "/").send_anonymous().await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let ctx = Ctx::new("reqid").await;
    ctx.put("k", b"v".to_vec()).await;
    let etag = crate::common::etag_of(b"v");
    let responses = vec![
        Req::new(&ctx.server, "GET", "/").send().await,
        Req::new(&ctx.server, "GET", &ctx.path("k")).send().await,
        Req::new(&ctx.server, "HEAD", &ctx.path("k")).send().await,
        Req::new(&ctx.server, "HEAD", &ctx.path("missing")).send().await,
        Req::new(&ctx.server, "GET", &ctx.path("missing")).send().await,
        Req::new(&ctx.server, "GET", &ctx.path("k")).header("if-none-match", etag).send().await,
        Req::new(&ctx.server, "GET", &ctx.path("k")).send_anonymous().await,
        Req::new(&ctx.server, "DELETE", &ctx.path("nothing")).send().await,
        Req::new(&ctx.server, "PUT", "/Bad_Name").send().await,
    ];
    let mut ids = std::collections::HashSet::new();
    for resp in &responses {
        let id = resp.header("x-amz-request-id").unwrap_or_else(|| panic!("no x-amz-request-id on {}", resp.status));
        assert!(!id.is_empty());
        ids.insert(id.to_string());
        if resp.status >= 400 && !resp.body.is_empty() {
            assert_eq!(xml_text(&resp.text(), "RequestId").as_deref(), Some(id), "body RequestId = header");
        }
    }
    assert_eq!(ids.len(), responses.len(), "request ids are unique");
}
