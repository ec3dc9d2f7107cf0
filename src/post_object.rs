//! POST Object: browser uploads with an HTML form (`multipart/form-data`)
//! and a signed POST policy.
//!
//! The form's fields up to the `file` field are read (fields after it are
//! ignored, as AWS does); the file is streamed into the engine, never held
//! whole. With a `policy`, its SigV4 signature names the uploader, it must not
//! be expired, every condition must hold and every form field must be covered
//! by a condition; the uploader then needs `s3:PutObject` on the key like any
//! writer. Without a policy the upload is anonymous.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use futures::TryStreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyStream, StreamBody};
use hyper::body::Frame;

use crate::auth::{PayloadMode, Principal};
use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::RequestContext;
use crate::ops::now_ms;
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::router::{Endpoint, Route};
use crate::server::AppState;
use crate::xml::XmlWriter;

/// RFC 3986 unreserved characters stay as they are in the URLs built here.
const URL_ENCODE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Total size of the form fields before the file (AWS: 20 KB).
const MAX_FIELDS_BYTES: usize = 20 * 1024;

fn malformed(detail: &str) -> ApiError {
    ApiError::new(
        S3ErrorCode::MalformedPOSTRequest,
        format!("The body of your POST request is not well-formed multipart/form-data. {detail}"),
    )
}

fn policy_denied(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(S3ErrorCode::AccessDenied, format!("Invalid according to Policy: {detail}"))
}

/// The conditions of a POST policy, checked against the form.
struct Policy {
    expiration_ms: u64,
    conditions: Vec<serde_json::Value>,
}

