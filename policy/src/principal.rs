//! Who is asking, and how a policy's `Principal` / `NotPrincipal` names them.

use crate::document::PolicyError;

/// The caller of a request. `account_id` is 12 digits; canonical ids are the
/// account's (on AWS, IAM users share their account's canonical id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// The account root user.
    Root {
        account_id: String,
        canonical_id: String,
    },
    /// An IAM user of an account.
    User {
        account_id: String,
        canonical_id: String,
        user_name: String,
        user_id: String,
        arn: String,
    },
}

impl Principal {
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Root { account_id, .. } | Principal::User { account_id, .. } => Some(account_id),
        }
    }

    pub fn canonical_id(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Root { canonical_id, .. } | Principal::User { canonical_id, .. } => Some(canonical_id),
        }
    }

    /// A short description for explanations.
    pub fn describe(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Root { account_id, .. } => format!("arn:aws:iam::{account_id}:root"),
            Principal::User { arn, .. } => arn.clone(),
        }
    }
}

/// One entry of a policy's Principal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included.
    Everyone,
    /// An account (`"123456789012"` or `arn:aws:iam::123456789012:root`).
    Account(String),
    /// An IAM user by ARN.
    User(String),
    /// `{"CanonicalUser": id}`: an account by canonical id.
    CanonicalUser(String),
    /// A service or federated principal: accepted, never a Coffer caller.
    Other(String),
}

/// How a principal entry matches a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    None,
    /// The entry names the caller's account: it grants the root directly and
    /// delegates to the account's users (who then need an identity Allow too).
    Account,
    /// The entry names the caller (or everyone).
    Direct,
}

fn invalid() -> PolicyError {
    PolicyError::new("Invalid principal in policy")
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses one `AWS` principal value.
pub fn parse_aws_entry(value: &str) -> Result<PrincipalEntry, PolicyError> {
    if value == "*" {
        return Ok(PrincipalEntry::Everyone);
    }
    if is_account_id(value) {
        return Ok(PrincipalEntry::Account(value.to_string()));
    }
    let rest = value.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    if !is_account_id(account) {
        return Err(invalid());
    }
    if resource == "root" {
        return Ok(PrincipalEntry::Account(account.to_string()));
    }
    match resource.strip_prefix("user/") {
        Some(name) if !name.is_empty() && !name.contains('*') => Ok(PrincipalEntry::User(value.to_string())),
        _ => Err(invalid()),
    }
}

/// Parses a Principal element: `"*"` or an object of type → value(s).
pub fn parse_principal(value: &serde_json::Value) -> Result<Vec<PrincipalEntry>, PolicyError> {
    use serde_json::Value;
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalEntry::Everyone]),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (kind, v) in map {
                let items: Vec<&str> = match v {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) if !a.is_empty() => {
                        a.iter().map(|x| x.as_str().ok_or_else(invalid)).collect::<Result<_, _>>()?
                    }
                    _ => return Err(invalid()),
                };
                for item in items {
                    out.push(match kind.as_str() {
                        "AWS" => parse_aws_entry(item)?,
                        "CanonicalUser" => {
                            if item.len() != 64 || !item.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return Err(invalid());
                            }
                            PrincipalEntry::CanonicalUser(item.to_ascii_lowercase())
                        }
                        "Service" | "Federated" => PrincipalEntry::Other(item.to_string()),
                        _ => return Err(invalid()),
                    });
                }
            }
            Ok(out)
        }
        _ => Err(invalid()),
    }
}

impl PrincipalEntry {
    /// How this entry matches `caller`.
    pub fn matches(&self, caller: &Principal) -> PrincipalMatch {
        match (self, caller) {
            (PrincipalEntry::Everyone, _) => PrincipalMatch::Direct,
            (_, Principal::Anonymous) => PrincipalMatch::None,
            (PrincipalEntry::Account(a), Principal::Root { account_id, .. }) if a == account_id => {
                PrincipalMatch::Direct
            }
            (PrincipalEntry::Account(a), Principal::User { account_id, .. }) if a == account_id => {
                PrincipalMatch::Account
            }
            (PrincipalEntry::CanonicalUser(c), Principal::Root { canonical_id, .. }) if c == canonical_id => {
                PrincipalMatch::Direct
            }
            (PrincipalEntry::CanonicalUser(c), Principal::User { canonical_id, .. }) if c == canonical_id => {
                PrincipalMatch::Account
            }
            (PrincipalEntry::User(arn), Principal::User { arn: caller_arn, .. }) if arn == caller_arn => {
                PrincipalMatch::Direct
            }
            _ => PrincipalMatch::None,
        }
    }
}

/// The best match of `caller` against a list of entries.
pub fn best_match(entries: &[PrincipalEntry], caller: &Principal) -> PrincipalMatch {
    entries.iter().map(|e| e.matches(caller)).max().unwrap_or(PrincipalMatch::None)
}

/// Whether `caller` is exempted by a NotPrincipal list. As AWS: a user is
/// exempt only if both the user and its account are listed (both are
/// evaluated); the root if its account is listed; everyone if `*` is listed.
pub fn exempted_by_not_principal(entries: &[PrincipalEntry], caller: &Principal) -> bool {
    if entries.contains(&PrincipalEntry::Everyone) {
        return true;
    }
    match caller {
        Principal::Anonymous => false,
        Principal::Root { .. } => best_match(entries, caller) == PrincipalMatch::Direct,
        Principal::User { .. } => {
            let user_listed = entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::User(_)) && e.matches(caller) == PrincipalMatch::Direct);
            let account_listed = entries.iter().any(|e| e.matches(caller) == PrincipalMatch::Account);
            user_listed && account_listed
        }
    }
}
