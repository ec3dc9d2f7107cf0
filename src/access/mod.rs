//! Access control on the request path: who is calling, from where, and
//! whether the policies, ACLs and Block Public Access settings allow what
//! the request does.
//!
//! Owns: turning an authenticated principal into a policy principal with its
//! identity policies, gathering the condition keys once per request, when a
//! policy is first evaluated (`conditions`), the client address behind a
//! trusted proxy (`client`), the action each operation is authorized as
//! (`actions`), and calling the pure `policy::evaluate`. The decision logic itself lives in the `policy` crate.
//!
//! Invariants: every served operation is authorized before its handler runs
//! (per item for DeleteObjects); a denial is logged at debug level with the
//! reason the evaluation gave and the client sees only `AccessDenied`.

mod account;
pub mod actions;
pub mod client;
pub mod conditions;
mod policy_cache;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use policy::{Acl, ConditionValues, Decision, Inputs, PolicyDocument, Principal, PublicAccessBlock, Request};

use crate::auth;
use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::{BucketAttrs, ObjectAttrs};
use crate::iam::{IamAuthorizer, Identity, IdentityKind};
use crate::router::Route;
use crate::server::AppState;
pub use account::AccountPublicAccessBlock;
use actions::Target;
pub use client::ClientInfo;
pub use policy_cache::PolicyCache;

/// The caller of a request as access control sees it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The caller's identity policies (inline user and group policies).
    pub policies: Vec<Arc<PolicyDocument>>,
    /// The caller's name (root: the account name; users: their name).
    pub display_name: String,
    /// The display name of the caller's account: what the owner field of what it owns shows.
    pub account_name: String,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller {
            principal: Principal::Anonymous,
            policies: Vec::new(),
            display_name: String::new(),
            account_name: String::new(),
        }
    }

    /// The canonical id the caller's writes are owned by (the account's).
    pub fn canonical_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::Anonymous => None,
            Principal::Root { canonical_id, .. } | Principal::User { canonical_id, .. } => Some(canonical_id),
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::Anonymous => None,
            Principal::Root { account_id, .. } | Principal::User { account_id, .. } => Some(account_id),
        }
    }

    /// The caller of an authenticated identity. A stored policy that no
    /// longer parses (it was validated when it was put) is left out and
    /// logged: leaving out an Allow can only deny more, but leaving out a
    /// Deny could allow more, so such a caller gets a policy that denies all.
    pub fn from_identity(identity: &Identity, cache: &PolicyCache) -> Caller {
        let principal = match &identity.kind {
            IdentityKind::Root => {
                Principal::Root { account_id: identity.account_id.clone(), canonical_id: identity.canonical_id.clone() }
            }
            IdentityKind::User { user_name, user_id, arn } => Principal::User {
                account_id: identity.account_id.clone(),
                canonical_id: identity.canonical_id.clone(),
                user_name: user_name.clone(),
                user_id: user_id.clone(),
                arn: arn.clone(),
            },
        };
        let mut policies = Vec::with_capacity(identity.policies.len());
        for p in &identity.policies {
            match cache.identity_policy(&p.document) {
                Ok(doc) => policies.push(doc),
                Err(err) => {
                    tracing::error!(policy = %p.name, error = %err, "stored identity policy does not parse; denying all");
                    policies = vec![cache.deny_all()];
                    break;
                }
            }
        }
        Caller {
            principal,
            policies,
            display_name: identity.display_name.clone(),
            account_name: identity.account_name.clone(),
        }
    }
}

/// Decides IAM API calls (`iam:CreateUser`, ...) with the caller's identity
/// policies: the root may do everything, a user what its policies allow.
pub struct IamPolicyAuthorizer {
    cache: Arc<PolicyCache>,
}

impl IamPolicyAuthorizer {
    pub fn new(cache: Arc<PolicyCache>) -> Self {
        IamPolicyAuthorizer { cache }
    }
}

