//! ListObjects (v1) and ListObjectsV2.

use base64::Engine as _;
use http::Response;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use storage_engine::ListRequest;

use super::attrs::ObjectAttrs;
use super::RequestContext;
use crate::error::ApiError;
use crate::response::{self, Body};
use crate::xml::{iso8601_ms, XmlWriter};

/// Characters left as they are by `encoding-type=url` (as AWS: unreserved and '/').
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

pub const MAX_KEYS: usize = 1000;

/// Parses `max-keys`-like parameters: a non-negative integer, capped.
/// `encoding-type=url`: keys and prefixes percent-encoded as AWS does.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE).to_string()
}

pub fn parse_max(value: Option<&str>, name: &str, default: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(default))
            .ok_or_else(|| {
                ApiError::invalid_argument(format!("Provided {name} not an integer or within integer range"))
            }),
    }
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid_argument("The continuation token provided is incorrect"))
}

pub async fn handle_list_objects(ctx: &RequestContext<'_>, v2: bool) -> Result<Response<Body>, ApiError> {
    let url = match ctx.query_param("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => return Err(ApiError::invalid_argument("Invalid Encoding Method specified in Request")),
    };
    let enc = |s: &str| -> String {
        if url {
            url_encode(s)
        } else {
            s.to_string()
        }
    };
    let prefix = ctx.query_param("prefix").unwrap_or_default().to_string();
    let delimiter = ctx.query_param("delimiter").filter(|d| !d.is_empty()).map(str::to_string);
    let max_keys = parse_max(ctx.query_param("max-keys"), "max-keys", MAX_KEYS)?;
    let continuation = if v2 { ctx.query_param("continuation-token") } else { None };
    let start_after = if v2 {
        match continuation {
            Some(token) => Some(decode_token(token)?),
            None => ctx.query_param("start-after").filter(|s| !s.is_empty()).map(str::to_string),
        }
    } else {
        ctx.query_param("marker").filter(|s| !s.is_empty()).map(str::to_string)
    };
    // The bucket was loaded (and its existence checked) when the request was authorized.
    let bucket_name = ctx.access.bucket.as_ref().map(|b| b.name.as_str()).unwrap_or(ctx.bucket());
    let page = if max_keys == 0 {
        storage_engine::ListPage::default()
    } else {
        let request = ListRequest { prefix: prefix.clone(), delimiter: delimiter.clone(), start_after, max_keys };
        ctx.state.engine.list_objects(ctx.bucket(), &request).await?
    };
    let fetch_owner = !v2 || ctx.query_param("fetch-owner") == Some("true");
    let owner = &ctx.bucket_owner();

    let mut w = XmlWriter::new("ListBucketResult");
    w.text("Name", bucket_name);
    // ListObjects (v1) echoes its Prefix unencoded even with encoding-type=url,
    // as AWS does (and as clients expect: they decode it in v2 only).
    w.text("Prefix", &if v2 { enc(&prefix) } else { prefix.clone() });
    if v2 {
        if let Some(token) = continuation {
            w.text("ContinuationToken", token);
        }
        if let Some(sa) = ctx.query_param("start-after") {
            w.text("StartAfter", &enc(sa));
        }
        w.text("KeyCount", &(page.objects.len() + page.common_prefixes.len()).to_string());
    } else {
        w.text("Marker", &enc(ctx.query_param("marker").unwrap_or_default()));
    }
    w.text("MaxKeys", &max_keys.to_string());
    if let Some(d) = &delimiter {
        w.text("Delimiter", &enc(d));
    }
    if url {
        w.text("EncodingType", "url");
    }
    w.text("IsTruncated", if page.is_truncated { "true" } else { "false" });
    if page.is_truncated {
        if let Some(marker) = &page.next_marker {
            if v2 {
                w.text("NextContinuationToken", &encode_token(marker));
            } else if delimiter.is_some() {
                w.text("NextMarker", &enc(marker));
            }
        }
    }
    for object in &page.objects {
        let attrs = ObjectAttrs::decode(&object.attrs)?;
        w.open("Contents");
        w.text("Key", &enc(&object.key));
        w.text("LastModified", &iso8601_ms(object.last_modified_ms));
        w.text("ETag", &object.etag);
        if let Some((alg, _)) = &attrs.checksum {
            w.text("ChecksumAlgorithm", alg.as_str());
            w.text("ChecksumType", attrs.checksum_type());
        }
        w.text("Size", &crate::sse::plain_size(object, attrs.sse.as_ref())?.to_string());
        if fetch_owner {
            w.open("Owner");
            w.text("ID", &owner.id);
            w.text("DisplayName", &owner.display_name);
            w.close();
        }
        w.text("StorageClass", attrs.storage_class.as_deref().unwrap_or("STANDARD"));
        w.close();
    }
    for cp in &page.common_prefixes {
        w.open("CommonPrefixes");
        w.text("Prefix", &enc(cp));
        w.close();
    }
    Ok(response::xml(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for key in ["a", "a/b c", "é/☃", ""] {
            assert_eq!(decode_token(&encode_token(key)).expect("round trip"), key);
        }
        assert!(decode_token("***").is_err());
    }

    #[test]
    fn max_keys_parsing() {
        assert_eq!(parse_max(None, "max-keys", 1000).expect("ok"), 1000);
        assert_eq!(parse_max(Some("5"), "max-keys", 1000).expect("ok"), 5);
        assert_eq!(parse_max(Some("5000"), "max-keys", 1000).expect("ok"), 1000);
        assert!(parse_max(Some("-1"), "max-keys", 1000).is_err());
        assert!(parse_max(Some("abc"), "max-keys", 1000).is_err());
    }

    #[test]
    fn url_encoding_keeps_slashes() {
        assert_eq!(utf8_percent_encode("a b/c+d&é", URL_ENCODE).to_string(), "a%20b/c%2Bd%26%C3%A9");
    }
}
