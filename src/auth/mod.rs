//! Request authentication: AWS Signature Version 4 by presigned query, by
//! `Authorization` header, Signature Version 2 (`sigv2`, unless the operator
//! turned it off) the same two ways, or else anonymous.
//!
//! Owns: parsing the SigV4 parameters, the credential scope, date and clock
//! skew checks, signature verification (constant-time) and the payload mode
//! the body must then be verified in (`x-amz-content-sha256`). The body itself
//! (payload hash, aws-chunked signatures and trailers) is verified while it
//! streams, by `crate::body` with `chunked`.
//!
//! Invariants: a request is `Principal::AccessKey` only after its signature
//! matched; secrets are never logged or printed (`SecretKey` redacts itself,
//! signing keys are zeroized); canonicalisation lives in `canonical` as pure
//! functions. This module does no I/O besides the credential lookup.

pub mod canonical;
pub mod chunked;
mod presign;
mod signing_key;
pub mod sigv2;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{ApiError, S3ErrorCode};
use signing_key::SigningKey;

/// The service name S3 requests are signed for.
pub const S3_SERVICE: &str = "s3";
/// The service name IAM query requests are signed for.
pub const IAM_SERVICE: &str = "iam";
/// The largest clock difference accepted between client and server.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_ECDSA: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
const STREAMING_ECDSA_TRAILER: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER";
const SIGV4A_ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";

/// A secret access key. Zeroized on drop; `Debug` never shows it.
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    pub fn new(secret: String) -> Self {
        SecretKey(Zeroizing::new(secret))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where secrets come from.
pub trait CredentialStore: Send + Sync {
    fn secret_key(&self, access_key_id: &str) -> Option<SecretKey>;
}

impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    fn secret_key(&self, access_key_id: &str) -> Option<SecretKey> {
        (**self).secret_key(access_key_id)
    }
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    AccessKey { access_key_id: String },
}

/// The outcome of authentication: who, and how the body must be verified.
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub payload: PayloadMode,
}

/// How the request body is to be read and verified (`x-amz-content-sha256`).
#[derive(Debug, Clone)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`, or anonymous without a payload hash.
    Unsigned,
    /// The body must hash to this SHA-256.
    Sha256([u8; 32]),
    /// `aws-chunked` framing.
    Streaming(StreamingMode),
}

/// aws-chunked framing: signed chunks or not, trailing headers or not.
#[derive(Debug, Clone)]
pub struct StreamingMode {
    /// Present when every chunk (and the trailer) carries a signature.
    pub chunk_signing: Option<ChunkSigningContext>,
    /// The body ends with trailing headers (`...-TRAILER` modes).
    pub trailer: bool,
}

/// What verifying the signatures of aws-chunked chunks needs: the signing
/// key, the request date and scope, and the seed (the request's) signature.
#[derive(Clone)]
pub struct ChunkSigningContext {
    signing_key: SigningKey,
    /// The request timestamp as signed (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// The credential scope (`date/region/service/aws4_request`).
    pub scope: String,
    /// The signature of the request itself; the first chunk chains to it.
    pub seed_signature: String,
}

impl std::fmt::Debug for ChunkSigningContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigningContext")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigningContext {
    /// A context from a signing key (as `aws_sigv4::sign::v4::generate_signing_key` makes it).
    pub fn new(signing_key: Vec<u8>, amz_date: String, scope: String, seed_signature: String) -> Self {
        Self::with_key(Arc::new(Zeroizing::new(signing_key)), amz_date, scope, seed_signature)
    }

    fn with_key(signing_key: SigningKey, amz_date: String, scope: String, seed_signature: String) -> Self {
        ChunkSigningContext { signing_key, amz_date, scope, seed_signature }
    }

    /// The expected signature of a chunk whose data hashes to `chunk_sha256_hex`.
    pub fn chunk_signature(&self, previous_signature: &str, chunk_sha256_hex: &str) -> String {
        let sts = canonical::chunk_string_to_sign(&self.amz_date, &self.scope, previous_signature, chunk_sha256_hex);
        aws_sigv4::sign::v4::calculate_signature(self.signing_key.as_slice(), sts.as_bytes())
    }

    /// The expected signature of the trailing headers (canonical form).
    pub fn trailer_signature(&self, previous_signature: &str, canonical_trailers: &str) -> String {
        let sts =
            canonical::trailer_string_to_sign(&self.amz_date, &self.scope, previous_signature, canonical_trailers);
        aws_sigv4::sign::v4::calculate_signature(self.signing_key.as_slice(), sts.as_bytes())
    }
}

