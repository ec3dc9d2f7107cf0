//! DeleteObjects: up to 1000 keys in one request.

use http::Response;

use super::RequestContext;
use crate::error::ApiError;
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, XmlWriter};

/// AWS's limit on keys per DeleteObjects request.
const MAX_DELETE_KEYS: usize = 1000;

/// The request must carry an integrity check: Content-MD5 or any checksum
/// (boto3 ≥ 1.36 sends CRC32 instead of Content-MD5).
fn has_integrity_header(ctx: &RequestContext<'_>) -> bool {
    ctx.parts.headers.contains_key("content-md5")
        || ctx.parts.headers.contains_key("x-amz-sdk-checksum-algorithm")
        || ctx.parts.headers.contains_key("x-amz-trailer")
        || ctx
            .parts
            .headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-checksum-") && k.as_str() != "x-amz-checksum-mode")
}

pub async fn handle_delete_objects(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    if !has_integrity_header(ctx) {
        return Err(ApiError::invalid_request("Missing required header for this request: Content-Md5"));
    }
    // 1000 keys of up to 1024 bytes each, escaped, fit comfortably in 2 MiB.
    let (bytes, _) = ctx.small_body(body, 2 * 1024 * 1024).await?;
    let request: xml::Delete = xml::parse(&bytes)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(ApiError::malformed_xml());
    }
    let quiet = request.quiet.unwrap_or(false);
    let mut w = XmlWriter::new("DeleteResult");
    for object in &request.objects {
        let version = object.version_id.as_deref();
        let action = if version.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
        let result = if object.key.is_empty() || object.key.len() > 1024 {
            Err(ApiError::new(crate::error::S3ErrorCode::InvalidArgument, "Invalid key"))
        } else if !ctx.access.allows_object(action, &object.key) {
            Err(ApiError::access_denied())
        } else {
            super::versioning::delete(ctx, &object.key, version).await
        };
        match result {
            Ok(deleted) => {
                if !quiet {
                    w.open("Deleted");
                    w.text("Key", &object.key);
                    w.opt_text("VersionId", version);
                    if deleted.delete_marker {
                        w.text("DeleteMarker", "true");
                        if version.is_none() {
                            w.opt_text("DeleteMarkerVersionId", deleted.version_id.as_deref());
                        }
                    }
                    w.close();
                }
            }
            Err(err) => {
                if err.status().is_server_error() {
                    tracing::error!(key = %object.key, error = %err, "delete failed");
                }
                w.open("Error");
                w.text("Key", &object.key);
                w.opt_text("VersionId", object.version_id.as_deref());
                w.text("Code", err.code.as_str());
                w.text("Message", &err.message);
                w.close();
            }
        }
    }
    Ok(response::xml(w.finish()))
}
