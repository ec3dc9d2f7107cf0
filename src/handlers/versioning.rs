//! Bucket versioning: Get/PutBucketVersioning, ListObjectVersions, and the
//! helpers the object handlers use for version ids and versioned deletes.

use http::{HeaderMap, HeaderValue, Response};
use serde::Deserialize;
use storage_engine::{Deleted, ObjectInfo, VersionListRequest, Versioning, NULL_VERSION};

use super::attrs::ObjectAttrs;
use super::attrs_update::update_bucket_attrs;
use super::list::parse_max;
use super::RequestContext;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, iso8601_ms, XmlWriter};

/// The versioning state of the request's bucket.
pub fn mode(ctx: &RequestContext<'_>) -> Result<Versioning, ApiError> {
    Ok(ctx.loaded_bucket()?.attrs.versioning_mode())
}

/// Whether `v` is a version id Coffer could have made (or `null`).
pub fn valid_version_id(v: &str) -> bool {
    v == NULL_VERSION || (v.len() == 24 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `versionId` query parameter, validated.
pub fn requested_version<'a>(ctx: &'a RequestContext<'_>) -> Result<Option<&'a str>, ApiError> {
    match ctx.query_param("versionId") {
        None => Ok(None),
        Some("") => Err(ApiError::invalid_argument("Version id cannot be the empty string")),
        Some(v) if valid_version_id(v) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid_argument("Invalid version id specified")),
    }
}

/// `x-amz-version-id` of a stored object (`null` for an object written while
/// versioning was suspended; absent in a bucket that never had versioning).
pub fn version_header(headers: &mut HeaderMap, info: &ObjectInfo) {
    if let Some(v) = info.version_id.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("x-amz-version-id", v);
    }
}

/// `x-amz-version-id` of a write (PUT, copy, completion): the new version's
/// id; a `null` version, written while versioning is suspended, goes unnamed
/// as on AWS.
pub fn written_version_header(headers: &mut HeaderMap, version_id: Option<&str>) {
    let id = version_id.filter(|v| *v != NULL_VERSION);
    if let Some(v) = id.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("x-amz-version-id", v);
    }
}

/// The version the ACL and tagging sub-resources act on: `None` for the
/// current one (also when `versionId` names it), else the named version.
pub async fn sub_resource_version(ctx: &RequestContext<'_>) -> Result<Option<String>, ApiError> {
    let Some(wanted) = requested_version(ctx)? else { return Ok(None) };
    match ctx.state.engine.head_object(ctx.bucket(), ctx.key()).await {
        Ok(current) if current.version_id.as_deref().unwrap_or(NULL_VERSION) == wanted => Ok(None),
        Ok(_) | Err(storage_engine::EngineError::NoSuchKey { .. }) => Ok(Some(wanted.to_string())),
        Err(err) => Err(err.into()),
    }
}

