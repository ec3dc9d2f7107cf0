//! aws-chunked request bodies (`Content-Encoding: aws-chunked`), signed
//! (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) and unsigned
//! (STREAMING-UNSIGNED-PAYLOAD-TRAILER), written by hand the way the SDKs do.

use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::http::Req;
use super::sign::{signing_key, Creds};
use super::util::sha256_hex;

pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Splits `data` into `chunk_size` pieces (the last may be shorter).
pub fn split(data: &[u8], chunk_size: usize) -> Vec<Vec<u8>> {
    data.chunks(chunk_size).map(|c| c.to_vec()).collect()
}

/// Chains chunk signatures from the seed (the request signature).
pub struct ChunkSigner {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    prev: String,
}

impl ChunkSigner {
    pub fn new(creds: &Creds, time: SystemTime, amz_date: &str, seed_signature: &str) -> ChunkSigner {
        let scope = format!("{}/{}/s3/aws4_request", &amz_date[..8], creds.region);
        ChunkSigner { key: signing_key(creds, time), amz_date: amz_date.into(), scope, prev: seed_signature.into() }
    }

    fn hmac_hex(&self, string_to_sign: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn chunk(&mut self, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.prev,
            EMPTY_SHA256,
            sha256_hex(data)
        );
        self.prev = self.hmac_hex(&sts);
        self.prev.clone()
    }

    /// `trailer_lines` is the trailer as signed: `name:value\n` per header.
    pub fn trailer(&mut self, trailer_lines: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.prev,
            sha256_hex(trailer_lines.as_bytes())
        );
        self.prev = self.hmac_hex(&sts);
        self.prev.clone()
    }
}

/// How a streaming body ends.
#[derive(Debug, Clone)]
pub enum Trailer {
    None,
    /// `(name, value)` trailer headers, e.g. `("x-amz-checksum-crc32", "…")`.
    Headers(Vec<(String, String)>),
}

/// The signed framing; `sig` yields each chunk signature (called for every
/// chunk, then for the final empty chunk) and the trailer signature.
fn encode_signed(
    chunks: &[Vec<u8>],
    trailer: &Trailer,
    mut chunk_sig: impl FnMut(&[u8]) -> String,
    mut trailer_sig: impl FnMut(&str) -> String,
) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        let sig = chunk_sig(chunk);
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    let sig = chunk_sig(&[]);
    out.extend_from_slice(format!("0;chunk-signature={sig}\r\n").as_bytes());
    match trailer {
        Trailer::None => out.extend_from_slice(b"\r\n"),
        Trailer::Headers(headers) => {
            let mut signed = String::new();
            for (name, value) in headers {
                out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
                signed.push_str(&format!("{name}:{value}\n"));
            }
            let sig = trailer_sig(&signed);
            out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n\r\n").as_bytes());
        }
    }
    out
}

/// The unsigned framing (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
pub fn encode_unsigned(chunks: &[Vec<u8>], trailer: &Trailer) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    if let Trailer::Headers(headers) = trailer {
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A signed aws-chunked PUT: sets the aws-chunked headers on `req`, signs it
/// with `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` and returns the request
/// with the encoded body. An `x-amz-decoded-content-length` already on `req`
/// is kept (to send a wrong one).
pub fn signed_streaming_request(
    req: Req,
    chunks: &[Vec<u8>],
    trailer: Trailer,
    creds: &Creds,
    time: SystemTime,
) -> http::Request<bytes::Bytes> {
    let decoded_len: usize = chunks.iter().map(|c| c.len()).sum();
    let dummy = "0".repeat(64);
    let encoded_len = encode_signed(chunks, &trailer, |_| dummy.clone(), |_| dummy.clone()).len();
    let mut req = req.header("content-encoding", "aws-chunked").header("content-length", encoded_len.to_string());
    if !req.headers.iter().any(|(name, _)| name == "x-amz-decoded-content-length") {
        // Tests may set a wrong value on purpose.
        req = req.header("x-amz-decoded-content-length", decoded_len.to_string());
    }
    let payload = match &trailer {
        Trailer::None => STREAMING_SIGNED,
        Trailer::Headers(headers) => {
            let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            req = req.header("x-amz-trailer", names.join(","));
            STREAMING_SIGNED_TRAILER
        }
    };
    let (signed, seed) = req.signed_with(creds, time, payload);
    let amz_date = signed.headers().get("x-amz-date").expect("x-amz-date set by the signer").to_str().expect("ASCII");
    let signer = std::cell::RefCell::new(ChunkSigner::new(creds, time, amz_date, &seed));
    let body = encode_signed(chunks, &trailer, |c| signer.borrow_mut().chunk(c), |t| signer.borrow_mut().trailer(t));
    assert_eq!(body.len(), encoded_len);
    let (parts, _) = signed.into_parts();
    http::Request::from_parts(parts, bytes::Bytes::from(body))
}

/// An unsigned-payload aws-chunked PUT (header-signed with
/// STREAMING-UNSIGNED-PAYLOAD-TRAILER), declaring `declared_trailer` in
/// `x-amz-trailer` (if any) and sending `body_trailer` at the end.
pub fn unsigned_streaming_request(
    req: Req,
    chunks: &[Vec<u8>],
    declared_trailer: Option<&str>,
    body_trailer: Trailer,
) -> http::Request<bytes::Bytes> {
    let decoded_len: usize = chunks.iter().map(|c| c.len()).sum();
    let body = encode_unsigned(chunks, &body_trailer);
    let mut req = req
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", decoded_len.to_string())
        .header("content-length", body.len().to_string());
    if let Some(name) = declared_trailer {
        req = req.header("x-amz-trailer", name);
    }
    let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), STREAMING_UNSIGNED_TRAILER);
    let (parts, _) = signed.into_parts();
    http::Request::from_parts(parts, bytes::Bytes::from(body))
}
