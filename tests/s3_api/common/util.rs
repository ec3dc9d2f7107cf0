//! Digests, test data, names, URL encoding, a tiny XML reader, and running
//! the external clients.

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A bucket name unique within this test binary run (and across concurrent runs).
pub fn bucket_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag: String =
        tag.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).take(30).collect();
    format!("{tag}-{}-{n}", std::process::id())
}

/// Deterministic pseudo-random bytes (xorshift64*), different for each seed.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

pub fn md5_b64(data: &[u8]) -> String {
    b64(Md5::digest(data))
}

/// The ETag S3 gives a single-part object: the quoted hex MD5.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn sha256_b64(data: &[u8]) -> String {
    b64(Sha256::digest(data))
}

pub fn sha1_b64(data: &[u8]) -> String {
    b64(sha1::Sha1::digest(data))
}

pub fn crc32_b64(data: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32;
    b64(v.to_be_bytes())
}

pub fn crc32c_b64(data: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data) as u32;
    b64(v.to_be_bytes())
}

pub fn crc64nvme_b64(data: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data);
    b64(v.to_be_bytes())
}

/// Percent-encode an object key for a path: everything but unreserved
/// characters and '/' (what the SDKs do).
pub fn enc_key(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

/// Percent-encode a query parameter value (RFC 3986 unreserved kept).
pub fn enc_query(value: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, SET).to_string()
}

/// Decode an `encoding-type=url` value: `%XX` escapes and `+` for space.
pub fn url_decode(value: &str) -> String {
    let plus_decoded = value.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded).decode_utf8().expect("valid UTF-8 after decoding").into_owned()
}

/// An HTTP date (IMF-fixdate) for conditional headers.
pub fn http_date(t: std::time::SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

pub fn parse_http_date(s: &str) -> std::time::SystemTime {
    httpdate::parse_http_date(s).unwrap_or_else(|e| panic!("not an HTTP date {s:?}: {e}"))
}

/// Text of the first `<tag>…</tag>` element, entity-decoded.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_all(xml, tag).into_iter().next()
}

/// Texts of every `<tag>…</tag>` element (not nested in each other), in order.
/// `<tag/>` counts as an empty text.
pub fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let open_attr = format!("<{tag} ");
    let empty = format!("<{tag}/>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let candidates = [rest.find(&open), rest.find(&open_attr), rest.find(&empty)];
        let Some(start) = candidates.iter().flatten().min().copied() else { break };
        let after = &rest[start..];
        if after.starts_with(&empty) {
            out.push(String::new());
            rest = &after[empty.len()..];
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        if after[..gt].ends_with('/') {
            out.push(String::new());
            rest = &after[gt + 1..];
            continue;
        }
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(xml_unescape(&body[..end]));
        rest = &body[end + close.len()..];
    }
    out
}

/// The raw inner XML of every `<tag>…</tag>` (for nested structures).
pub fn xml_blocks(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        out.push(body[..end].to_string());
        rest = &body[end + close.len()..];
    }
    out
}

pub fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&after[..=semi]),
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    out
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// Runs a command; panics with its output unless it succeeds. Returns stdout.
pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The Python with a current boto3 (`.ci/run` creates it).
pub fn boto3_python() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let py = format!("{home}/.cache/coffer-venv/bin/python");
    assert!(std::path::Path::new(&py).exists(), "{py} is missing: python3 -m venv ~/.cache/coffer-venv && ~/.cache/coffer-venv/bin/pip install boto3 (.ci/run does)");
    py
}
