//! AWS Signature Version 2 (HMAC-SHA1): `Authorization: AWS <key>:<signature>`
//! or a presigned query (`AWSAccessKeyId`, `Signature`, `Expires`).
//!
//! Older clients still sign this way (boto2, s3cmd with `signature_v2`,
//! appliances, botocore's `s3` signer). The signature covers the method, the
//! `Content-MD5`, `Content-Type` and date (or expiry) lines, every `x-amz-*`
//! header and the resource: the bucket of a virtual-hosted request, the path
//! as sent and the sub-resources. It never covers the body, which is then read
//! like an anonymous request's (a declared `x-amz-content-sha256` is checked).
//!
//! Clients disagree on details: which query parameters are sub-resources
//! (AWS's list is tried first, then the narrower list of older signers), and
//! whether a bucket-only path is signed as `/bucket/` (AWS's rule) or as sent.
//! A presigned URL's `Expires` has no upper bound, as with AWS.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use super::canonical::percent_decode;
use super::{check_skew, format_iso8601, signatures_equal, CredentialStore};
use crate::error::{ApiError, S3ErrorCode};

/// Query parameters AWS signs as sub-resources (besides `response-*` overrides).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The sub-resources older signers know (botocore's `s3` signer, boto2).
const LEGACY_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

const RESPONSE_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// A SigV2-signed request, parsed but not yet verified.
#[derive(Debug)]
pub struct SignedV2 {
    pub access_key_id: String,
    /// The signature as sent (base64).
    signature: String,
    /// The date line(s) of the string to sign, in the order to try them.
    date_lines: Vec<String>,
}

