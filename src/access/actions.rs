//! Which IAM action each S3 operation is authorized as, and on what.
//!
//! The names are AWS's (`s3:GetObject` for GetObject and HeadObject,
//! `s3:ListBucket` for ListObjects and HeadBucket, ...). Operations that need
//! more than one permission (a copy reads one object and writes another; a
//! PUT with an ACL also sets the ACL) list the extra checks in [`extra_actions`].

use crate::router::Endpoint;

/// What an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// No bucket (ListBuckets): resource `arn:aws:s3:::*`.
    Service,
    /// The bucket: `arn:aws:s3:::bucket`.
    Bucket,
    /// The object: `arn:aws:s3:::bucket/key`.
    Object,
}

/// The action an operation is authorized as. `None`: the operation decides
/// per item (DeleteObjects checks `s3:DeleteObject` for each key) or is not
/// served (NotImplemented needs no permission to say so).
pub fn primary_action(endpoint: Endpoint) -> Option<(&'static str, Target)> {
    use Endpoint::*;
    use Target::*;
    Some(match endpoint {
        ListBuckets => ("s3:ListAllMyBuckets", Service),
        CreateBucket => ("s3:CreateBucket", Bucket),
        HeadBucket | ListObjects | ListObjectsV2 => ("s3:ListBucket", Bucket),
        DeleteBucket => ("s3:DeleteBucket", Bucket),
        GetBucketLocation => ("s3:GetBucketLocation", Bucket),
        GetBucketVersioning => ("s3:GetBucketVersioning", Bucket),
        ListMultipartUploads => ("s3:ListBucketMultipartUploads", Bucket),
        GetBucketPolicy => ("s3:GetBucketPolicy", Bucket),
        PutBucketPolicy => ("s3:PutBucketPolicy", Bucket),
        DeleteBucketPolicy => ("s3:DeleteBucketPolicy", Bucket),
        GetBucketPolicyStatus => ("s3:GetBucketPolicyStatus", Bucket),
        GetBucketAcl => ("s3:GetBucketAcl", Bucket),
        PutBucketAcl => ("s3:PutBucketAcl", Bucket),
        GetBucketOwnershipControls => ("s3:GetBucketOwnershipControls", Bucket),
        PutBucketOwnershipControls | DeleteBucketOwnershipControls => ("s3:PutBucketOwnershipControls", Bucket),
        GetPublicAccessBlock => ("s3:GetBucketPublicAccessBlock", Bucket),
        PutPublicAccessBlock | DeletePublicAccessBlock => ("s3:PutBucketPublicAccessBlock", Bucket),
        PutObject | CopyObject | CreateMultipartUpload | UploadPart | UploadPartCopy | CompleteMultipartUpload => {
            ("s3:PutObject", Object)
        }
        GetObject | HeadObject => ("s3:GetObject", Object),
        DeleteObject => ("s3:DeleteObject", Object),
        AbortMultipartUpload => ("s3:AbortMultipartUpload", Object),
        ListParts => ("s3:ListMultipartUploadParts", Object),
        GetObjectAcl => ("s3:GetObjectAcl", Object),
        PutObjectAcl => ("s3:PutObjectAcl", Object),
        GetObjectTagging => ("s3:GetObjectTagging", Object),
        GetObjectAttributes => ("s3:GetObjectAttributes", Object),
        PutObjectTagging => ("s3:PutObjectTagging", Object),
        DeleteObjectTagging => ("s3:DeleteObjectTagging", Object),
        GetBucketTagging => ("s3:GetBucketTagging", Bucket),
        PutBucketTagging | DeleteBucketTagging => ("s3:PutBucketTagging", Bucket),
        PutBucketVersioning => ("s3:PutBucketVersioning", Bucket),
        ListObjectVersions => ("s3:ListBucketVersions", Bucket),
        GetBucketCors => ("s3:GetBucketCORS", Bucket),
        PutBucketCors | DeleteBucketCors => ("s3:PutBucketCORS", Bucket),
        GetBucketWebsite => ("s3:GetBucketWebsite", Bucket),
        PutBucketWebsite => ("s3:PutBucketWebsite", Bucket),
        DeleteBucketWebsite => ("s3:DeleteBucketWebsite", Bucket),
        GetBucketLifecycleConfiguration => ("s3:GetLifecycleConfiguration", Bucket),
        PutBucketLifecycleConfiguration | DeleteBucketLifecycleConfiguration => {
            ("s3:PutLifecycleConfiguration", Bucket)
        }
        GetObjectLockConfiguration => ("s3:GetBucketObjectLockConfiguration", Bucket),
        PutObjectLockConfiguration => ("s3:PutBucketObjectLockConfiguration", Bucket),
        GetObjectRetention => ("s3:GetObjectRetention", Object),
        PutObjectRetention => ("s3:PutObjectRetention", Object),
        GetObjectLegalHold => ("s3:GetObjectLegalHold", Object),
        PutObjectLegalHold => ("s3:PutObjectLegalHold", Object),
        GetBucketEncryption => ("s3:GetEncryptionConfiguration", Bucket),
        PutBucketEncryption | DeleteBucketEncryption => ("s3:PutEncryptionConfiguration", Bucket),
        DeleteObjects | PostObject | Unsupported(_) => return None,
    })
}

