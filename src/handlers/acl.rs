//! ACLs: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl, and the ACL
//! a CreateBucket, PutObject, CopyObject or CreateMultipartUpload asks for in
//! its headers (`x-amz-acl` or `x-amz-grant-*`).
//!
//! What an ACL may be is decided here as AWS decides it: under Object
//! Ownership BucketOwnerEnforced only an ACL that gives the bucket owner
//! FULL_CONTROL and nobody else anything is accepted
//! (`AccessControlListNotSupported` otherwise); with BlockPublicAcls a public
//! ACL is refused with `AccessDenied`. Nothing is silently ignored.

use http::{HeaderMap, Response};
use policy::{Acl, CannedAcl, Grant, Grantee, ObjectOwnership, Permission};
use serde::Deserialize;

use super::attrs_update::{update_bucket_attrs, update_version_attrs};
use super::{BucketAttrs, ObjectAttrs, RequestContext};
use crate::access::BucketAccess;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, XmlWriter};

/// Largest AccessControlPolicy document accepted.
const MAX_ACL_BODY_BYTES: u64 = 64 * 1024;

const GRANT_HEADERS: &[(&str, Permission)] = &[
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

fn malformed_acl() -> ApiError {
    ApiError::new(
        S3ErrorCode::MalformedACLError,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn invalid_grantee(message: &str) -> ApiError {
    ApiError::invalid_argument(message.to_string())
}

/// A grantee named as AWS writes it in a grant header: `id="..."`,
/// `uri="..."` or `emailAddress="..."`.
fn parse_header_grantee(ctx: &RequestContext<'_>, item: &str) -> Result<Grantee, ApiError> {
    let (kind, value) = item.split_once('=').ok_or_else(|| invalid_grantee("Invalid grantee in a grant header"))?;
    let value = value.trim().trim_matches('"');
    match kind.trim().to_ascii_lowercase().as_str() {
        "id" => canonical_grantee(ctx, value, None),
        "uri" => group_grantee(value),
        "emailaddress" => email_grantee(ctx, value),
        _ => Err(invalid_grantee("Invalid grantee type in a grant header; use id, uri or emailAddress")),
    }
}

/// A grant to a canonical id; the display name is the account's when the id
/// is one of this installation's accounts.
fn canonical_grantee(ctx: &RequestContext<'_>, id: &str, display_name: Option<String>) -> Result<Grantee, ApiError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid_grantee("Invalid id"));
    }
    let id = id.to_ascii_lowercase();
    let display_name = ctx.state.identities.account_of_canonical(&id).map(|(_, name)| name).or(display_name);
    Ok(Grantee::CanonicalUser { id, display_name })
}

fn group_grantee(uri: &str) -> Result<Grantee, ApiError> {
    Grantee::from_group_uri(uri).ok_or_else(|| invalid_grantee("Invalid group uri"))
}

/// A grant by e-mail address, resolved as AWS does to the canonical id of
/// the account it belongs to: the address is looked up among the users'
/// `email` tags (an unknown address is `UnresolvableGrantByEmailAddress`).
fn email_grantee(ctx: &RequestContext<'_>, address: &str) -> Result<Grantee, ApiError> {
    let identity = ctx.state.identities.identity_for_email(address.trim()).ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::UnresolvableGrantByEmailAddress,
            "The e-mail address you provided does not match any account on record.",
        )
    })?;
    Ok(Grantee::CanonicalUser { id: identity.canonical_id, display_name: Some(identity.account_name) })
}

/// The ACL requested by `x-amz-acl` or the `x-amz-grant-*` headers, if any.
/// `owner` is who will own the resource; `bucket_owner` the bucket's owner
/// (the canned ACLs `bucket-owner-*` grant to it).
pub fn acl_from_headers(
    ctx: &RequestContext<'_>,
    owner: (&str, &str),
    bucket_owner: (&str, &str),
) -> Result<Option<Acl>, ApiError> {
    let headers: &HeaderMap = &ctx.parts.headers;
    let canned = headers.get("x-amz-acl").map(|v| v.to_str().unwrap_or_default().trim().to_string());
    let has_grants = GRANT_HEADERS.iter().any(|(h, _)| headers.contains_key(*h));
    match (canned, has_grants) {
        (Some(_), true) => {
            Err(ApiError::invalid_request("Specifying both Canned ACLs and Header Grants is not allowed"))
        }
        (Some(name), false) => {
            let canned = CannedAcl::parse(&name).ok_or_else(|| {
                ApiError::invalid_argument(format!("{name} is not a canned ACL"))
                    .with_extra("ArgumentName", "x-amz-acl")
                    .with_extra("ArgumentValue", name.clone())
            })?;
            Ok(Some(canned.to_acl(owner, bucket_owner)))
        }
        (None, true) => {
            let mut grants = Vec::new();
            for (header, permission) in GRANT_HEADERS {
                for value in headers.get_all(*header) {
                    let text = value.to_str().map_err(|_| invalid_grantee("Invalid grant header"))?;
                    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        grants.push(Grant { grantee: parse_header_grantee(ctx, item)?, permission: *permission });
                    }
                }
            }
            Ok(Some(Acl { owner_id: owner.0.to_string(), owner_display_name: owner.1.to_string(), grants }))
        }
        (None, false) => Ok(None),
    }
}

