//! A bucket's access settings other than ACLs: the bucket policy
//! (Get/Put/DeleteBucketPolicy, GetBucketPolicyStatus), Object Ownership
//! (Get/Put/DeleteBucketOwnershipControls) and Block Public Access
//! (Get/Put/DeletePublicAccessBlock).

use http::{HeaderValue, Response};
use policy::{ObjectOwnership, PolicyDocument, PublicAccessBlock};
use serde::Deserialize;

use super::attrs_update::update_bucket_attrs;
use super::RequestContext;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, XmlWriter};

/// AWS's limit on the size of a bucket policy.
const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Configuration documents are small; anything larger is refused while reading.
const MAX_CONFIG_BODY_BYTES: u64 = 64 * 1024;

fn no_such_policy(bucket: &str) -> ApiError {
    ApiError::new(S3ErrorCode::NoSuchBucketPolicy, "The bucket policy does not exist").with_extra("BucketName", bucket)
}

pub async fn handle_get_bucket_policy(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let text = bucket.attrs.policy.clone().ok_or_else(|| no_such_policy(&bucket.name))?;
    let mut response = Response::new(response::full(text));
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

pub async fn handle_put_bucket_policy(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let (bytes, _) = ctx.small_body(body, MAX_CONFIG_BODY_BYTES).await?;
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(ApiError::new(S3ErrorCode::MalformedPolicy, "Policies must be no more than 20 KB in size"));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::new(S3ErrorCode::MalformedPolicy, "Policies must be valid UTF-8"))?;
    let document = PolicyDocument::parse_bucket_policy(text, &bucket.name)
        .map_err(|e| ApiError::new(S3ErrorCode::MalformedPolicy, e.to_string()))?;
    if document.is_public() && ctx.access.public_access_block().block_public_policy {
        tracing::debug!(bucket = %bucket.name, "public bucket policy refused: BlockPublicPolicy");
        return Err(ApiError::access_denied());
    }
    let text = text.to_string();
    update_bucket_attrs(ctx, |attrs| {
        attrs.policy = Some(text.clone());
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

pub async fn handle_delete_bucket_policy(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.policy = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

pub async fn handle_get_bucket_policy_status(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let document = bucket.policy.as_ref().ok_or_else(|| no_such_policy(&bucket.name))?;
    let mut w = XmlWriter::new("PolicyStatus");
    w.text("IsPublic", if document.is_public() { "true" } else { "false" });
    Ok(response::xml(w.finish()))
}

#[derive(Debug, Deserialize)]
struct OwnershipControls {
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipControlsRule>,
}

#[derive(Debug, Deserialize)]
struct OwnershipControlsRule {
    #[serde(rename = "ObjectOwnership")]
    object_ownership: String,
}

impl xml::RequestDocument for OwnershipControls {
    const ROOT: &'static str = "OwnershipControls";
}

pub async fn handle_get_bucket_ownership_controls(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let ownership = bucket.attrs.ownership.ok_or_else(|| {
        ApiError::new(S3ErrorCode::OwnershipControlsNotFoundError, "The bucket ownership controls were not found")
            .with_extra("BucketName", bucket.name.clone())
    })?;
    let mut w = XmlWriter::new("OwnershipControls");
    w.open("Rule").text("ObjectOwnership", ownership.as_str()).close();
    Ok(response::xml(w.finish()))
}

pub async fn handle_put_bucket_ownership_controls(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, MAX_CONFIG_BODY_BYTES).await?;
    let doc: OwnershipControls = xml::parse(&bytes)?;
    let [rule] = doc.rules.as_slice() else { return Err(ApiError::malformed_xml()) };
    let ownership = ObjectOwnership::parse(rule.object_ownership.trim()).ok_or_else(ApiError::malformed_xml)?;
    update_bucket_attrs(ctx, |attrs| {
        if ownership == ObjectOwnership::BucketOwnerEnforced
            && !attrs.effective_acl().is_owner_full_control_only(&attrs.owner_id)
        {
            // As AWS: disabling ACLs while the bucket ACL grants others access is refused.
            return Err(ApiError::new(
                S3ErrorCode::InvalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ));
        }
        attrs.ownership = Some(ownership);
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_delete_bucket_ownership_controls(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.ownership = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

#[derive(Debug, Deserialize)]
struct PublicAccessBlockConfiguration {
    #[serde(rename = "BlockPublicAcls", default)]
    block_public_acls: Option<String>,
    #[serde(rename = "IgnorePublicAcls", default)]
    ignore_public_acls: Option<String>,
    #[serde(rename = "BlockPublicPolicy", default)]
    block_public_policy: Option<String>,
    #[serde(rename = "RestrictPublicBuckets", default)]
    restrict_public_buckets: Option<String>,
}

impl xml::RequestDocument for PublicAccessBlockConfiguration {
    const ROOT: &'static str = "PublicAccessBlockConfiguration";
}

fn parse_flag(value: &Option<String>) -> Result<bool, ApiError> {
    match value.as_deref().map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::malformed_xml()),
    }
}

/// Writes a `PublicAccessBlockConfiguration` document.
pub fn public_access_block_xml(block: &PublicAccessBlock) -> String {
    let flag = |b: bool| if b { "true" } else { "false" };
    let mut w = XmlWriter::new("PublicAccessBlockConfiguration");
    w.text("BlockPublicAcls", flag(block.block_public_acls));
    w.text("IgnorePublicAcls", flag(block.ignore_public_acls));
    w.text("BlockPublicPolicy", flag(block.block_public_policy));
    w.text("RestrictPublicBuckets", flag(block.restrict_public_buckets));
    w.finish()
}

/// Parses a `PublicAccessBlockConfiguration` request document (absent settings are off).
pub fn parse_public_access_block(bytes: &[u8]) -> Result<PublicAccessBlock, ApiError> {
    let doc: PublicAccessBlockConfiguration = xml::parse(bytes)?;
    Ok(PublicAccessBlock {
        block_public_acls: parse_flag(&doc.block_public_acls)?,
        ignore_public_acls: parse_flag(&doc.ignore_public_acls)?,
        block_public_policy: parse_flag(&doc.block_public_policy)?,
        restrict_public_buckets: parse_flag(&doc.restrict_public_buckets)?,
    })
}

pub async fn handle_get_public_access_block(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let block = bucket.attrs.public_access_block.ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::NoSuchPublicAccessBlockConfiguration,
            "The public access block configuration was not found",
        )
        .with_extra("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(public_access_block_xml(&block)))
}

pub async fn handle_put_public_access_block(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, MAX_CONFIG_BODY_BYTES).await?;
    let block = parse_public_access_block(&bytes)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.public_access_block = Some(block);
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_delete_public_access_block(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.public_access_block = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}
