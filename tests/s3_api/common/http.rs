//! Raw HTTP/1.1 requests: a hyper connection per request, hand-signed with
//! aws-sigv4 (or anonymous), and a byte-level writer for requests hyper will
//! not send (a body shorter than its Content-Length, headers without a body).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::Server;
use super::sign::{self, Creds};
use super::util::{sha256_hex, xml_text};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A complete response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header value"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `<Code>` of an S3 error body.
    pub fn code(&self) -> Option<String> {
        xml_text(&self.text(), "Code")
    }

    /// Asserts an S3 error response: status, `<Code>`, XML error document.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_deref()),
            (status, Some(code)),
            "expected {status} {code}; got {} with body {:?}",
            self.status,
            self.text()
        );
        let text = self.text();
        assert!(text.trim_start().starts_with("<?xml"), "error body has an XML declaration: {text:?}");
        assert!(text.contains("<Error>"), "error body is an <Error> document: {text:?}");
        let ct = self.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/xml"), "error Content-Type is application/xml, got {ct:?}");
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(self.status, status, "unexpected status; body {:?}", self.text());
    }
}

/// A request under construction; the URI path and query must be encoded.
#[derive(Debug, Clone)]
pub struct Req {
    pub addr: SocketAddr,
    pub method: http::Method,
    pub host: String,
    pub path_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Req {
    pub fn new(server: &Server, method: &str, path_query: &str) -> Req {
        Req::to_addr(server.s3_addr, method, path_query)
    }

    pub fn to_addr(addr: SocketAddr, method: &str, path_query: &str) -> Req {
        assert!(path_query.starts_with('/'), "origin-form path: {path_query}");
        Req {
            addr,
            method: http::Method::from_bytes(method.as_bytes()).expect("valid method"),
            host: addr.to_string(),
            path_query: path_query.to_string(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Host header value (e.g. `bucket.DOMAIN:PORT`); the TCP peer stays `addr`.
    pub fn host(mut self, host: impl Into<String>) -> Req {
        self.host = host.into();
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Req {
        self.body = body.into();
        self
    }

    /// The unsigned request, absolute URI `http://HOST/path?query`, Host header set.
    pub fn to_http(&self) -> http::Request<Bytes> {
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(format!("http://{}{}", self.host, self.path_query))
            .header(http::header::HOST, &self.host);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        // As the SDKs do: PUT and POST always carry Content-Length (S3 answers
        // MissingContentLength without it), also for an empty body.
        let has_length = self.headers.iter().any(|(k, _)| k == "content-length" || k == "transfer-encoding");
        if !has_length && (self.method == http::Method::PUT || self.method == http::Method::POST) {
            builder = builder.header(http::header::CONTENT_LENGTH, self.body.len());
        }
        builder.body(self.body.clone()).expect("valid request")
    }

    /// Header-signed with the root credentials, payload hash = SHA-256 of the body.
    pub fn signed(&self) -> http::Request<Bytes> {
        self.signed_with(&Creds::root(), SystemTime::now(), &sha256_hex(&self.body)).0
    }

    /// Header-signed with the given credentials, time and `x-amz-content-sha256`
    /// value; returns the request and its (seed) signature.
    pub fn signed_with(&self, creds: &Creds, time: SystemTime, payload_hash: &str) -> (http::Request<Bytes>, String) {
        let mut req = self.to_http();
        let signature = sign::sign_headers(&mut req, creds, time, payload_hash);
        (req, signature)
    }

    /// Signed (root, now, SHA-256 of the body) and sent.
    pub async fn send(&self) -> RawResponse {
        send(self.addr, self.signed()).await
    }

    /// Signed with `UNSIGNED-PAYLOAD` and sent.
    pub async fn send_unsigned_payload(&self) -> RawResponse {
        send(self.addr, self.signed_with(&Creds::root(), SystemTime::now(), "UNSIGNED-PAYLOAD").0).await
    }

    /// Sent with no authentication at all.
    pub async fn send_anonymous(&self) -> RawResponse {
        send(self.addr, self.to_http()).await
    }
}

/// Sends `req` (absolute or origin-form URI) on a new connection to `addr`.
pub async fn send(addr: SocketAddr, req: http::Request<Bytes>) -> RawResponse {
    tokio::time::timeout(REQUEST_TIMEOUT, try_send(addr, req))
        .await
        .expect("request timed out")
        .unwrap_or_else(|e| panic!("request to {addr} failed: {e}"))
}

/// Like [`send`], without panicking on connection errors.
pub async fn try_send(addr: SocketAddr, req: http::Request<Bytes>) -> Result<RawResponse, String> {
    let (mut parts, body) = req.into_parts();
    if !parts.headers.contains_key(http::header::HOST) {
        let host = parts.uri.authority().map(|a| a.to_string()).unwrap_or_else(|| addr.to_string());
        parts.headers.insert(http::header::HOST, host.parse().expect("valid host"));
    }
    let pq = parts.uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| "/".into());
    parts.uri = pq.parse().expect("origin-form URI");
    let req = http::Request::from_parts(parts, Full::new(body));

    let resp = send_body(addr, req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| format!("reading body: {e}"))?.to_bytes();
    Ok(RawResponse { status: parts.status.as_u16(), headers: parts.headers, body })
}

/// Sends a request with any body type and returns the streaming response.
pub async fn send_body<B>(
    addr: SocketAddr,
    req: http::Request<B>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(|e| format!("send: {e}"))
}

/// GET on the admin listener (readiness probe).
pub async fn try_get(addr: SocketAddr, path: &str) -> Result<RawResponse, String> {
    let req = http::Request::builder().uri(path).header("host", addr.to_string()).body(Bytes::new()).expect("request");
    tokio::time::timeout(Duration::from_secs(5), try_send(addr, req)).await.map_err(|_| "timeout".to_string())?
}

/// The request line and headers of `req` as HTTP/1.1 bytes (origin-form).
pub fn serialize_head<B>(req: &http::Request<B>) -> Vec<u8> {
    let pq = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method(), pq).into_bytes();
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Writes `bytes` on a fresh connection, optionally half-closes, and reads one
/// response. `None` if the server closed the connection without answering.
pub async fn send_bytes(addr: SocketAddr, bytes: &[u8], close_write: bool) -> Option<RawResponse> {
    let fut = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(bytes).await.expect("write request bytes");
        stream.flush().await.expect("flush");
        if close_write {
            let _ = stream.shutdown().await;
        }
        read_response(&mut stream).await
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fut).await.expect("raw request timed out")
}

async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut map = http::HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("header line");
        map.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            http::HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let mut body = buf[head_end..].to_vec();
    let chunked = map
        .get("transfer-encoding")
        .map(|v| v.to_str().unwrap_or_default().to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let length: Option<usize> = map.get("content-length").and_then(|v| v.to_str().ok()?.parse().ok());
    loop {
        let complete = match (chunked, length) {
            (true, _) => find(&body, b"\r\n0\r\n\r\n").is_some() || body.starts_with(b"0\r\n\r\n"),
            (false, Some(n)) => body.len() >= n,
            (false, None) => false,
        };
        if complete {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    if chunked {
        body = dechunk(&body);
    } else if let Some(n) = length {
        body.truncate(n);
    }
    Some(RawResponse { status, headers: map, body: Bytes::from(body) })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(data, b"\r\n") {
        let size_str = std::str::from_utf8(&data[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    out
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
