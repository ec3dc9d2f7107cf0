//! Bucket lifecycle: the configuration (`config`), its handlers
//! (Get/Put/DeleteBucketLifecycleConfiguration) and the background worker
//! (`worker`) that expires objects, noncurrent versions and expired delete
//! markers, and aborts incomplete multipart uploads.
//!
//! Times are counted in lifecycle days: 24 hours, an object becoming due at
//! the midnight UTC after its age reaches the rule's days (as AWS). A
//! test-only setting shortens the day (and turns the rounding off).

pub mod config;
pub mod worker;

use http::Response;

use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::attrs_update::update_bucket_attrs;
use crate::handlers::RequestContext;
use crate::request_body::RequestBody;
use crate::response::{self, Body};

/// The length of a lifecycle day, and whether due times round up to its end.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub day_ms: u64,
    pub round_to_day: bool,
}

impl Clock {
    pub fn real() -> Clock {
        Clock { day_ms: 86_400_000, round_to_day: true }
    }

    /// When something `days` old counted from `since_ms` becomes due.
    pub fn due_ms(&self, since_ms: u64, days: u32) -> u64 {
        let t = since_ms.saturating_add(u64::from(days).saturating_mul(self.day_ms));
        if self.round_to_day {
            t.div_ceil(self.day_ms).saturating_mul(self.day_ms)
        } else {
            t
        }
    }
}

/// The earliest expiration of a current object under the rules, with the rule's id.
pub fn expiration(
    lifecycle: &config::Lifecycle,
    clock: Clock,
    key: &str,
    tags: &[(String, String)],
    size: u64,
    modified_ms: u64,
) -> Option<(u64, String)> {
    lifecycle
        .rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(key, tags, size))
        .filter_map(|r| {
            let by_days = r.expiration_days.map(|d| clock.due_ms(modified_ms, d));
            let due = match (by_days, r.expiration_date_ms) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            Some((due, r.id.clone()))
        })
        .min_by_key(|(due, _)| *due)
}

/// Adds `x-amz-expiration` to a response about the current version of an
/// object, when a rule expires it. The date is the rule's, in real days
/// rounded to midnight UTC as AWS states it; the test-only short day changes
/// only when the worker acts.
pub fn write_expiration(
    ctx: &RequestContext<'_>,
    headers: &mut http::HeaderMap,
    info: &storage_engine::ObjectInfo,
    tags: &[(String, String)],
) {
    let Some(lc) = ctx.access.bucket.as_ref().and_then(|b| b.attrs.lifecycle.as_ref()) else { return };
    if let Some((due, rule)) = expiration(lc, Clock::real(), &info.key, tags, info.size_bytes, info.last_modified_ms) {
        if let Ok(v) = http::HeaderValue::from_str(&expiration_header(due, &rule)) {
            headers.insert("x-amz-expiration", v);
        }
    }
}

/// `x-amz-expiration: expiry-date="...", rule-id="..."`.
pub fn expiration_header(due_ms: u64, rule_id: &str) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(due_ms);
    format!("expiry-date=\"{}\", rule-id=\"{}\"", httpdate::fmt_http_date(at), rule_id.replace('"', ""))
}

pub async fn handle_put(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 1024 * 1024).await?;
    let parsed = config::parse(&bytes)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.lifecycle = Some(parsed.clone());
        Ok(())
    })
    .await?;
    ctx.state.lifecycle_wake.notify_one();
    Ok(Response::new(response::empty()))
}

pub async fn handle_get(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let lc = bucket.attrs.lifecycle.as_ref().ok_or_else(|| {
        ApiError::new(S3ErrorCode::NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist")
            .with_extra("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(config::render(lc)))
}

pub async fn handle_delete(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.lifecycle = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}
