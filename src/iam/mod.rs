//! Identities: the root user, IAM users with access keys, inline user and
//! group policies, and the subset of the AWS IAM query API that manages them.
//!
//! Owns: the identity records (kept in the engine's replicated system
//! namespace, cached in memory, written through before any API answer), the
//! encryption of secrets at rest (`secrets`), lookup of the secret and the
//! identity behind an access key for authentication, and the IAM query
//! protocol (`api`).
//!
//! It does not evaluate policies: it stores their JSON and hands it out with
//! the [`Identity`]; who may call the IAM API is decided by an
//! [`IamAuthorizer`] given by the server.
//!
//! Invariants: a secret is never logged, printed by `Debug`, or stored in
//! plaintext under the zone directories; an inactive or deleted key stops
//! authenticating as soon as the API call that changed it has answered.

pub mod accounts_admin;
pub mod actions;
pub mod api;
pub mod error;
mod groups;
pub mod model;
pub mod secrets;
pub mod store;

use std::sync::Arc;

pub use error::IamError;
pub use store::Identities;

/// Who is behind an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    Root,
    User { user_name: String, user_id: String, arn: String },
}

/// Where an identity's policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// An inline policy of the user.
    User,
    /// An inline policy of a group the user belongs to.
    Group(String),
}

/// One identity-based policy, as the JSON text it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy {
    pub name: String,
    pub source: PolicySource,
    pub document: Arc<str>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub kind: IdentityKind,
    pub account_id: String,
    /// The account's canonical id (what the identity creates is owned by it).
    pub canonical_id: String,
    pub display_name: String,
    /// The account's display name (what owners are shown as).
    pub account_name: String,
    /// The user's inline policies, then those of its groups (empty for root).
    pub policies: Vec<IdentityPolicy>,
}

impl Identity {
    pub fn is_root(&self) -> bool {
        self.kind == IdentityKind::Root
    }

    /// `arn:aws:iam::<account>:root` or the user's ARN.
    pub fn arn(&self) -> String {
        match &self.kind {
            IdentityKind::Root => format!("arn:aws:iam::{}:root", self.account_id),
            IdentityKind::User { arn, .. } => arn.clone(),
        }
    }
}

/// Decides whether a caller may perform an IAM action (`iam:CreateUser`) on a
/// resource ARN. The server plugs in policy evaluation here.
pub trait IamAuthorizer: Send + Sync {
    fn allowed(&self, caller: &Identity, action: &str, resource_arn: &str) -> bool;
}

/// The default: root may do everything, users nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct RootOnly;

impl IamAuthorizer for RootOnly {
    fn allowed(&self, caller: &Identity, _action: &str, _resource_arn: &str) -> bool {
        caller.is_root()
    }
}

/// Checks an identity policy document before it is stored, as IAM does:
/// the `policy` crate's validation, its message returned for
/// `MalformedPolicyDocument`.
pub fn validate_identity_policy(json: &str) -> Result<(), String> {
    policy::PolicyDocument::parse_identity_policy(json).map(|_| ()).map_err(|e| e.to_string())
}

/// The account id: 12 decimal digits derived from the account's name.
pub fn account_id_for(account: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("coffer-account:{account}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("{:012}", u64::from_be_bytes(first) % 1_000_000_000_000)
}

/// The account's canonical id: hex SHA-256 of `coffer-account:<account>`.
pub fn canonical_id_for(account: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("coffer-account:{account}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_and_default_authorizer() {
        let id = account_id_for("root");
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(id, account_id_for("root"), "deterministic");
        assert_eq!(canonical_id_for("root").len(), 64);
        let root = Identity {
            kind: IdentityKind::Root,
            account_id: id.clone(),
            canonical_id: canonical_id_for("root"),
            display_name: "root".into(),
            account_name: "root".into(),
            policies: vec![],
        };
        assert_eq!(root.arn(), format!("arn:aws:iam::{id}:root"));
        let user = Identity {
            kind: IdentityKind::User { user_name: "u".into(), user_id: "AIDA".into(), arn: "arn:u".into() },
            ..root.clone()
        };
        assert!(RootOnly.allowed(&root, "iam:CreateUser", "arn:x"));
        assert!(!RootOnly.allowed(&user, "iam:CreateUser", "arn:x"));
        assert_eq!(user.arn(), "arn:u");
    }

    #[test]
    fn identity_policies_are_validated() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert!(validate_identity_policy(ok).is_ok());
        assert!(validate_identity_policy(r#"{"Version":"2012-10-17","Statement":[]}"#).is_err());
        assert!(validate_identity_policy("[1]").is_err());
        assert!(validate_identity_policy("{nope").unwrap_err().contains("JSON"));
        let with_principal = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        assert!(validate_identity_policy(with_principal).is_err());
    }
}