/// What sets an ACL: each meets BucketOwnerEnforced differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclSetter {
    /// CreateBucket: an ACL granting only the owner full control is accepted.
    NewBucket,
    /// PutObject, CopyObject, CreateMultipartUpload: no ACL, or
    /// `bucket-owner-full-control` (canned or as grants), as AWS.
    ObjectWrite,
    /// PutBucketAcl, PutObjectAcl: refused while ACLs are disabled.
    AclUpdate,
}

/// Checks that `acl` may be set on a resource of `bucket`: Object Ownership
/// and BlockPublicAcls.
pub fn check_acl_allowed(
    ctx: &RequestContext<'_>,
    bucket: Option<&BucketAccess>,
    attrs: &BucketAttrs,
    acl: &Acl,
    setter: AclSetter,
) -> Result<(), ApiError> {
    if attrs.object_ownership() == ObjectOwnership::BucketOwnerEnforced {
        let accepted = match setter {
            AclSetter::NewBucket => acl.is_owner_full_control_only(&attrs.owner_id),
            AclSetter::ObjectWrite => match ctx.header("x-amz-acl") {
                Some(canned) => canned.trim() == "bucket-owner-full-control",
                None => acl.is_owner_full_control_only(&attrs.owner_id),
            },
            AclSetter::AclUpdate => false,
        };
        if !accepted {
            return Err(if setter == AclSetter::NewBucket {
                ApiError::new(
                    S3ErrorCode::InvalidBucketAclWithObjectOwnership,
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                )
            } else {
                ApiError::new(S3ErrorCode::AccessControlListNotSupported, "The bucket does not allow ACLs")
            });
        }
    }
    if acl.is_public() && ctx.access.public_access_block_for(bucket).block_public_acls {
        tracing::debug!(bucket = %ctx.bucket(), "public ACL refused: BlockPublicAcls");
        return Err(ApiError::access_denied());
    }
    Ok(())
}

/// The ACL a new object gets: from its headers when ACLs are enabled. Its
/// owner is the bucket owner unless the bucket is ObjectWriter (or
/// BucketOwnerPreferred without `bucket-owner-full-control`).
pub fn object_acl_for_write(ctx: &RequestContext<'_>) -> Result<Option<Acl>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let attrs = &bucket.attrs;
    let bucket_owner = (attrs.owner_id.as_str(), attrs.owner_display_name.as_str());
    let writer_id = ctx.access.caller.canonical_id().unwrap_or(attrs.owner_id.as_str()).to_string();
    let writer = (writer_id.as_str(), ctx.access.caller.account_name.as_str());
    let bofc = ctx.header("x-amz-acl").is_some_and(|v| v.trim() == "bucket-owner-full-control");
    let owner = match attrs.object_ownership() {
        ObjectOwnership::BucketOwnerEnforced => bucket_owner,
        ObjectOwnership::BucketOwnerPreferred if bofc => bucket_owner,
        _ => writer,
    };
    let requested = acl_from_headers(ctx, owner, bucket_owner)?;
    if let Some(acl) = &requested {
        check_acl_allowed(ctx, Some(bucket), attrs, acl, AclSetter::ObjectWrite)?;
    }
    if !attrs.acls_enabled() {
        return Ok(None);
    }
    Ok(Some(requested.unwrap_or_else(|| Acl::owner_full_control(owner.0, owner.1))))
}

/// `<AccessControlPolicy>` as clients send it.
#[derive(Debug, Deserialize)]
struct AccessControlPolicy {
    #[serde(rename = "Owner", default)]
    _owner: Option<XmlOwner>,
    #[serde(rename = "AccessControlList", default)]
    list: Option<XmlAccessControlList>,
}

#[derive(Debug, Deserialize)]
struct XmlOwner {
    #[serde(rename = "ID", default)]
    _id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct XmlAccessControlList {
    #[serde(rename = "Grant", default)]
    grants: Vec<XmlGrant>,
}

#[derive(Debug, Deserialize)]
struct XmlGrant {
    #[serde(rename = "Grantee")]
    grantee: XmlGrantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Debug, Deserialize)]
struct XmlGrantee {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "DisplayName", default)]
    display_name: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

impl xml::RequestDocument for AccessControlPolicy {
    const ROOT: &'static str = "AccessControlPolicy";
}

