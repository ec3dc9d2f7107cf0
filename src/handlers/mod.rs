//! S3 operation handlers, one `handle_<op>` each, grouped by concept.

mod acl;
pub(crate) mod attrs;
pub(crate) mod attrs_update;
mod bucket;
mod bucket_access;
mod conditions;
mod copy;
mod delete_objects;
pub(crate) mod encryption;
pub(crate) mod list;
pub(crate) mod multipart;
mod multipart_checksum;
pub(crate) mod object;
mod object_attributes;
pub(crate) mod object_lock;
pub(crate) mod tagging;
pub(crate) mod versioning;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::Response;

use crate::auth::PayloadMode;
use crate::body::{verified_body, BodySummary, VerifiedBody};
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::Body;
use crate::router::{Endpoint, Route};
use crate::server::AppState;

pub use attrs::{BucketAttrs, ObjectAttrs};
pub use copy::parse_copy_source;

/// Everything a handler needs to know about the request, borrowed.
pub struct RequestContext<'a> {
    pub state: &'a AppState,
    pub parts: &'a http::request::Parts,
    pub query: &'a [(String, String)],
    pub route: Route,
    pub payload: PayloadMode,
    /// The caller and the bucket's access settings, already authorized for the operation.
    pub access: crate::access::Access<'a>,
}