/// Parses `AWS <key>:<signature>` (the part after `AWS `) and checks the
/// request date: `x-amz-date` if present, else `Date`, within 15 minutes.
pub fn from_header(parts: &http::request::Parts, credentials: &str, now: SystemTime) -> Result<SignedV2, ApiError> {
    let (access_key_id, signature) = credentials
        .trim()
        .split_once(':')
        .filter(|(key, sig)| !key.is_empty() && !sig.is_empty() && !sig.contains(':'))
        .ok_or_else(|| {
            ApiError::new(
                S3ErrorCode::InvalidArgument,
                "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            )
            .with_extra("ArgumentName", "Authorization")
            .with_extra("ArgumentValue", format!("AWS {credentials}"))
        })?;
    let header = |name: &str| parts.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    let amz_date = header("x-amz-date");
    let date = header("date");
    let stamp = amz_date.as_deref().or(date.as_deref()).unwrap_or("");
    let request_time = super::parse_date_header(stamp).ok_or_else(|| {
        ApiError::new(S3ErrorCode::AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
    })?;
    check_skew(stamp, request_time, now)?;
    // With x-amz-date present AWS signs an empty date line; some clients sign
    // the Date header anyway. Both are accepted.
    let mut date_lines = vec![date.clone().unwrap_or_default()];
    if amz_date.is_some() && date.is_some() {
        date_lines.push(String::new());
    }
    Ok(SignedV2 { access_key_id: access_key_id.to_owned(), signature: signature.to_owned(), date_lines })
}

/// Parses the presigned parameters (decoded query pairs) and checks expiry.
pub fn from_query(params: &[(Vec<u8>, Vec<u8>)], now: SystemTime) -> Result<SignedV2, ApiError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let (Some(access_key_id), Some(signature), Some(expires)) =
        (get("AWSAccessKeyId"), get("Signature"), get("Expires"))
    else {
        return Err(ApiError::new(
            S3ErrorCode::AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let expiry_secs: u64 = expires.trim().parse().map_err(|_| {
        ApiError::new(S3ErrorCode::AccessDenied, "Query-string authentication requires a numeric Expires parameter")
    })?;
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(expiry_secs);
    if now > expiry {
        return Err(ApiError::new(S3ErrorCode::AccessDenied, "Request has expired")
            .with_extra("Expires", format_iso8601(expiry))
            .with_extra("ServerTime", format_iso8601(now)));
    }
    Ok(SignedV2 { access_key_id, signature, date_lines: vec![expires] })
}

/// Verifies the signature with the key's secret. `vhost_bucket` is the bucket
/// a virtual-hosted-style Host header named.
pub fn verify(
    parts: &http::request::Parts,
    store: &dyn CredentialStore,
    signed: &SignedV2,
    vhost_bucket: Option<&str>,
) -> Result<(), ApiError> {
    let secret = store.secret_key(&signed.access_key_id).ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_extra("AWSAccessKeyId", signed.access_key_id.clone())
    })?;
    let resources = canonical_resources(parts.uri.path(), parts.uri.query().unwrap_or(""), vhost_bucket);
    let mut first = None;
    for date_line in &signed.date_lines {
        for resource in &resources {
            let sts = string_to_sign(parts, date_line, resource);
            if signatures_equal(&sign(secret.expose(), &sts), &signed.signature) {
                return Ok(());
            }
            first.get_or_insert(sts);
        }
    }
    let sts = first.unwrap_or_default();
    tracing::debug!(access_key_id = %signed.access_key_id, string_to_sign = %sts, "SigV2 signature mismatch");
    Err(ApiError::new(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .with_extra("AWSAccessKeyId", signed.access_key_id.clone())
    .with_extra("StringToSign", sts.clone())
    .with_extra("SignatureProvided", signed.signature.clone())
    .with_extra("StringToSignBytes", super::canonical::spaced_hex(&sts)))
}

/// Verifies a browser-based POST form signed the Signature Version 2 way:
/// `signature` is `base64(HMAC-SHA1(secret, policy))` over the base64 policy
/// text as sent. Returns the signer's access key id.
pub fn verify_post_policy(
    store: &dyn CredentialStore,
    policy_b64: &str,
    access_key_id: &str,
    signature: &str,
) -> Result<String, ApiError> {
    let secret = store.secret_key(access_key_id).ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_extra("AWSAccessKeyId", access_key_id.to_string())
    })?;
    if !signatures_equal(&sign(secret.expose(), policy_b64), signature) {
        return Err(ApiError::new(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with_extra("AWSAccessKeyId", access_key_id.to_string())
        .with_extra("StringToSign", policy_b64.to_string())
        .with_extra("SignatureProvided", signature.to_string()));
    }
    Ok(access_key_id.to_string())
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The string to sign: method, Content-MD5, Content-Type, date line, the
/// canonical `x-amz-*` headers and the resource.
pub fn string_to_sign(parts: &http::request::Parts, date_line: &str, resource: &str) -> String {
    let header = |name: &str| {
        parts.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned()).unwrap_or_default()
    };
    format!(
        "{}\n{}\n{}\n{}\n{}{}",
        parts.method.as_str(),
        header("content-md5"),
        header("content-type"),
        date_line,
        canonical_amz_headers(&parts.headers),
        resource
    )
}

/// Every `x-amz-*` header as `name:value\n`, names lowercased and sorted,
/// repeated headers joined with `,`, values trimmed with inner line folding
/// collapsed to one space.
pub fn canonical_amz_headers(headers: &http::HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).filter(|k| k.starts_with("x-amz-")).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// The canonical resources to try, first AWS's form: a bucket addressed
/// without a key is `/bucket/`, sub-resources from AWS's list. Then, if they
/// differ for this request, the path exactly as sent and the legacy list.
pub fn canonical_resources(raw_path: &str, raw_query: &str, vhost_bucket: Option<&str>) -> Vec<String> {
    let bucket_only = vhost_bucket.is_none() && raw_path.len() > 1 && !raw_path[1..].contains('/');
    let aws_path = if bucket_only { format!("{raw_path}/") } else { raw_path.to_owned() };
    let mut out: Vec<String> = Vec::with_capacity(4);
    for path in [aws_path.as_str(), raw_path] {
        for names in [SUBRESOURCES, LEGACY_SUBRESOURCES] {
            let resource = canonical_resource(path, raw_query, vhost_bucket, names);
            if !out.contains(&resource) {
                out.push(resource);
            }
        }
    }
    out
}

fn canonical_resource(raw_path: &str, raw_query: &str, vhost_bucket: Option<&str>, names: &[&str]) -> String {
    let mut out = String::new();
    if let Some(bucket) = vhost_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(if raw_path.is_empty() { "/" } else { raw_path });
    let mut signed: Vec<(String, Option<String>)> = raw_query
        .split('&')
        .filter(|seg| !seg.is_empty())
        .filter_map(|seg| {
            let (name, value) = match seg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (seg, None),
            };
            let name = String::from_utf8_lossy(&percent_decode(name)).into_owned();
            let wanted = names.contains(&name.as_str()) || RESPONSE_OVERRIDES.contains(&name.as_str());
            wanted.then(|| (name, value.map(|v| String::from_utf8_lossy(&percent_decode(v)).into_owned())))
        })
        .collect();
    if signed.is_empty() {
        return out;
    }
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('?');
    let joined: Vec<String> = signed
        .into_iter()
        .map(|(name, value)| match value {
            Some(v) => format!("{name}={v}"),
            None => name,
        })
        .collect();
    out.push_str(&joined.join("&"));
    out
}
