//! Object Lock (WORM): the bucket's lock configuration and default
//! retention, per-version retention (GOVERNANCE, COMPLIANCE) and legal hold,
//! the lock headers on writes, and the check that refuses to delete a locked
//! version.

use http::{HeaderMap, Response};
use serde::{Deserialize, Serialize};

use super::attrs::{BucketAttrs, ObjectAttrs};
use super::attrs_update::{update_bucket_attrs, update_version_attrs};
use super::RequestContext;
use crate::error::{ApiError, S3ErrorCode};
use crate::ops::now_ms;
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, iso8601_ms, XmlWriter};

/// A bucket's Object Lock setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLock {
    /// Retention given to new versions that ask for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultRetention>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: Mode,
    pub days: Option<u32>,
    pub years: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "GOVERNANCE")]
    Governance,
    #[serde(rename = "COMPLIANCE")]
    Compliance,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        match s {
            "GOVERNANCE" => Some(Mode::Governance),
            "COMPLIANCE" => Some(Mode::Compliance),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Mode::Governance => "GOVERNANCE",
            Mode::Compliance => "COMPLIANCE",
        }
    }
}

/// The retention of one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: Mode,
    pub until_ms: u64,
}

fn parse_date(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn no_lock_configuration() -> ApiError {
    ApiError::invalid_request("Bucket is missing Object Lock Configuration")
}

fn locked() -> ApiError {
    ApiError::new(S3ErrorCode::AccessDenied, "Access Denied because object protected by object lock.")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Sets the lock of a version being written: the request's lock headers,
/// else the bucket's default retention. `with_body`: a PutObject, which must
/// then carry an integrity check (Content-MD5 or a checksum), as AWS requires.
pub fn apply_on_write(
    headers: &HeaderMap,
    bucket: &BucketAttrs,
    attrs: &mut ObjectAttrs,
    with_body: bool,
) -> Result<(), ApiError> {
    let mode = header(headers, "x-amz-object-lock-mode");
    let until = header(headers, "x-amz-object-lock-retain-until-date");
    let hold = header(headers, "x-amz-object-lock-legal-hold");
    attrs.retention = None;
    attrs.legal_hold = false;
    if mode.is_some() || until.is_some() || hold.is_some() {
        if bucket.object_lock.is_none() {
            return Err(no_lock_configuration());
        }
        let has_integrity = headers.contains_key("content-md5")
            || headers.keys().any(|k| k.as_str().starts_with("x-amz-checksum-") && k.as_str() != "x-amz-checksum-mode")
            || headers.contains_key("x-amz-sdk-checksum-algorithm")
            || headers.contains_key("x-amz-trailer");
        if with_body && !has_integrity {
            return Err(ApiError::invalid_request(
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
            ));
        }
    }
    match (mode, until) {
        (Some(m), Some(u)) => {
            let mode = Mode::parse(m).ok_or_else(|| ApiError::invalid_argument("Unknown wormMode directive."))?;
            let until_ms = parse_date(u).ok_or_else(|| {
                ApiError::invalid_argument("The retain until date must be provided in ISO 8601 format")
            })?;
            if until_ms <= now_ms() {
                return Err(ApiError::invalid_argument("The retain until date must be in the future!"));
            }
            attrs.retention = Some(Retention { mode, until_ms });
        }
        (None, None) => {
            if let Some(d) = bucket.object_lock.as_ref().and_then(|l| l.default.as_ref()) {
                let days = u64::from(d.days.unwrap_or(0)) + u64::from(d.years.unwrap_or(0)) * 365;
                attrs.retention = Some(Retention { mode: d.mode, until_ms: now_ms() + days * 86_400_000 });
            }
        }
        _ => {
            return Err(ApiError::invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ))
        }
    }
    match hold {
        None | Some("OFF") => {}
        Some("ON") => attrs.legal_hold = true,
        Some(_) => return Err(ApiError::invalid_argument("Legal Hold must be either of 'ON' or 'OFF'")),
    }
    Ok(())
}

/// Whether the request asks to bypass GOVERNANCE retention and may.
fn bypasses_governance(ctx: &RequestContext<'_>, key: &str) -> bool {
    header(&ctx.parts.headers, "x-amz-bypass-governance-retention").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && ctx.access.allows_object("s3:BypassGovernanceRetention", key)
}

/// Refuses to delete a version under retention or legal hold.
pub fn check_delete(ctx: &RequestContext<'_>, key: &str, attrs: &ObjectAttrs) -> Result<(), ApiError> {
    if attrs.legal_hold {
        return Err(locked());
    }
    match attrs.retention {
        Some(r) if r.until_ms > now_ms() => match r.mode {
            Mode::Compliance => Err(locked()),
            Mode::Governance if bypasses_governance(ctx, key) => Ok(()),
            Mode::Governance => Err(locked()),
        },
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct ObjectLockConfiguration {
    #[serde(rename = "ObjectLockEnabled")]
    enabled: Option<String>,
    #[serde(rename = "Rule")]
    rule: Option<LockRule>,
}

#[derive(Debug, Deserialize)]
struct LockRule {
    #[serde(rename = "DefaultRetention")]
    default: DefaultRetentionXml,
}

#[derive(Debug, Deserialize)]
struct DefaultRetentionXml {
    #[serde(rename = "Mode")]
    mode: String,
    #[serde(rename = "Days")]
    days: Option<i64>,
    #[serde(rename = "Years")]
    years: Option<i64>,
}

impl xml::RequestDocument for ObjectLockConfiguration {
    const ROOT: &'static str = "ObjectLockConfiguration";
}

pub async fn handle_put_object_lock_configuration(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let doc: ObjectLockConfiguration = xml::parse(&bytes)?;
    if doc.enabled.as_deref() != Some("Enabled") {
        return Err(ApiError::malformed_xml());
    }
    let default = match doc.rule {
        None => None,
        Some(rule) => {
            let d = rule.default;
            let mode = Mode::parse(&d.mode).ok_or_else(ApiError::malformed_xml)?;
            let positive = |v: Option<i64>| -> Result<Option<u32>, ApiError> {
                match v {
                    None => Ok(None),
                    Some(n) if n > 0 && n <= 36_500 => Ok(Some(n as u32)),
                    Some(_) => {
                        Err(ApiError::invalid_argument("Default retention period must be a positive integer value"))
                    }
                }
            };
            let (days, years) = (positive(d.days)?, positive(d.years)?);
            if days.is_some() == years.is_some() {
                return Err(ApiError::malformed_xml());
            }
            Some(DefaultRetention { mode, days, years })
        }
    };
    update_bucket_attrs(ctx, |attrs| {
        if attrs.object_lock.is_none() && attrs.versioning.as_deref() != Some("Enabled") {
            return Err(ApiError::new(
                S3ErrorCode::InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        attrs.object_lock = Some(BucketLock { default: default.clone() });
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get_object_lock_configuration(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let lock = bucket.attrs.object_lock.as_ref().ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket",
        )
        .with_extra("BucketName", bucket.name.clone())
    })?;
    let mut w = XmlWriter::new("ObjectLockConfiguration");
    w.text("ObjectLockEnabled", "Enabled");
    if let Some(d) = &lock.default {
        w.open("Rule").open("DefaultRetention").text("Mode", d.mode.as_str());
        if let Some(days) = d.days {
            w.text("Days", &days.to_string());
        }
        if let Some(years) = d.years {
            w.text("Years", &years.to_string());
        }
        w.close().close();
    }
    Ok(response::xml(w.finish()))
}

#[derive(Debug, Deserialize)]
struct RetentionXml {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "RetainUntilDate")]
    until: Option<String>,
}

impl xml::RequestDocument for RetentionXml {
    const ROOT: &'static str = "Retention";
}

#[derive(Debug, Deserialize)]
struct LegalHoldXml {
    #[serde(rename = "Status")]
    status: String,
}

impl xml::RequestDocument for LegalHoldXml {
    const ROOT: &'static str = "LegalHold";
}

fn require_lock(ctx: &RequestContext<'_>) -> Result<(), ApiError> {
    match ctx.loaded_bucket()?.attrs.object_lock {
        Some(_) => Ok(()),
        None => Err(no_lock_configuration()),
    }
}

pub async fn handle_put_object_retention(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    require_lock(ctx)?;
    let version = super::versioning::requested_version(ctx)?;
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let doc: RetentionXml = xml::parse(&bytes)?;
    let wanted = match (doc.mode.as_deref(), doc.until.as_deref()) {
        (Some(m), Some(u)) => {
            let mode = Mode::parse(m).ok_or_else(ApiError::malformed_xml)?;
            let until_ms = parse_date(u).ok_or_else(ApiError::malformed_xml)?;
            if until_ms <= now_ms() {
                return Err(ApiError::invalid_argument("The retain until date must be in the future!"));
            }
            Some(Retention { mode, until_ms })
        }
        (None, None) => None,
        _ => return Err(ApiError::malformed_xml()),
    };
    let bypass = bypasses_governance(ctx, ctx.key());
    update_version_attrs(ctx, version, |attrs| {
        if let Some(current) = attrs.retention.filter(|r| r.until_ms > now_ms()) {
            // Shortening, removing or changing the mode weakens the lock: never
            // for COMPLIANCE, for GOVERNANCE only with the bypass.
            let weakens = match wanted {
                None => true,
                Some(w) => w.until_ms < current.until_ms || w.mode != current.mode,
            };
            if weakens && (current.mode == Mode::Compliance || !bypass) {
                return Err(locked());
            }
        }
        attrs.retention = wanted;
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get_object_retention(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    require_lock(ctx)?;
    let attrs = version_attrs(ctx).await?;
    let r = attrs.retention.ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration",
        )
    })?;
    let mut w = XmlWriter::new("Retention");
    w.text("Mode", r.mode.as_str()).text("RetainUntilDate", &iso8601_ms(r.until_ms));
    Ok(response::xml(w.finish()))
}

pub async fn handle_put_object_legal_hold(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    require_lock(ctx)?;
    let version = super::versioning::requested_version(ctx)?;
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let doc: LegalHoldXml = xml::parse(&bytes)?;
    let on = match doc.status.as_str() {
        "ON" => true,
        "OFF" => false,
        _ => return Err(ApiError::malformed_xml()),
    };
    update_version_attrs(ctx, version, |attrs| {
        attrs.legal_hold = on;
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get_object_legal_hold(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    require_lock(ctx)?;
    let attrs = version_attrs(ctx).await?;
    let mut w = XmlWriter::new("LegalHold");
    w.text("Status", if attrs.legal_hold { "ON" } else { "OFF" });
    Ok(response::xml(w.finish()))
}

/// The attributes of the version the request names (or the current one).
async fn version_attrs(ctx: &RequestContext<'_>) -> Result<ObjectAttrs, ApiError> {
    let info = match super::versioning::requested_version(ctx)? {
        Some(v) => ctx.state.engine.head_version(ctx.bucket(), ctx.key(), v).await?,
        None => ctx.state.engine.head_object(ctx.bucket(), ctx.key()).await?,
    };
    ObjectAttrs::decode(&info.attrs)
}

/// The `x-amz-object-lock-*` headers of a GET/HEAD.
pub fn write_headers(attrs: &ObjectAttrs, headers: &mut HeaderMap) {
    if let Some(r) = attrs.retention {
        headers.insert("x-amz-object-lock-mode", http::HeaderValue::from_static(r.mode.as_str()));
        if let Ok(v) = http::HeaderValue::from_str(&iso8601_ms(r.until_ms)) {
            headers.insert("x-amz-object-lock-retain-until-date", v);
        }
    }
    if attrs.legal_hold {
        headers.insert("x-amz-object-lock-legal-hold", http::HeaderValue::from_static("ON"));
    }
}