impl IamAuthorizer for IamPolicyAuthorizer {
    fn allowed(&self, caller: &Identity, action: &str, resource_arn: &str) -> bool {
        let caller = Caller::from_identity(caller, &self.cache);
        let conditions = conditions::principal_conditions(&caller.principal, SystemTime::now());
        let identity: Vec<&PolicyDocument> = caller.policies.iter().map(|p| p.as_ref()).collect();
        let request = Request {
            principal: &caller.principal,
            action,
            resource: resource_arn,
            resource_account_id: caller.account_id(),
            conditions: &conditions,
        };
        let inputs = Inputs {
            identity_policies: &identity,
            bucket_policy: None,
            bucket_acl: None,
            object_acl: None,
            public_access_block: PublicAccessBlock::default(),
        };
        let decision = policy::evaluate(&request, &inputs);
        if !decision.allowed {
            tracing::debug!(action, resource = resource_arn, reason = %decision.reason, "IAM call denied");
        }
        decision.allowed
    }
}

/// A bucket with its access-control settings, loaded once per request.
#[derive(Debug)]
pub struct BucketAccess {
    pub name: String,
    pub created_ms: u64,
    pub attrs: BucketAttrs,
    /// The bucket policy, parsed (it was validated when it was put).
    pub policy: Option<Arc<PolicyDocument>>,
    /// The account id of the bucket owner (see [`owner_account_id`]).
    pub owner_account_id: String,
}

/// The account id of the owner with `canonical_id`; an owner whose account
/// was deleted gets an id no caller has, so only policies and ACLs naming
/// everyone still apply to what it owned.
pub fn owner_account_id(identities: &crate::iam::Identities, canonical_id: &str) -> String {
    identities
        .account_of_canonical(canonical_id)
        .map(|(id, _)| id)
        .unwrap_or_else(|| format!("deleted-account:{canonical_id}"))
}

impl BucketAccess {
    pub async fn load(state: &AppState, name: &str) -> Result<BucketAccess, ApiError> {
        let info = state.engine.get_bucket(name).await?;
        let attrs = BucketAttrs::decode(&info.attrs)?;
        let policy =
            match &attrs.policy {
                Some(text) => Some(state.policies.bucket_policy(name, text).map_err(|e| {
                    ApiError::internal(format!("stored policy of bucket {name} no longer parses: {e}"))
                })?),
                None => None,
            };
        let owner_account_id = owner_account_id(&state.identities, &attrs.owner_id);
        Ok(BucketAccess { name: info.name, created_ms: info.created_ms, attrs, policy, owner_account_id })
    }
}

/// Everything a request's authorization checks need, gathered once.
#[derive(Debug)]
pub struct Access<'r> {
    pub caller: Caller,
    pub client: ClientInfo,
    /// The request's condition keys, gathered when a policy is first
    /// evaluated: only policy statements read them, and most requests of an
    /// account's root meet no policy at all (gathering them was a tenth of a
    /// small request's cost).
    conditions: OnceLock<ConditionValues>,
    request: RequestFacts<'r>,
    /// The bucket the request addresses (absent for ListBuckets and CreateBucket).
    pub bucket: Option<BucketAccess>,
    identities: crate::iam::Identities,
    account_public_access_block: PublicAccessBlock,
}

/// What the condition keys are gathered from.
#[derive(Debug, Clone, Copy)]
struct RequestFacts<'r> {
    parts: &'r http::request::Parts,
    query: &'r [(String, String)],
    now: SystemTime,
}

fn resource_arn(target: Target, bucket: &str, key: Option<&str>) -> String {
    match (target, key) {
        (Target::Service, _) => "arn:aws:s3:::*".to_string(),
        (Target::Object, Some(key)) => format!("arn:aws:s3:::{bucket}/{key}"),
        _ => format!("arn:aws:s3:::{bucket}"),
    }
}

