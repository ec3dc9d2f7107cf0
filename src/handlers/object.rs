//! PutObject, GetObject, HeadObject, DeleteObject.

use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use storage_engine::{CommitCondition, ObjectInfo};

use super::attrs::ObjectAttrs;
use super::conditions::{self, Precondition};
use super::encryption::{self, PlainWriter};
use super::versioning;
use super::{check_key, RequestContext};
use crate::body::BodySummary;
use crate::config::MAX_PUT_SIZE_BYTES;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body, BoxError};

/// Quoted hex MD5, the ETag of a single-part object.
pub fn md5_etag(md5: &[u8; 16]) -> String {
    format!("\"{}\"", hex::encode(md5))
}

/// A body sent with `Transfer-Encoding: chunked` must still declare its
/// decoded length, as AWS requires; without either header the body is empty.
pub fn require_content_length(headers: &HeaderMap) -> Result<(), ApiError> {
    if !headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers.contains_key(http::header::CONTENT_LENGTH)
        || headers.contains_key("x-amz-decoded-content-length")
    {
        return Ok(());
    }
    Err(ApiError::new(S3ErrorCode::MissingContentLength, "You must provide the Content-Length HTTP header."))
}

/// The commit condition of a conditional write (PUT, CompleteMultipartUpload):
/// `If-None-Match: *` (the key must not exist), `If-None-Match: <etag>` (the
/// current object must not have that etag), `If-Match: *` (the key must
/// exist), `If-Match: <etag>` (the current object must have that etag).
pub(super) fn put_condition(ctx: &RequestContext<'_>) -> Result<CommitCondition, ApiError> {
    let quoted = |etag: &str| format!("\"{}\"", etag.trim().trim_matches('"'));
    match (ctx.header("if-none-match").map(str::trim), ctx.header("if-match").map(str::trim)) {
        (Some(_), Some(_)) => Err(ApiError::not_implemented("Combining If-Match and If-None-Match on a write")),
        (Some("*"), None) => Ok(CommitCondition::IfAbsent),
        (Some(etag), None) => Ok(CommitCondition::IfEtagDiffers(quoted(etag))),
        (None, Some("*")) => Ok(CommitCondition::IfExists),
        (None, Some(etag)) => Ok(CommitCondition::IfEtagMatches(quoted(etag))),
        (None, None) => Ok(CommitCondition::None),
    }
}

