//! ACLs, canned ACLs, the ACL-permission → action mapping, Object Ownership
//! and Block Public Access settings.

use serde::{Deserialize, Serialize};

pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

impl Permission {
    pub fn parse(text: &str) -> Option<Permission> {
        Some(match text {
            "FULL_CONTROL" => Permission::FullControl,
            "READ" => Permission::Read,
            "WRITE" => Permission::Write,
            "READ_ACP" => Permission::ReadAcp,
            "WRITE_ACP" => Permission::WriteAcp,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    /// Whether a grant of `self` covers `needed`.
    pub fn covers(self, needed: Permission) -> bool {
        self == Permission::FullControl || self == needed
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    CanonicalUser { id: String, display_name: Option<String> },
    Email(String),
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Grantee {
    pub fn from_group_uri(uri: &str) -> Option<Grantee> {
        match uri {
            ALL_USERS_URI => Some(Grantee::AllUsers),
            AUTHENTICATED_USERS_URI => Some(Grantee::AuthenticatedUsers),
            LOG_DELIVERY_URI => Some(Grantee::LogDelivery),
            _ => None,
        }
    }

    pub fn group_uri(&self) -> Option<&'static str> {
        match self {
            Grantee::AllUsers => Some(ALL_USERS_URI),
            Grantee::AuthenticatedUsers => Some(AUTHENTICATED_USERS_URI),
            Grantee::LogDelivery => Some(LOG_DELIVERY_URI),
            _ => None,
        }
    }

    /// A grant to everyone or to every authenticated AWS user is public.
    pub fn is_public(&self) -> bool {
        matches!(self, Grantee::AllUsers | Grantee::AuthenticatedUsers)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// An access control list: its owner and grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub owner_id: String,
    pub owner_display_name: String,
    pub grants: Vec<Grant>,
}

impl Acl {
    /// The owner's FULL_CONTROL and nothing else (`private`).
    pub fn owner_full_control(owner_id: &str, display_name: &str) -> Acl {
        Acl {
            owner_id: owner_id.to_string(),
            owner_display_name: display_name.to_string(),
            grants: vec![Grant {
                grantee: Grantee::CanonicalUser {
                    id: owner_id.to_string(),
                    display_name: Some(display_name.to_string()),
                },
                permission: Permission::FullControl,
            }],
        }
    }

    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }

    /// What BucketOwnerEnforced accepts: the bucket owner has FULL_CONTROL
    /// and nobody else has anything.
    pub fn is_owner_full_control_only(&self, bucket_owner_id: &str) -> bool {
        let to_owner = |g: &Grant| matches!(&g.grantee, Grantee::CanonicalUser { id, .. } if id == bucket_owner_id);
        self.grants.iter().all(to_owner)
            && self.grants.iter().any(|g| to_owner(g) && g.permission == Permission::FullControl)
    }
}

/// The canned ACLs of `x-amz-acl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub fn parse(text: &str) -> Option<CannedAcl> {
        Some(match text {
            "private" => CannedAcl::Private,
            "public-read" => CannedAcl::PublicRead,
            "public-read-write" => CannedAcl::PublicReadWrite,
            "authenticated-read" => CannedAcl::AuthenticatedRead,
            "aws-exec-read" => CannedAcl::AwsExecRead,
            "bucket-owner-read" => CannedAcl::BucketOwnerRead,
            "bucket-owner-full-control" => CannedAcl::BucketOwnerFullControl,
            "log-delivery-write" => CannedAcl::LogDeliveryWrite,
            _ => return None,
        })
    }

    /// The grants this canned ACL stands for, for a resource owned by
    /// `owner` in a bucket owned by `bucket_owner` (id, display name).
    /// `aws-exec-read` grants the owner only: Coffer has no EC2 to read.
    /// Group grants come before the owner's, a grant to the bucket owner after it.
    pub fn to_acl(self, owner: (&str, &str), bucket_owner: (&str, &str)) -> Acl {
        let mut acl = Acl::owner_full_control(owner.0, owner.1);
        let mut extra = Vec::new();
        let mut add = |grantee: Grantee, permission: Permission| extra.push(Grant { grantee, permission });
        let bucket_owner_grantee = || Grantee::CanonicalUser {
            id: bucket_owner.0.to_string(),
            display_name: Some(bucket_owner.1.to_string()),
        };
        let other_owner = owner.0 != bucket_owner.0;
        match self {
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => add(Grantee::AllUsers, Permission::Read),
            CannedAcl::PublicReadWrite => {
                add(Grantee::AllUsers, Permission::Read);
                add(Grantee::AllUsers, Permission::Write);
            }
            CannedAcl::AuthenticatedRead => add(Grantee::AuthenticatedUsers, Permission::Read),
            CannedAcl::BucketOwnerRead if other_owner => add(bucket_owner_grantee(), Permission::Read),
            CannedAcl::BucketOwnerFullControl if other_owner => add(bucket_owner_grantee(), Permission::FullControl),
            CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {}
            CannedAcl::LogDeliveryWrite => {
                add(Grantee::LogDelivery, Permission::Write);
                add(Grantee::LogDelivery, Permission::ReadAcp);
            }
        }
        if extra.iter().any(|g| matches!(g.grantee, Grantee::CanonicalUser { .. })) {
            acl.grants.extend(extra);
        } else {
            extra.append(&mut acl.grants);
            acl.grants = extra;
        }
        acl
    }
}

/// Which ACL an action is decided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclTarget {
    Bucket,
    Object,
}

/// AWS's mapping of ACL permissions to actions: the ACL and permission
/// that allow `action`, if ACLs can allow it at all.
pub fn acl_permission_for(action: &str) -> Option<(AclTarget, Permission)> {
    use AclTarget::*;
    use Permission::*;
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => (Bucket, Read),
        "s3:PutObject" | "s3:DeleteObject" | "s3:DeleteObjectVersion" => (Bucket, Write),
        "s3:GetBucketAcl" => (Bucket, ReadAcp),
        "s3:PutBucketAcl" => (Bucket, WriteAcp),
        "s3:GetObject" | "s3:GetObjectVersion" | "s3:GetObjectAttributes" | "s3:GetObjectVersionAttributes" => {
            (Object, Read)
        }
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => (Object, ReadAcp),
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => (Object, WriteAcp),
        _ => return None,
    })
}