impl Access<'_> {
    /// The Block Public Access settings in force for `bucket`: the account's
    /// and the bucket's, each setting on if either has it on.
    pub fn public_access_block_for(&self, bucket: Option<&BucketAccess>) -> PublicAccessBlock {
        match bucket.and_then(|b| b.attrs.public_access_block) {
            Some(b) => PublicAccessBlock::union(self.account_public_access_block, b),
            None => self.account_public_access_block,
        }
    }

    /// The Block Public Access settings in force for the request's bucket.
    pub fn public_access_block(&self) -> PublicAccessBlock {
        self.public_access_block_for(self.bucket.as_ref())
    }

    /// Decides `action` on `bucket` (or the service) and `key`.
    pub fn decide(
        &self,
        action: &str,
        target: Target,
        bucket: Option<&BucketAccess>,
        key: Option<&str>,
        object_acl: Option<&Acl>,
    ) -> Decision {
        self.decide_with(None, true, action, target, bucket, key, object_acl)
    }

    /// The request's condition keys (gathered on first use).
    fn conditions(&self) -> &ConditionValues {
        self.conditions.get_or_init(|| {
            let RequestFacts { parts, query, now } = self.request;
            conditions::request_conditions(parts, query, &self.caller.principal, self.client, now)
        })
    }

    /// Whether the bucket's and object's ACLs alone (no policy) allow `action`.
    fn acls_alone_allow(&self, action: &str, target: Target, bucket: &BucketAccess, key: Option<&str>) -> bool {
        self.decide_with(None, false, action, target, Some(bucket), key, None).allowed
    }

    /// Decides with the policies too (`with_policies`) or the ACLs alone;
    /// `list_prefix` stands in for the request's `s3:prefix`.
    #[allow(clippy::too_many_arguments)]
    fn decide_with(
        &self,
        list_prefix: Option<&str>,
        with_policies: bool,
        action: &str,
        target: Target,
        bucket: Option<&BucketAccess>,
        key: Option<&str>,
        object_acl: Option<&Acl>,
    ) -> Decision {
        let bucket_name = bucket.map(|b| b.name.as_str()).unwrap_or_default();
        let resource = resource_arn(target, bucket_name, key);
        // A bucket belongs to its owner's account, an object to the account
        // owning it (its ACL's owner, where ACLs are on; otherwise the bucket
        // owner). Creating a bucket or listing buckets acts in the caller's
        // own account.
        let object_owner_account;
        let resource_account = match (bucket, object_acl, target) {
            (Some(b), Some(acl), Target::Object) if acl.owner_id != b.attrs.owner_id => {
                object_owner_account = owner_account_id(&self.identities, &acl.owner_id);
                Some(object_owner_account.as_str())
            }
            (Some(b), _, _) => Some(b.owner_account_id.as_str()),
            (None, _, _) => self.caller.account_id(),
        };
        let bucket_acl;
        let (bucket_acl, object_acl) = match bucket {
            Some(b) if b.attrs.acls_enabled() => {
                bucket_acl = b.attrs.effective_acl();
                (Some(&bucket_acl), object_acl)
            }
            _ => (None, None),
        };
        let identity: Vec<&PolicyDocument> = match with_policies {
            true => self.caller.policies.iter().map(|p| p.as_ref()).collect(),
            false => Vec::new(),
        };
        let bucket_policy = bucket.filter(|_| with_policies).and_then(|b| b.policy.as_deref());
        // Without a policy, nothing reads the condition keys.
        let (none, with_prefix);
        let conditions = match (identity.is_empty() && bucket_policy.is_none(), list_prefix) {
            (true, _) => {
                none = ConditionValues::new();
                &none
            }
            (false, None) => self.conditions(),
            (false, Some(prefix)) => {
                let mut c = self.conditions().clone();
                c.insert("s3:prefix", prefix.to_string());
                with_prefix = c;
                &with_prefix
            }
        };
        let request = Request {
            principal: &self.caller.principal,
            action,
            resource: &resource,
            resource_account_id: resource_account,
            conditions,
        };
        let inputs = Inputs {
            identity_policies: &identity,
            bucket_policy,
            bucket_acl,
            object_acl,
            public_access_block: self.public_access_block_for(bucket),
        };
        policy::evaluate(&request, &inputs)
    }

    /// `Ok` if allowed; otherwise `AccessDenied`, with the reason logged at debug level.
    pub fn check(
        &self,
        action: &str,
        target: Target,
        bucket: Option<&BucketAccess>,
        key: Option<&str>,
        object_acl: Option<&Acl>,
    ) -> Result<(), ApiError> {
        let decision = self.decide(action, target, bucket, key, object_acl);
        if decision.allowed {
            return Ok(());
        }
        tracing::debug!(
            action,
            bucket = bucket.map(|b| b.name.as_str()).unwrap_or_default(),
            key = key.unwrap_or_default(),
            principal = ?self.caller.principal,
            explicit_deny = decision.explicit_deny,
            reason = %decision.reason,
            "access denied"
        );
        Err(ApiError::access_denied())
    }

    /// Whether `action` on an object of the request's bucket is allowed (for
    /// operations that decide per key, as DeleteObjects).
    pub fn allows_object(&self, action: &str, key: &str) -> bool {
        self.decide(action, Target::Object, self.bucket.as_ref(), Some(key), None).allowed
    }

    /// Whether the caller may learn that `key` does not exist: it may list
    /// the bucket for a prefix that is the key (as AWS decides a 404 against
    /// a 403 for a missing object).
    pub fn may_learn_missing(&self, key: &str) -> bool {
        self.decide_with(Some(key), true, "s3:ListBucket", Target::Bucket, self.bucket.as_ref(), None, None).allowed
    }

    /// Whether `action` on the request's bucket is allowed.
    pub fn allows_bucket(&self, action: &str) -> bool {
        self.decide(action, Target::Bucket, self.bucket.as_ref(), None, None).allowed
    }
}

