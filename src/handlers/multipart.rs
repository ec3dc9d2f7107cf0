//! Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts,
//! ListMultipartUploads.
//!
//! Parts are stored by the engine, each attempt under its own storage id;
//! complete and abort are serialised per upload id inside the engine.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use md5::Digest;
use serde::{Deserialize, Serialize};
use storage_engine::PartInfo;

use super::attrs::ObjectAttrs;
use super::copy::{check_copy_source_conditions, copy_source};
use super::encryption::{open_stored, plan_write, PlainWriter};
use super::list::parse_max;
use super::multipart_checksum::{self, ChecksumType};
use super::object::md5_etag;
use super::{check_key, RequestContext};
use crate::checksum::ChecksumAlgorithm;
use crate::config::MAX_PUT_SIZE_BYTES;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body, BoxError};
use crate::sse::request;
use crate::xml::{self, iso8601_ms, XmlWriter};

const ATTRS_VERSION: u8 = 1;
const MAX_PART_NUMBER: u32 = 10_000;

/// What an upload remembers from CreateMultipartUpload (its encryption
/// record included, in `object.sse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadAttrs {
    v: u8,
    pub object: ObjectAttrs,
    #[serde(default)]
    checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    /// Canonical id and display name of the account that created the upload.
    #[serde(default)]
    initiator: Option<(String, String)>,
}

/// What a part remembers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PartAttrs {
    v: u8,
    #[serde(default)]
    checksum: Option<(ChecksumAlgorithm, String)>,
}

impl UploadAttrs {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(bytes).map_err(ApiError::internal)
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(self).map_err(ApiError::internal)
    }

    /// The canonical id of the account that created the upload.
    pub(crate) fn initiator_id(&self) -> Option<&str> {
        self.initiator.as_ref().map(|(id, _)| id.as_str())
    }

    /// `<Initiator>` and `<Owner>` of the upload in listings: who created it,
    /// and who will own the object (its ACL's owner where ACLs are enabled,
    /// else the bucket owner).
    fn write_people(&self, w: &mut XmlWriter, bucket_owner: &crate::server::Owner) {
        let owner = match &self.object.acl {
            Some(acl) => (acl.owner_id.as_str(), acl.owner_display_name.as_str()),
            None => (bucket_owner.id.as_str(), bucket_owner.display_name.as_str()),
        };
        let initiator = self.initiator.as_ref().map_or(owner, |(id, name)| (id.as_str(), name.as_str()));
        w.open("Initiator").text("ID", initiator.0).text("DisplayName", initiator.1).close();
        w.open("Owner").text("ID", owner.0).text("DisplayName", owner.1).close();
    }
}

impl PartAttrs {
    fn decode(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.is_empty() {
            return Ok(PartAttrs::default());
        }
        serde_json::from_slice(bytes).map_err(ApiError::internal)
    }
}

fn upload_id<'a>(ctx: &'a RequestContext<'_>) -> &'a str {
    ctx.query_param("uploadId").unwrap_or_default()
}

fn part_number(ctx: &RequestContext<'_>) -> Result<u32, ApiError> {
    ctx.query_param("partNumber")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| ApiError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive"))
}

pub async fn handle_create_multipart_upload(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    check_key(ctx.key())?;
    let mut object = ObjectAttrs::from_request_headers(&ctx.parts.headers)?;
    object.acl = super::acl::object_acl_for_write(ctx)?;
    super::object_lock::apply_on_write(&ctx.parts.headers, &ctx.loaded_bucket()?.attrs, &mut object, false)?;
    let checksum =
        multipart_checksum::choose(ctx.header("x-amz-checksum-algorithm"), ctx.header("x-amz-checksum-type"))?;
    let keys = plan_write(ctx)?;
    let guard = ctx.state.sse.commit_guard().await;
    object.sse = keys.map(|k| ctx.state.sse.record(&k, ctx.bucket(), ctx.key(), &guard)).transpose()?;
    let sse = object.sse.clone();
    let caller = &ctx.access.caller;
    let initiator = caller.canonical_id().map(|id| (id.to_string(), caller.account_name.clone()));
    let attrs = UploadAttrs { v: ATTRS_VERSION, object, checksum, initiator };
    let upload = ctx.state.engine.create_upload(ctx.bucket(), ctx.key(), attrs.encode()?).await?;
    drop(guard);
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.text("Bucket", ctx.bucket()).text("Key", ctx.key()).text("UploadId", &upload.upload_id);
    let mut response = response::xml(w.finish());
    if let Some((alg, kind)) = checksum {
        response.headers_mut().insert("x-amz-checksum-algorithm", HeaderValue::from_static(alg.as_str()));
        response.headers_mut().insert("x-amz-checksum-type", HeaderValue::from_static(kind.as_str()));
    }
    ctx.state.sse.write_headers(sse.as_ref(), response.headers_mut(), true);
    Ok(response)
}

