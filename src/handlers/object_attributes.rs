//! GetObjectAttributes (`GET /bucket/key?attributes`): the ETag, checksum,
//! parts, storage class and size of an object or version, as the
//! `x-amz-object-attributes` header asks, without reading its data.
//!
//! Parts are listed with their number, size and (for an upload that had a
//! checksum algorithm) checksum, paginated by `x-amz-max-parts` and
//! `x-amz-part-number-marker`. An SSE-C object needs its key, as for HEAD.

use http::{HeaderValue, Response};

use super::{encryption, object, versioning, ObjectAttrs, RequestContext};
use crate::error::{ApiError, S3ErrorCode};
use crate::response::{self, Body};
use crate::xml::XmlWriter;

const DEFAULT_MAX_PARTS: u32 = 1000;

/// The attributes a request may name.
#[derive(Debug, Default, PartialEq, Eq)]
struct Wanted {
    etag: bool,
    checksum: bool,
    parts: bool,
    storage_class: bool,
    size: bool,
}

fn wanted(ctx: &RequestContext<'_>) -> Result<Wanted, ApiError> {
    let mut w = Wanted::default();
    let mut any = false;
    for value in ctx.parts.headers.get_all("x-amz-object-attributes") {
        let text = value.to_str().map_err(|_| ApiError::invalid_argument("Invalid attribute name specified."))?;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let slot = match name {
                "ETag" => &mut w.etag,
                "Checksum" => &mut w.checksum,
                "ObjectParts" => &mut w.parts,
                "StorageClass" => &mut w.storage_class,
                "ObjectSize" => &mut w.size,
                _ => return Err(ApiError::invalid_argument("Invalid attribute name specified.")),
            };
            *slot = true;
            any = true;
        }
    }
    if !any {
        return Err(ApiError::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: x-amz-object-attributes",
        ));
    }
    Ok(w)
}

fn number_header(ctx: &RequestContext<'_>, name: &str, default: u32) -> Result<u32, ApiError> {
    match ctx.header(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map_err(|_| ApiError::invalid_argument(format!("Provided {name} not an integer or within integer range"))),
    }
}

pub async fn handle_get_object_attributes(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let wanted = wanted(ctx)?;
    let max_parts = number_header(ctx, "x-amz-max-parts", DEFAULT_MAX_PARTS)?.min(DEFAULT_MAX_PARTS);
    let marker = number_header(ctx, "x-amz-part-number-marker", 0)?;
    let version = versioning::requested_version(ctx)?;
    let stored = object::requested_object(ctx, version).await?;
    let attrs = ObjectAttrs::decode(&stored.attrs)?;
    encryption::open_stored(ctx, &attrs, ctx.bucket(), ctx.key(), crate::sse::request::CUSTOMER)?;
    let info = crate::sse::plain_view(&stored, attrs.sse.as_ref())?;

    let mut w = XmlWriter::new("GetObjectAttributesResponse");
    if wanted.etag {
        w.text("ETag", info.etag.trim_matches('"'));
    }
    if wanted.checksum {
        if let Some((alg, value)) = &attrs.checksum {
            w.open("Checksum");
            w.text(&format!("Checksum{}", alg.as_str()), value);
            w.text("ChecksumType", attrs.checksum_type());
            w.close();
        }
    }
    if wanted.parts && !info.part_sizes.is_empty() {
        let total = info.part_sizes.len();
        let first = (marker as usize).min(total);
        let end = first.saturating_add(max_parts as usize).min(total);
        w.open("ObjectParts");
        // AWS names the element PartsCount (TotalPartsCount in the SDKs).
        w.text("PartsCount", &total.to_string());
        w.text("PartNumberMarker", &marker.to_string());
        if end > first {
            w.text("NextPartNumberMarker", &end.to_string());
        }
        w.text("MaxParts", &max_parts.to_string());
        w.text("IsTruncated", if end < total { "true" } else { "false" });
        let part_checksums = (attrs.part_checksums.len() == total).then_some(&attrs.part_checksums);
        for (i, size) in info.part_sizes.iter().enumerate().take(end).skip(first) {
            w.open("Part");
            w.text("PartNumber", &(i + 1).to_string());
            w.text("Size", &size.to_string());
            if let (Some(values), Some((alg, _))) = (part_checksums, &attrs.checksum) {
                w.text(&format!("Checksum{}", alg.as_str()), &values[i]);
            }
            w.close();
        }
        w.close();
    }
    if wanted.storage_class {
        w.text("StorageClass", attrs.storage_class.as_deref().unwrap_or("STANDARD"));
    }
    if wanted.size {
        w.text("ObjectSize", &info.size_bytes.to_string());
    }
    let mut response = response::xml(w.finish());
    let headers = response.headers_mut();
    versioning::version_header(headers, &info);
    let modified = super::conditions::modified_seconds(info.last_modified_ms);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    Ok(response)
}
