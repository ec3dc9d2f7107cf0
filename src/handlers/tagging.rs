//! Tags: Get/Put/DeleteObjectTagging, Get/Put/DeleteBucketTagging, and the
//! `x-amz-tagging` header of PutObject, CopyObject (with
//! `x-amz-tagging-directive`) and CreateMultipartUpload.
//!
//! AWS's limits: at most 10 tags on an object and 50 on a bucket, keys of
//! 1 to 128 characters and values of at most 256, no duplicate keys, no key
//! starting with `aws:`.

use http::Response;
use serde::Deserialize;

use super::attrs_update::{update_bucket_attrs, update_version_attrs};
use super::{ObjectAttrs, RequestContext};
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, XmlWriter};

pub const MAX_OBJECT_TAGS: usize = 10;
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;
const MAX_TAGGING_BODY_BYTES: u64 = 64 * 1024;

pub type Tags = Vec<(String, String)>;

fn invalid_tag(message: &str) -> ApiError {
    ApiError::new(S3ErrorCode::InvalidTag, message.to_string())
}

/// Checks a tag set against AWS's limits.
pub fn validate_tags(tags: &Tags, max: usize) -> Result<(), ApiError> {
    if tags.len() > max {
        let what = if max == MAX_OBJECT_TAGS {
            "Object tags cannot be greater than 10"
        } else {
            "Bucket tag count cannot be greater than 50"
        };
        return Err(ApiError::new(S3ErrorCode::BadRequest, what));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// Parses `x-amz-tagging` (URL-encoded query syntax: `k1=v1&k2=v2`).
pub fn parse_tagging_header(value: &str) -> Result<Tags, ApiError> {
    let invalid = || {
        ApiError::invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
        )
    };
    let mut tags = Tags::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode =
            |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
        let (k, v) = (decode(k).map_err(|_| invalid())?, decode(v).map_err(|_| invalid())?);
        if tags.iter().any(|(existing, _)| *existing == k) {
            return Err(invalid());
        }
        tags.push((k, v));
    }
    validate_tags(&tags, MAX_OBJECT_TAGS)?;
    // Query parameters carry no order: the tags are kept sorted by key.
    tags.sort();
    Ok(tags)
}

#[derive(Debug, Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet")]
    tag_set: TagSet,
}

#[derive(Debug, Deserialize)]
struct TagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

impl xml::RequestDocument for Tagging {
    const ROOT: &'static str = "Tagging";
}

async fn tags_from_body(ctx: &RequestContext<'_>, body: RequestBody, max: usize) -> Result<Tags, ApiError> {
    let (bytes, _) = ctx.small_body(body, MAX_TAGGING_BODY_BYTES).await?;
    parse_tagging_document(&bytes, max)
}

/// A `<Tagging>` document (a request body, or a POST form's `tagging` field).
pub fn parse_tagging_document(bytes: &[u8], max: usize) -> Result<Tags, ApiError> {
    let doc: Tagging = xml::parse(bytes)?;
    let tags: Tags = doc.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    validate_tags(&tags, max)?;
    Ok(tags)
}

fn tagging_xml(tags: &Tags) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag").text("Key", key).text("Value", value).close();
    }
    w.close();
    w.finish()
}

pub async fn handle_get_object_tagging(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let version = super::versioning::sub_resource_version(ctx).await?;
    let info = super::object::requested_object(ctx, version.as_deref()).await?;
    let attrs = ObjectAttrs::decode(&info.attrs)?;
    let mut response = response::xml(tagging_xml(&attrs.tags));
    super::versioning::version_header(response.headers_mut(), &info);
    Ok(response)
}

pub async fn handle_put_object_tagging(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let tags = tags_from_body(ctx, body, MAX_OBJECT_TAGS).await?;
    set_version_tags(ctx, tags, Response::new(response::empty())).await
}

pub async fn handle_delete_object_tagging(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    set_version_tags(ctx, Tags::new(), response::no_content()).await
}

/// Replaces the tags of the addressed version (the current one without
/// `versionId`); the response names the version.
async fn set_version_tags(
    ctx: &RequestContext<'_>,
    tags: Tags,
    mut response: Response<Body>,
) -> Result<Response<Body>, ApiError> {
    let version = super::versioning::sub_resource_version(ctx).await?;
    let info = super::object::requested_object(ctx, version.as_deref()).await?;
    update_version_attrs(ctx, version.as_deref(), |attrs| {
        attrs.tags = tags.clone();
        Ok(())
    })
    .await?;
    super::versioning::version_header(response.headers_mut(), &info);
    Ok(response)
}

pub async fn handle_get_bucket_tagging(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let tags = bucket.attrs.tags.as_ref().ok_or_else(|| {
        ApiError::new(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist")
            .with_extra("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(tagging_xml(tags)))
}

pub async fn handle_put_bucket_tagging(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let tags = tags_from_body(ctx, body, MAX_BUCKET_TAGS).await?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.tags = Some(tags.clone());
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

pub async fn handle_delete_bucket_tagging(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.tags = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_and_limits() {
        assert_eq!(
            parse_tagging_header("a=1&b%20c=x%2By&empty=").expect("valid"),
            vec![("a".into(), "1".into()), ("b c".into(), "x+y".into()), ("empty".into(), String::new())]
        );
        assert_eq!(parse_tagging_header("a=1&a=2").expect_err("dup").code, S3ErrorCode::InvalidArgument);
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_tagging_header(&eleven.join("&")).expect_err("too many").code, S3ErrorCode::BadRequest);
        assert_eq!(parse_tagging_header("aws:x=1").expect_err("reserved").code, S3ErrorCode::InvalidTag);
        let long_key = format!("{}=v", "k".repeat(129));
        assert_eq!(parse_tagging_header(&long_key).expect_err("long key").code, S3ErrorCode::InvalidTag);
        let long_value = format!("k={}", "v".repeat(257));
        assert_eq!(parse_tagging_header(&long_value).expect_err("long value").code, S3ErrorCode::InvalidTag);
        assert!(parse_tagging_header(&format!("{}={}", "é".repeat(128), "v".repeat(256))).is_ok());
        assert!(validate_tags(&vec![("k".into(), "v".into()); 1], MAX_BUCKET_TAGS).is_ok());
    }
}
