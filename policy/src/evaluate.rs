//! The decision: AWS's evaluation logic for S3 and IAM requests.
//!
//! 1. An explicit Deny in any identity policy or in the bucket policy
//!    decides (also for the root user), except that the account root may
//!    always get, put and delete its own buckets' policies.
//! 2. Otherwise an Allow is needed. Within the resource's account: the root
//!    is allowed implicitly; a user by its identity policies, or by the
//!    bucket policy naming it (or everyone), or by an ACL grant to a group.
//!    Across accounts: both the caller's account (identity policies; the
//!    root implicitly) and the resource (bucket policy naming the caller or
//!    its account, or an ACL grant) must allow. Anonymous callers only get
//!    what the bucket policy grants everyone and ACL grants to AllUsers.
//! 3. Block Public Access: IgnorePublicAcls drops ACL grants to AllUsers and
//!    AuthenticatedUsers; RestrictPublicBuckets drops a public bucket
//!    policy's Allows for callers outside the bucket owner's account.

use crate::acl::{acl_permission_for, Acl, AclTarget, Grantee, PublicAccessBlock};
use crate::condition::ConditionValues;
use crate::document::{Effect, PolicyDocument, Statement};
use crate::principal::{best_match, exempted_by_not_principal, Principal, PrincipalMatch};
use crate::public::policy_is_public;

/// One request to decide.
#[derive(Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `s3:GetObject`, `iam:CreateUser`, ...
    pub action: &'a str,
    /// `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key`, `arn:aws:s3:::*`, an IAM ARN.
    pub resource: &'a str,
    /// The account owning the resource; `None` for service-level requests.
    pub resource_account_id: Option<&'a str>,
    pub conditions: &'a ConditionValues,
}

/// The policies and settings that apply to the request.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub identity_policies: &'a [&'a PolicyDocument],
    pub bucket_policy: Option<&'a PolicyDocument>,
    /// The bucket ACL; `None` when ACLs are disabled (BucketOwnerEnforced).
    pub bucket_acl: Option<&'a Acl>,
    /// The target object's ACL, when there is one and ACLs are enabled.
    pub object_acl: Option<&'a Acl>,
    /// The effective settings (account and bucket combined).
    pub public_access_block: PublicAccessBlock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub explicit_deny: bool,
    /// What decided, for debug logs (never sent to clients).
    pub reason: String,
}

impl Decision {
    fn allow(reason: String) -> Decision {
        Decision { allowed: true, explicit_deny: false, reason }
    }
    fn deny(reason: String) -> Decision {
        Decision { allowed: false, explicit_deny: false, reason }
    }
    fn explicit(reason: String) -> Decision {
        Decision { allowed: false, explicit_deny: true, reason }
    }
}

/// Whether a statement's action, resource and conditions match (not its principal).
fn statement_applies(statement: &Statement, request: &Request<'_>) -> bool {
    let ctx = request.conditions;
    let action_hit = statement.action.patterns.iter().any(|p| p.matches(request.action, ctx, true));
    if action_hit == statement.action.negated {
        return false;
    }
    let resource_hit = statement.resource.patterns.iter().any(|p| p.matches(request.resource, ctx, false));
    if resource_hit == statement.resource.negated {
        return false;
    }
    statement.conditions.iter().all(|c| c.evaluate(ctx))
}

/// How a resource-policy statement's principal matches the caller.
fn principal_match(statement: &Statement, caller: &Principal) -> PrincipalMatch {
    match &statement.principal {
        None => PrincipalMatch::Direct,
        Some((entries, false)) => best_match(entries, caller),
        Some((entries, true)) => {
            if exempted_by_not_principal(entries, caller) {
                PrincipalMatch::None
            } else {
                PrincipalMatch::Direct
            }
        }
    }
}