/// DeleteObject of a key, or of one version of it.
pub async fn delete(ctx: &RequestContext<'_>, key: &str, version: Option<&str>) -> Result<Deleted, ApiError> {
    let engine = &ctx.state.engine;
    match version {
        Some(id) => {
            // A version under retention or legal hold stays.
            if ctx.loaded_bucket()?.attrs.object_lock.is_some() {
                match engine.head_version(ctx.bucket(), key, id).await {
                    Ok(info) if !info.delete_marker => {
                        super::object_lock::check_delete(ctx, key, &ObjectAttrs::decode(&info.attrs)?)?
                    }
                    Ok(_) | Err(storage_engine::EngineError::NoSuchVersion { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let out = engine.delete_version(ctx.bucket(), key, id).await?;
            Ok(out.unwrap_or(Deleted { version_id: Some(id.to_string()), delete_marker: false }))
        }
        None => Ok(engine.delete_object_versioned(ctx.bucket(), key, mode(ctx)?).await?),
    }
}

/// The 404 (or 405 for a version id) of a read that found a delete marker.
pub fn delete_marker_error(marker: &ObjectInfo, by_version: bool) -> ApiError {
    let err = if by_version {
        ApiError::new(S3ErrorCode::MethodNotAllowed, "The specified method is not allowed against this resource.")
            .with_extra("Method", "GET")
            .with_extra("ResourceType", "DeleteMarker")
    } else {
        ApiError::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
    };
    let mut err = err.with_header("x-amz-delete-marker", "true");
    if let Some(v) = &marker.version_id {
        err = err.with_header("x-amz-version-id", v);
    }
    err
}

#[derive(Debug, Deserialize)]
struct VersioningConfiguration {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "MfaDelete")]
    mfa_delete: Option<String>,
}

impl xml::RequestDocument for VersioningConfiguration {
    const ROOT: &'static str = "VersioningConfiguration";
}

pub async fn handle_put_bucket_versioning(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let doc: VersioningConfiguration = xml::parse(&bytes)?;
    if doc.mfa_delete.as_deref() == Some("Enabled") {
        return Err(ApiError::invalid_request("MFA delete is not supported by this server"));
    }
    let status = match doc.status.as_deref() {
        Some(s @ ("Enabled" | "Suspended")) => s.to_string(),
        // No Status changes nothing (AWS accepts a document with only MfaDelete).
        None => return Ok(Response::new(response::empty())),
        Some(_) => return Err(ApiError::malformed_xml()),
    };
    update_bucket_attrs(ctx, |attrs| {
        if status == "Suspended" && attrs.object_lock.is_some() {
            return Err(ApiError::new(
                S3ErrorCode::InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            ));
        }
        attrs.versioning = Some(status.clone());
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get_bucket_versioning(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let mut w = XmlWriter::new("VersioningConfiguration");
    if let Some(status) = &ctx.loaded_bucket()?.attrs.versioning {
        w.text("Status", status);
    }
    Ok(response::xml(w.finish()))
}

pub async fn handle_list_object_versions(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let url = match ctx.query_param("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => return Err(ApiError::invalid_argument("Invalid Encoding Method specified in Request")),
    };
    let enc = |s: &str| if url { super::list::url_encode(s) } else { s.to_string() };
    let max_keys = parse_max(ctx.query_param("max-keys"), "max-keys", 1000)?;
    let key_marker = ctx.query_param("key-marker").filter(|m| !m.is_empty());
    let version_id_marker = ctx.query_param("version-id-marker").filter(|m| !m.is_empty());
    if version_id_marker.is_some() && key_marker.is_none() {
        return Err(ApiError::invalid_argument("A version-id marker cannot be specified without a key marker."));
    }
    let req = VersionListRequest {
        prefix: ctx.query_param("prefix").unwrap_or_default().to_string(),
        delimiter: ctx.query_param("delimiter").filter(|d| !d.is_empty()).map(str::to_string),
        key_marker: key_marker.map(str::to_string),
        version_id_marker: version_id_marker.map(str::to_string),
        max_keys,
    };
    let page = ctx.state.engine.list_versions(ctx.bucket(), &req).await?;
    let owner = &ctx.bucket_owner();
    let mut w = XmlWriter::new("ListVersionsResult");
    w.text("Name", ctx.bucket());
    w.text("Prefix", &enc(&req.prefix));
    w.text("KeyMarker", &enc(key_marker.unwrap_or_default()));
    w.text("VersionIdMarker", version_id_marker.unwrap_or_default());
    if let Some(m) = &page.next_key_marker {
        w.text("NextKeyMarker", &enc(m));
    }
    if let Some(m) = &page.next_version_id_marker {
        w.text("NextVersionIdMarker", m);
    }
    w.text("MaxKeys", &max_keys.to_string());
    if let Some(d) = &req.delimiter {
        w.text("Delimiter", &enc(d));
    }
    if url {
        w.text("EncodingType", "url");
    }
    w.text("IsTruncated", if page.is_truncated { "true" } else { "false" });
    for entry in &page.entries {
        let info = &entry.info;
        let version = info.version_id.as_deref().unwrap_or(NULL_VERSION);
        w.open(if info.delete_marker { "DeleteMarker" } else { "Version" });
        w.text("Key", &enc(&info.key));
        w.text("VersionId", version);
        w.text("IsLatest", if entry.is_latest { "true" } else { "false" });
        w.text("LastModified", &iso8601_ms(info.last_modified_ms));
        if !info.delete_marker {
            let attrs = ObjectAttrs::decode(&info.attrs)?;
            w.text("ETag", &info.etag);
            if let Some((alg, _)) = &attrs.checksum {
                w.text("ChecksumAlgorithm", alg.as_str());
            }
            w.text("Size", &crate::sse::plain_size(info, attrs.sse.as_ref())?.to_string());
            w.text("StorageClass", attrs.storage_class.as_deref().unwrap_or("STANDARD"));
        }
        w.open("Owner");
        w.text("ID", &owner.id);
        w.text("DisplayName", &owner.display_name);
        w.close();
        w.close();
    }
    for cp in &page.common_prefixes {
        w.open("CommonPrefixes");
        w.text("Prefix", &enc(cp));
        w.close();
    }
    Ok(response::xml(w.finish()))
}
