//! Static website hosting: Get/Put/DeleteBucketWebsite, and serving on the
//! `--website-domain` host suffix: index documents, "directory" redirects,
//! the error document, routing rules, redirect-all, and only what the
//! anonymous public may read.

use crate::common::{sdk_err, Ctx, Req, ServerOptions};

const WEB: &str = "web.coffer.test";

fn options() -> ServerOptions {
    ServerOptions { extra_args: vec!["--website-domain".into(), WEB.into()], ..Default::default() }
}

async fn put_html(ctx: &Ctx, key: &str, body: &str) {
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(key)
        .content_type("text/html")
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put page");
}

async fn web(ctx: &Ctx, method: &str, path: &str) -> crate::common::RawResponse {
    Req::new(&ctx.server, method, path).host(format!("{}.{WEB}", ctx.bucket)).send_anonymous().await
}

#[tokio::test]
async fn website_serving() {
    let ctx = Ctx::with_options("site", options()).await;
    let missing = ctx.s3.get_bucket_website().bucket(&ctx.bucket).send().await;
    assert_eq!(sdk_err(missing), (404, Some("NoSuchWebsiteConfiguration".into())));
    let config = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>err.html</Key></ErrorDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>";
    Req::new(&ctx.server, "PUT", &format!("/{}?website", ctx.bucket)).body(config).send().await.assert_status(200);
    let got = ctx.s3.get_bucket_website().bucket(&ctx.bucket).send().await.expect("get website");
    assert_eq!(got.index_document().map(|i| i.suffix()), Some("index.html"));
    assert_eq!(got.error_document().map(|e| e.key()), Some("err.html"));
    put_html(&ctx, "index.html", "<h1>home</h1>").await;
    put_html(&ctx, "docs/index.html", "<h1>docs</h1>").await;
    put_html(&ctx, "err.html", "<h1>oops</h1>").await;

    // Private (Block Public Access on, no policy): nothing is served.
    let r = web(&ctx, "GET", "/").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/html")));

    // Public read (and list, so that a missing page is a 404).
    ctx.s3.delete_public_access_block().bucket(&ctx.bucket).send().await.expect("allow public policies");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}},{{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{b}"}}]}}"#,
        b = ctx.bucket
    );
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(policy).send().await.expect("public policy");
    let r = web(&ctx, "GET", "/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>home</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = web(&ctx, "GET", "/docs").await;
    assert_eq!((r.status, r.header("location")), (302, Some("/docs/")));
    let r = web(&ctx, "GET", "/docs/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>docs</h1>"));
    let r = web(&ctx, "HEAD", "/docs/index.html").await;
    assert_eq!(r.status, 200);
    let r = web(&ctx, "GET", "/nothing-here").await;
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>oops</h1>"));
    let r = web(&ctx, "GET", "/old/page.html").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some(format!("http://{}.{WEB}/new/page.html", ctx.bucket).as_str()));
    let r = web(&ctx, "PUT", "/index.html").await;
    assert_eq!(r.status, 405);
    // The S3 API on the same listener is unchanged.
    assert!(ctx.get_bytes("index.html").await == b"<h1>home</h1>");

    // Redirect-all, then no website at all.
    let all = "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>example.com</HostName><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>";
    Req::new(&ctx.server, "PUT", &format!("/{}?website", ctx.bucket)).body(all).send().await.assert_status(200);
    let r = web(&ctx, "GET", "/a/b.html").await;
    assert_eq!((r.status, r.header("location")), (301, Some("https://example.com/a/b.html")));
    ctx.s3.delete_bucket_website().bucket(&ctx.bucket).send().await.expect("delete website");
    let r = web(&ctx, "GET", "/").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("NoSuchWebsiteConfiguration"), "{}", r.text());
    // Malformed configurations.
    let path = format!("/{}?website", ctx.bucket);
    Req::new(&ctx.server, "PUT", &path).body("<WebsiteConfiguration>").send().await.assert_error(400, "MalformedXML");
    Req::new(&ctx.server, "PUT", &path)
        .body("<WebsiteConfiguration><ErrorDocument><Key>e</Key></ErrorDocument></WebsiteConfiguration>")
        .send()
        .await
        .assert_error(400, "InvalidArgument");
}
