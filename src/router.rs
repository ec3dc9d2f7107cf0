//! Maps a request's method, host, path and query to one S3 operation.
//!
//! Pure: no I/O. Path-style (`/bucket/key`) and virtual-hosted-style
//! (`bucket.DOMAIN/key`, when a domain is configured) both resolve to the same
//! `{bucket, key}`.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::error::{ApiError, S3ErrorCode};

/// The S3 operations Coffer knows, by their AWS names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
    ListObjects,
    ListObjectsV2,
    DeleteObjects,
    ListMultipartUploads,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetObjectAcl,
    PutObjectAcl,
    GetObjectTagging,
    GetObjectAttributes,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    PutBucketVersioning,
    ListObjectVersions,
    PostObject,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    GetBucketWebsite,
    PutBucketWebsite,
    DeleteBucketWebsite,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    DeleteBucketLifecycleConfiguration,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    /// A known S3 operation Coffer does not implement yet (answered with NotImplemented).
    Unsupported(&'static str),
}

impl Endpoint {
    /// The AWS operation name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket => "CreateBucket",
            Endpoint::HeadBucket => "HeadBucket",
            Endpoint::DeleteBucket => "DeleteBucket",
            Endpoint::GetBucketLocation => "GetBucketLocation",
            Endpoint::GetBucketVersioning => "GetBucketVersioning",
            Endpoint::ListObjects => "ListObjects",
            Endpoint::ListObjectsV2 => "ListObjectsV2",
            Endpoint::DeleteObjects => "DeleteObjects",
            Endpoint::ListMultipartUploads => "ListMultipartUploads",
            Endpoint::PutObject => "PutObject",
            Endpoint::CopyObject => "CopyObject",
            Endpoint::GetObject => "GetObject",
            Endpoint::HeadObject => "HeadObject",
            Endpoint::DeleteObject => "DeleteObject",
            Endpoint::CreateMultipartUpload => "CreateMultipartUpload",
            Endpoint::UploadPart => "UploadPart",
            Endpoint::UploadPartCopy => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload => "AbortMultipartUpload",
            Endpoint::ListParts => "ListParts",
            Endpoint::GetBucketPolicy => "GetBucketPolicy",
            Endpoint::PutBucketPolicy => "PutBucketPolicy",
            Endpoint::DeleteBucketPolicy => "DeleteBucketPolicy",
            Endpoint::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            Endpoint::GetBucketAcl => "GetBucketAcl",
            Endpoint::PutBucketAcl => "PutBucketAcl",
            Endpoint::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            Endpoint::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            Endpoint::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            Endpoint::GetPublicAccessBlock => "GetPublicAccessBlock",
            Endpoint::PutPublicAccessBlock => "PutPublicAccessBlock",
            Endpoint::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            Endpoint::GetObjectAcl => "GetObjectAcl",
            Endpoint::PutObjectAcl => "PutObjectAcl",
            Endpoint::GetObjectTagging => "GetObjectTagging",
            Endpoint::GetObjectAttributes => "GetObjectAttributes",
            Endpoint::PutObjectTagging => "PutObjectTagging",
            Endpoint::DeleteObjectTagging => "DeleteObjectTagging",
            Endpoint::GetBucketTagging => "GetBucketTagging",
            Endpoint::PutBucketTagging => "PutBucketTagging",
            Endpoint::DeleteBucketTagging => "DeleteBucketTagging",
            Endpoint::PutBucketVersioning => "PutBucketVersioning",
            Endpoint::ListObjectVersions => "ListObjectVersions",
            Endpoint::PostObject => "PostObject",
            Endpoint::GetBucketCors => "GetBucketCors",
            Endpoint::PutBucketCors => "PutBucketCors",
            Endpoint::DeleteBucketCors => "DeleteBucketCors",
            Endpoint::GetBucketWebsite => "GetBucketWebsite",
            Endpoint::PutBucketWebsite => "PutBucketWebsite",
            Endpoint::DeleteBucketWebsite => "DeleteBucketWebsite",
            Endpoint::GetBucketLifecycleConfiguration => "GetBucketLifecycleConfiguration",
            Endpoint::PutBucketLifecycleConfiguration => "PutBucketLifecycleConfiguration",
            Endpoint::DeleteBucketLifecycleConfiguration => "DeleteBucketLifecycleConfiguration",
            Endpoint::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Endpoint::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            Endpoint::GetObjectRetention => "GetObjectRetention",
            Endpoint::PutObjectRetention => "PutObjectRetention",
            Endpoint::GetObjectLegalHold => "GetObjectLegalHold",
            Endpoint::PutObjectLegalHold => "PutObjectLegalHold",
            Endpoint::GetBucketEncryption => "GetBucketEncryption",
            Endpoint::PutBucketEncryption => "PutBucketEncryption",
            Endpoint::DeleteBucketEncryption => "DeleteBucketEncryption",
            Endpoint::Unsupported(name) => name,
        }
    }
}

