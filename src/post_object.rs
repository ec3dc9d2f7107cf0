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
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyStream;
use hyper::body::Incoming;
use md5::Digest;

use crate::auth::Principal;
use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::attrs::ObjectAttrs;
use crate::ops::now_ms;
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
    let t = time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::invalid_policy_document("Invalid Policy: Invalid 'expiration' value."))?;
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
                        let min = a[1].as_u64().ok_or_else(|| policy_denied("Invalid content-length-range"))?;
                        let max = a[2].as_u64().ok_or_else(|| policy_denied("Invalid content-length-range"))?;
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
            let exempt =
                matches!(name.as_str(), "policy" | "x-amz-signature" | "file" | "awsaccesskeyid" | "signature")
                    || name.starts_with("x-ignore-");
            if !exempt && !covered.contains(name) {
                return Err(policy_denied(format!("Extra input fields: {name}")));
            }
        }
        Ok(range)
    }
}

/// Serves `POST /bucket` with a form.
pub async fn handle(
    state: &AppState,
    parts: &http::request::Parts,
    body: Incoming,
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
    let mut file = loop {
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
            let access_key_id = if fields.contains_key("awsaccesskeyid") && !fields.contains_key("x-amz-algorithm") {
                // Signature Version 2: AWSAccessKeyId and signature fields.
                if !state.config.signature_v2 {
                    return Err(ApiError::invalid_request(
                        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                    ));
                }
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
    // The form's content headers and metadata, as a PUT would carry them.
    let mut headers = HeaderMap::new();
    for (name, value) in &fields {
        let keep = name.starts_with("x-amz-meta-")
            || matches!(
                name.as_str(),
                "content-type" | "cache-control" | "content-disposition" | "content-encoding" | "expires"
            );
        if keep {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(n, v);
            }
        }
    }
    let mut auth_parts = http::Request::builder()
        .method("PUT")
        .uri(format!("/{bucket}/{key}"))
        .body(())
        .expect("static request")
        .into_parts()
        .0;
    auth_parts.headers = parts.headers.clone();
    let route = Route { endpoint: Endpoint::PutObject, bucket: Some(bucket.to_string()), key: Some(key.clone()) };
    let access = crate::access::authorize(state, &auth_parts, &[], &route, &principal, peer).await?;
    let bucket_attrs =
        access.bucket.as_ref().map(|b| b.attrs.clone()).ok_or_else(|| ApiError::internal("POST without its bucket"))?;
    let versioning = bucket_attrs.versioning_mode();
    let mut attrs = ObjectAttrs::from_request_headers(&headers)?;
    let keys = state.sse.plan_write(
        crate::sse::request::parse_write(&headers)?,
        bucket_attrs.encryption.as_ref(),
        access.client.secure,
    )?;
    let mut writer = state.engine.object_writer(bucket, &key).await?.with_versioning(versioning);
    let mut plain = crate::handlers::encryption::PlainWriter::new(&mut writer, keys.as_ref().map(|k| k.sealer(0)));
    let mut md5 = md5::Md5::new();
    let mut length = 0u64;
    while let Some(chunk) = file.chunk().await.map_err(|e| malformed(&e.to_string()))? {
        length += chunk.len() as u64;
        if length > range.1 {
            return Err(ApiError::new(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            ));
        }
        md5.update(&chunk);
        plain.write(chunk).await?;
    }
    plain.finish().await?;
    if length < range.0 {
        return Err(ApiError::new(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        ));
    }
    let digest: [u8; 16] = md5.finalize().into();
    let etag = keys.as_ref().map_or_else(|| crate::handlers::object::md5_etag(&digest), |k| k.etag(&digest));
    let guard = state.sse.commit_guard().await;
    attrs.sse = keys.map(|k| state.sse.record(&k, bucket, &key, &guard)).transpose()?;
    let info = writer.commit(etag, attrs.encode(), storage_engine::CommitCondition::None).await?;
    drop(guard);

    let location =
        format!("/{bucket}/{}", percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC));
    let mut response = if let Some(url) = fields.get("success_action_redirect").or_else(|| fields.get("redirect")) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_ENCODE).to_string();
        let to = format!("{url}{sep}bucket={}&key={}&etag={}", enc(bucket), enc(&key), enc(&info.etag));
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
                let mut w = XmlWriter::new("PostResponse");
                w.text("Location", &location).text("Bucket", bucket).text("Key", &key).text("ETag", &info.etag);
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
    if let Ok(v) = HeaderValue::from_str(&info.etag) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    if response.status() != StatusCode::SEE_OTHER {
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(http::header::LOCATION, v);
        }
    }
    Ok(response)
}