/// Fails early (before the body is read) when a conditional PUT cannot succeed.
/// The condition is checked again atomically at commit.
pub(super) async fn precheck_condition(ctx: &RequestContext<'_>, cond: &CommitCondition) -> Result<(), ApiError> {
    let failed = || {
        ApiError::new(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
    };
    match cond {
        CommitCondition::None => Ok(()),
        CommitCondition::IfAbsent => match ctx.state.engine.head_object(ctx.bucket(), ctx.key()).await {
            Ok(_) => Err(failed()),
            Err(storage_engine::EngineError::NoSuchKey { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        },
        CommitCondition::IfExists | CommitCondition::IfEtagMatches(_) | CommitCondition::IfEtagDiffers(_) => {
            let current = match ctx.state.engine.head_object(ctx.bucket(), ctx.key()).await {
                Ok(info) => Some(info),
                Err(storage_engine::EngineError::NoSuchKey { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            match (cond, current) {
                (CommitCondition::IfEtagDiffers(etag), Some(info)) if &info.etag == etag => Err(failed()),
                (CommitCondition::IfEtagDiffers(_), _) => Ok(()),
                (_, None) => Err(ApiError::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")),
                (CommitCondition::IfEtagMatches(etag), Some(info)) if &info.etag != etag => Err(failed()),
                _ => Ok(()),
            }
        }
    }
}

/// Adds `x-amz-checksum-<alg>` for a checksum that was verified or computed.
pub fn checksum_header(headers: &mut HeaderMap, summary: &BodySummary) {
    if let Some((alg, value)) = &summary.checksum {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(alg.header_name(), v);
        }
    }
}

pub async fn handle_put_object(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    require_content_length(&ctx.parts.headers)?;
    put_object(ctx, body, 0..=MAX_PUT_SIZE_BYTES).await
}

/// PutObject's write path, shared with POST Object (whose policy bounds the
/// size): the object from `body`, described by the request's headers.
pub(crate) async fn put_object<B>(
    ctx: &RequestContext<'_>,
    body: B,
    size: std::ops::RangeInclusive<u64>,
) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    check_key(ctx.key())?;
    let mut attrs = ObjectAttrs::from_request_headers(&ctx.parts.headers)?;
    attrs.acl = super::acl::object_acl_for_write(ctx)?;
    super::object_lock::apply_on_write(&ctx.parts.headers, &ctx.loaded_bucket()?.attrs, &mut attrs, true)?;
    let keys = encryption::plan_write(ctx)?;
    let cond = put_condition(ctx)?;
    precheck_condition(ctx, &cond).await?;
    // Opening the writer checks that the bucket exists, before any data is read.
    let mut stream = ctx.body(body, *size.end())?;
    if let Err(err) = crate::ops::check_free_space(ctx.state, crate::ops::announced_length(&ctx.parts.headers)) {
        super::discard(&mut stream).await;
        return Err(err);
    }
    let versioning = versioning::mode(ctx)?;
    let mut writer = ctx.state.engine.object_writer(ctx.bucket(), ctx.key()).await?.with_versioning(versioning);
    let mut plain = PlainWriter::new(&mut writer, keys.as_ref().map(|k| k.sealer(0)));
    while let Some(chunk) = stream.next().await {
        plain.write(chunk?).await?;
    }
    plain.finish().await?;
    let summary =
        stream.summary().ok_or_else(|| ApiError::new(S3ErrorCode::IncompleteBody, "The request body ended early."))?;
    if summary.size_bytes < *size.start() {
        return Err(ApiError::new(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        ));
    }
    attrs.checksum = summary.checksum.clone();
    let etag = keys.as_ref().map_or_else(|| md5_etag(&summary.md5), |k| k.etag(&summary.md5));
    let guard = ctx.state.sse.commit_guard().await;
    attrs.sse = keys.map(|k| ctx.state.sse.record(&k, ctx.bucket(), ctx.key(), &guard)).transpose()?;
    let info = writer.commit(etag.clone(), attrs.encode(), cond).await?;
    drop(guard);

    let mut response = Response::new(response::empty());
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.etag) {
        headers.insert(http::header::ETAG, v);
    }
    checksum_header(headers, &summary);
    ctx.state.sse.write_headers(attrs.sse.as_ref(), headers, true);
    versioning::written_version_header(headers, info.version_id.as_deref());
    let plain = ObjectInfo { size_bytes: summary.size_bytes, ..info };
    crate::lifecycle::write_expiration(ctx, headers, &plain, &attrs.tags);
    Ok(response)
}

/// Headers common to GET and HEAD of an object.
fn object_headers(headers: &mut HeaderMap, info: &ObjectInfo, attrs: &ObjectAttrs) {
    attrs.write_headers(headers);
    if let Ok(v) = HeaderValue::from_str(&info.etag) {
        headers.insert(http::header::ETAG, v);
    }
    let modified = conditions::modified_seconds(info.last_modified_ms);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    headers.insert(http::header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// `response-*` query parameters override the stored content headers.
fn apply_response_overrides(ctx: &RequestContext<'_>, headers: &mut HeaderMap) -> Result<(), ApiError> {
    const OVERRIDES: [(&str, &str); 6] = [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ];
    for (param, header) in OVERRIDES {
        if let Some(value) = ctx.query_param(param) {
            let v = HeaderValue::from_str(value)
                .map_err(|_| ApiError::invalid_argument(format!("Invalid value for {param}")))?;
            headers.insert(header, v);
        }
    }
    Ok(())
}

/// The byte range of part `n` of an object assembled from parts.
fn part_range(info: &ObjectInfo, part_number: u32) -> Result<(u64, u64), ApiError> {
    let sizes: Vec<u64> = if info.part_sizes.is_empty() { vec![info.size_bytes] } else { info.part_sizes.clone() };
    let index = usize::try_from(part_number).unwrap_or(usize::MAX);
    if part_number == 0 || index > sizes.len() {
        return Err(ApiError::new(S3ErrorCode::InvalidPartNumber, "The requested partnumber is not satisfiable")
            .with_extra("PartNumberRequested", part_number.to_string())
            .with_extra("ActualPartCount", sizes.len().to_string()));
    }
    let start: u64 = sizes[..index - 1].iter().sum();
    Ok((start, start + sizes[index - 1]))
}

pub async fn handle_get_object(ctx: &RequestContext<'_>, head: bool) -> Result<Response<Body>, ApiError> {
    // SSE-S3 and SSE-KMS objects are decrypted unasked: as AWS, a read that
    // names the encryption is refused (SSE-C has its own headers).
    for name in ["x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"] {
        if ctx.parts.headers.contains_key(name) {
            return Err(ApiError::invalid_argument(format!("The {name} header is not supported for this operation."))
                .with_extra("ArgumentName", name));
        }
    }
    // An overwrite between reading the head and opening the data makes the
    // headers stale; start again with the new version.
    for _ in 0..3 {
        if let Some(response) = get_object_once(ctx, head).await? {
            return Ok(response);
        }
    }
    Err(ApiError::new(S3ErrorCode::SlowDown, "The object is being overwritten too often to be read; retry."))
}

/// The version a read names (`versionId`), or the current one; a delete
/// marker in either place is the error AWS answers for it.
pub async fn requested_object(ctx: &RequestContext<'_>, version: Option<&str>) -> Result<ObjectInfo, ApiError> {
    let engine = &ctx.state.engine;
    let stored = match version {
        Some(v) => engine.head_version(ctx.bucket(), ctx.key(), v).await?,
        None => match engine.head_object(ctx.bucket(), ctx.key()).await {
            Err(storage_engine::EngineError::NoSuchKey { bucket, key }) => {
                return Err(match engine.current_delete_marker(&bucket, &key).await? {
                    Some(marker) => versioning::delete_marker_error(&marker, false),
                    None => storage_engine::EngineError::NoSuchKey { bucket, key }.into(),
                })
            }
            other => other?,
        },
    };
    if stored.delete_marker {
        return Err(versioning::delete_marker_error(&stored, true));
    }
    Ok(stored)
}

async fn get_object_once(ctx: &RequestContext<'_>, head: bool) -> Result<Option<Response<Body>>, ApiError> {
    let engine = &ctx.state.engine;
    let part_number = match ctx.query_param("partNumber") {
        None => None,
        Some(v) => Some(v.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| {
            ApiError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
        })?),
    };
    if part_number.is_some() && ctx.header("range").is_some() {
        return Err(ApiError::invalid_request("Cannot specify both Range header and partNumber query parameter"));
    }
    let version = versioning::requested_version(ctx)?;
    let stored = requested_object(ctx, version).await?;
    let attrs = ObjectAttrs::decode(&stored.attrs)?;
    // The keys are checked first: without them, not even a precondition is answered.
    let keys = encryption::open_stored(ctx, &attrs, ctx.bucket(), ctx.key(), crate::sse::request::CUSTOMER)?;
    let info = crate::sse::plain_view(&stored, attrs.sse.as_ref())?;
    match conditions::evaluate(
        conditions::header_getter(&ctx.parts.headers),
        conditions::READ_CONDITIONS,
        &info.etag,
        info.last_modified_ms,
    ) {
        Precondition::Proceed => {}
        Precondition::Failed => {
            return Err(ApiError::new(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
            .with_extra("Condition", "If-Match"))
        }
        Precondition::NotModified => {
            let mut response = Response::new(response::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            if let Ok(v) = HeaderValue::from_str(&info.etag) {
                response.headers_mut().insert(http::header::ETAG, v);
            }
            let modified = conditions::modified_seconds(info.last_modified_ms);
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
                response.headers_mut().insert(http::header::LAST_MODIFIED, v);
            }
            return Ok(Some(response));
        }
    }
    let range = match part_number {
        Some(n) => Some(part_range(&info, n)?),
        None => conditions::parse_range(ctx.header("range"), info.size_bytes)?,
    };
    let mut response = Response::new(response::empty());
    let headers = response.headers_mut();
    // Room for what follows and what the server adds (no regrowth on the way).
    headers.reserve(24);
    object_headers(headers, &info, &attrs);
    ctx.state.sse.write_headers(attrs.sse.as_ref(), headers, false);
    versioning::version_header(headers, &info);
    super::object_lock::write_headers(&attrs, headers);
    if version.is_none() {
        crate::lifecycle::write_expiration(ctx, headers, &info, &attrs.tags);
    }
    if version.is_some() && !headers.contains_key("x-amz-version-id") {
        // The null version of a bucket that never had versioning, asked for by id.
        headers.insert("x-amz-version-id", HeaderValue::from_static("null"));
    }
    apply_response_overrides(ctx, headers)?;
    if part_number.is_some() {
        headers.insert("x-amz-mp-parts-count", HeaderValue::from(info.part_sizes.len().max(1)));
    }
    // A full-object checksum is never returned for a range; a part of a
    // multipart object gets the checksum that part was uploaded with.
    let checksum_mode = ctx.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
    let checksum = match (part_number, &attrs.checksum) {
        (Some(n), Some((alg, _))) if !attrs.part_checksums.is_empty() => {
            attrs.part_checksums.get(n as usize - 1).map(|value| (*alg, value))
        }
        // Part 1 of an object uploaded in one piece is the whole object.
        (Some(1), Some((alg, value))) if info.part_sizes.is_empty() => Some((*alg, value)),
        (None, Some((alg, value))) if range.is_none() => Some((*alg, value)),
        _ => None,
    };
    if checksum_mode {
        if let Some((alg, value)) = checksum {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(alg.header_name(), v);
                headers.insert("x-amz-checksum-type", HeaderValue::from_static(attrs.checksum_type()));
            }
        }
    }
    let (start, end) = range.unwrap_or((0, info.size_bytes));
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(end - start));
    // A range (or part) of a non-empty object is partial content; an empty
    // part 1 of an empty object is the whole (empty) object.
    if range.is_some() && end > start {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{}", start, end - 1, info.size_bytes)) {
            headers.insert(http::header::CONTENT_RANGE, v);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if head || end == start {
        return Ok(Some(response));
    }
    let (read_info, reader) = crate::sse::read_plain(
        engine,
        (ctx.bucket(), ctx.key(), version),
        &stored,
        attrs.sse.as_ref(),
        keys.as_ref(),
        (start, end),
    )
    .await?;
    if read_info.etag != stored.etag || read_info.last_modified_ms != stored.last_modified_ms {
        return Ok(None);
    }
    let frames = reader.map_ok(Frame::data).map_err(|e| -> BoxError {
        tracing::error!(error = %e, "object read failed mid-stream");
        Box::new(e)
    });
    let (parts, _) = response.into_parts();
    Ok(Some(Response::from_parts(parts, StreamBody::new(frames).boxed_unsync())))
}

pub async fn handle_delete_object(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    check_key(ctx.key())?;
    let version = versioning::requested_version(ctx)?;
    let deleted = versioning::delete(ctx, ctx.key(), version).await?;
    let mut response = response::no_content();
    if let Some(v) = deleted.version_id.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert("x-amz-version-id", v);
    }
    if deleted.delete_marker {
        response.headers_mut().insert("x-amz-delete-marker", HeaderValue::from_static("true"));
    }
    Ok(response)
}
