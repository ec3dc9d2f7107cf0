//! One S3 connection per worker: a hyper HTTP/1.1 connection with keep-alive
//! and TCP_NODELAY, re-opened when the server closes it, and SigV4 header
//! signing through `aws-sigv4`. Payloads are sent as `UNSIGNED-PAYLOAD`, so the
//! client never hashes a body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::content::{PatternBody, Verifier};

/// Request bodies: generated object content, a small buffer, or nothing.
pub type ReqBody = Either<PatternBody, Either<Full<Bytes>, Empty<Bytes>>>;

pub fn pattern_body(body: PatternBody) -> ReqBody {
    Either::Left(body)
}

pub fn bytes_body(bytes: impl Into<Bytes>) -> ReqBody {
    Either::Right(Either::Left(Full::new(bytes.into())))
}

pub fn empty_body() -> ReqBody {
    Either::Right(Either::Right(Empty::new()))
}

/// Where and as whom to send requests.
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as sent in the Host header and signed.
    pub host: String,
    pub bucket: String,
    pub region: String,
    /// `x-amz-server-side-encryption` sent on PUT and CreateMultipartUpload (`AES256`, `aws:kms`).
    pub sse: Option<String>,
    identity: Identity,
}

impl Target {
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<Target, String> {
        let rest = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| format!("endpoint {endpoint:?} must start with http:// (TLS is not supported)"))?;
        let host = rest.trim_end_matches('/').to_string();
        if host.contains('/') {
            return Err(format!("endpoint {endpoint:?} must not have a path"));
        }
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&host)
            .map_err(|e| format!("resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        let identity = Credentials::new(access_key, secret_key, None, None, "coffer-load").into();
        Ok(Target { addr, host, bucket: bucket.to_string(), region: region.to_string(), sse: None, identity })
    }
}

/// Percent-encodes a query value or key (RFC 3986 unreserved kept; `/` kept
/// when `keep_slash`).
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response whose body has not been read yet.
pub type Response = http::Response<Incoming>;

/// One worker's connection.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<ReqBody>>,
}

impl Conn {
    pub fn new(target: Arc<Target>) -> Conn {
        Conn { target, sender: None }
    }

    /// Headers of requests that create object data (the encryption asked for).
    pub fn write_headers(&self) -> Vec<(&'static str, String)> {
        self.target.sse.iter().map(|v| ("x-amz-server-side-encryption", v.clone())).collect()
    }

    pub fn bucket(&self) -> &str {
        &self.target.bucket
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.target.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Signs and sends `method path_and_query` (path already encoded) with
    /// `headers` and `body` of `content_length` bytes.
    pub async fn send(
        &mut self,
        method: http::Method,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: ReqBody,
        content_length: Option<u64>,
    ) -> Result<Response, String> {
        let target = Arc::clone(&self.target);
        let url = format!("http://{}{}", target.host, path_and_query);
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&target.identity)
            .region(&target.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let mut signed_headers: Vec<(&str, &str)> = vec![("host", target.host.as_str())];
        signed_headers.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let signable =
            SignableRequest::new(method.as_str(), &url, signed_headers.iter().copied(), SignableBody::UnsignedPayload)
                .map_err(|e| format!("signable request: {e}"))?;
        let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("sign: {e}"))?.into_parts();

        let mut builder = http::Request::builder().method(method).uri(path_and_query).header("host", &target.host);
        for (k, v) in headers {
            builder = builder.header(*k, v.as_str());
        }
        for (k, v) in instructions.headers() {
            builder = builder.header(k, v);
        }
        if let Some(len) = content_length {
            builder = builder.header("content-length", len);
        }
        let request = builder.body(body).map_err(|e| format!("build request: {e}"))?;

        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        if sender.ready().await.is_err() {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        match sender.send_request(request).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                self.sender = None;
                Err(format!("request: {e}"))
            }
        }
    }
}

/// Reads a body to the end, feeding `verifier` if given; returns its length.
pub async fn drain(mut body: Incoming, mut verifier: Option<&mut Verifier>) -> Result<u64, String> {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("read body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            n += data.len() as u64;
            if let Some(v) = verifier.as_deref_mut() {
                v.update(&data);
            }
        }
    }
    Ok(n)
}

/// Reads a (small) body into memory.
pub async fn collect(body: Incoming) -> Result<Bytes, String> {
    Ok(body.collect().await.map_err(|e| format!("read body: {e}"))?.to_bytes())
}

/// The text of the first `<tag>…</tag>` in an XML document.
pub fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Error label for a failed response: `STATUS Code` (reads the error body).
pub async fn failure(resp: Response) -> String {
    let status = resp.status().as_u16();
    let body = collect(resp.into_body()).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    match xml_field(&text, "Code") {
        Some(code) => format!("{status} {code}"),
        None => format!("{status}"),
    }
}