fn parse_policy(b64: &str) -> Result<Policy, ApiError> {
    let bad = || ApiError::invalid_policy_document("Invalid Policy: Invalid JSON.");
    let json = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&json).map_err(|_| bad())?;
    let expiration = v
        .get("expiration")
        .and_then(|e| e.as_str())
        .ok_or_else(|| ApiError::invalid_policy_document("Invalid Policy: Policy missing expiration."))?;
    // ISO 8601 as AWS writes it (`2007-12-01T12:00:00.000Z`): a `T` between date and time.
    let invalid = || ApiError::invalid_policy_document("Invalid Policy: Invalid 'expiration' value.");
    if expiration.as_bytes().get(10) != Some(&b'T') {
        return Err(invalid());
    }
    let t = time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid())?;
    let conditions = v
        .get("conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .ok_or_else(|| ApiError::invalid_policy_document("Invalid Policy: Policy missing conditions."))?;
    Ok(Policy { expiration_ms: (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64, conditions })
}

impl Policy {
    /// Checks the fields (lowercase names) and returns the allowed size range.
    fn check(&self, fields: &BTreeMap<String, String>, bucket: &str, now_ms: u64) -> Result<(u64, u64), ApiError> {
        if now_ms >= self.expiration_ms {
            return Err(policy_denied("Policy expired."));
        }
        let value_of = |name: &str| -> Option<String> {
            let name = name.trim_start_matches('$').to_ascii_lowercase();
            if name == "bucket" {
                return Some(bucket.to_string());
            }
            fields.get(&name).cloned()
        };
        let mut covered: Vec<String> = vec!["bucket".into()];
        let mut range = (0, u64::MAX);
        for c in &self.conditions {
            let (op, name, want) = match c {
                serde_json::Value::Object(m) if m.len() == 1 => {
                    let (k, v) = m.iter().next().expect("one entry");
                    ("eq", format!("${k}"), v.as_str().unwrap_or_default().to_string())
                }
                serde_json::Value::Array(a) if a.len() == 3 => {
                    let op = a[0].as_str().unwrap_or_default().to_ascii_lowercase();
                    if op == "content-length-range" {
                        let bad = || ApiError::invalid_policy_document("Invalid Policy: Invalid content-length-range.");
                        let min = a[1].as_u64().ok_or_else(bad)?;
                        let max = a[2].as_u64().ok_or_else(bad)?;
                        range = (min, max);
                        continue;
                    }
                    (
                        if op == "starts-with" { "starts-with" } else { "eq" },
                        a[1].as_str().unwrap_or_default().to_string(),
                        a[2].as_str().unwrap_or_default().to_string(),
                    )
                }
                _ => return Err(ApiError::invalid_policy_document("Invalid Policy: Invalid Simple-Condition.")),
            };
            let field = name.trim_start_matches('$').to_ascii_lowercase();
            covered.push(field.clone());
            let have = value_of(&field).unwrap_or_default();
            let ok = match op {
                "starts-with" if field == "content-type" => have.split(',').all(|part| part.trim().starts_with(&want)),
                "starts-with" => have.starts_with(&want),
                _ => have == want,
            };
            if !ok {
                return Err(policy_denied(format!("Policy Condition failed: [\"{op}\", \"${field}\", \"{want}\"]")));
            }
        }
        for name in fields.keys() {
            let exempt = matches!(name.as_str(), "policy" | "x-amz-signature" | "file" | "awsaccesskeyid" | "signature")
                    || name.starts_with("x-ignore-")
                    // A checksum only guards the file: AWS does not ask the policy to name it.
                    || name.starts_with("x-amz-checksum-");
            if !exempt && !covered.contains(name) {
                return Err(policy_denied(format!("Extra input fields: {name}")));
            }
        }
        Ok(range)
    }
}

/// The headers of the PutObject a form stands for: the form's content
/// headers, `x-amz-*` fields (metadata, encryption, checksum, storage class,
/// grants) and `acl` and `tagging` in their header forms, with the request's
/// own headers that are not about its body (host, origin, forwarding).
fn put_headers(request: &HeaderMap, fields: &BTreeMap<String, String>) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    for (name, value) in request {
        let about_body = name.as_str().starts_with("content-")
            || name.as_str().starts_with("x-amz-")
            || matches!(name.as_str(), "transfer-encoding" | "expect" | "authorization");
        if !about_body {
            headers.append(name.clone(), value.clone());
        }
    }
    let invalid = |name: &str| ApiError::invalid_argument(format!("Invalid value of the form field {name}."));
    for (name, value) in fields {
        let (header, value) = match name.as_str() {
            "acl" => ("x-amz-acl".to_string(), value.clone()),
            "tagging" => {
                let tags = crate::handlers::tagging::parse_tagging_document(
                    value.as_bytes(),
                    crate::handlers::tagging::MAX_OBJECT_TAGS,
                )?;
                let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_ENCODE).to_string();
                let query: Vec<String> = tags.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
                ("x-amz-tagging".to_string(), query.join("&"))
            }
            "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "expires" => (name.clone(), value.clone()),
            "x-amz-signature" | "x-amz-credential" | "x-amz-algorithm" | "x-amz-date" | "x-amz-security-token" => {
                continue
            }
            n if n.starts_with("x-amz-") => (name.clone(), value.clone()),
            _ => continue,
        };
        let header_name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| invalid(name))?;
        headers.insert(header_name, HeaderValue::from_str(&value).map_err(|_| invalid(name))?);
    }
    Ok(headers)
}