fn checksum_mismatch(expected: ChecksumAlgorithm, actual: ChecksumAlgorithm) -> ApiError {
    ApiError::invalid_request(format!(
        "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
        expected.as_str().to_ascii_lowercase(),
        actual.as_str().to_ascii_lowercase()
    ))
}

/// The whole object's checksum a CompleteMultipartUpload may state in an
/// `x-amz-checksum-<alg>` header: it must be the upload's algorithm and the
/// value computed from the parts (a composite value with or without its
/// `-N` part count), else `BadDigest`.
fn check_whole_checksum_header(
    ctx: &RequestContext<'_>,
    alg: ChecksumAlgorithm,
    combined: &str,
) -> Result<(), ApiError> {
    for other in ChecksumAlgorithm::ALL {
        let Some(given) = ctx.header(other.header_name()) else { continue };
        if other != alg {
            return Err(checksum_mismatch(alg, other));
        }
        let bare = |v: &str| v.trim().split_once('-').map_or(v.trim(), |(b, _)| b).to_string();
        if bare(given) != bare(combined) {
            return Err(ApiError::new(
                S3ErrorCode::BadDigest,
                format!("The {} you specified did not match the calculated checksum.", other.header_name()),
            ));
        }
    }
    Ok(())
}

pub async fn handle_upload_part(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let number = part_number(ctx)?;
    super::object::require_content_length(&ctx.parts.headers)?;
    let upload = ctx.state.engine.get_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await?;
    let upload_attrs = UploadAttrs::decode(&upload.attrs)?;
    let upload_sse = upload_attrs.object.sse.as_ref();
    let keys = open_stored(ctx, &upload_attrs.object, ctx.bucket(), ctx.key(), request::CUSTOMER)?;
    let mut stream = ctx.body(body, MAX_PUT_SIZE_BYTES)?;
    // A part of an upload with a checksum algorithm carries that checksum;
    // when the client sent none, the server computes it.
    if let Some((expected, _)) = upload_attrs.checksum {
        match stream.checksum_algorithm() {
            Some(declared) if declared != expected => return Err(checksum_mismatch(expected, declared)),
            Some(_) => {}
            None => stream.compute_checksum(expected),
        }
    }
    if let Err(err) = crate::ops::check_free_space(ctx.state, crate::ops::announced_length(&ctx.parts.headers)) {
        super::discard(&mut stream).await;
        return Err(err);
    }
    let mut writer = ctx.state.engine.part_writer(ctx.bucket(), ctx.key(), upload_id(ctx), number).await?;
    let mut plain = PlainWriter::new(&mut writer, keys.as_ref().map(|k| k.sealer(number)));
    while let Some(chunk) = stream.next().await {
        plain.write(chunk?).await?;
    }
    plain.finish().await?;
    let summary =
        stream.summary().ok_or_else(|| ApiError::new(S3ErrorCode::IncompleteBody, "The request body ended early."))?;
    let checksum = summary.checksum.clone();
    let etag = keys.as_ref().map_or_else(|| md5_etag(&summary.md5), |k| k.etag(&summary.md5));
    let attrs = PartAttrs { v: ATTRS_VERSION, checksum: checksum.clone() };
    let encoded = serde_json::to_vec(&attrs).map_err(ApiError::internal)?;
    let part = writer.commit(etag, encoded).await?;
    let mut response = Response::new(response::empty());
    if let Ok(v) = HeaderValue::from_str(&part.etag) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    if let Some((alg, value)) = &checksum {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(alg.header_name(), v);
        }
    }
    ctx.state.sse.write_headers(upload_sse, response.headers_mut(), false);
    Ok(response)
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_source_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let invalid = || {
        ApiError::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if last < first {
        return Err(invalid());
    }
    if last >= size {
        return Err(ApiError::new(S3ErrorCode::InvalidRange, "The requested range is not satisfiable")
            .with_extra("RangeRequested", value.to_string())
            .with_extra("ActualObjectSize", size.to_string()));
    }
    Ok(Some((first, last + 1)))
}

