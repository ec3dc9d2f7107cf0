//! The server's own attributes of buckets and objects, stored by the engine
//! as opaque bytes (JSON with a format version), and their mapping to and
//! from HTTP headers.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::checksum::ChecksumAlgorithm;
use crate::error::{ApiError, S3ErrorCode};

/// Format version of the attribute blobs below.
const ATTRS_VERSION: u8 = 1;

/// User metadata may hold at most this many bytes (names + values), as AWS.
pub const MAX_USER_METADATA_BYTES: usize = 2048;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketAttrs {
    pub v: u8,
    pub owner_id: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_display_name: String,
    /// The bucket policy as the client sent it (validated on PUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The Object Ownership setting; `None`: no OwnershipControls (AWS then
    /// behaves as ObjectWriter). New buckets get BucketOwnerEnforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<policy::ObjectOwnership>,
    /// The bucket ACL; `None`: the owner has FULL_CONTROL and nobody else anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<policy::Acl>,
    /// The bucket's Block Public Access settings; `None`: not configured (no restriction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<policy::PublicAccessBlock>,
    /// The bucket's tags; `None`: no tag set (GetBucketTagging answers NoSuchTagSet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<(String, String)>>,
    /// `Enabled` or `Suspended` once PutBucketVersioning was called; `None`: never versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// CORS rules (PutBucketCors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<crate::cors::Rule>>,
    /// Static website hosting (PutBucketWebsite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<crate::website::config::Website>,
    /// Lifecycle rules (PutBucketLifecycleConfiguration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<crate::lifecycle::config::Lifecycle>,
    /// Object Lock, when enabled (at creation or by PutObjectLockConfiguration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<super::object_lock::BucketLock>,
    /// Default encryption of new objects (PutBucketEncryption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<crate::sse::BucketDefault>,
}

impl BucketAttrs {
    /// A new bucket as AWS creates one since 2023: ACLs disabled
    /// (BucketOwnerEnforced) and all four Block Public Access settings on.
    pub fn new(owner_id: String, owner_display_name: String, region: String) -> Self {
        BucketAttrs {
            v: ATTRS_VERSION,
            owner_id,
            region,
            owner_display_name,
            policy: None,
            ownership: Some(policy::ObjectOwnership::BucketOwnerEnforced),
            acl: None,
            public_access_block: Some(policy::PublicAccessBlock::all_on()),
            tags: None,
            versioning: None,
            lifecycle: None,
            cors: None,
            website: None,
            object_lock: None,
            encryption: None,
        }
    }

    /// The versioning state as the engine takes it.
    pub fn versioning_mode(&self) -> storage_engine::Versioning {
        match self.versioning.as_deref() {
            Some("Enabled") => storage_engine::Versioning::Enabled,
            Some("Suspended") => storage_engine::Versioning::Suspended,
            _ => storage_engine::Versioning::Unversioned,
        }
    }

    /// The effective Object Ownership.
    pub fn object_ownership(&self) -> policy::ObjectOwnership {
        self.ownership.unwrap_or(policy::ObjectOwnership::ObjectWriter)
    }

    /// Whether ACLs take part in access decisions (not BucketOwnerEnforced).
    pub fn acls_enabled(&self) -> bool {
        self.object_ownership() != policy::ObjectOwnership::BucketOwnerEnforced
    }

    /// The ACL of an object that has none of its own: the bucket owner's FULL_CONTROL.
    pub fn effective_object_acl(&self) -> policy::Acl {
        policy::Acl::owner_full_control(&self.owner_id, &self.owner_display_name)
    }

    /// The bucket ACL, the owner's FULL_CONTROL when none was set.
    pub fn effective_acl(&self) -> policy::Acl {
        self.acl.clone().unwrap_or_else(|| policy::Acl::owner_full_control(&self.owner_id, &self.owner_display_name))
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("invariant: bucket attrs serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(bytes).map_err(ApiError::internal)
    }
}

/// Content headers, user metadata and checksum of an object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectAttrs {
    pub v: u8,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_class: Option<String>,
    /// `x-amz-meta-*` names (lowercase, without the prefix) and values.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub user_metadata: Vec<(String, String)>,
    /// The full-object checksum the client sent or asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// The parts' checksums (same algorithm), in part order, of an object
    /// completed from an upload that had one; for GetObjectAttributes.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub part_checksums: Vec<String>,
    /// The object ACL, kept only while the bucket has ACLs enabled; `None`:
    /// the bucket owner has FULL_CONTROL and nobody else anything.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acl: Option<policy::Acl>,
    /// The object's tags (key, value), in the order they were given.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<(String, String)>,
    /// Object Lock retention of this version.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retention: Option<super::object_lock::Retention>,
    /// Object Lock legal hold of this version.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub legal_hold: bool,
    /// How the stored data is encrypted; `None`: stored in plaintext.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sse: Option<crate::sse::SseRecord>,
    /// The multipart upload this version was completed from: a repeated
    /// CompleteMultipartUpload of it answers with this version, as AWS does.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub completed_upload: Option<String>,
}

/// Storage classes AWS accepts on PUT; Coffer stores them all the same way.
const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

