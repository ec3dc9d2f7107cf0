//! CopyObject: streams the source through the engine into a new object.

use futures::StreamExt;
use http::{HeaderValue, Response};
use md5::Digest;
use percent_encoding::percent_decode_str;
use storage_engine::{CommitCondition, ObjectInfo};

use super::attrs::ObjectAttrs;
use super::conditions::{self, Precondition};
use super::encryption::{open_stored, plan_write, PlainWriter};
use super::object::md5_etag;
use super::{check_key, RequestContext};
use crate::error::{ApiError, S3ErrorCode};
use crate::response::{self, Body};
use crate::sse::request;
use crate::xml::{iso8601_ms, XmlWriter};

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded.
pub fn parse_copy_source(value: &str) -> Result<(String, String, Option<String>), ApiError> {
    let invalid = || ApiError::invalid_argument("Invalid copy source object key");
    let (path, version) = match value.split_once("?versionId=") {
        Some((p, v)) => (p, Some(v.to_string())),
        None => (value, None),
    };
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| invalid())?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = trimmed.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket.to_string(), key.to_string(), version))
}

/// The object (or version) named by `x-amz-copy-source`, with its stored head.
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
    pub stored: ObjectInfo,
    pub attrs: ObjectAttrs,
}

impl CopySource {
    /// Checks the request's copy-source SSE-C key; returns the source's keys
    /// and its plaintext view (what conditions and ranges apply to).
    pub fn open(&self, ctx: &RequestContext<'_>) -> Result<(Option<crate::sse::OpenKeys>, ObjectInfo), ApiError> {
        let keys = open_stored(ctx, &self.attrs, &self.bucket, &self.key, request::COPY_SOURCE_CUSTOMER)?;
        Ok((keys, crate::sse::plain_view(&self.stored, self.attrs.sse.as_ref())?))
    }

    /// Streams plaintext `range` of the source, refusing a source that changed since it was loaded.
    pub async fn read(
        &self,
        ctx: &RequestContext<'_>,
        keys: Option<&crate::sse::OpenKeys>,
        range: (u64, u64),
    ) -> Result<crate::sse::stream::ByteStream, ApiError> {
        let (read_info, reader) = crate::sse::read_plain(
            &ctx.state.engine,
            (&self.bucket, &self.key, self.version.as_deref()),
            &self.stored,
            self.attrs.sse.as_ref(),
            keys,
            range,
        )
        .await?;
        if read_info.etag != self.stored.etag {
            return Err(ApiError::new(
                S3ErrorCode::PreconditionFailed,
                "The copy source changed while it was being read",
            ));
        }
        Ok(reader)
    }
}

/// Loads the copy source; a delete marker is not a source.
pub async fn copy_source(ctx: &RequestContext<'_>) -> Result<CopySource, ApiError> {
    let (bucket, key, version) = parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
    let engine = &ctx.state.engine;
    let stored = match version.as_deref() {
        Some(v) => {
            if !super::versioning::valid_version_id(v) {
                return Err(ApiError::invalid_argument("Invalid version id specified"));
            }
            let info = engine.head_version(&bucket, &key, v).await?;
            if info.delete_marker {
                return Err(ApiError::invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ));
            }
            info
        }
        None => engine.head_object(&bucket, &key).await?,
    };
    let attrs = ObjectAttrs::decode(&stored.attrs)?;
    Ok(CopySource { bucket, key, version, stored, attrs })
}

/// `x-amz-copy-source-if-*`: any failing condition is `PreconditionFailed`.
pub fn check_copy_source_conditions(ctx: &RequestContext<'_>, source: &ObjectInfo) -> Result<(), ApiError> {
    match conditions::evaluate(
        conditions::header_getter(&ctx.parts.headers),
        conditions::COPY_SOURCE_CONDITIONS,
        &source.etag,
        source.last_modified_ms,
    ) {
        Precondition::Proceed => Ok(()),
        Precondition::Failed | Precondition::NotModified => Err(ApiError::new(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )),
    }
}