pub async fn handle_upload_part_copy(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let number = part_number(ctx)?;
    let engine = &ctx.state.engine;
    let upload = engine.get_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await?;
    let upload_attrs = UploadAttrs::decode(&upload.attrs)?;
    let keys = open_stored(ctx, &upload_attrs.object, ctx.bucket(), ctx.key(), request::CUSTOMER)?;
    let source = copy_source(ctx).await?;
    let (src_keys, src) = source.open(ctx)?;
    check_copy_source_conditions(ctx, &src)?;
    let range =
        copy_source_range(ctx.header("x-amz-copy-source-range"), src.size_bytes)?.unwrap_or((0, src.size_bytes));
    crate::ops::check_free_space(ctx.state, range.1.saturating_sub(range.0))?;
    let mut reader = source.read(ctx, src_keys.as_ref(), range).await?;
    let mut hasher = upload_attrs.checksum.map(|(alg, _)| alg.hasher());
    let mut md5 = md5::Md5::new();
    let mut writer = engine.part_writer(ctx.bucket(), ctx.key(), upload_id(ctx), number).await?;
    let mut plain = PlainWriter::new(&mut writer, keys.as_ref().map(|k| k.sealer(number)));
    while let Some(chunk) = reader.next().await {
        let chunk = chunk?;
        md5.update(&chunk);
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        plain.write(chunk).await?;
    }
    plain.finish().await?;
    let digest: [u8; 16] = md5.finalize().as_slice().try_into().expect("invariant: MD5 is 16 bytes");
    let checksum = hasher.map(|h| (h.algorithm(), h.finalize_base64()));
    let attrs = PartAttrs { v: ATTRS_VERSION, checksum: checksum.clone() };
    let encoded = serde_json::to_vec(&attrs).map_err(ApiError::internal)?;
    let etag = keys.as_ref().map_or_else(|| md5_etag(&digest), |k| k.etag(&digest));
    let part = writer.commit(etag, encoded).await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.text("LastModified", &iso8601_ms(part.last_modified_ms));
    w.text("ETag", &part.etag);
    if let Some((alg, value)) = &checksum {
        w.text(&format!("Checksum{}", alg.as_str()), value);
    }
    let mut response = response::xml(w.finish());
    ctx.state.sse.write_headers(upload_attrs.object.sse.as_ref(), response.headers_mut(), false);
    Ok(response)
}

/// Every part of an upload, in part-number order.
async fn all_parts(ctx: &RequestContext<'_>) -> Result<Vec<PartInfo>, ApiError> {
    let mut parts = Vec::new();
    let mut marker = 0;
    loop {
        let (page, truncated) =
            ctx.state.engine.list_parts(ctx.bucket(), ctx.key(), upload_id(ctx), marker, 1000).await?;
        marker = page.last().map_or(marker, |p| p.part_number);
        parts.extend(page);
        if !truncated {
            return Ok(parts);
        }
    }
}

