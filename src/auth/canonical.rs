//! Pure SigV4 canonicalisation for S3: canonical URI, query and headers, the
//! canonical request and the strings to sign (request, chunk, trailer).
//!
//! No I/O, no clock, no secrets: every function maps text to text so that the
//! AWS documentation's example vectors can test it directly.

use sha2::{Digest as _, Sha256};

/// The algorithm name of SigV4 with HMAC-SHA256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The algorithm line of a chunk's string to sign.
pub const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
/// The algorithm line of a signed trailer's string to sign.
pub const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data).as_slice())
}

/// Percent-decodes `s`. A `%` not followed by two hex digits is kept as is
/// (S3 is lenient there); `+` stays a literal `+`.
pub fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// SigV4 URI encoding: unreserved characters (`A-Za-z0-9-._~`) are kept,
/// everything else becomes `%XX` with uppercase hex; `/` is kept only when
/// `keep_slash`.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3 / 2);
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
        }
    }
    out
}

/// The canonical URI of an S3 request: the raw path decoded once and encoded
/// again, `/` kept. S3 neither normalises (`.`/`..`/`//` stay) nor
/// double-encodes.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(&percent_decode(raw_path), true)
}

/// Splits a raw query string into decoded `(name, value)` pairs; a parameter
/// without `=` has an empty value. Empty segments (`a=1&&b=2`) are skipped.
pub fn parse_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|seg| !seg.is_empty())
        .map(|seg| match seg.split_once('=') {
            Some((n, v)) => (percent_decode(n), percent_decode(v)),
            None => (percent_decode(seg), Vec::new()),
        })
        .collect()
}