pub async fn handle_copy_object(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    check_key(ctx.key())?;
    let engine = &ctx.state.engine;
    let source = copy_source(ctx).await?;
    let (src_bucket, src_key) = (source.bucket.clone(), source.key.clone());
    let replace = match ctx.header("x-amz-metadata-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => return Err(ApiError::invalid_argument("Unknown metadata directive.")),
    };
    let (src_keys, src_info) = source.open(ctx)?;
    check_copy_source_conditions(ctx, &src_info)?;
    let same_object = src_bucket == ctx.bucket() && src_key == ctx.key();
    let storage_class_change = ctx.header("x-amz-storage-class").is_some();
    let encryption_change =
        ctx.header(request::SSE).is_some() || ctx.header(&format!("{}algorithm", request::CUSTOMER)).is_some();
    if same_object && !replace && !storage_class_change && !encryption_change {
        return Err(ApiError::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    // The copy is encrypted as its own request (or the target bucket's default) says, never as the source.
    let keys = plan_write(ctx)?;
    crate::ops::check_free_space(ctx.state, src_info.size_bytes)?;
    let mut reader = source.read(ctx, src_keys.as_ref(), (0, src_info.size_bytes)).await?;
    let (src_stored, src_attrs) = (&source.stored, &source.attrs);
    let mut attrs = if replace {
        ObjectAttrs::from_request_headers(&ctx.parts.headers)?
    } else {
        let mut a = src_attrs.clone();
        a.completed_upload = None;
        if let Some(class) = ObjectAttrs::from_request_headers(&ctx.parts.headers)?.storage_class {
            a.storage_class = Some(class);
        }
        a
    };
    // As AWS: the copy gets the ACL of its request (private by default), never the source's.
    attrs.acl = super::acl::object_acl_for_write(ctx)?;
    // Likewise its lock: the request's headers or the bucket's default retention.
    super::object_lock::apply_on_write(&ctx.parts.headers, &ctx.loaded_bucket()?.attrs, &mut attrs, false)?;
    attrs.tags = match ctx.header("x-amz-tagging-directive") {
        None | Some("COPY") => src_attrs.tags.clone(),
        Some("REPLACE") => match ctx.header("x-amz-tagging") {
            Some(value) => super::tagging::parse_tagging_header(value)?,
            None => Vec::new(),
        },
        Some(_) => return Err(ApiError::invalid_argument("Unknown tagging directive.")),
    };
    // The copy recomputes the source's checksum algorithm over the copied bytes.
    let checksum_alg = src_attrs.checksum.as_ref().map(|(alg, _)| *alg);
    let mut checksummer = checksum_alg.map(|alg| alg.hasher());
    let mut md5 = md5::Md5::new();
    let mut writer =
        engine.object_writer(ctx.bucket(), ctx.key()).await?.with_versioning(super::versioning::mode(ctx)?);
    let mut plain = PlainWriter::new(&mut writer, keys.as_ref().map(|k| k.sealer(0)));
    while let Some(chunk) = reader.next().await {
        let chunk = chunk?;
        md5.update(&chunk);
        if let Some(c) = checksummer.as_mut() {
            c.update(&chunk);
        }
        plain.write(chunk).await?;
    }
    let copied = plain.finish().await?;
    if copied != src_info.size_bytes {
        return Err(ApiError::internal(format!("copy read {copied} bytes of a {}-byte source", src_info.size_bytes)));
    }
    attrs.checksum = match (checksum_alg, checksummer) {
        (Some(alg), Some(c)) => Some((alg, c.finalize_base64())),
        _ => None,
    };
    let digest: [u8; 16] = md5.finalize().as_slice().try_into().expect("invariant: MD5 is 16 bytes");
    let etag = keys.as_ref().map_or_else(|| md5_etag(&digest), |k| k.etag(&digest));
    let guard = ctx.state.sse.commit_guard().await;
    attrs.sse = keys.map(|k| ctx.state.sse.record(&k, ctx.bucket(), ctx.key(), &guard)).transpose()?;
    let info = writer.commit(etag, attrs.encode(), CommitCondition::None).await?;
    drop(guard);

    let mut w = XmlWriter::new("CopyObjectResult");
    w.text("LastModified", &iso8601_ms(info.last_modified_ms));
    w.text("ETag", &info.etag);
    if let Some((alg, value)) = &attrs.checksum {
        w.text(&format!("Checksum{}", alg.as_str()), value);
    }
    let mut response = response::xml(w.finish());
    if let Ok(v) = HeaderValue::from_str(&info.etag) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    ctx.state.sse.write_headers(attrs.sse.as_ref(), response.headers_mut(), true);
    super::versioning::written_version_header(response.headers_mut(), info.version_id.as_deref());
    if let Some(v) = src_stored.version_id.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert("x-amz-copy-source-version-id", v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_forms() {
        assert_eq!(parse_copy_source("/b/k%20x").expect("ok"), ("b".into(), "k x".into(), None));
        assert_eq!(
            parse_copy_source("b/a/b?versionId=null").expect("ok"),
            ("b".into(), "a/b".into(), Some("null".into()))
        );
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
    }
}