/// Serves `POST /bucket` with a form.
pub async fn handle(
    state: &AppState,
    parts: &http::request::Parts,
    body: RequestBody,
    bucket: &str,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary =
        multer::parse_boundary(content_type).map_err(|_| malformed("The Content-Type is not multipart/form-data."))?;
    let stream = BodyStream::new(body).filter_map(|frame| async move {
        match frame {
            Ok(f) => f.into_data().ok().map(Ok::<Bytes, hyper::Error>),
            Err(e) => Some(Err(e)),
        }
    });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut size = 0usize;
    let file = loop {
        let field = form.next_field().await.map_err(|e| malformed(&e.to_string()))?;
        let Some(field) = field else {
            return Err(ApiError::invalid_argument("POST requires exactly one file upload per request."));
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            break field;
        }
        let value = field.text().await.map_err(|e| malformed(&e.to_string()))?;
        size += name.len() + value.len();
        if size > MAX_FIELDS_BYTES {
            return Err(ApiError::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                "Your POST request fields preceding the upload file were too large.",
            ));
        }
        fields.insert(name, value);
    };
    let filename = file.file_name().unwrap_or_default().to_string();
    let key = fields
        .get("key")
        .ok_or_else(|| ApiError::invalid_argument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."))?
        .replace("${filename}", &filename);
    crate::handlers::check_key(&key)?;

    // Who uploads: the policy's signer, or nobody (anonymous).
    let (principal, range) = match fields.get("policy") {
        Some(policy_b64) => {
            let get = |n: &str| fields.get(n).map(String::as_str).unwrap_or_default();
            let require = |n: &str, shown: &str| {
                match fields.contains_key(n) {
                true => Ok(()),
                false => Err(ApiError::invalid_argument(format!(
                    "Bucket POST must contain a field named '{shown}'.  If it is specified, please check the order of the fields."
                ))),
            }
            };
            let access_key_id = if fields.contains_key("awsaccesskeyid") && !fields.contains_key("x-amz-algorithm") {
                // Signature Version 2: AWSAccessKeyId and signature fields.
                if !state.config.signature_v2 {
                    return Err(ApiError::invalid_request(
                        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                    ));
                }
                require("signature", "Signature")?;
                crate::auth::sigv2::verify_post_policy(
                    &state.identities,
                    policy_b64,
                    get("awsaccesskeyid"),
                    get("signature"),
                )?
            } else {
                if get("x-amz-algorithm") != "AWS4-HMAC-SHA256" {
                    return Err(ApiError::invalid_argument("x-amz-algorithm must be AWS4-HMAC-SHA256")
                        .with_extra("ArgumentName", "x-amz-algorithm"));
                }
                require("x-amz-credential", "X-Amz-Credential")?;
                require("x-amz-signature", "X-Amz-Signature")?;
                crate::auth::verify_post_policy(
                    &state.identities,
                    &state.config.region,
                    policy_b64,
                    get("x-amz-credential"),
                    get("x-amz-signature"),
                )?
            };
            let mut checked = fields.clone();
            checked.insert("key".into(), key.clone());
            let range = parse_policy(policy_b64)?.check(&checked, bucket, now_ms())?;
            (Principal::AccessKey { access_key_id }, range)
        }
        None => (Principal::Anonymous, (0, u64::MAX)),
    };
    // The object is written as a PutObject carrying the form's fields as
    // its headers would: authorized, described and verified the same way.
    let mut put = http::Request::builder()
        .method("PUT")
        .uri(format!("/{bucket}/{key}"))
        .body(())
        .expect("static request")
        .into_parts()
        .0;
    put.headers = put_headers(&parts.headers, &fields)?;
    let route = Route { endpoint: Endpoint::PutObject, bucket: Some(bucket.to_string()), key: Some(key.clone()) };
    let access = crate::access::authorize(state, &put, &[], &route, &principal, peer).await?;
    let ctx = RequestContext { state, parts: &put, query: &[], route, payload: PayloadMode::Unsigned, access };
    let file = StreamBody::new(file.map_ok(Frame::data));
    let max = range.1.min(crate::config::MAX_PUT_SIZE_BYTES);
    let written = crate::handlers::object::put_object(&ctx, file, range.0..=max).await?;
    let etag = written.headers().get(http::header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();

    let location =
        format!("/{bucket}/{}", percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC));
    let mut response = if let Some(url) = fields.get("success_action_redirect").or_else(|| fields.get("redirect")) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_ENCODE).to_string();
        let to = format!("{url}{sep}bucket={}&key={}&etag={}", enc(bucket), enc(&key), enc(&etag));
        let mut r = Response::new(response::empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    } else {
        match fields.get("success_action_status").map(String::as_str) {
            Some("200") => Response::new(response::empty()),
            Some("201") => {
                let mut w = XmlWriter::new_plain("PostResponse");
                w.text("Location", &location).text("Bucket", bucket).text("Key", &key).text("ETag", &etag);
                let mut r = response::xml(w.finish());
                *r.status_mut() = StatusCode::CREATED;
                r
            }
            _ => {
                let mut r = Response::new(response::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
        }
    };
    // ETag, checksum, encryption, version and expiration, as for a PUT.
    for (name, value) in written.headers() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    if response.status() != StatusCode::SEE_OTHER {
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(http::header::LOCATION, v);
        }
    }
    Ok(response)
}