fn header_str(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) => Ok(Some(s.to_string())),
            // Non-ASCII header values are kept as their raw bytes interpreted as UTF-8 when possible.
            Err(_) => String::from_utf8(v.as_bytes().to_vec())
                .map(Some)
                .map_err(|_| ApiError::invalid_argument(format!("Header {name} is not valid UTF-8"))),
        },
    }
}

impl ObjectAttrs {
    /// Reads the content headers and user metadata of a PUT or a REPLACE copy.
    pub fn from_request_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut attrs = ObjectAttrs {
            v: ATTRS_VERSION,
            content_type: header_str(headers, "content-type")?,
            content_encoding: crate::body::stored_content_encoding(headers),
            content_disposition: header_str(headers, "content-disposition")?,
            content_language: header_str(headers, "content-language")?,
            cache_control: header_str(headers, "cache-control")?,
            expires: header_str(headers, "expires")?,
            storage_class: None,
            user_metadata: Vec::new(),
            checksum: None,
            acl: None,
            tags: Vec::new(),
            sse: None,
            retention: None,
            legal_hold: false,
            part_checksums: Vec::new(),
            completed_upload: None,
        };
        if let Some(class) = header_str(headers, "x-amz-storage-class")? {
            if !STORAGE_CLASSES.contains(&class.as_str()) {
                return Err(ApiError::new(
                    S3ErrorCode::InvalidStorageClass,
                    "The storage class you specified is not valid",
                ));
            }
            if class != "STANDARD" {
                attrs.storage_class = Some(class);
            }
        }
        let mut size = 0usize;
        for (name, value) in headers {
            if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
                let value = String::from_utf8(value.as_bytes().to_vec())
                    .map_err(|_| ApiError::invalid_argument("User metadata values must be UTF-8"))?;
                size += meta.len() + value.len();
                attrs.user_metadata.push((meta.to_string(), value));
            }
        }
        if size > MAX_USER_METADATA_BYTES {
            return Err(ApiError::new(
                S3ErrorCode::MetadataTooLarge,
                "Your metadata headers exceed the maximum allowed metadata size.",
            )
            .with_extra("Size", size.to_string())
            .with_extra("MaxSizeAllowed", MAX_USER_METADATA_BYTES.to_string()));
        }
        if let Some(tagging) = header_str(headers, "x-amz-tagging")? {
            attrs.tags = super::tagging::parse_tagging_header(&tagging)?;
        }
        Ok(attrs)
    }

    /// `COMPOSITE` for a checksum of part checksums (`<value>-N`), else `FULL_OBJECT`.
    pub fn checksum_type(&self) -> &'static str {
        match &self.checksum {
            Some((_, value)) if value.contains('-') => "COMPOSITE",
            _ => "FULL_OBJECT",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("invariant: object attrs serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.is_empty() {
            return Ok(ObjectAttrs { v: ATTRS_VERSION, ..Default::default() });
        }
        serde_json::from_slice(bytes).map_err(ApiError::internal)
    }

    /// Writes the stored content headers and user metadata into a GET/HEAD response.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let mut put = |name: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.insert(name, v);
                }
            }
        };
        put("content-type", &self.content_type.clone().or_else(|| Some("binary/octet-stream".into())));
        put("content-encoding", &self.content_encoding);
        put("content-disposition", &self.content_disposition);
        put("content-language", &self.content_language);
        put("cache-control", &self.cache_control);
        put("expires", &self.expires);
        put("x-amz-storage-class", &self.storage_class);
        if !self.tags.is_empty() {
            headers.insert("x-amz-tagging-count", HeaderValue::from(self.tags.len()));
        }
        for (name, value) in &self.user_metadata {
            let Ok(name) = HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()) else { continue };
            match HeaderValue::from_str(value) {
                Ok(v) => {
                    headers.append(name, v);
                }
                Err(_) => {
                    // Non-ASCII values go out as raw UTF-8 bytes, like AWS.
                    if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                        headers.append(name, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_headers() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "text/plain".parse().expect("v"));
        h.insert("x-amz-meta-color", "blue".parse().expect("v"));
        h.insert("x-amz-storage-class", "STANDARD".parse().expect("v"));
        h.insert("content-encoding", "aws-chunked,gzip".parse().expect("v"));
        let attrs = ObjectAttrs::from_request_headers(&h).expect("valid");
        assert_eq!(attrs.user_metadata, vec![("color".to_string(), "blue".to_string())]);
        assert_eq!(attrs.storage_class, None);
        assert_eq!(attrs.content_encoding.as_deref(), Some("gzip"));
        let back = ObjectAttrs::decode(&attrs.encode()).expect("decodes");
        assert_eq!(back, attrs);
        let mut out = HeaderMap::new();
        back.write_headers(&mut out);
        assert_eq!(out.get("x-amz-meta-color").expect("meta"), "blue");
        assert_eq!(out.get("content-type").expect("ct"), "text/plain");
    }

    #[test]
    fn metadata_limit_and_storage_class() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-big", "x".repeat(2100).parse().expect("v"));
        assert_eq!(ObjectAttrs::from_request_headers(&h).expect_err("too big").code, S3ErrorCode::MetadataTooLarge);
        let mut h = HeaderMap::new();
        h.insert("x-amz-storage-class", "CHEAP".parse().expect("v"));
        assert_eq!(ObjectAttrs::from_request_headers(&h).expect_err("bad").code, S3ErrorCode::InvalidStorageClass);
    }
}