/// Compares two signatures in constant time (for equal lengths).
pub fn signatures_equal(expected: &str, provided: &str) -> bool {
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

/// Whether Signature Version 2 is verified or refused.
#[derive(Debug, Clone, Copy)]
pub enum SigV2<'a> {
    /// Refused with AWS's "use AWS4-HMAC-SHA256" error.
    Refused,
    /// Verified; the bucket a virtual-hosted-style Host header named enters
    /// the signed resource.
    Accepted { vhost_bucket: Option<&'a str> },
}

/// Authenticates an S3 request (service `s3`). See [`authenticate_for_services`].
pub fn authenticate(
    parts: &http::request::Parts,
    store: &dyn CredentialStore,
    region: &str,
    v2: SigV2<'_>,
    now: SystemTime,
) -> Result<Authenticated, ApiError> {
    authenticate_for_services(parts, store, region, &[S3_SERVICE], v2, now)
}

/// Authenticates a request signed for one of `services`: presigned query
/// first, then the `Authorization` header, else anonymous.
pub fn authenticate_for_services(
    parts: &http::request::Parts,
    store: &dyn CredentialStore,
    region: &str,
    services: &[&str],
    v2: SigV2<'_>,
    now: SystemTime,
) -> Result<Authenticated, ApiError> {
    let query = parts.uri.query().unwrap_or("");
    let params = canonical::parse_query(query);
    let has_param = |name: &[u8]| params.iter().any(|(n, _)| n.as_slice() == name);
    let authorization = parts.headers.get(http::header::AUTHORIZATION);

    if has_param(b"X-Amz-Algorithm") {
        if let Some(value) = authorization {
            return Err(ApiError::new(
                S3ErrorCode::InvalidArgument,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            )
            .with_extra("ArgumentName", "Authorization")
            .with_extra("ArgumentValue", String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
        let presigned = presign::parse(&params, region, services, now)?;
        let signed = presign::with_payload_hash(presigned, &parts.headers)?;
        return verify(parts, store, signed);
    }
    if let Some(value) = authorization {
        if has_param(b"Signature") && has_param(b"AWSAccessKeyId") {
            return Err(ApiError::new(
                S3ErrorCode::InvalidArgument,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            )
            .with_extra("ArgumentName", "Authorization")
            .with_extra("ArgumentValue", String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
        if let (SigV2::Accepted { vhost_bucket }, Some(credentials)) =
            (v2, value.to_str().ok().and_then(|v| v.trim_start().strip_prefix("AWS ")))
        {
            let signed = sigv2::from_header(parts, credentials, now)?;
            return verify_v2(parts, store, &signed, vhost_bucket);
        }
        let header = parse_authorization_header(value.as_bytes())?;
        let signed = header_request(parts, header, region, services, now, None)?;
        return verify(parts, store, signed);
    }
    if has_param(b"Signature") && has_param(b"AWSAccessKeyId") {
        let SigV2::Accepted { vhost_bucket } = v2 else { return Err(unsupported_mechanism()) };
        let signed = sigv2::from_query(&params, now)?;
        return verify_v2(parts, store, &signed, vhost_bucket);
    }
    Ok(Authenticated { principal: Principal::Anonymous, payload: anonymous_payload(&parts.headers)? })
}

/// Authenticates an IAM query request (service `iam`) whose whole body is
/// `body`. AWS SDKs sign IAM without `x-amz-content-sha256`: the body's
/// SHA-256 is then the payload hash. A declared hash must match the body.
/// The credential scope may name any of `regions` (clients sign IAM for
/// `us-east-1` whatever the endpoint's region is).
pub fn authenticate_iam(
    parts: &http::request::Parts,
    body: &[u8],
    store: &dyn CredentialStore,
    regions: &[&str],
    now: SystemTime,
) -> Result<Authenticated, ApiError> {
    use sha2::Digest;
    let body_hash = hex::encode(sha2::Sha256::digest(body));
    let fallback_region = regions.first().copied().unwrap_or("us-east-1");
    let authenticated = match parts.headers.get(http::header::AUTHORIZATION) {
        Some(value) if !parts.uri.query().unwrap_or("").contains("X-Amz-Algorithm") => {
            let header = parse_authorization_header(value.as_bytes())?;
            let region = regions.iter().copied().find(|r| *r == header.credential.region).unwrap_or(fallback_region);
            let signed = header_request(parts, header, region, &[IAM_SERVICE], now, Some(&body_hash))?;
            verify(parts, store, signed)?
        }
        _ => authenticate_for_services(parts, store, fallback_region, &[IAM_SERVICE], SigV2::Refused, now)?,
    };
    if let PayloadMode::Sha256(declared) = &authenticated.payload {
        if hex::encode(declared) != body_hash {
            return Err(ApiError::new(
                S3ErrorCode::XAmzContentSHA256Mismatch,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
    }
    Ok(authenticated)
}

/// A verified SigV2 request; its signature does not cover the body, which is
/// read as an anonymous request's is.
fn verify_v2(
    parts: &http::request::Parts,
    store: &dyn CredentialStore,
    signed: &sigv2::SignedV2,
    vhost_bucket: Option<&str>,
) -> Result<Authenticated, ApiError> {
    sigv2::verify(parts, store, signed, vhost_bucket)?;
    Ok(Authenticated {
        principal: Principal::AccessKey { access_key_id: signed.access_key_id.clone() },
        payload: anonymous_payload(&parts.headers)?,
    })
}

fn unsupported_mechanism() -> ApiError {
    ApiError::new(
        S3ErrorCode::InvalidRequest,
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )
}

/// The payload mode of a request whose signature does not cover the body
/// (anonymous, or SigV2): a hex payload hash is checked;
/// aws-chunked with unsigned trailers is decoded; signed streaming cannot be
/// verified without credentials and is refused.
fn anonymous_payload(headers: &http::HeaderMap) -> Result<PayloadMode, ApiError> {
    let Some(value) = headers.get("x-amz-content-sha256") else { return Ok(PayloadMode::Unsigned) };
    let value = value.to_str().unwrap_or("").trim();
    if value == STREAMING_UNSIGNED_TRAILER {
        return Ok(PayloadMode::Streaming(StreamingMode { chunk_signing: None, trailer: true }));
    }
    if value.starts_with("STREAMING-") {
        return Err(ApiError::access_denied());
    }
    Ok(parse_hex_sha256(value).map(PayloadMode::Sha256).unwrap_or(PayloadMode::Unsigned))
}

fn parse_hex_sha256(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if value.len() != 64 {
        return None;
    }
    hex::decode_to_slice(value, &mut out).ok()?;
    Some(out)
}

/// What `x-amz-content-sha256` says about the body; streaming modes get
/// their signing context once the signature has been verified.
enum DeclaredPayload {
    Unsigned,
    Sha256([u8; 32]),
    Streaming { signed: bool, trailer: bool },
}

fn declared_payload(value: &str) -> Result<DeclaredPayload, ApiError> {
    match value {
        UNSIGNED_PAYLOAD => Ok(DeclaredPayload::Unsigned),
        STREAMING_SIGNED => Ok(DeclaredPayload::Streaming { signed: true, trailer: false }),
        STREAMING_SIGNED_TRAILER => Ok(DeclaredPayload::Streaming { signed: true, trailer: true }),
        STREAMING_UNSIGNED_TRAILER => Ok(DeclaredPayload::Streaming { signed: false, trailer: true }),
        STREAMING_ECDSA | STREAMING_ECDSA_TRAILER => Err(ApiError::new(
            S3ErrorCode::NotImplemented,
            "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not implemented by Coffer",
        )),
        other => parse_hex_sha256(other).map(DeclaredPayload::Sha256).ok_or_else(|| {
            ApiError::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
            )
            .with_extra("ArgumentName", "x-amz-content-sha256")
            .with_extra("ArgumentValue", other.to_owned())
        }),
    }
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub credential: Credential,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// `AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminal: String,
}

fn header_malformed(detail: &str) -> ApiError {
    ApiError::new(S3ErrorCode::AuthorizationHeaderMalformed, format!("The authorization header is malformed; {detail}"))
}

const CREDENTIAL_MALFORMED: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";

/// Parses `AKID/date/region/service/terminal`; `None` if it has not that shape.
pub fn parse_credential(value: &str) -> Option<Credential> {
    let mut it = value.rsplitn(5, '/');
    let terminal = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let date = it.next()?;
    let access_key_id = it.next()?;
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return None;
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Credential {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        terminal: terminal.to_owned(),
    })
}

/// Parses an `Authorization` header value. Errors are the ones AWS answers
/// with: `InvalidRequest` for SigV2, `NotImplemented` for SigV4A,
/// `InvalidArgument` for another scheme, `AuthorizationHeaderMalformed`
/// for a malformed SigV4 header.
pub fn parse_authorization_header(value: &[u8]) -> Result<AuthorizationHeader, ApiError> {
    let text = std::str::from_utf8(value).map_err(|_| header_malformed("it is not valid UTF-8."))?.trim();
    let (algorithm, rest) = text.split_once([' ', '\t']).unwrap_or((text, ""));
    if algorithm != canonical::ALGORITHM {
        if algorithm == "AWS" {
            return Err(unsupported_mechanism());
        }
        if algorithm == SIGV4A_ALGORITHM {
            return Err(ApiError::new(
                S3ErrorCode::NotImplemented,
                "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not implemented by Coffer",
            ));
        }
        return Err(ApiError::new(S3ErrorCode::InvalidArgument, "Unsupported Authorization Type")
            .with_extra("ArgumentName", "Authorization")
            .with_extra("ArgumentValue", text.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, value)) = component.split_once('=') else {
            return Err(header_malformed(&format!("the authorization component \"{component}\" is malformed.")));
        };
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(header_malformed(&format!("the authorization component \"{component}\" is malformed."))),
        };
        if slot.replace(value.trim()).is_some() {
            return Err(header_malformed(&format!("the authorization component \"{name}\" is given twice.")));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        ));
    };
    let credential = parse_credential(credential).ok_or_else(|| header_malformed(CREDENTIAL_MALFORMED))?;
    let signed_headers = parse_signed_headers(signed_headers)
        .ok_or_else(|| header_malformed("the SignedHeaders component is malformed."))?;
    Ok(AuthorizationHeader { credential, signed_headers, signature: signature.to_owned() })
}

/// Splits `host;range;x-amz-date`, lowercased; `None` if empty or if a name
/// is not a valid header name.
pub fn parse_signed_headers(value: &str) -> Option<Vec<String>> {
    let names: Vec<String> = value.split(';').map(|n| n.trim().to_ascii_lowercase()).collect();
    let valid = |n: &String| !n.is_empty() && http::HeaderName::from_bytes(n.as_bytes()).is_ok();
    names.iter().all(valid).then_some(names)
}

/// Everything needed to verify a SigV4 signature, from either mechanism.
struct SignedRequest {
    credential: Credential,
    signed_headers: Vec<String>,
    signature: String,
    /// The timestamp as signed, `YYYYMMDDTHHMMSSZ`.
    amz_date: String,
    /// The payload hash that enters the canonical request.
    payload_hash: String,
    presigned: bool,
}

fn header_request(
    parts: &http::request::Parts,
    header: AuthorizationHeader,
    region: &str,
    services: &[&str],
    now: SystemTime,
    default_payload_hash: Option<&str>,
) -> Result<SignedRequest, ApiError> {
    let credential = header.credential;
    check_scope(&credential, region, services).map_err(|detail| {
        let err = header_malformed(&detail);
        if credential.region != region {
            err.with_extra("Region", region.to_owned())
        } else {
            err
        }
    })?;
    let (amz_date, request_time) = request_date(&parts.headers).ok_or_else(|| {
        ApiError::new(S3ErrorCode::AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
    })?;
    if amz_date[..8] != credential.date {
        return Err(header_malformed(&format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            credential.date,
            &amz_date[..8]
        )));
    }
    check_skew(&amz_date, request_time, now)?;
    if !header.signed_headers.iter().any(|h| h == "host") {
        return Err(header_malformed("the SignedHeaders component must include host."));
    }
    let mut not_signed: Vec<&str> = parts
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-amz-") && !header.signed_headers.iter().any(|s| s == k))
        .collect();
    if !not_signed.is_empty() {
        not_signed.sort_unstable();
        not_signed.dedup();
        return Err(ApiError::new(
            S3ErrorCode::AccessDenied,
            "There were headers present in the request which were not signed",
        )
        .with_extra("HeadersNotSigned", not_signed.join(", ")));
    }
    let payload_hash = match (parts.headers.get("x-amz-content-sha256"), default_payload_hash) {
        (Some(v), _) => v.to_str().map_err(|_| bad_content_sha256())?.trim().to_owned(),
        (None, Some(hash)) => hash.to_owned(),
        (None, None) => {
            return Err(ApiError::new(
                S3ErrorCode::InvalidRequest,
                "Missing required header for this request: x-amz-content-sha256",
            ))
        }
    };
    Ok(SignedRequest {
        credential,
        signed_headers: header.signed_headers,
        signature: header.signature,
        amz_date,
        payload_hash,
        presigned: false,
    })
}

fn bad_content_sha256() -> ApiError {
    ApiError::new(S3ErrorCode::InvalidArgument, "x-amz-content-sha256 is not valid.")
        .with_extra("ArgumentName", "x-amz-content-sha256")
}

/// Checks service, terminal and region of the scope; the error detail is the
/// text after "...is malformed; " / "Error parsing the X-Amz-Credential parameter; ".
fn check_scope(credential: &Credential, region: &str, services: &[&str]) -> Result<(), String> {
    if credential.region != region {
        return Err(format!("the region '{}' is wrong; expecting '{region}'", credential.region));
    }
    if !services.contains(&credential.service.as_str()) {
        return Err(format!(
            "incorrect service \"{}\". This endpoint belongs to \"{}\".",
            credential.service,
            services.first().copied().unwrap_or(S3_SERVICE)
        ));
    }
    if credential.terminal != "aws4_request" {
        return Err(format!("incorrect terminal \"{}\". This endpoint uses \"aws4_request\".", credential.terminal));
    }
    Ok(())
}

/// The request timestamp: `x-amz-date`, else `Date`; returned as the signed
/// basic ISO 8601 form and as a time.
fn request_date(headers: &http::HeaderMap) -> Option<(String, SystemTime)> {
    if let Some(v) = headers.get("x-amz-date") {
        let text = v.to_str().ok()?.trim();
        let time = parse_amz_date(text)?;
        return Some((text.to_owned(), time));
    }
    let text = headers.get(http::header::DATE)?.to_str().ok()?;
    let time = parse_date_header(text.trim())?;
    Some((format_amz_date(time), time))
}

/// Dates as HTTP and SigV2 clients send them: RFC 1123 with `GMT` (and the
/// other two RFC 7231 forms), RFC 2822 with a numeric zone (`+0000`), or the
/// ISO 8601 basic form SigV4 uses. Times before 1970 are not dates here.
pub(crate) fn parse_date_header(text: &str) -> Option<SystemTime> {
    let rfc2822 = || {
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
        let secs = u64::try_from(t.unix_timestamp()).ok()?;
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    };
    httpdate::parse_http_date(text).ok().or_else(rfc2822).or_else(|| parse_amz_date(text))
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let day = u8::try_from(digits(6..8)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(digits(9..11)?).ok()?,
        u8::try_from(digits(11..13)?).ok()?,
        u8::try_from(digits(13..15)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc().into())
}

/// Formats a time as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    format_utc(t, time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
}

/// Formats a time as AWS shows it in errors: `2013-05-24T00:00:00Z`.
pub fn format_iso8601(t: SystemTime) -> String {
    format_utc(t, time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
}

fn format_utc(t: SystemTime, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from(t).format(format).expect("invariant: a UTC time formats with a fixed description")
}

fn abs_diff(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap_or_default()
}

fn check_skew(amz_date: &str, request_time: SystemTime, now: SystemTime) -> Result<(), ApiError> {
    if abs_diff(request_time, now) > MAX_SKEW {
        return Err(ApiError::new(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        )
        .with_extra("RequestTime", amz_date.to_owned())
        .with_extra("ServerTime", format_iso8601(now))
        .with_extra("MaxAllowedSkewMilliseconds", MAX_SKEW.as_millis().to_string()));
    }
    Ok(())
}

/// Midnight UTC of a credential-scope date (`YYYYMMDD`).
fn scope_date_time(date: &str) -> Option<SystemTime> {
    parse_amz_date(&format!("{date}T000000Z"))
}

fn verify(
    parts: &http::request::Parts,
    store: &dyn CredentialStore,
    signed: SignedRequest,
) -> Result<Authenticated, ApiError> {
    let declared = declared_payload(&signed.payload_hash)?;
    let access_key_id = signed.credential.access_key_id.clone();
    let secret = store.secret_key(&access_key_id).ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_extra("AWSAccessKeyId", access_key_id.clone())
    })?;

    let signed_names: Vec<&str> = signed.signed_headers.iter().map(String::as_str).collect();
    let canonical_request = canonical::canonical_request(
        parts.method.as_str(),
        &canonical::canonical_uri(parts.uri.path()),
        &canonical::canonical_query(parts.uri.query().unwrap_or(""), signed.presigned),
        &canonical::canonical_headers(&parts.headers, &signed_names, parts.uri.authority().map(|a| a.as_str())),
        &signed_names.join(";"),
        &signed.payload_hash,
    );
    let scope = canonical::scope(&signed.credential.date, &signed.credential.region, &signed.credential.service);
    let string_to_sign = canonical::string_to_sign(&signed.amz_date, &scope, &canonical_request);
    let scope_time = scope_date_time(&signed.credential.date).ok_or_else(|| header_malformed(CREDENTIAL_MALFORMED))?;
    let signing_key = signing_key::signing_key(
        &secret,
        &signed.credential.date,
        scope_time,
        &signed.credential.region,
        &signed.credential.service,
    );
    let expected = aws_sigv4::sign::v4::calculate_signature(signing_key.as_slice(), string_to_sign.as_bytes());
    if !signatures_equal(&expected, &signed.signature) {
        // What was received: the canonical request with SSE-C key values
        // redacted, never the signature the server expected.
        tracing::debug!(
            access_key_id = %access_key_id,
            presigned = signed.presigned,
            method = %parts.method,
            path = %parts.uri.path(),
            query_len = parts.uri.query().map_or(0, str::len),
            signed_headers = %signed_names.join(";"),
            amz_date = %signed.amz_date,
            scope = %scope,
            payload_hash = %signed.payload_hash,
            canonical_request = %redact_keys(&canonical_request),
            string_to_sign = %string_to_sign,
            "SigV4 signature mismatch"
        );
        return Err(ApiError::new(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with_extra("AWSAccessKeyId", access_key_id)
        .with_extra("StringToSign", string_to_sign.clone())
        .with_extra("SignatureProvided", signed.signature.clone())
        .with_extra("StringToSignBytes", canonical::spaced_hex(&string_to_sign))
        .with_extra("CanonicalRequest", canonical_request.clone())
        .with_extra("CanonicalRequestBytes", canonical::spaced_hex(&canonical_request)));
    }

    let payload = match declared {
        DeclaredPayload::Unsigned => PayloadMode::Unsigned,
        DeclaredPayload::Sha256(hash) => PayloadMode::Sha256(hash),
        DeclaredPayload::Streaming { signed: chunk_signed, trailer } => PayloadMode::Streaming(StreamingMode {
            chunk_signing: chunk_signed.then(|| {
                ChunkSigningContext::with_key(signing_key, signed.amz_date.clone(), scope, signed.signature.clone())
            }),
            trailer,
        }),
    };
    Ok(Authenticated { principal: Principal::AccessKey { access_key_id }, payload })
}

/// A canonical request as it may be logged: the values of signed headers that
/// carry key material (SSE-C keys) replaced.
fn redact_keys(canonical_request: &str) -> String {
    canonical_request
        .lines()
        .map(|line| match line.split_once(':') {
            Some((name, _)) if name.ends_with("-customer-key") => format!("{name}:<redacted>"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Verifies the SigV4 signature of a browser POST policy (`x-amz-signature`
/// over the base64 policy, with the signing key of `x-amz-credential`);
/// returns the access key id it was signed with.
pub fn verify_post_policy(
    store: &dyn CredentialStore,
    region: &str,
    policy_b64: &str,
    credential: &str,
    signature: &str,
) -> Result<String, ApiError> {
    let bad = |m: &str| ApiError::invalid_argument(m.to_string()).with_extra("ArgumentName", "x-amz-credential");
    let credential = parse_credential(credential).ok_or_else(|| bad("Invalid x-amz-credential"))?;
    check_scope(&credential, region, &["s3"]).map_err(|m| bad(&m))?;
    let secret = store.secret_key(&credential.access_key_id).ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_extra("AWSAccessKeyId", credential.access_key_id.clone())
    })?;
    let scope_time = scope_date_time(&credential.date).ok_or_else(|| bad("Invalid date in x-amz-credential"))?;
    let signing_key =
        signing_key::signing_key(&secret, &credential.date, scope_time, &credential.region, &credential.service);
    let expected = aws_sigv4::sign::v4::calculate_signature(signing_key.as_slice(), policy_b64.as_bytes());
    if !signatures_equal(&expected, signature) {
        return Err(ApiError::new(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with_extra("AWSAccessKeyId", credential.access_key_id.clone())
        .with_extra("StringToSign", policy_b64.to_string())
        .with_extra("SignatureProvided", signature.to_string()));
    }
    Ok(credential.access_key_id)
}