fn acl_from_body(ctx: &RequestContext<'_>, bytes: &[u8], owner: (&str, &str)) -> Result<Acl, ApiError> {
    let doc: AccessControlPolicy = xml::parse(bytes).map_err(|_| malformed_acl())?;
    let mut grants = Vec::new();
    for g in doc.list.map(|l| l.grants).unwrap_or_default() {
        let permission = Permission::parse(g.permission.trim()).ok_or_else(malformed_acl)?;
        let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
            (Some(id), None, None) => canonical_grantee(ctx, id.trim(), g.grantee.display_name)?,
            (None, Some(uri), None) => group_grantee(uri.trim())?,
            (None, None, Some(address)) => email_grantee(ctx, &address)?,
            _ => return Err(malformed_acl()),
        };
        grants.push(Grant { grantee, permission });
    }
    Ok(Acl { owner_id: owner.0.to_string(), owner_display_name: owner.1.to_string(), grants })
}

/// The ACL a PutBucketAcl/PutObjectAcl asks for: headers or body, not both.
async fn requested_acl(
    ctx: &RequestContext<'_>,
    body: RequestBody,
    owner: (&str, &str),
    bucket_owner: (&str, &str),
) -> Result<Acl, ApiError> {
    let from_headers = acl_from_headers(ctx, owner, bucket_owner)?;
    let (bytes, _) = ctx.small_body(body, MAX_ACL_BODY_BYTES).await?;
    let has_body = !bytes.iter().all(u8::is_ascii_whitespace);
    match (from_headers, has_body) {
        (Some(_), true) => Err(ApiError::new(
            S3ErrorCode::UnexpectedContent,
            "This request does not support content when an ACL is given in headers",
        )),
        (Some(acl), false) => Ok(acl),
        (None, true) => acl_from_body(ctx, &bytes, owner),
        (None, false) => Err(ApiError::new(
            S3ErrorCode::MissingSecurityHeader,
            "Your request was missing a required header or body: x-amz-acl, x-amz-grant-* or an AccessControlPolicy",
        )),
    }
}

fn acl_xml(acl: &Acl) -> String {
    let mut w = XmlWriter::new("AccessControlPolicy");
    w.open("Owner").text("ID", &acl.owner_id).text("DisplayName", &acl.owner_display_name).close();
    w.open("AccessControlList");
    for grant in &acl.grants {
        w.open("Grant");
        match &grant.grantee {
            Grantee::CanonicalUser { id, display_name } => {
                w.open_with_attrs("Grantee", &[("xmlns:xsi", XSI_NS), ("xsi:type", "CanonicalUser")]);
                w.text("ID", id);
                w.opt_text("DisplayName", display_name.as_deref());
            }
            Grantee::Email(address) => {
                w.open_with_attrs("Grantee", &[("xmlns:xsi", XSI_NS), ("xsi:type", "AmazonCustomerByEmail")]);
                w.text("EmailAddress", address);
            }
            group => {
                w.open_with_attrs("Grantee", &[("xmlns:xsi", XSI_NS), ("xsi:type", "Group")]);
                w.text("URI", group.group_uri().unwrap_or_default());
            }
        }
        w.close();
        w.text("Permission", grant.permission.as_str());
        w.close();
    }
    w.close();
    w.finish()
}

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

pub async fn handle_get_bucket_acl(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let acl =
        if bucket.attrs.acls_enabled() { bucket.attrs.effective_acl() } else { bucket.attrs.effective_object_acl() };
    Ok(response::xml(acl_xml(&acl)))
}

pub async fn handle_put_bucket_acl(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let attrs = &bucket.attrs;
    let owner = (attrs.owner_id.as_str(), attrs.owner_display_name.as_str());
    let acl = requested_acl(ctx, body, owner, owner).await?;
    check_acl_allowed(ctx, Some(bucket), attrs, &acl, AclSetter::AclUpdate)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.acl = Some(acl.clone());
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get_object_acl(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let version = super::versioning::sub_resource_version(ctx).await?;
    let info = super::object::requested_object(ctx, version.as_deref()).await?;
    let attrs = ObjectAttrs::decode(&info.attrs)?;
    let acl = match attrs.acl {
        Some(acl) if bucket.attrs.acls_enabled() => acl,
        _ => bucket.attrs.effective_object_acl(),
    };
    Ok(response::xml(acl_xml(&acl)))
}

pub async fn handle_put_object_acl(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let battrs = &bucket.attrs;
    let bucket_owner = (battrs.owner_id.as_str(), battrs.owner_display_name.as_str());
    let version = super::versioning::sub_resource_version(ctx).await?;
    let info = super::object::requested_object(ctx, version.as_deref()).await?;
    let current = ObjectAttrs::decode(&info.attrs)?;
    let owner_acl = current.acl.clone().unwrap_or_else(|| battrs.effective_object_acl());
    let owner = (owner_acl.owner_id.clone(), owner_acl.owner_display_name.clone());
    let acl = requested_acl(ctx, body, (&owner.0, &owner.1), bucket_owner).await?;
    check_acl_allowed(ctx, Some(bucket), battrs, &acl, AclSetter::AclUpdate)?;
    update_version_attrs(ctx, version.as_deref(), |attrs| {
        attrs.acl = Some(acl.clone());
        Ok(())
    })
    .await?;
    let mut response = Response::new(response::empty());
    super::versioning::version_header(response.headers_mut(), &info);
    Ok(response)
}