impl RequestContext<'_> {
    pub fn bucket(&self) -> &str {
        self.route.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.route.key.as_deref().unwrap_or_default()
    }

    /// The request's bucket as loaded (and authorized) before the handler ran.
    pub fn loaded_bucket(&self) -> Result<&crate::access::BucketAccess, ApiError> {
        self.access.bucket.as_ref().ok_or_else(|| ApiError::internal("bucket operation without its bucket"))
    }

    /// The owner of the request's bucket, as listings show it.
    pub fn bucket_owner(&self) -> crate::server::Owner {
        match &self.access.bucket {
            Some(b) => crate::server::Owner {
                id: b.attrs.owner_id.clone(),
                display_name: b.attrs.owner_display_name.clone(),
                account_id: b.owner_account_id.clone(),
            },
            None => self.state.owner.clone(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The request body, verified against the signature and checksums while it streams.
    pub fn body<B>(&self, body: B, max_size_bytes: u64) -> Result<VerifiedBody, ApiError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<crate::body::BoxError>,
    {
        // CompleteMultipartUpload's `x-amz-checksum-*` is the whole object's
        // checksum, not one of the XML body.
        let stripped;
        let headers = if self.route.endpoint == Endpoint::CompleteMultipartUpload {
            let mut h = self.parts.headers.clone();
            for alg in crate::checksum::ChecksumAlgorithm::ALL {
                h.remove(alg.header_name());
            }
            stripped = h;
            &stripped
        } else {
            &self.parts.headers
        };
        verified_body(
            body,
            headers,
            self.payload.clone(),
            max_size_bytes,
            Duration::from_millis(self.state.config.body_idle_timeout_ms),
        )
    }

    /// Reads a small request body (an XML document) whole, verified.
    pub async fn small_body(&self, body: RequestBody, max_size_bytes: u64) -> Result<(Bytes, BodySummary), ApiError> {
        let mut stream = self.body(body, max_size_bytes)?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        let summary = stream
            .summary()
            .ok_or_else(|| ApiError::new(S3ErrorCode::IncompleteBody, "The request body ended early."))?;
        Ok((buf.freeze(), summary))
    }
}

/// Calls the handler of the routed operation.
pub async fn handle(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    match ctx.route.endpoint {
        Endpoint::ListBuckets => bucket::handle_list_buckets(ctx).await,
        Endpoint::CreateBucket => bucket::handle_create_bucket(ctx, body).await,
        Endpoint::HeadBucket => bucket::handle_head_bucket(ctx).await,
        Endpoint::DeleteBucket => bucket::handle_delete_bucket(ctx).await,
        Endpoint::GetBucketLocation => bucket::handle_get_bucket_location(ctx).await,
        Endpoint::GetBucketVersioning => versioning::handle_get_bucket_versioning(ctx).await,
        Endpoint::PutBucketVersioning => versioning::handle_put_bucket_versioning(ctx, body).await,
        Endpoint::ListObjectVersions => versioning::handle_list_object_versions(ctx).await,
        Endpoint::PostObject => Err(ApiError::internal("POST Object is served before authentication")),
        Endpoint::GetBucketCors => crate::cors::handle_get(ctx).await,
        Endpoint::PutBucketCors => crate::cors::handle_put(ctx, body).await,
        Endpoint::DeleteBucketCors => crate::cors::handle_delete(ctx).await,
        Endpoint::GetBucketWebsite => crate::website::handle_get(ctx).await,
        Endpoint::PutBucketWebsite => crate::website::handle_put(ctx, body).await,
        Endpoint::DeleteBucketWebsite => crate::website::handle_delete(ctx).await,
        Endpoint::GetBucketLifecycleConfiguration => crate::lifecycle::handle_get(ctx).await,
        Endpoint::PutBucketLifecycleConfiguration => crate::lifecycle::handle_put(ctx, body).await,
        Endpoint::DeleteBucketLifecycleConfiguration => crate::lifecycle::handle_delete(ctx).await,
        Endpoint::GetObjectLockConfiguration => object_lock::handle_get_object_lock_configuration(ctx).await,
        Endpoint::PutObjectLockConfiguration => object_lock::handle_put_object_lock_configuration(ctx, body).await,
        Endpoint::GetObjectRetention => object_lock::handle_get_object_retention(ctx).await,
        Endpoint::PutObjectRetention => object_lock::handle_put_object_retention(ctx, body).await,
        Endpoint::GetObjectLegalHold => object_lock::handle_get_object_legal_hold(ctx).await,
        Endpoint::PutObjectLegalHold => object_lock::handle_put_object_legal_hold(ctx, body).await,
        Endpoint::ListObjects => list::handle_list_objects(ctx, false).await,
        Endpoint::ListObjectsV2 => list::handle_list_objects(ctx, true).await,
        Endpoint::DeleteObjects => delete_objects::handle_delete_objects(ctx, body).await,
        Endpoint::PutObject => object::handle_put_object(ctx, body).await,
        Endpoint::GetObject => object::handle_get_object(ctx, false).await,
        Endpoint::HeadObject => object::handle_get_object(ctx, true).await,
        Endpoint::DeleteObject => object::handle_delete_object(ctx).await,
        Endpoint::CopyObject => copy::handle_copy_object(ctx).await,
        Endpoint::ListMultipartUploads => multipart::handle_list_multipart_uploads(ctx).await,
        Endpoint::CreateMultipartUpload => multipart::handle_create_multipart_upload(ctx).await,
        Endpoint::UploadPart => multipart::handle_upload_part(ctx, body).await,
        Endpoint::UploadPartCopy => multipart::handle_upload_part_copy(ctx).await,
        Endpoint::CompleteMultipartUpload => multipart::handle_complete_multipart_upload(ctx, body).await,
        Endpoint::AbortMultipartUpload => multipart::handle_abort_multipart_upload(ctx).await,
        Endpoint::ListParts => multipart::handle_list_parts(ctx).await,
        Endpoint::GetBucketPolicy => bucket_access::handle_get_bucket_policy(ctx).await,
        Endpoint::PutBucketPolicy => bucket_access::handle_put_bucket_policy(ctx, body).await,
        Endpoint::DeleteBucketPolicy => bucket_access::handle_delete_bucket_policy(ctx).await,
        Endpoint::GetBucketPolicyStatus => bucket_access::handle_get_bucket_policy_status(ctx).await,
        Endpoint::GetBucketOwnershipControls => bucket_access::handle_get_bucket_ownership_controls(ctx).await,
        Endpoint::PutBucketOwnershipControls => bucket_access::handle_put_bucket_ownership_controls(ctx, body).await,
        Endpoint::DeleteBucketOwnershipControls => bucket_access::handle_delete_bucket_ownership_controls(ctx).await,
        Endpoint::GetPublicAccessBlock => bucket_access::handle_get_public_access_block(ctx).await,
        Endpoint::PutPublicAccessBlock => bucket_access::handle_put_public_access_block(ctx, body).await,
        Endpoint::DeletePublicAccessBlock => bucket_access::handle_delete_public_access_block(ctx).await,
        Endpoint::GetBucketAcl => acl::handle_get_bucket_acl(ctx).await,
        Endpoint::PutBucketAcl => acl::handle_put_bucket_acl(ctx, body).await,
        Endpoint::GetObjectAcl => acl::handle_get_object_acl(ctx).await,
        Endpoint::PutObjectAcl => acl::handle_put_object_acl(ctx, body).await,
        Endpoint::GetObjectTagging => tagging::handle_get_object_tagging(ctx).await,
        Endpoint::GetObjectAttributes => object_attributes::handle_get_object_attributes(ctx).await,
        Endpoint::PutObjectTagging => tagging::handle_put_object_tagging(ctx, body).await,
        Endpoint::DeleteObjectTagging => tagging::handle_delete_object_tagging(ctx).await,
        Endpoint::GetBucketTagging => tagging::handle_get_bucket_tagging(ctx).await,
        Endpoint::PutBucketTagging => tagging::handle_put_bucket_tagging(ctx, body).await,
        Endpoint::DeleteBucketTagging => tagging::handle_delete_bucket_tagging(ctx).await,
        Endpoint::GetBucketEncryption => encryption::handle_get_bucket_encryption(ctx).await,
        Endpoint::PutBucketEncryption => encryption::handle_put_bucket_encryption(ctx, body).await,
        Endpoint::DeleteBucketEncryption => encryption::handle_delete_bucket_encryption(ctx).await,
        Endpoint::Unsupported(_) => Err(ApiError::not_implemented(ctx.route.endpoint.name())),
    }
}

/// How much of a request body is read and thrown away before an early error
/// (a full disk) is answered, so that a client still sending its body gets
/// the S3 error instead of a connection reset.
pub const DISCARD_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads and discards up to [`DISCARD_LIMIT_BYTES`] of a body stream.
pub async fn discard<S, E>(mut stream: S)
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut read = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while read < DISCARD_LIMIT_BYTES {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len() as u64,
            _ => break,
        }
    }
}

/// Checks the key length limit (1024 bytes of UTF-8).
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.len() > 1024 {
        return Err(
            ApiError::new(S3ErrorCode::KeyTooLongError, "Your key is too long").with_extra("MaxSizeAllowed", "1024")
        );
    }
    Ok(())
}
