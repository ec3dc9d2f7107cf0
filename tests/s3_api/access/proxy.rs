//! `aws:SourceIp` behind a real nginx: the client address comes from
//! `X-Forwarded-For` only when the peer is a configured trusted proxy.
//!
//! Every loopback address 127.0.0.0/8 reaches this machine, so clients bind
//! 127.0.0.2 or 127.0.0.3 as their source address to look like different
//! hosts; nginx connects to Coffer from 127.0.0.1.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::common::nginx::Nginx;
use crate::common::{Ctx, ServerOptions};

/// nginx proxying plainly to `upstream`, passing the client address and scheme.
async fn nginx_to(upstream: SocketAddr) -> Nginx {
    Nginx::start(|port, _| {
        format!(
            r#"    server {{
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
    }}"#
        )
    })
    .await
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
    let nginx = nginx_to(ctx.server.s3_addr).await;
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
    let nginx = nginx_to(ctx.server.s3_addr).await;
    let path = ctx.path("doc");
    // Coffer sees nginx (127.0.0.1) as the client and ignores its X-Forwarded-For.
    assert_eq!(get_from("127.0.0.2", nginx.addr, &path, &[]).await, 403);
    assert_eq!(get_from("127.0.0.1", ctx.server.s3_addr, &path, &[("x-forwarded-for", "127.0.0.2")]).await, 403);
}
