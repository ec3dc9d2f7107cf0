//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation, GetBucketVersioning.

use http::{HeaderValue, Response};

use super::attrs::BucketAttrs;
use super::attrs_update::update_bucket_attrs;
use super::list::parse_max;
use super::RequestContext;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, iso8601_ms, XmlWriter};

/// Checks AWS's bucket naming rules for new buckets.
pub fn validate_bucket_name(name: &str) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::new(S3ErrorCode::InvalidBucketName, "The specified bucket is not valid.")
            .with_extra("BucketName", name.to_string())
    };
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err(invalid());
    }
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-') {
        return Err(invalid());
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err(invalid());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(invalid());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(invalid());
    }
    const BAD_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if BAD_PREFIXES.iter().any(|p| name.starts_with(p)) || BAD_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(invalid());
    }
    Ok(())
}

/// The attributes of a bucket being created: owned by the caller's account,
/// Object Ownership from `x-amz-object-ownership` (default
/// BucketOwnerEnforced), Block Public Access all on, and the ACL of the
/// request's ACL headers where ACLs are enabled.
fn new_bucket_attrs(ctx: &RequestContext<'_>) -> Result<BucketAttrs, ApiError> {
    let (owner_id, owner_name) = caller_owner(ctx);
    let mut attrs = BucketAttrs::new(owner_id, owner_name, ctx.state.config.region.clone());
    if ctx.state.config.legacy_bucket_defaults {
        // As AWS before April 2023: no ownership controls (ACLs work, object writer owns) and no Block Public Access.
        attrs.ownership = None;
        attrs.public_access_block = None;
    }
    if let Some(value) = ctx.header("x-amz-object-ownership") {
        let ownership = policy::ObjectOwnership::parse(value.trim()).ok_or_else(|| {
            ApiError::invalid_argument("Invalid x-amz-object-ownership header")
                .with_extra("ArgumentName", "x-amz-object-ownership")
                .with_extra("ArgumentValue", value.to_string())
        })?;
        attrs.ownership = Some(ownership);
    }
    let owner = (attrs.owner_id.clone(), attrs.owner_display_name.clone());
    if let Some(acl) = super::acl::acl_from_headers(ctx, (&owner.0, &owner.1), (&owner.0, &owner.1))? {
        super::acl::check_acl_allowed(ctx, None, &attrs, &acl, super::acl::AclSetter::NewBucket)?;
        if attrs.acls_enabled() {
            attrs.acl = Some(acl);
        }
    }
    Ok(attrs)
}

/// The canonical id and display name the caller's account owns things as.
fn caller_owner(ctx: &RequestContext<'_>) -> (String, String) {
    let caller = &ctx.access.caller;
    match caller.canonical_id() {
        Some(id) => (id.to_string(), caller.account_name.clone()),
        None => (ctx.state.owner.id.clone(), ctx.state.owner.display_name.clone()),
    }
}

/// ListBuckets: the buckets the caller's account owns.
pub async fn handle_list_buckets(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let max = parse_max(ctx.query_param("max-buckets"), "max-buckets", 10_000)?;
    let prefix = ctx.query_param("prefix").unwrap_or_default();
    let after = ctx.query_param("continuation-token").unwrap_or_default();
    let region_filter = ctx.query_param("bucket-region");
    let buckets = ctx.state.engine.list_buckets().await?;
    let (owner_id, owner_name) = caller_owner(ctx);
    let mut selected = Vec::new();
    let mut truncated = false;
    for bucket in &buckets {
        if !bucket.name.starts_with(prefix) || bucket.name.as_str() <= after {
            continue;
        }
        let attrs = BucketAttrs::decode(&bucket.attrs)?;
        if attrs.owner_id != owner_id || region_filter.is_some_and(|r| r != attrs.region) {
            continue;
        }
        if selected.len() == max {
            truncated = true;
            break;
        }
        selected.push((bucket, attrs));
    }
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.open("Owner").text("ID", &owner_id).text("DisplayName", &owner_name).close();
    w.open("Buckets");
    for (bucket, attrs) in &selected {
        w.open("Bucket");
        w.text("Name", &bucket.name);
        w.text("CreationDate", &iso8601_ms(bucket.created_ms));
        w.text("BucketRegion", &attrs.region);
        w.close();
    }
    w.close();
    if truncated {
        if let Some((last, _)) = selected.last() {
            w.text("ContinuationToken", &last.name);
        }
    }
    if !prefix.is_empty() {
        w.text("Prefix", prefix);
    }
    Ok(response::xml(w.finish()))
}

pub async fn handle_create_bucket(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let name = ctx.bucket();
    validate_bucket_name(name)?;
    let region = &ctx.state.config.region;
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let config: xml::CreateBucketConfiguration = xml::parse(&bytes)?;
        match config.location_constraint.as_deref() {
            None | Some("") if region == "us-east-1" => {}
            Some(c) if c == region => {}
            other => {
                return Err(ApiError::new(
                    S3ErrorCode::InvalidLocationConstraint,
                    "The specified location-constraint is not valid",
                )
                .with_extra("LocationConstraint", other.unwrap_or_default().to_string()))
            }
        }
    }
    let mut attrs = new_bucket_attrs(ctx)?;
    // A bucket created with Object Lock is versioned from the start, for good.
    if ctx.header("x-amz-bucket-object-lock-enabled").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        attrs.object_lock = Some(super::object_lock::BucketLock { default: None });
        attrs.versioning = Some("Enabled".into());
    }
    match ctx.state.engine.create_bucket(name, attrs.encode()).await {
        Err(storage_engine::EngineError::BucketAlreadyExists { .. }) => {
            // Owned by the caller's account: BucketAlreadyOwnedByYou; by another: BucketAlreadyExists.
            let existing = BucketAttrs::decode(&ctx.state.engine.get_bucket(name).await?.attrs)?;
            if existing.owner_id != attrs.owner_id {
                return Err(ApiError::new(
                    S3ErrorCode::BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                )
                .with_extra("BucketName", name.to_string()));
            }
            if existing.region != "us-east-1" {
                return Err(storage_engine::EngineError::BucketAlreadyExists { bucket: name.to_string() }.into());
            }
            // AWS's legacy rule in us-east-1: re-creating a bucket you own
            // answers 200 and resets the bucket ACL to the request's.
            let acl = attrs.acl.clone();
            update_bucket_attrs(ctx, |a| {
                if a.acls_enabled() {
                    a.acl = acl.clone();
                }
                Ok(())
            })
            .await?;
        }
        other => {
            other?;
        }
    };
    let mut response = Response::new(response::empty());
    if let Ok(v) = HeaderValue::from_str(&format!("/{name}")) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(response)
}

pub async fn handle_head_bucket(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let attrs = &ctx.loaded_bucket()?.attrs;
    let mut response = Response::new(response::empty());
    if let Ok(v) = HeaderValue::from_str(&attrs.region) {
        response.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(response)
}

pub async fn handle_delete_bucket(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    ctx.state.engine.delete_bucket(ctx.bucket()).await?;
    Ok(response::no_content())
}

pub async fn handle_get_bucket_location(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let attrs = &ctx.loaded_bucket()?.attrs;
    let mut w = XmlWriter::new("LocationConstraint");
    if attrs.region != "us-east-1" {
        w.inner_text(&attrs.region);
    }
    let document = w.finish();
    Ok(response::xml(document))
}

/// A bucket that never had versioning enabled answers with an empty configuration.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.data", "a1b2c3", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "MyBucket",
            "my_bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "abc-s3alias",
            "a.-b",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