/// Maps an authenticated principal to the caller: its policy principal and
/// identity policies. A key that vanished since authentication is denied.
pub fn resolve_caller(state: &AppState, principal: &auth::Principal) -> Result<Caller, ApiError> {
    match principal {
        auth::Principal::Anonymous => Ok(Caller::anonymous()),
        auth::Principal::AccessKey { access_key_id } => state.caller_for_key(access_key_id).ok_or_else(|| {
            ApiError::new(
                crate::error::S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        }),
    }
}

/// The object ACL an action on an existing object is decided with, when the
/// bucket has ACLs enabled and the action depends on it.
async fn object_acl_for(
    state: &AppState,
    bucket: &BucketAccess,
    key: &str,
    action: &str,
) -> Result<ObjectAclLookup, ApiError> {
    if !bucket.attrs.acls_enabled() || !actions::uses_object_acl(action) {
        return Ok(ObjectAclLookup::NotNeeded);
    }
    match state.engine.head_object(&bucket.name, key).await {
        Ok(info) => {
            let attrs = ObjectAttrs::decode(&info.attrs)?;
            Ok(ObjectAclLookup::Found(attrs.acl.unwrap_or_else(|| bucket.attrs.effective_object_acl())))
        }
        Err(storage_engine::EngineError::NoSuchKey { .. }) => Ok(ObjectAclLookup::Missing),
        Err(err) => Err(err.into()),
    }
}

enum ObjectAclLookup {
    Found(Acl),
    /// ACLs are off in the bucket, or the action does not depend on them.
    NotNeeded,
    /// The key has no current object.
    Missing,
}

/// Operations the initiator of a multipart upload may always perform on it.
fn initiator_may(endpoint: crate::router::Endpoint) -> bool {
    use crate::router::Endpoint::*;
    matches!(endpoint, AbortMultipartUpload | ListParts)
}

/// Whether the upload exists and was created by the account `canonical_id`.
async fn upload_initiated_by(state: &AppState, bucket: &str, key: &str, upload_id: &str, canonical_id: &str) -> bool {
    let Ok(upload) = state.engine.get_upload(bucket, key, upload_id).await else { return false };
    crate::handlers::multipart::UploadAttrs::decode(&upload.attrs)
        .is_ok_and(|attrs| attrs.initiator_id() == Some(canonical_id))
}

/// Whether any policy in play has a condition on `s3:ExistingObjectTag/…`
/// (only then are the object's tags read before the decision).
fn mentions_existing_tags(bucket: &BucketAccess, caller: &Caller) -> bool {
    const PREFIX: &str = "s3:ExistingObjectTag/";
    bucket.policy.as_ref().is_some_and(|p| p.uses_condition_key_prefix(PREFIX))
        || caller.policies.iter().any(|p| p.uses_condition_key_prefix(PREFIX))
}

/// Adds `s3:ExistingObjectTag/<key>` for each tag of the object, if it exists.
async fn add_existing_tags(
    state: &AppState,
    bucket: &BucketAccess,
    key: &str,
    conditions: &mut ConditionValues,
) -> Result<(), ApiError> {
    match state.engine.head_object(&bucket.name, key).await {
        Ok(info) => {
            for (k, v) in ObjectAttrs::decode(&info.attrs)?.tags {
                conditions.insert(&format!("s3:ExistingObjectTag/{k}"), v);
            }
            Ok(())
        }
        Err(storage_engine::EngineError::NoSuchKey { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Authenticated request → the checks of its operation. Returns what the
/// handler needs to know about access (the caller, the loaded bucket).
pub async fn authorize<'r>(
    state: &AppState,
    parts: &'r http::request::Parts,
    query: &'r [(String, String)],
    route: &Route,
    principal: &auth::Principal,
    peer: SocketAddr,
) -> Result<Access<'r>, ApiError> {
    let caller = resolve_caller(state, principal)?;
    let client = ClientInfo::resolve(peer, &parts.headers, &state.config.trusted_proxies);
    let request = RequestFacts { parts, query, now: SystemTime::now() };
    let endpoint = route.endpoint;
    let bucket = match (&route.bucket, endpoint) {
        (Some(name), e) if e != crate::router::Endpoint::CreateBucket => Some(BucketAccess::load(state, name).await?),
        _ => None,
    };
    // `x-amz-expected-bucket-owner`: the request is refused unless the bucket
    // belongs to the named account.
    if let (Some(b), Some(expected)) = (&bucket, parts.headers.get("x-amz-expected-bucket-owner")) {
        if expected.as_bytes() != b.owner_account_id.as_bytes() {
            return Err(ApiError::access_denied());
        }
    }
    let conditions = OnceLock::new();
    if let (Some(b), Some(key)) = (&bucket, route.key.as_deref()) {
        if mentions_existing_tags(b, &caller) {
            let mut c = conditions::request_conditions(parts, query, &caller.principal, client, request.now);
            add_existing_tags(state, b, key, &mut c).await?;
            let _ = conditions.set(c);
        }
    }
    let access = Access {
        caller,
        client,
        conditions,
        request,
        bucket,
        identities: state.identities.clone(),
        account_public_access_block: state.account_public_access_block.get(),
    };
    let key = route.key.as_deref();
    let on_version = query.iter().any(|(n, _)| n == "versionId");
    let mut checks: Vec<(&str, Target)> = actions::primary_action(endpoint)
        .map(|(a, t)| (if on_version { actions::for_version(a) } else { a }, t))
        .into_iter()
        .collect();
    let primary = checks.len();
    checks.extend(actions::extra_actions(endpoint, &parts.headers));
    for (i, (action, target)) in checks.into_iter().enumerate() {
        let object_acl = match (&access.bucket, key, target) {
            // Tagging the object being written: a writer the bucket's ACL
            // lets write may tag what it creates (it owns it); policies must
            // allow s3:PutObjectTagging themselves.
            (Some(b), Some(_), Target::Object) if i >= primary && action == "s3:PutObjectTagging" => {
                let decision = access.decide(action, target, Some(b), key, None);
                // (An IAM user's permissions come from its policies.)
                let writer_by_acl = || {
                    b.attrs.acls_enabled()
                        && !matches!(access.caller.principal, Principal::User { .. })
                        && access.acls_alone_allow("s3:PutObject", Target::Object, b, key)
                };
                if decision.allowed || (!decision.explicit_deny && writer_by_acl()) {
                    continue;
                }
                None
            }
            (Some(b), Some(k), Target::Object) => match object_acl_for(state, b, k, action).await? {
                ObjectAclLookup::Found(acl) => Some(acl),
                ObjectAclLookup::NotNeeded => None,
                // Reading a key that is not there, which the object's own ACL
                // would have decided: a caller who may list the bucket is told
                // NoSuchKey; others are refused as for an object they may not read.
                ObjectAclLookup::Missing => {
                    let decision = access.decide(action, target, Some(b), key, None);
                    if !on_version && !decision.allowed && !decision.explicit_deny && access.may_learn_missing(k) {
                        return Err(ApiError::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
                            .with_extra("Key", k));
                    }
                    None
                }
            },
            _ => None,
        };
        let bucket = match target {
            Target::Service => None,
            _ => access.bucket.as_ref(),
        };
        if target == Target::Bucket && bucket.is_none() {
            // CreateBucket: the bucket does not exist yet; decide on its name.
            let name = route.bucket.as_deref().unwrap_or_default();
            let pending = BucketAccess {
                name: name.to_string(),
                created_ms: 0,
                attrs: BucketAttrs::new(String::new(), String::new(), String::new()),
                policy: None,
                owner_account_id: access.caller.account_id().unwrap_or_default().to_string(),
            };
            access
                .check(action, target, Some(&pending), None, None)
                .map_err(|e| e.with_resource(format!("/{name}")))?;
            continue;
        }
        let checked = access.check(action, target, bucket, key, object_acl.as_ref());
        if checked.is_err() && i < primary && initiator_may(endpoint) {
            // The account that created an upload may list its parts and abort
            // it, as the bucket owner may (unless a policy denies it).
            let upload_id = query.iter().find(|(n, _)| n == "uploadId").map(|(_, v)| v.as_str());
            let denied = access.decide(action, target, bucket, key, None).explicit_deny;
            if let (Some(b), Some(k), Some(id), Principal::Root { canonical_id, .. }, false) =
                (&access.bucket, key, upload_id, &access.caller.principal, denied)
            {
                if upload_initiated_by(state, &b.name, k, id, canonical_id).await {
                    continue;
                }
            }
        }
        checked?;
    }
    if actions::reads_copy_source(endpoint) {
        if let Some(source) = parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
            let (src_bucket, src_key, src_version) = crate::handlers::parse_copy_source(source)?;
            let read = if src_version.is_some() { "s3:GetObjectVersion" } else { "s3:GetObject" };
            let same = access.bucket.as_ref().is_some_and(|b| b.name == src_bucket);
            let loaded;
            let src = if same {
                access.bucket.as_ref()
            } else {
                loaded = BucketAccess::load(state, &src_bucket).await?;
                Some(&loaded)
            };
            if let Some(src) = src {
                let acl = match object_acl_for(state, src, &src_key, read).await? {
                    ObjectAclLookup::Found(acl) => Some(acl),
                    ObjectAclLookup::NotNeeded | ObjectAclLookup::Missing => None,
                };
                access.check(read, Target::Object, Some(src), Some(&src_key), acl.as_ref())?;
            }
        }
    }
    Ok(access)
}