/// A routed request: the operation and the bucket and key it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// Bucket sub-resources that select another operation; the ones Coffer does
/// not serve yet are named so that the client gets NotImplemented, not a
/// wrong answer from the plain bucket operation.
const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
    ("accelerate", "BucketAccelerateConfiguration"),
    ("analytics", "BucketAnalyticsConfiguration"),
    ("intelligent-tiering", "BucketIntelligentTieringConfiguration"),
    ("inventory", "BucketInventoryConfiguration"),
    ("logging", "BucketLogging"),
    ("metadataTable", "BucketMetadataTableConfiguration"),
    ("metrics", "BucketMetricsConfiguration"),
    ("notification", "BucketNotificationConfiguration"),
    ("replication", "BucketReplication"),
    ("requestPayment", "BucketRequestPayment"),
];

const OBJECT_SUBRESOURCES: &[(&str, &str)] =
    &[("restore", "RestoreObject"), ("select", "SelectObjectContent"), ("torrent", "GetObjectTorrent")];

/// Parsed query parameters: decoded names and values, in request order.
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else { return Vec::new() };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_component(name), decode_query_component(value))
        })
        .collect()
}

fn decode_query_component(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_decode_str(&replaced).decode_utf8_lossy().into_owned()
}

fn has(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(n, _)| n == name)
}

/// The bucket named by a virtual-hosted-style Host header, if any.
pub fn bucket_from_host(host: Option<&str>, domain: Option<&str>) -> Option<String> {
    let domain = domain?;
    let host = host?.to_ascii_lowercase();
    // Strip a port, keeping IPv6 literals intact.
    let name = if host.starts_with('[') {
        return None;
    } else {
        host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h)
    };
    let prefix = name.strip_suffix(domain)?.strip_suffix('.')?;
    (!prefix.is_empty()).then(|| prefix.to_string())
}

impl Route {
    /// Resolves a request. `host` is the Host header; `domain` the configured
    /// virtual-hosting domain.
    pub fn resolve(
        method: &Method,
        path: &str,
        query: &[(String, String)],
        headers: &http::HeaderMap,
        domain: Option<&str>,
    ) -> Result<Route, ApiError> {
        let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
        let decoded = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| ApiError::invalid_argument("The request path is not valid UTF-8"))?;
        let rest = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (bucket, key) = match bucket_from_host(host, domain) {
            Some(bucket) => (Some(bucket), rest.to_string()),
            None => match rest.split_once('/') {
                Some((b, k)) => (Some(b.to_string()), k.to_string()),
                None if rest.is_empty() => (None, String::new()),
                None => (Some(rest.to_string()), String::new()),
            },
        };
        let key = (!key.is_empty()).then_some(key);
        let endpoint = match (&bucket, &key) {
            (None, _) => service_endpoint(method)?,
            (Some(_), None) => bucket_endpoint(method, query)?,
            (Some(_), Some(_)) => object_endpoint(method, query, headers)?,
        };
        Ok(Route { endpoint, bucket, key })
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(S3ErrorCode::MethodNotAllowed, "The specified method is not allowed against this resource.")
}

fn service_endpoint(method: &Method) -> Result<Endpoint, ApiError> {
    match *method {
        Method::GET => Ok(Endpoint::ListBuckets),
        _ => Err(method_not_allowed()),
    }
}

