//! CORS: configuration and its errors, preflight requests answered from the
//! rules without authentication, and CORS headers on actual responses.

use crate::common::{sdk_err, Ctx, Req};

const RULES: &str = "<CORSConfiguration><CORSRule><ID>app</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>content-type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule></CORSConfiguration>";

#[tokio::test]
async fn cors_configuration_preflight_and_responses() {
    let ctx = Ctx::new("cors").await;
    let missing = ctx.s3.get_bucket_cors().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(missing), (404, Some("NoSuchCORSConfiguration".into())));
    let path = format!("/{}?cors", ctx.bucket);
    Req::new(&ctx.server, "PUT", &path).body(RULES).send().await.assert_status(200);
    let got = ctx.s3.get_bucket_cors().bucket(&ctx.bucket).send().await.expect("get cors");
    assert_eq!(got.cors_rules().len(), 2);
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(600));

    let object = ctx.path("photo.jpg");
    // Preflight: no authentication needed; the rule's answer.
    let ok = Req::new(&ctx.server, "OPTIONS", &object)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "Content-Type, X-Amz-Date")
        .send_anonymous()
        .await;
    ok.assert_status(200);
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(ok.header("access-control-allow-headers"), Some("content-type, x-amz-date"));
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert_eq!(ok.header("access-control-expose-headers"), Some("ETag"));
    // The open rule answers any origin with `*`.
    let any = Req::new(&ctx.server, "OPTIONS", &object)
        .header("origin", "https://elsewhere.org")
        .header("access-control-request-method", "HEAD")
        .send_anonymous()
        .await;
    assert_eq!((any.status, any.header("access-control-allow-origin")), (200, Some("*")));
    // Not allowed: another origin, method or header.
    for (origin, method, headers) in [
        ("https://app.example.org", "PUT", ""),
        ("https://app.example.com", "DELETE", ""),
        ("https://app.example.com", "PUT", "authorization-extra"),
    ] {
        let mut req = Req::new(&ctx.server, "OPTIONS", &object)
            .header("origin", origin)
            .header("access-control-request-method", method);
        if !headers.is_empty() {
            req = req.header("access-control-request-headers", headers);
        }
        req.send_anonymous().await.assert_error(403, "AccessForbidden");
    }
    Req::new(&ctx.server, "OPTIONS", &object)
        .header("access-control-request-method", "PUT")
        .send_anonymous()
        .await
        .assert_error(400, "BadRequest");

    // Actual requests with an allowed Origin carry the headers, errors included.
    ctx.put("photo.jpg", b"jpeg".to_vec()).await;
    let get = Req::new(&ctx.server, "GET", &object).header("origin", "https://app.example.com").send().await;
    get.assert_status(200);
    assert_eq!(get.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(get.header("access-control-expose-headers"), Some("ETag"));
    let miss = Req::new(&ctx.server, "GET", &ctx.path("nope")).header("origin", "https://app.example.com").send().await;
    assert_eq!(miss.status, 404);
    assert_eq!(miss.header("access-control-allow-origin"), Some("https://app.example.com"));
    let other = Req::new(&ctx.server, "GET", &object).header("origin", "https://evil.test").send().await;
    assert_eq!(other.header("access-control-allow-origin"), None);

    // Without rules, every preflight is refused.
    ctx.s3.delete_bucket_cors().bucket(&ctx.bucket).send().await.expect("delete cors");
    Req::new(&ctx.server, "OPTIONS", &object)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send_anonymous()
        .await
        .assert_error(403, "AccessForbidden");
    let bad = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>";
    Req::new(&ctx.server, "PUT", &path).body(bad).send().await.assert_error(400, "InvalidRequest");
    Req::new(&ctx.server, "PUT", &path).body("<CORSConfiguration>").send().await.assert_error(400, "MalformedXML");
}
