//! A real browser (Debian's headless Chromium) on a page from another origin
//! uploads with a presigned PUT and with a POST policy form, then downloads
//! what it uploaded; with the bucket's CORS rules removed the same page fails.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::nginx::free_port;
use crate::common::{Ctx, Req};
use crate::post_object::sign_policy;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A static file server for the page (Python's http.server), killed by PID when dropped.
struct PageServer(Child);

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn js(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

/// The page: synchronous XHRs, so the result is in the DOM when Chromium dumps it.
fn page(put_url: &str, post_url: &str, fields: &[(String, String)], get_url: &str) -> String {
    let appends: String = fields.iter().map(|(k, v)| format!("fd.append({}, {});\n", js(k), js(v))).collect();
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
var out = document.getElementById('out');
try {{
  var put = new XMLHttpRequest();
  put.open('PUT', {put}, false);
  put.send('uploaded with a presigned PUT');
  if (put.status !== 200) throw 'PUT status ' + put.status;
  var fd = new FormData();
  {appends}
  fd.append('file', new Blob(['uploaded with a POST form']), 'form.txt');
  var post = new XMLHttpRequest();
  post.open('POST', {post}, false);
  post.send(fd);
  if (post.status !== 204) throw 'POST status ' + post.status;
  var get = new XMLHttpRequest();
  get.open('GET', {get}, false);
  get.send();
  if (get.status !== 200) throw 'GET status ' + get.status;
  out.textContent = 'OK ' + get.responseText + ' / etag ' + (put.getResponseHeader('ETag') || 'hidden');
}} catch (e) {{ out.textContent = 'FAIL ' + e; }}
</script></body></html>"#,
        put = js(put_url),
        post = js(post_url),
        get = js(get_url),
    )
}

fn chromium_dump(url: &str, profile: &Path) -> String {
    let out = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=20000", "--timeout=30000", "--dump-dom", url])
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn browser_uploads_with_presigned_put_and_post_form() {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)");
    let ctx = Ctx::new("browser").await;
    let site = tempfile::Builder::new().prefix("coffer-page-").tempdir().expect("tmp");
    let page_port = free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let cors = format!(
        "<CORSConfiguration><CORSRule><AllowedOrigin>{origin}</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>"
    );
    Req::new(&ctx.server, "PUT", &format!("/{}?cors", ctx.bucket)).body(cors).send().await.assert_status(200);

    let presign = PresigningConfig::expires_in(Duration::from_secs(600)).expect("presign");
    let put_url = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key("browser/put.txt")
        .presigned(presign.clone())
        .await
        .expect("put url");
    let get_url =
        ctx.s3.get_object().bucket(&ctx.bucket).key("browser/form.txt").presigned(presign).await.expect("get url");
    let mut fields = vec![("key".to_string(), "browser/${filename}".to_string())];
    fields.extend(sign_policy(
        serde_json::json!([{"bucket": ctx.bucket}, ["starts-with", "$key", "browser/"]]),
        Duration::from_secs(600),
    ));
    let post_url = format!("{}/{}", ctx.server.endpoint(), ctx.bucket);
    std::fs::write(site.path().join("page.html"), page(put_url.uri(), &post_url, &fields, get_url.uri()))
        .expect("page");
    let _pages = PageServer(
        Command::new("python3")
            .args(["-m", "http.server", &page_port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(site.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("page server"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", page_port)).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "page server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page_url = format!("{origin}/page.html");
    let profile = tempfile::tempdir().expect("profile");
    let dom = chromium_dump(&page_url, profile.path());
    assert!(dom.contains("OK uploaded with a POST form"), "the browser uploads and reads back:\n{dom}");
    assert!(!dom.contains("etag hidden"), "ETag is exposed to the page by the CORS rule:\n{dom}");
    assert!(ctx.get_bytes("browser/put.txt").await == b"uploaded with a presigned PUT");
    assert!(ctx.get_bytes("browser/form.txt").await == b"uploaded with a POST form");

    // Without CORS the browser refuses the cross-origin requests.
    ctx.s3.delete_bucket_cors().bucket(&ctx.bucket).send().await.expect("delete cors");
    ctx.s3.delete_object().bucket(&ctx.bucket).key("browser/put.txt").send().await.expect("delete");
    let profile = tempfile::tempdir().expect("profile");
    let dom = chromium_dump(&page_url, profile.path());
    assert!(dom.contains("FAIL"), "without CORS the page must fail:\n{dom}");
    assert!(!ctx.exists("browser/put.txt").await, "the preflight was refused, so nothing was written");
}