/// Object Ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// Objects written with `bucket-owner-full-control` are the bucket owner's.
    BucketOwnerPreferred,
    /// The writer owns the object.
    ObjectWriter,
}

impl ObjectOwnership {
    pub fn parse(text: &str) -> Option<ObjectOwnership> {
        Some(match text {
            "BucketOwnerEnforced" => ObjectOwnership::BucketOwnerEnforced,
            "BucketOwnerPreferred" => ObjectOwnership::BucketOwnerPreferred,
            "ObjectWriter" => ObjectOwnership::ObjectWriter,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::ObjectWriter => "ObjectWriter",
        }
    }
}

/// The four Block Public Access settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicAccessBlock {
    /// Refuse PUTs that set a public ACL.
    pub block_public_acls: bool,
    /// Ignore public ACL grants when deciding.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// A public bucket policy allows only the bucket owner's account.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all_on() -> Self {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }

    /// Each setting on if it is on at either level (account, bucket).
    pub fn union(a: PublicAccessBlock, b: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: a.block_public_acls || b.block_public_acls,
            ignore_public_acls: a.ignore_public_acls || b.ignore_public_acls,
            block_public_policy: a.block_public_policy || b.block_public_policy,
            restrict_public_buckets: a.restrict_public_buckets || b.restrict_public_buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls() {
        let owner = ("o".repeat(64), "owner".to_string());
        let o = (owner.0.as_str(), owner.1.as_str());
        let other = ("b".repeat(64), "bucket".to_string());
        let b = (other.0.as_str(), other.1.as_str());
        assert!(!CannedAcl::Private.to_acl(o, o).is_public());
        assert!(CannedAcl::Private.to_acl(o, o).is_owner_full_control_only(o.0));
        assert!(CannedAcl::PublicRead.to_acl(o, o).is_public());
        assert!(CannedAcl::AuthenticatedRead.to_acl(o, o).is_public());
        assert_eq!(CannedAcl::PublicReadWrite.to_acl(o, o).grants.len(), 3);
        assert!(CannedAcl::BucketOwnerFullControl.to_acl(o, o).is_owner_full_control_only(o.0));
        assert_eq!(CannedAcl::BucketOwnerFullControl.to_acl(o, b).grants.len(), 2);
        assert!(!CannedAcl::BucketOwnerFullControl.to_acl(o, b).is_owner_full_control_only(b.0));
        assert!(!CannedAcl::LogDeliveryWrite.to_acl(o, o).is_public());
        assert_eq!(CannedAcl::parse("public-read"), Some(CannedAcl::PublicRead));
        assert_eq!(CannedAcl::parse("Public-Read"), None);
    }

    #[test]
    fn names_round_trip() {
        for p in ["FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"] {
            assert_eq!(Permission::parse(p).map(Permission::as_str), Some(p));
        }
        for o in ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"] {
            assert_eq!(ObjectOwnership::parse(o).map(ObjectOwnership::as_str), Some(o));
        }
        assert_eq!(Grantee::from_group_uri(ALL_USERS_URI).and_then(|g| g.group_uri()), Some(ALL_USERS_URI));
    }
}
