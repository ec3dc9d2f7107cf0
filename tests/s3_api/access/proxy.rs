//! `aws:SourceIp` behind a real nginx: the client address comes from
//! `X-Forwarded-For` only when the peer is a configured trusted proxy.
//!
//! Every loopback address 127.0.0.0/8 reaches this machine, so clients bind
//! 127.0.0.2 or 127.0.0.3 as their source address to look like different
//! hosts; nginx connects to Coffer from 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::common::{Ctx, ServerOptions};

const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx proxying to one upstream; killed (by PID) when dropped.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Nginx {
    async fn start(upstream: SocketAddr) -> Nginx {
        assert!(Path::new(NGINX).exists(), "{NGINX} is missing: install Debian's nginx package (.ci/run does)");
        let dir = tempfile::Builder::new().prefix("coffer-nginx-").tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "nginx did not start; see {d}/error.log");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Nginx { child, addr, _dir: dir }
    }
}

/// An anonymous GET from source address `from` to `to`, with extra headers; returns the status.
async fn get_from(from: &str, to: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(from.parse::<IpAddr>().expect("ip"), 0)).expect("bind source address");
    let stream = socket.connect(to).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let mut req = http::Request::builder().method("GET").uri(path).header("host", to.to_string());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let response = sender.send_request(req.body(Full::new(Bytes::new())).expect("request")).await.expect("send");
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

fn source_ip_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"127.0.0.2/32"}}}}}}]}}"#
    )
}

#[tokio::test]
async fn source_ip_through_nginx_with_a_trusted_proxy() {
    let options =
        ServerOptions { extra_args: vec!["--trusted-proxy".into(), "127.0.0.1".into()], ..Default::default() };
    let ctx = Ctx::with_options("proxy-trusted", options).await;
    ctx.put("doc", b"d".to_vec()).await;
    // A policy pinned to one address is not public: Block Public Access (on) lets it in.
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(source_ip_policy(&ctx.bucket)).send().await.expect("policy");
    let nginx = Nginx::start(ctx.server.s3_addr).await;
    let path = ctx.path("doc");
    assert_eq!(get_from("127.0.0.2", nginx.addr, &path, &[]).await, 200, "allowed client through nginx");
    assert_eq!(get_from("127.0.0.3", nginx.addr, &path, &[]).await, 403, "other client through nginx");
    // nginx replaces a client's own X-Forwarded-For, so it cannot be spoofed through the proxy...
    assert_eq!(get_from("127.0.0.3", nginx.addr, &path, &[("x-forwarded-for", "127.0.0.2")]).await, 403);
    // ...and straight to Coffer the header is ignored: 127.0.0.3 is no trusted proxy.
    assert_eq!(get_from("127.0.0.3", ctx.server.s3_addr, &path, &[("x-forwarded-for", "127.0.0.2")]).await, 403);
    assert_eq!(get_from("127.0.0.2", ctx.server.s3_addr, &path, &[]).await, 200, "direct from the allowed address");
}

#[tokio::test]
async fn without_the_trusted_proxy_setting_forwarded_headers_count_for_nothing() {
    let ctx = Ctx::new("proxy-untrusted").await;
    ctx.put("doc", b"d".to_vec()).await;
    ctx.s3.put_bucket_policy().bucket(&ctx.bucket).policy(source_ip_policy(&ctx.bucket)).send().await.expect("policy");
    let nginx = Nginx::start(ctx.server.s3_addr).await;
    let path = ctx.path("doc");
    // Coffer sees nginx (127.0.0.1) as the client and ignores its X-Forwarded-For.
    assert_eq!(get_from("127.0.0.2", nginx.addr, &path, &[]).await, 403);
    assert_eq!(get_from("127.0.0.1", ctx.server.s3_addr, &path, &[("x-forwarded-for", "127.0.0.2")]).await, 403);
}