/// The canonical query string: every parameter decoded and re-encoded, sorted
/// by encoded name then value, joined with `&`. With `exclude_signature` (a
/// presigned URL) the `X-Amz-Signature` parameter is left out.
pub fn canonical_query(raw_query: &str, exclude_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = parse_query(raw_query)
        .into_iter()
        .filter(|(name, _)| !(exclude_signature && name.as_slice() == b"X-Amz-Signature"))
        .map(|(n, v)| (uri_encode(&n, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(n);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value as it enters the canonical request: leading and trailing
/// whitespace trimmed, internal runs of spaces collapsed to one.
pub fn canonical_header_value(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.trim_matches(|c: char| c == ' ' || c == '\t').chars() {
        if c == ' ' || c == '\t' {
            pending_space = true;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// The canonical headers block (each line `name:value\n`) for the signed
/// header names, which must be lowercase. A header sent more than once has its
/// values joined with `,`. `host` falls back to `host_fallback` (the URI
/// authority, for HTTP/2) when the request has no Host header. A signed header
/// that is absent contributes an empty value (the signature then fails).
pub fn canonical_headers(headers: &http::HeaderMap, signed: &[&str], host_fallback: Option<&str>) -> String {
    let mut out = String::new();
    for &name in signed {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = headers.get_all(name).iter().map(|v| canonical_header_value(v.as_bytes())).collect();
        if values.is_empty() && name == "host" {
            if let Some(host) = host_fallback {
                out.push_str(&canonical_header_value(host.as_bytes()));
            }
        } else {
            out.push_str(&values.join(","));
        }
        out.push('\n');
    }
    out
}

/// The canonical request:
/// method, URI, query, headers block, signed header list, payload hash.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}

/// The credential scope, `date/region/service/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The request's string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The string to sign of one aws-chunked chunk whose data hashes to
/// `chunk_sha256_hex`.
pub fn chunk_string_to_sign(amz_date: &str, scope: &str, previous_signature: &str, chunk_sha256_hex: &str) -> String {
    format!("{CHUNK_ALGORITHM}\n{amz_date}\n{scope}\n{previous_signature}\n{EMPTY_SHA256_HEX}\n{chunk_sha256_hex}")
}

/// The canonical form of trailing headers for the trailer signature: lines
/// `name:value\n`, names lowercased, values trimmed, sorted by name.
pub fn canonical_trailers(trailers: &[(String, String)]) -> String {
    let mut lines: Vec<(String, &str)> = trailers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.trim())).collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (n, v) in lines {
        out.push_str(&n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// The string to sign of the trailing headers.
pub fn trailer_string_to_sign(
    amz_date: &str,
    scope: &str,
    previous_signature: &str,
    canonical_trailers: &str,
) -> String {
    format!(
        "{TRAILER_ALGORITHM}\n{amz_date}\n{scope}\n{previous_signature}\n{}",
        sha256_hex(canonical_trailers.as_bytes())
    )
}

/// The bytes of `s` as AWS shows them in `StringToSignBytes`: two hex digits
/// per byte, space-separated.
pub fn spaced_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for (i, b) in s.bytes().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding() {
        assert_eq!(canonical_uri("/test.txt"), "/test.txt");
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/a%2Fb"), "/a/b");
        assert_eq!(canonical_uri("/a b+c"), "/a%20b%2Bc");
        assert_eq!(canonical_uri("/../x//y/."), "/../x//y/.");
        assert_eq!(canonical_uri("/%E2%82%AC"), "/%E2%82%AC");
        assert_eq!(canonical_uri("/€"), "/%E2%82%AC");
        assert_eq!(canonical_uri("/~a-b_c.d"), "/~a-b_c.d");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/%zz"), "/%25zz");
    }

    #[test]
    fn query_canonicalisation() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("lifecycle", false), "lifecycle=");
        assert_eq!(canonical_query("prefix=J&max-keys=2", false), "max-keys=2&prefix=J");
        assert_eq!(canonical_query("b=2&a=2&a=1", false), "a=1&a=2&b=2");
        assert_eq!(canonical_query("prefix=a%2fb c", false), "prefix=a%2Fb%20c");
        assert_eq!(canonical_query("X-Amz-Signature=abc&x=1", true), "x=1");
        assert_eq!(canonical_query("X-Amz-Signature=abc&x=1", false), "X-Amz-Signature=abc&x=1");
        assert_eq!(canonical_query("a=1&&b", false), "a=1&b=");
    }

    #[test]
    fn header_values() {
        assert_eq!(canonical_header_value(b"  a   b  c "), "a b c");
        assert_eq!(canonical_header_value(b"bytes=0-9 "), "bytes=0-9");
        let mut h = http::HeaderMap::new();
        h.append("x-amz-meta-a", "1".parse().unwrap());
        h.append("x-amz-meta-a", " 2 ".parse().unwrap());
        assert_eq!(canonical_headers(&h, &["host", "x-amz-meta-a"], Some("h:9000")), "host:h:9000\nx-amz-meta-a:1,2\n");
    }

    #[test]
    fn trailer_canonical_form() {
        let t = vec![("x-amz-checksum-crc32c".to_owned(), " sOO8/Q== ".to_owned())];
        assert_eq!(canonical_trailers(&t), "x-amz-checksum-crc32c:sOO8/Q==\n");
    }

    #[test]
    fn spaced_hex_format() {
        assert_eq!(spaced_hex("AW"), "41 57");
    }

    // The AWS documentation's GET Object example (Range header).
    #[test]
    fn aws_get_object_vector() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        h.insert("range", "bytes=0-9".parse().unwrap());
        h.insert("x-amz-content-sha256", EMPTY_SHA256_HEX.parse().unwrap());
        h.insert("x-amz-date", "20130524T000000Z".parse().unwrap());
        let signed = ["host", "range", "x-amz-content-sha256", "x-amz-date"];
        let cr = canonical_request(
            "GET",
            &canonical_uri("/test.txt"),
            &canonical_query("", false),
            &canonical_headers(&h, &signed, None),
            &signed.join(";"),
            EMPTY_SHA256_HEX,
        );
        assert_eq!(
            cr,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20130524T000000Z", &scope("20130524", "us-east-1", "s3"), &cr);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
    }
}