fn invalid_part(number: u32) -> ApiError {
    ApiError::new(
        S3ErrorCode::InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with_extra("PartNumber", number.to_string())
}

/// The plaintext size of a stored part (parts of an encrypted upload are stored encrypted).
fn part_plain_size(part: &PartInfo, encrypted: bool) -> Result<u64, ApiError> {
    if !encrypted {
        return Ok(part.size_bytes);
    }
    crate::sse::blocks::plain_size(part.size_bytes)
        .ok_or_else(|| ApiError::internal(format!("part {} has an impossible encrypted size", part.part_number)))
}

fn normalize_etag(etag: &str) -> String {
    format!("\"{}\"", etag.trim().trim_matches('"'))
}

pub async fn handle_complete_multipart_upload(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let engine = ctx.state.engine.clone();
    // Held until the commit: a master key rotation then re-wraps either the
    // upload (before this reads it) or the object (after it is committed).
    let guard = ctx.state.sse.commit_guard().await;
    let upload = match engine.get_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await {
        Ok(upload) => upload,
        Err(err @ storage_engine::EngineError::NoSuchUpload { .. }) => return completed_again(ctx, err.into()).await,
        Err(err) => return Err(err.into()),
    };
    let upload_attrs = UploadAttrs::decode(&upload.attrs)?;
    let encrypted = upload_attrs.object.sse.is_some();
    // 10,000 parts of about 200 bytes of XML each.
    let (bytes, _) = ctx.small_body(body, 4 * 1024 * 1024).await?;
    let request: xml::CompleteMultipartUpload = xml::parse(&bytes)?;
    if request.parts.is_empty() {
        return Err(ApiError::malformed_xml());
    }
    let cond = super::object::put_condition(ctx)?;
    super::object::precheck_condition(ctx, &cond).await?;
    // Validate against the stored parts first so that the common errors get
    // their proper status; the engine checks again atomically at commit.
    let stored = all_parts(ctx).await?;
    let mut chosen: Vec<&PartInfo> = Vec::with_capacity(request.parts.len());
    let mut previous = 0u32;
    for part in &request.parts {
        if part.part_number <= previous {
            return Err(ApiError::new(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ));
        }
        previous = part.part_number;
        let found = stored
            .binary_search_by_key(&part.part_number, |p| p.part_number)
            .ok()
            .map(|i| &stored[i])
            .filter(|p| p.etag == normalize_etag(&part.etag));
        let Some(found) = found else {
            // An abort racing this request deletes parts while they are
            // listed: the upload being gone is the error to report.
            engine.get_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await?;
            return Err(invalid_part(part.part_number));
        };
        chosen.push(found);
    }
    let min_part = ctx.state.config.min_part_size_bytes;
    let plain_sizes: Vec<u64> = chosen.iter().map(|p| part_plain_size(p, encrypted)).collect::<Result<_, _>>()?;
    for (i, (part, &size)) in chosen.iter().zip(&plain_sizes).enumerate() {
        if i + 1 < chosen.len() && size < min_part {
            return Err(ApiError::new(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with_extra("ProposedSize", size.to_string())
            .with_extra("MinSizeAllowed", min_part.to_string())
            .with_extra("PartNumber", part.part_number.to_string()));
        }
    }
    // ETag: MD5 of the concatenated binary part MD5s, then "-N".
    let mut md5 = md5::Md5::new();
    for part in &chosen {
        let raw = hex::decode(part.etag.trim_matches('"')).map_err(ApiError::internal)?;
        md5.update(&raw);
    }
    let etag = format!("\"{}-{}\"", hex::encode(md5.finalize()), chosen.len());
    let mut object_attrs = upload_attrs.object.clone();
    object_attrs.completed_upload = Some(upload_id(ctx).to_string());
    let mut checksum_type = None;
    if let Some((alg, kind)) = upload_attrs.checksum {
        let mut values = Vec::with_capacity(chosen.len());
        for ((part, requested), &size) in chosen.iter().zip(&request.parts).zip(&plain_sizes) {
            let attrs = PartAttrs::decode(&part.attrs)?;
            let Some((part_alg, value)) = attrs.checksum else {
                return Err(ApiError::invalid_request(format!(
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                    alg.as_str().to_ascii_lowercase(),
                    part.part_number
                )));
            };
            if part_alg != alg {
                return Err(checksum_mismatch(alg, part_alg));
            }
            if let Some(given) = requested.checksum(alg) {
                if given != value {
                    return Err(invalid_part(part.part_number));
                }
            }
            values.push((value, size));
        }
        let combined = multipart_checksum::combine(alg, kind, &values)?;
        check_whole_checksum_header(ctx, alg, &combined)?;
        object_attrs.checksum = Some((alg, combined));
        object_attrs.part_checksums = values.iter().map(|(value, _)| value.clone()).collect();
        checksum_type = Some(kind);
    }
    let parts: Vec<(u32, String)> = chosen.iter().map(|p| (p.part_number, p.etag.clone())).collect();
    if let Some(rec) = &upload_attrs.object.sse {
        let mut rec = ctx.state.sse.rewrap(rec, ctx.bucket(), ctx.key(), &guard)?;
        let numbers: Vec<u32> = parts.iter().map(|(n, _)| *n).collect();
        let consecutive = numbers.iter().enumerate().all(|(i, &n)| n as usize == i + 1);
        rec.part_numbers = if consecutive { Vec::new() } else { numbers };
        object_attrs.sse = Some(rec);
    }

    // The response starts at once and sends whitespace while the commit runs,
    // so that clients completing thousands of parts do not time out.
    let (bucket, key, id) = (ctx.bucket().to_string(), ctx.key().to_string(), upload_id(ctx).to_string());
    let encoded = object_attrs.encode();
    // The version is chosen now so that its id can go out with the response headers.
    let versioning = super::versioning::mode(ctx)?;
    let version = storage_engine::new_version(versioning, false);
    let version_id = version.as_ref().map(|v| v.id.clone());
    let task = tokio::spawn(async move {
        let done = engine
            .complete_upload_versioned(&bucket, &key, &id, &parts, min_part, etag, encoded, cond, (versioning, version))
            .await;
        drop(guard);
        done
    });
    let (bucket, key) = (ctx.bucket().to_string(), ctx.key().to_string());
    let checksum = object_attrs.checksum.clone();
    let body = completion_body(task, bucket, key, checksum, checksum_type);
    let mut response = Response::new(body);
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    ctx.state.sse.write_headers(object_attrs.sse.as_ref(), response.headers_mut(), true);
    super::versioning::written_version_header(response.headers_mut(), version_id.as_deref());
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// CompleteMultipartUpload of an upload that is gone: when the key's current
/// version was completed from it, the completion is answered again (a client
/// retrying after a lost response); otherwise `NoSuchUpload`.
async fn completed_again(ctx: &RequestContext<'_>, gone: ApiError) -> Result<Response<Body>, ApiError> {
    let Ok(info) = ctx.state.engine.head_object(ctx.bucket(), ctx.key()).await else { return Err(gone) };
    let attrs = ObjectAttrs::decode(&info.attrs)?;
    if info.delete_marker || attrs.completed_upload.as_deref() != Some(upload_id(ctx)) {
        return Err(gone);
    }
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.text("Location", &format!("/{}/{}", ctx.bucket(), ctx.key()));
    w.text("Bucket", ctx.bucket()).text("Key", ctx.key()).text("ETag", &info.etag);
    if let Some((alg, value)) = &attrs.checksum {
        w.text(&format!("Checksum{}", alg.as_str()), value);
        w.text("ChecksumType", attrs.checksum_type());
    }
    let mut response = response::xml(w.finish());
    ctx.state.sse.write_headers(attrs.sse.as_ref(), response.headers_mut(), true);
    super::versioning::written_version_header(response.headers_mut(), info.version_id.as_deref());
    Ok(response)
}

type CompletionTask = tokio::task::JoinHandle<Result<storage_engine::ObjectInfo, storage_engine::EngineError>>;

/// The streamed CompleteMultipartUpload body: the XML declaration, a space
/// every few seconds while the engine commits, then the result or `<Error>`.
fn completion_body(
    task: CompletionTask,
    bucket: String,
    key: String,
    checksum: Option<(ChecksumAlgorithm, String)>,
    checksum_type: Option<ChecksumType>,
) -> Body {
    enum State {
        Start(CompletionTask),
        Waiting(CompletionTask),
        Done,
    }
    let stream = futures::stream::unfold(State::Start(task), move |state| {
        let (bucket, key, checksum) = (bucket.clone(), key.clone(), checksum.clone());
        async move {
            match state {
                State::Start(task) => {
                    Some((Bytes::from_static(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), State::Waiting(task)))
                }
                State::Waiting(mut task) => {
                    let result = tokio::select! {
                        r = &mut task => r,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => return Some((Bytes::from_static(b" "), State::Waiting(task))),
                    };
                    let document = match result {
                        Ok(Ok(info)) => {
                            let mut w = XmlWriter::new("CompleteMultipartUploadResult");
                            w.text("Location", &format!("/{bucket}/{key}"));
                            w.text("Bucket", &bucket).text("Key", &key).text("ETag", &info.etag);
                            if let Some((alg, value)) = &checksum {
                                w.text(&format!("Checksum{}", alg.as_str()), value);
                            }
                            if let Some(kind) = checksum_type {
                                w.text("ChecksumType", kind.as_str());
                            }
                            w.finish()
                        }
                        Ok(Err(err)) => error_document(ApiError::from(err), &bucket, &key),
                        Err(join) => error_document(ApiError::internal(join), &bucket, &key),
                    };
                    // Without the declaration already sent.
                    let body = document.split_once('\n').map_or(document.clone(), |(_, rest)| rest.to_string());
                    Some((Bytes::from(body), State::Done))
                }
                State::Done => None,
            }
        }
    });
    StreamBody::new(stream.map(|b| Ok::<_, BoxError>(Frame::data(b)))).boxed_unsync()
}

fn error_document(err: ApiError, bucket: &str, key: &str) -> String {
    if err.status().is_server_error() {
        tracing::error!(error = %err, "multipart completion failed");
    }
    let mut w = XmlWriter::new_plain("Error");
    w.text("Code", err.code.as_str()).text("Message", &err.message);
    for (name, value) in &err.extra {
        w.text(name, value);
    }
    w.text("Resource", &format!("/{bucket}/{key}"));
    w.finish()
}

pub async fn handle_abort_multipart_upload(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    ctx.state.engine.abort_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await?;
    Ok(response::no_content())
}

pub async fn handle_list_parts(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let upload = ctx.state.engine.get_upload(ctx.bucket(), ctx.key(), upload_id(ctx)).await?;
    let upload_attrs = UploadAttrs::decode(&upload.attrs)?;
    let max_parts = parse_max(ctx.query_param("max-parts"), "max-parts", 1000)?;
    let marker: u32 = match ctx.query_param("part-number-marker") {
        None | Some("") => 0,
        Some(v) => v.parse().map_err(|_| ApiError::invalid_argument("Invalid part number marker"))?,
    };
    let (parts, truncated) = if max_parts == 0 {
        (Vec::new(), false)
    } else {
        ctx.state.engine.list_parts(ctx.bucket(), ctx.key(), upload_id(ctx), marker, max_parts).await?
    };
    let mut w = XmlWriter::new("ListPartsResult");
    w.text("Bucket", ctx.bucket()).text("Key", ctx.key()).text("UploadId", upload_id(ctx));
    upload_attrs.write_people(&mut w, &ctx.bucket_owner());
    w.text("StorageClass", upload_attrs.object.storage_class.as_deref().unwrap_or("STANDARD"));
    w.text("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.last() {
        w.text("NextPartNumberMarker", &last.part_number.to_string());
    }
    w.text("MaxParts", &max_parts.to_string());
    w.text("IsTruncated", if truncated { "true" } else { "false" });
    if let Some((alg, kind)) = upload_attrs.checksum {
        w.text("ChecksumAlgorithm", alg.as_str()).text("ChecksumType", kind.as_str());
    }
    for part in &parts {
        let attrs = PartAttrs::decode(&part.attrs)?;
        w.open("Part");
        w.text("PartNumber", &part.part_number.to_string());
        w.text("LastModified", &iso8601_ms(part.last_modified_ms));
        w.text("ETag", &part.etag);
        w.text("Size", &part_plain_size(part, upload_attrs.object.sse.is_some())?.to_string());
        if let Some((alg, value)) = &attrs.checksum {
            w.text(&format!("Checksum{}", alg.as_str()), value);
        }
        w.close();
    }
    Ok(response::xml(w.finish()))
}

pub async fn handle_list_multipart_uploads(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let prefix = ctx.query_param("prefix").unwrap_or_default();
    let delimiter = ctx.query_param("delimiter").filter(|d| !d.is_empty());
    let key_marker = ctx.query_param("key-marker").filter(|m| !m.is_empty());
    let upload_id_marker = ctx.query_param("upload-id-marker").filter(|m| !m.is_empty() && key_marker.is_some());
    let max_uploads = parse_max(ctx.query_param("max-uploads"), "max-uploads", 1000)?;
    // Gather a page of uploads and common prefixes: a group of keys under one
    // common prefix counts once and is skipped as a whole.
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    // The last entry returned: a key and upload id, or a common prefix.
    let mut last: Option<(String, Option<String>)> = None;
    // A key marker that is a common prefix continues after that whole prefix.
    let skip_prefix = key_marker.filter(|m| delimiter.is_some_and(|d| m.ends_with(d)));
    let (mut k_marker, mut u_marker) = (key_marker.map(str::to_string), upload_id_marker.map(str::to_string));
    // Whether the engine holds more uploads after the last page read (none is read for max-uploads=0).
    let mut more = max_uploads > 0;
    'outer: while more {
        let page;
        (page, more) =
            ctx.state.engine.list_uploads(ctx.bucket(), prefix, k_marker.as_deref(), u_marker.as_deref(), 1000).await?;
        for upload in page {
            k_marker = Some(upload.key.clone());
            u_marker = Some(upload.upload_id.clone());
            if skip_prefix.is_some_and(|p| upload.key.starts_with(p)) {
                continue;
            }
            let common = delimiter.and_then(|d| {
                upload.key[prefix.len()..].find(d).map(|i| upload.key[..prefix.len() + i + d.len()].to_string())
            });
            if let Some(cp) = common {
                if prefixes.last() == Some(&cp) {
                    continue;
                }
                if uploads.len() + prefixes.len() == max_uploads {
                    truncated = true;
                    break 'outer;
                }
                last = Some((cp.clone(), None));
                prefixes.push(cp);
            } else {
                if uploads.len() + prefixes.len() == max_uploads {
                    truncated = true;
                    break 'outer;
                }
                last = Some((upload.key.clone(), Some(upload.upload_id.clone())));
                uploads.push(upload);
            }
        }
    }
    let owner = &ctx.bucket_owner();
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.text("Bucket", ctx.bucket());
    w.text("KeyMarker", key_marker.unwrap_or_default());
    w.text("UploadIdMarker", upload_id_marker.unwrap_or_default());
    if truncated {
        if let Some((key, upload_id)) = &last {
            w.text("NextKeyMarker", key).text("NextUploadIdMarker", upload_id.as_deref().unwrap_or_default());
        }
    }
    w.text("Prefix", prefix);
    w.opt_text("Delimiter", delimiter);
    w.text("MaxUploads", &max_uploads.to_string());
    w.text("IsTruncated", if truncated { "true" } else { "false" });
    for upload in &uploads {
        let attrs = UploadAttrs::decode(&upload.attrs)?;
        w.open("Upload");
        w.text("Key", &upload.key).text("UploadId", &upload.upload_id);
        attrs.write_people(&mut w, owner);
        w.text("StorageClass", attrs.object.storage_class.as_deref().unwrap_or("STANDARD"));
        w.text("Initiated", &iso8601_ms(upload.initiated_ms));
        if let Some((alg, kind)) = attrs.checksum {
            w.text("ChecksumAlgorithm", alg.as_str()).text("ChecksumType", kind.as_str());
        }
        w.close();
    }
    for cp in &prefixes {
        w.open("CommonPrefixes").text("Prefix", cp).close();
    }
    Ok(response::xml(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges() {
        assert_eq!(copy_source_range(None, 10).expect("ok"), None);
        assert_eq!(copy_source_range(Some("bytes=0-9"), 10).expect("ok"), Some((0, 10)));
        assert_eq!(copy_source_range(Some("bytes=3-3"), 10).expect("ok"), Some((3, 4)));
        assert_eq!(copy_source_range(Some("bytes=0-10"), 10).expect_err("416").code, S3ErrorCode::InvalidRange);
        assert_eq!(copy_source_range(Some("bytes=5-2"), 10).expect_err("bad").code, S3ErrorCode::InvalidArgument);
        assert_eq!(copy_source_range(Some("0-2"), 10).expect_err("bad").code, S3ErrorCode::InvalidArgument);
    }
}