/// The action of an operation on one version of an object (`?versionId=`).
pub fn for_version(action: &'static str) -> &'static str {
    match action {
        "s3:GetObject" => "s3:GetObjectVersion",
        "s3:DeleteObject" => "s3:DeleteObjectVersion",
        "s3:GetObjectAcl" => "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl" => "s3:PutObjectVersionAcl",
        "s3:GetObjectTagging" => "s3:GetObjectVersionTagging",
        "s3:GetObjectAttributes" => "s3:GetObjectVersionAttributes",
        "s3:PutObjectTagging" => "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        other => other,
    }
}

/// Request headers that set an ACL.
pub const ACL_HEADERS: &[&str] = &[
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// Further permissions an operation needs on its own target: setting an ACL
/// while creating a bucket needs s3:PutBucketAcl, tagging an object while
/// writing it s3:PutObjectTagging. (The ACL headers of an object write are
/// decided by s3:PutObject itself, through its `s3:x-amz-acl` and
/// `s3:x-amz-grant-*` condition keys, as AWS does.)
pub fn extra_actions(endpoint: Endpoint, headers: &http::HeaderMap) -> Vec<(&'static str, Target)> {
    let sets_acl = ACL_HEADERS.iter().any(|h| headers.contains_key(*h));
    let sets_tags = headers.contains_key("x-amz-tagging");
    let writes_object =
        matches!(endpoint, Endpoint::PutObject | Endpoint::CopyObject | Endpoint::CreateMultipartUpload);
    let mut extra = Vec::new();
    if endpoint == Endpoint::CreateBucket && sets_acl {
        extra.push(("s3:PutBucketAcl", Target::Bucket));
    }
    if writes_object && sets_tags {
        extra.push(("s3:PutObjectTagging", Target::Object));
    }
    extra
}

/// Operations that read a source object named by `x-amz-copy-source`.
pub fn reads_copy_source(endpoint: Endpoint) -> bool {
    matches!(endpoint, Endpoint::CopyObject | Endpoint::UploadPartCopy)
}

/// Actions whose decision may rest on the target object's own ACL.
pub fn uses_object_acl(action: &str) -> bool {
    matches!(
        action,
        "s3:GetObject" | "s3:GetObjectAcl" | "s3:PutObjectAcl" | "s3:GetObjectVersion" | "s3:GetObjectVersionAcl"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_has_an_action() {
        use Endpoint::*;
        let served = [
            ListBuckets,
            CreateBucket,
            HeadBucket,
            DeleteBucket,
            GetBucketLocation,
            GetBucketVersioning,
            ListObjects,
            ListObjectsV2,
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
            GetObjectAcl,
            PutObjectAcl,
            GetBucketOwnershipControls,
            PutBucketOwnershipControls,
            DeleteBucketOwnershipControls,
            GetPublicAccessBlock,
            PutPublicAccessBlock,
            DeletePublicAccessBlock,
            GetObjectTagging,
            GetObjectAttributes,
            PutObjectTagging,
            DeleteObjectTagging,
            GetBucketTagging,
            PutBucketTagging,
            DeleteBucketTagging,
            GetBucketEncryption,
            PutBucketEncryption,
            DeleteBucketEncryption,
            PutBucketVersioning,
            ListObjectVersions,
            GetObjectLockConfiguration,
            PutObjectLockConfiguration,
            GetBucketLifecycleConfiguration,
            PutBucketLifecycleConfiguration,
            DeleteBucketLifecycleConfiguration,
            GetBucketWebsite,
            PutBucketWebsite,
            DeleteBucketWebsite,
            GetBucketCors,
            PutBucketCors,
            DeleteBucketCors,
            GetObjectRetention,
            PutObjectRetention,
            GetObjectLegalHold,
            PutObjectLegalHold,
        ];
        for endpoint in served {
            let (action, _) = primary_action(endpoint).expect("served operations are authorized");
            assert!(action.starts_with("s3:"), "{endpoint:?}");
        }
        assert_eq!(primary_action(HeadObject), Some(("s3:GetObject", Target::Object)));
        assert_eq!(primary_action(HeadBucket), Some(("s3:ListBucket", Target::Bucket)));
        assert_eq!(primary_action(DeleteObjects), None);
    }

    #[test]
    fn acl_and_tag_headers_need_their_permissions() {
        let mut h = http::HeaderMap::new();
        assert!(extra_actions(Endpoint::PutObject, &h).is_empty());
        h.insert("x-amz-acl", "public-read".parse().expect("v"));
        // An object write's ACL is decided by s3:PutObject and its condition keys.
        assert!(extra_actions(Endpoint::PutObject, &h).is_empty());
        assert_eq!(extra_actions(Endpoint::CreateBucket, &h), vec![("s3:PutBucketAcl", Target::Bucket)]);
        assert!(extra_actions(Endpoint::GetObject, &h).is_empty());
        h.insert("x-amz-tagging", "a=b".parse().expect("v"));
        assert_eq!(extra_actions(Endpoint::PutObject, &h), vec![("s3:PutObjectTagging", Target::Object)]);
    }
}
