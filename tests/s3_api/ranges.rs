//! Range requests, GET/HEAD conditionals (with AWS's precedence rules) and
//! response-* header overrides.

use std::time::Duration;

use crate::common::{etag_of, http_date, parse_http_date, test_data, Ctx, RawResponse, Req};

async fn get_range(ctx: &Ctx, key: &str, range: &str) -> RawResponse {
    Req::new(&ctx.server, "GET", &ctx.path(key)).header("range", range).send().await
}

#[tokio::test]
async fn byte_ranges() {
    let ctx = Ctx::new("range").await;
    let data = test_data(1000, 7);
    ctx.put("obj", data.clone()).await;

    let cases: [(&str, usize, usize); 6] = [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=100-", 100, 999),
        ("bytes=-50", 950, 999),
        ("bytes=990-2000", 990, 999), // end beyond the object is clamped
        ("bytes=0-999", 0, 999),
    ];
    for (range, first, last) in cases {
        let resp = get_range(&ctx, "obj", range).await;
        assert_eq!(resp.status, 206, "{range}: {}", resp.text());
        assert_eq!(resp.header("content-range"), Some(format!("bytes {first}-{last}/1000").as_str()), "{range}");
        assert_eq!(resp.header("content-length"), Some((last - first + 1).to_string().as_str()), "{range}");
        assert_eq!(&resp.body[..], &data[first..=last], "{range}");
        assert_eq!(resp.header("etag"), Some(etag_of(&data).as_str()), "{range}: ETag of the whole object");
        assert_eq!(resp.header("accept-ranges"), Some("bytes"));
    }

    // Through the SDK as well.
    let out = ctx.s3.get_object().bucket(&ctx.bucket).key("obj").range("bytes=10-19").send().await.expect("ranged get");
    assert_eq!(out.content_range(), Some("bytes 10-19/1000"));
    assert_eq!(out.content_length(), Some(10));
    assert_eq!(&out.body.collect().await.expect("body").into_bytes()[..], &data[10..20]);

    // A suffix longer than the object returns all of it.
    let resp = get_range(&ctx, "obj", "bytes=-5000").await;
    assert_eq!(resp.status, 206);
    assert_eq!(resp.header("content-range"), Some("bytes 0-999/1000"));
    assert_eq!(&resp.body[..], &data[..]);
}

#[tokio::test]
async fn unsatisfiable_ranges_are_invalid_range() {
    let ctx = Ctx::new("range416").await;
    ctx.put("obj", test_data(1000, 8)).await;
    for range in ["bytes=1000-", "bytes=5000-6000"] {
        let resp = get_range(&ctx, "obj", range).await;
        resp.assert_error(416, "InvalidRange");
    }
    // Any range of an empty object is unsatisfiable, except none at all.
    ctx.put("empty", Vec::new()).await;
    get_range(&ctx, "empty", "bytes=0-0").await.assert_error(416, "InvalidRange");
    let full = Req::new(&ctx.server, "GET", &ctx.path("empty")).send().await;
    full.assert_status(200);
    assert!(full.body.is_empty());
}

#[tokio::test]
async fn malformed_range_is_ignored() {
    let ctx = Ctx::new("rangebad").await;
    let data = test_data(100, 9);
    ctx.put("obj", data.clone()).await;
    // S3 ignores a syntactically invalid Range header and returns the whole object.
    for range in ["bytes=abc", "items=0-5"] {
        let resp = get_range(&ctx, "obj", range).await;
        assert_eq!(resp.status, 200, "{range}: {}", resp.text());
        assert_eq!(&resp.body[..], &data[..], "{range}");
        assert!(resp.header("content-range").is_none(), "{range}");
    }
}

#[tokio::test]
async fn ranges_across_engine_stripes() {
    let ctx = Ctx::new("rangebig").await;
    let size = 5 * 1024 * 1024 + 3;
    let data = test_data(size, 10);
    ctx.put("big", data.clone()).await;
    let ranges =
        [(131_000usize, 262_200usize), (0, 131_071), (131_071, 131_072), (1_048_575, 3_145_729), (size - 4, size - 1)];
    for (first, last) in ranges {
        let resp = get_range(&ctx, "big", &format!("bytes={first}-{last}")).await;
        assert_eq!(resp.status, 206);
        assert_eq!(resp.header("content-range"), Some(format!("bytes {first}-{last}/{size}").as_str()));
        assert!(resp.body[..] == data[first..=last], "bytes {first}-{last} are identical");
    }
}

struct Fixture {
    ctx: Ctx,
    etag: String,
    last_modified: std::time::SystemTime,
}

async fn fixture(tag: &str) -> Fixture {
    let ctx = Ctx::new(tag).await;
    ctx.put("obj", b"conditional body".to_vec()).await;
    let head = Req::new(&ctx.server, "HEAD", &ctx.path("obj")).send().await;
    head.assert_status(200);
    let etag = head.header("etag").expect("ETag").to_string();
    let last_modified = parse_http_date(head.header("last-modified").expect("Last-Modified"));
    Fixture { ctx, etag, last_modified }
}

impl Fixture {
    async fn req(&self, method: &str, headers: &[(&str, String)]) -> RawResponse {
        let mut req = Req::new(&self.ctx.server, method, &self.ctx.path("obj"));
        for (k, v) in headers {
            req = req.header(k, v.clone());
        }
        req.send().await
    }

    fn past(&self) -> String {
        http_date(self.last_modified - Duration::from_secs(86_400))
    }

    fn future(&self) -> String {
        http_date(self.last_modified + Duration::from_secs(86_400))
    }
}