fn unsupported_subresource(
    table: &[(&str, &'static str)],
    method: &Method,
    query: &[(String, String)],
) -> Option<Endpoint> {
    table.iter().find(|(name, _)| has(query, name)).map(|(_, op)| {
        Endpoint::Unsupported(match *method {
            Method::GET | Method::HEAD => op,
            Method::PUT => "Put",
            Method::DELETE => "Delete",
            _ => op,
        })
    })
}

fn bucket_endpoint(method: &Method, query: &[(String, String)]) -> Result<Endpoint, ApiError> {
    if *method == Method::GET && has(query, "location") {
        return Ok(Endpoint::GetBucketLocation);
    }
    if *method == Method::GET && has(query, "versioning") {
        return Ok(Endpoint::GetBucketVersioning);
    }
    if *method == Method::PUT && has(query, "versioning") {
        return Ok(Endpoint::PutBucketVersioning);
    }
    if *method == Method::GET && has(query, "versions") {
        return Ok(Endpoint::ListObjectVersions);
    }
    if has(query, "versioning") || has(query, "versions") {
        return Err(method_not_allowed());
    }
    if let Some(endpoint) = bucket_access_endpoint(method, query) {
        return endpoint;
    }
    if let Some(endpoint) = unsupported_subresource(BUCKET_SUBRESOURCES, method, query) {
        return Ok(endpoint);
    }
    match *method {
        Method::PUT => Ok(Endpoint::CreateBucket),
        Method::HEAD => Ok(Endpoint::HeadBucket),
        Method::DELETE => Ok(Endpoint::DeleteBucket),
        Method::GET if has(query, "uploads") => Ok(Endpoint::ListMultipartUploads),
        Method::GET if query.iter().any(|(n, v)| n == "list-type" && v == "2") => Ok(Endpoint::ListObjectsV2),
        Method::GET => Ok(Endpoint::ListObjects),
        Method::POST if has(query, "delete") => Ok(Endpoint::DeleteObjects),
        Method::POST => Ok(Endpoint::PostObject),
        _ => Err(method_not_allowed()),
    }
}

/// The access-control sub-resources of a bucket: policy, ACL, ownership, Block Public Access.
fn bucket_access_endpoint(method: &Method, query: &[(String, String)]) -> Option<Result<Endpoint, ApiError>> {
    use Endpoint::*;
    let table: [(&str, [Option<Endpoint>; 3]); 11] = [
        // sub-resource, [GET, PUT, DELETE]
        ("policy", [Some(GetBucketPolicy), Some(PutBucketPolicy), Some(DeleteBucketPolicy)]),
        ("policyStatus", [Some(GetBucketPolicyStatus), None, None]),
        ("acl", [Some(GetBucketAcl), Some(PutBucketAcl), None]),
        (
            "ownershipControls",
            [Some(GetBucketOwnershipControls), Some(PutBucketOwnershipControls), Some(DeleteBucketOwnershipControls)],
        ),
        ("publicAccessBlock", [Some(GetPublicAccessBlock), Some(PutPublicAccessBlock), Some(DeletePublicAccessBlock)]),
        ("tagging", [Some(GetBucketTagging), Some(PutBucketTagging), Some(DeleteBucketTagging)]),
        ("encryption", [Some(GetBucketEncryption), Some(PutBucketEncryption), Some(DeleteBucketEncryption)]),
        ("object-lock", [Some(GetObjectLockConfiguration), Some(PutObjectLockConfiguration), None]),
        ("website", [Some(GetBucketWebsite), Some(PutBucketWebsite), Some(DeleteBucketWebsite)]),
        ("cors", [Some(GetBucketCors), Some(PutBucketCors), Some(DeleteBucketCors)]),
        (
            "lifecycle",
            [
                Some(GetBucketLifecycleConfiguration),
                Some(PutBucketLifecycleConfiguration),
                Some(DeleteBucketLifecycleConfiguration),
            ],
        ),
    ];
    let (_, by_method) = table.iter().find(|(name, _)| has(query, name))?;
    let endpoint = match *method {
        Method::GET => by_method[0],
        Method::PUT => by_method[1],
        Method::DELETE => by_method[2],
        _ => None,
    };
    Some(endpoint.ok_or_else(method_not_allowed))
}

fn object_endpoint(
    method: &Method,
    query: &[(String, String)],
    headers: &http::HeaderMap,
) -> Result<Endpoint, ApiError> {
    if let Some(endpoint) = unsupported_subresource(OBJECT_SUBRESOURCES, method, query) {
        return Ok(endpoint);
    }
    if has(query, "acl") {
        return match *method {
            Method::GET => Ok(Endpoint::GetObjectAcl),
            Method::PUT => Ok(Endpoint::PutObjectAcl),
            _ => Err(method_not_allowed()),
        };
    }
    for (name, get, put) in [
        ("retention", Endpoint::GetObjectRetention, Endpoint::PutObjectRetention),
        ("legal-hold", Endpoint::GetObjectLegalHold, Endpoint::PutObjectLegalHold),
    ] {
        if has(query, name) {
            return match *method {
                Method::GET => Ok(get),
                Method::PUT => Ok(put),
                _ => Err(method_not_allowed()),
            };
        }
    }
    if has(query, "attributes") {
        return match *method {
            Method::GET => Ok(Endpoint::GetObjectAttributes),
            _ => Err(method_not_allowed()),
        };
    }
    if has(query, "tagging") {
        return match *method {
            Method::GET => Ok(Endpoint::GetObjectTagging),
            Method::PUT => Ok(Endpoint::PutObjectTagging),
            Method::DELETE => Ok(Endpoint::DeleteObjectTagging),
            _ => Err(method_not_allowed()),
        };
    }
    let copy = headers.contains_key("x-amz-copy-source");
    match *method {
        Method::GET if has(query, "uploadId") => Ok(Endpoint::ListParts),
        Method::GET => Ok(Endpoint::GetObject),
        Method::HEAD => Ok(Endpoint::HeadObject),
        Method::PUT if has(query, "partNumber") && has(query, "uploadId") => {
            Ok(if copy { Endpoint::UploadPartCopy } else { Endpoint::UploadPart })
        }
        Method::PUT if copy => Ok(Endpoint::CopyObject),
        Method::PUT => Ok(Endpoint::PutObject),
        Method::DELETE if has(query, "uploadId") => Ok(Endpoint::AbortMultipartUpload),
        Method::DELETE => Ok(Endpoint::DeleteObject),
        Method::POST if has(query, "uploads") => Ok(Endpoint::CreateMultipartUpload),
        Method::POST if has(query, "uploadId") => Ok(Endpoint::CompleteMultipartUpload),
        _ => Err(method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, uri: &str, host: &str, domain: Option<&str>) -> Result<Route, ApiError> {
        let uri: http::Uri = uri.parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, host.parse().expect("host"));
        let query = parse_query(uri.query());
        Route::resolve(&method, uri.path(), &query, &headers, domain)
    }

    fn op(method: Method, uri: &str) -> Endpoint {
        route(method, uri, "127.0.0.1:9000", None).expect("routes").endpoint
    }

    #[test]
    fn every_route() {
        use Endpoint::*;
        let cases: &[(Method, &str, Endpoint)] = &[
            (Method::GET, "/", ListBuckets),
            (Method::PUT, "/b", CreateBucket),
            (Method::HEAD, "/b", HeadBucket),
            (Method::DELETE, "/b", DeleteBucket),
            (Method::GET, "/b?location", GetBucketLocation),
            (Method::GET, "/b?versioning", GetBucketVersioning),
            (Method::PUT, "/b?versioning", PutBucketVersioning),
            (Method::GET, "/b?versions", ListObjectVersions),
            (Method::GET, "/b?object-lock", GetObjectLockConfiguration),
            (Method::PUT, "/b?lifecycle", PutBucketLifecycleConfiguration),
            (Method::GET, "/b?website", GetBucketWebsite),
            (Method::PUT, "/b?cors", PutBucketCors),
            (Method::DELETE, "/b?website", DeleteBucketWebsite),
            (Method::DELETE, "/b?lifecycle", DeleteBucketLifecycleConfiguration),
            (Method::PUT, "/b?object-lock", PutObjectLockConfiguration),
            (Method::GET, "/b/k?retention", GetObjectRetention),
            (Method::PUT, "/b/k?legal-hold", PutObjectLegalHold),
            (Method::GET, "/b", ListObjects),
            (Method::GET, "/b/", ListObjects),
            (Method::GET, "/b?list-type=2&prefix=a", ListObjectsV2),
            (Method::POST, "/b?delete", DeleteObjects),
            (Method::GET, "/b?uploads", ListMultipartUploads),
            (Method::PUT, "/b/k", PutObject),
            (Method::GET, "/b/k", GetObject),
            (Method::HEAD, "/b/k", HeadObject),
            (Method::DELETE, "/b/k", DeleteObject),
            (Method::POST, "/b/k?uploads", CreateMultipartUpload),
            (Method::PUT, "/b/k?partNumber=1&uploadId=u", UploadPart),
            (Method::POST, "/b/k?uploadId=u", CompleteMultipartUpload),
            (Method::DELETE, "/b/k?uploadId=u", AbortMultipartUpload),
            (Method::GET, "/b/k?uploadId=u", ListParts),
            (Method::GET, "/b?policy", GetBucketPolicy),
            (Method::PUT, "/b?policy", PutBucketPolicy),
            (Method::DELETE, "/b?policy", DeleteBucketPolicy),
            (Method::GET, "/b?policyStatus", GetBucketPolicyStatus),
            (Method::GET, "/b?acl", GetBucketAcl),
            (Method::PUT, "/b?acl", PutBucketAcl),
            (Method::GET, "/b?ownershipControls", GetBucketOwnershipControls),
            (Method::PUT, "/b?ownershipControls", PutBucketOwnershipControls),
            (Method::DELETE, "/b?ownershipControls", DeleteBucketOwnershipControls),
            (Method::GET, "/b?publicAccessBlock", GetPublicAccessBlock),
            (Method::PUT, "/b?publicAccessBlock", PutPublicAccessBlock),
            (Method::DELETE, "/b?publicAccessBlock", DeletePublicAccessBlock),
            (Method::GET, "/b/k?acl", GetObjectAcl),
            (Method::PUT, "/b/k?acl", PutObjectAcl),
            (Method::GET, "/b?cors", GetBucketCors),
            (Method::GET, "/b?tagging", GetBucketTagging),
            (Method::PUT, "/b?tagging", PutBucketTagging),
            (Method::DELETE, "/b?tagging", DeleteBucketTagging),
            (Method::GET, "/b?encryption", GetBucketEncryption),
            (Method::PUT, "/b?encryption", PutBucketEncryption),
            (Method::DELETE, "/b?encryption", DeleteBucketEncryption),
            (Method::GET, "/b/k?tagging", GetObjectTagging),
            (Method::GET, "/b/k?attributes", GetObjectAttributes),
            (Method::PUT, "/b/k?tagging", PutObjectTagging),
            (Method::DELETE, "/b/k?tagging", DeleteObjectTagging),
        ];
        for (method, uri, expected) in cases {
            assert_eq!(op(method.clone(), uri), *expected, "{method} {uri}");
        }
    }

    #[test]
    fn copy_source_header_selects_copy() {
        let uri: http::Uri = "/b/k".parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-copy-source", "/a/b".parse().expect("v"));
        let route = Route::resolve(&Method::PUT, uri.path(), &[], &headers, None).expect("routes");
        assert_eq!(route.endpoint, Endpoint::CopyObject);
        let query = parse_query(Some("partNumber=2&uploadId=x"));
        let route = Route::resolve(&Method::PUT, uri.path(), &query, &headers, None).expect("routes");
        assert_eq!(route.endpoint, Endpoint::UploadPartCopy);
    }

    #[test]
    fn path_style_keys_are_decoded_and_keep_slashes() {
        let r = route(Method::GET, "/bucket/a%20b/c%2Bd//e", "localhost", None).expect("routes");
        assert_eq!(r.bucket.as_deref(), Some("bucket"));
        assert_eq!(r.key.as_deref(), Some("a b/c+d//e"));
    }

    #[test]
    fn virtual_hosted_style_with_port() {
        let r = route(Method::GET, "/photos/cat.jpg", "my-bucket.s3.example.com:9000", Some("s3.example.com"))
            .expect("routes");
        assert_eq!(r.bucket.as_deref(), Some("my-bucket"));
        assert_eq!(r.key.as_deref(), Some("photos/cat.jpg"));
        assert_eq!(r.endpoint, Endpoint::GetObject);
        let r =
            route(Method::GET, "/?list-type=2", "My-Bucket.S3.Example.com", Some("s3.example.com")).expect("routes");
        assert_eq!(r.bucket.as_deref(), Some("my-bucket"));
        assert_eq!(r.endpoint, Endpoint::ListObjectsV2);
        // The bare domain is path-style.
        let r = route(Method::GET, "/b/k", "s3.example.com:9000", Some("s3.example.com")).expect("routes");
        assert_eq!(r.bucket.as_deref(), Some("b"));
        assert_eq!(r.key.as_deref(), Some("k"));
    }

    #[test]
    fn wrong_methods_are_rejected() {
        for (method, uri) in [
            (Method::POST, "/"),
            (Method::PATCH, "/b"),
            (Method::PATCH, "/b/k"),
            (Method::DELETE, "/b?acl"),
            (Method::POST, "/b/k?acl"),
        ] {
            let err = route(method, uri, "h", None).expect_err("rejected");
            assert_eq!(err.code, S3ErrorCode::MethodNotAllowed);
        }
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("prefix=a%2Fb+c&delimiter=%2F&empty&x="));
        assert_eq!(
            q,
            vec![
                ("prefix".into(), "a/b c".into()),
                ("delimiter".into(), "/".into()),
                ("empty".into(), String::new()),
                ("x".into(), String::new())
            ]
        );
    }
}