const POLICY_ACTIONS: &[&str] = &["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// Decides `request`.
pub fn evaluate(request: &Request<'_>, inputs: &Inputs<'_>) -> Decision {
    let caller = request.principal;
    let own_account = match (caller.account_id(), request.resource_account_id) {
        (Some(a), Some(r)) => a == r,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let is_root = matches!(caller, Principal::Root { .. });
    // The root cannot lock itself out of its own buckets' policies.
    if is_root && own_account && POLICY_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(request.action)) {
        return Decision::allow(format!("the account root may always use {}", request.action));
    }

    // 1. Explicit denies.
    for (n, doc) in inputs.identity_policies.iter().enumerate() {
        for s in &doc.statements {
            if s.effect == Effect::Deny && statement_applies(s, request) {
                return Decision::explicit(format!("explicit Deny in identity policy {n}, {}", s.describe()));
            }
        }
    }
    if let Some(doc) = inputs.bucket_policy {
        for s in &doc.statements {
            if s.effect == Effect::Deny
                && principal_match(s, caller) != PrincipalMatch::None
                && statement_applies(s, request)
            {
                return Decision::explicit(format!("explicit Deny in the bucket policy, {}", s.describe()));
            }
        }
    }

    // 2. Allows.
    let identity_allow: Option<String> = if is_root && own_account {
        Some("the account root owns the resource".into())
    } else if matches!(caller, Principal::Anonymous) {
        None
    } else {
        inputs.identity_policies.iter().enumerate().find_map(|(n, doc)| {
            doc.statements
                .iter()
                .find(|s| s.effect == Effect::Allow && statement_applies(s, request))
                .map(|s| format!("Allow in identity policy {n}, {}", s.describe()))
        })
    };

    let policy_allow = bucket_policy_allow(request, inputs, own_account);
    let acl_allow = acl_allow(request, inputs, own_account);

    let resource_direct = policy_allow.as_ref().filter(|(m, _)| *m == PrincipalMatch::Direct).map(|(_, r)| r.clone());
    let resource_any = policy_allow.as_ref().map(|(_, r)| r.clone()).or_else(|| acl_allow.clone());

    match caller {
        Principal::Anonymous => match resource_direct.or(acl_allow) {
            Some(reason) => Decision::allow(reason),
            None => Decision::deny(no_allow(request, inputs)),
        },
        _ if own_account => match identity_allow.or(resource_direct).or(acl_allow) {
            Some(reason) => Decision::allow(reason),
            None => Decision::deny(no_allow(request, inputs)),
        },
        _ => {
            let identity_ok = is_root || identity_allow.is_some();
            match (identity_ok, resource_any) {
                (true, Some(reason)) => Decision::allow(format!("cross-account: {reason}")),
                (false, _) => Decision::deny(format!(
                    "cross-account request: no identity policy of {} allows {}",
                    caller.describe(),
                    request.action
                )),
                (true, None) => Decision::deny(format!(
                    "cross-account request: the resource's policies and ACLs do not allow {} for {}",
                    request.action,
                    caller.describe()
                )),
            }
        }
    }
}

fn no_allow(request: &Request<'_>, inputs: &Inputs<'_>) -> String {
    let mut reason =
        format!("no statement allows {} on {} for {}", request.action, request.resource, request.principal.describe());
    if inputs.public_access_block.restrict_public_buckets && inputs.bucket_policy.is_some_and(policy_is_public) {
        reason.push_str(" (RestrictPublicBuckets ignores the public bucket policy for callers outside the account)");
    }
    if inputs.public_access_block.ignore_public_acls {
        reason.push_str(" (IgnorePublicAcls ignores public ACL grants)");
    }
    reason
}

/// The bucket policy's best Allow for the caller: how its principal matched, and why.
fn bucket_policy_allow(
    request: &Request<'_>,
    inputs: &Inputs<'_>,
    own_account: bool,
) -> Option<(PrincipalMatch, String)> {
    let doc = inputs.bucket_policy?;
    // RestrictPublicBuckets: a public policy grants nothing outside the owner's account.
    if inputs.public_access_block.restrict_public_buckets && !own_account && policy_is_public(doc) {
        return None;
    }
    let mut best: Option<(PrincipalMatch, String)> = None;
    for s in &doc.statements {
        if s.effect != Effect::Allow {
            continue;
        }
        let m = principal_match(s, request.principal);
        if m == PrincipalMatch::None || best.as_ref().is_some_and(|(b, _)| *b >= m) {
            continue;
        }
        if statement_applies(s, request) {
            best = Some((m, format!("Allow in the bucket policy, {}", s.describe())));
        }
    }
    best
}

/// An ACL grant that allows the request, if any.
fn acl_allow(request: &Request<'_>, inputs: &Inputs<'_>, own_account: bool) -> Option<String> {
    let (target, needed) = acl_permission_for(request.action)?;
    let acl = match target {
        AclTarget::Bucket => inputs.bucket_acl?,
        AclTarget::Object => inputs.object_acl?,
    };
    let ignore_public = inputs.public_access_block.ignore_public_acls;
    let caller = request.principal;
    acl.grants.iter().find_map(|g| {
        if !g.permission.covers(needed) {
            return None;
        }
        let hit = match &g.grantee {
            Grantee::AllUsers => !ignore_public,
            Grantee::AuthenticatedUsers => !ignore_public && !matches!(caller, Principal::Anonymous),
            // A grant to an account: its root directly; its users only across
            // accounts (within the account, users need identity policies).
            Grantee::CanonicalUser { id, .. } => match caller {
                Principal::Root { canonical_id, .. } => canonical_id == id,
                Principal::User { canonical_id, .. } => !own_account && canonical_id == id,
                Principal::Anonymous => false,
            },
            Grantee::Email(_) | Grantee::LogDelivery => false,
        };
        hit.then(|| format!("ACL grant of {} to {:?}", g.permission.as_str(), g.grantee))
    })
}