#[tokio::test]
async fn if_match_and_if_none_match() {
    let f = fixture("cond-etag").await;
    let wrong = "\"00000000000000000000000000000000\"".to_string();

    let r = f.req("GET", &[("if-match", f.etag.clone())]).await;
    r.assert_status(200);
    assert_eq!(&r.body[..], b"conditional body");
    f.req("GET", &[("if-match", "*".into())]).await.assert_status(200);
    f.req("GET", &[("if-match", format!("{wrong}, {}", f.etag))]).await.assert_status(200);
    f.req("GET", &[("if-match", wrong.clone())]).await.assert_error(412, "PreconditionFailed");
    let head = f.req("HEAD", &[("if-match", wrong.clone())]).await;
    assert_eq!(head.status, 412);
    assert!(head.body.is_empty());

    for method in ["GET", "HEAD"] {
        let r = f.req(method, &[("if-none-match", f.etag.clone())]).await;
        assert_eq!(r.status, 304, "{method} If-None-Match current ETag");
        assert!(r.body.is_empty(), "304 has no body");
        assert_eq!(r.header("etag"), Some(f.etag.as_str()), "304 carries the ETag");
        f.req(method, &[("if-none-match", wrong.clone())]).await.assert_status(200);
    }
    f.req("GET", &[("if-none-match", "*".into())]).await.assert_status(304);
}

#[tokio::test]
async fn if_modified_and_unmodified_since() {
    let f = fixture("cond-date").await;
    for method in ["GET", "HEAD"] {
        let r = f.req(method, &[("if-modified-since", f.future())]).await;
        assert_eq!(r.status, 304, "{method} If-Modified-Since future");
        let r = f.req(method, &[("if-modified-since", http_date(f.last_modified))]).await;
        assert_eq!(r.status, 304, "{method} If-Modified-Since = Last-Modified");
        f.req(method, &[("if-modified-since", f.past())]).await.assert_status(200);

        let r = f.req(method, &[("if-unmodified-since", f.past())]).await;
        assert_eq!(r.status, 412, "{method} If-Unmodified-Since past");
        f.req(method, &[("if-unmodified-since", f.future())]).await.assert_status(200);
        f.req(method, &[("if-unmodified-since", http_date(f.last_modified))]).await.assert_status(200);
    }
    f.req("GET", &[("if-unmodified-since", f.past())]).await.assert_error(412, "PreconditionFailed");
}

#[tokio::test]
async fn conditional_precedence_follows_aws() {
    let f = fixture("cond-prec").await;
    // If-Match true + If-Unmodified-Since false → 200.
    let r = f.req("GET", &[("if-match", f.etag.clone()), ("if-unmodified-since", f.past())]).await;
    r.assert_status(200);
    assert_eq!(&r.body[..], b"conditional body");
    // If-None-Match false + If-Modified-Since true → 304.
    for method in ["GET", "HEAD"] {
        let r = f.req(method, &[("if-none-match", f.etag.clone()), ("if-modified-since", f.past())]).await;
        assert_eq!(r.status, 304, "{method}");
    }
    // If-Match false wins over If-Unmodified-Since true → 412.
    let r = f
        .req("GET", &[("if-match", "\"ffffffffffffffffffffffffffffffff\"".into()), ("if-unmodified-since", f.future())])
        .await;
    r.assert_error(412, "PreconditionFailed");
    // If-None-Match true + If-Modified-Since false → 200.
    let r = f.req("GET", &[("if-none-match", "\"other\"".into()), ("if-modified-since", f.future())]).await;
    r.assert_status(200);
    // Conditionals and Range together: the condition passes, the range applies.
    let r = f.req("GET", &[("if-match", f.etag.clone()), ("range", "bytes=0-10".into())]).await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], b"conditional");
}

#[tokio::test]
async fn response_header_overrides() {
    let ctx = Ctx::new("overrides").await;
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("file.bin")
        .content_type("application/octet-stream")
        .cache_control("no-store")
        .body(b"payload".to_vec().into())
        .send()
        .await
        .expect("put");
    let out = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key("file.bin")
        .response_content_type("text/plain")
        .response_content_disposition("attachment; filename=\"x y.txt\"")
        .response_cache_control("max-age=60")
        .response_content_language("fr")
        .send()
        .await
        .expect("get with overrides");
    assert_eq!(out.content_type(), Some("text/plain"));
    assert_eq!(out.content_disposition(), Some("attachment; filename=\"x y.txt\""));
    assert_eq!(out.cache_control(), Some("max-age=60"));
    assert_eq!(out.content_language(), Some("fr"));
    assert_eq!(&out.body.collect().await.expect("body").into_bytes()[..], b"payload");
    // Without overrides the stored values come back.
    let out = ctx.s3.get_object().bucket(&ctx.bucket).key("file.bin").send().await.expect("get");
    assert_eq!(out.content_type(), Some("application/octet-stream"));
    assert_eq!(out.cache_control(), Some("no-store"));
    // Raw query form.
    let resp = Req::new(
        &ctx.server,
        "GET",
        &format!(
            "{}?response-content-type=image%2Fpng&response-expires=Thu%2C%2001%20Dec%202094%2016%3A00%3A00%20GMT",
            ctx.path("file.bin")
        ),
    )
    .send()
    .await;
    resp.assert_status(200);
    assert_eq!(resp.header("content-type"), Some("image/png"));
    assert_eq!(resp.header("expires"), Some("Thu, 01 Dec 2094 16:00:00 GMT"));
}
