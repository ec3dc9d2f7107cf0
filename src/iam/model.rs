//! IAM records as stored in the engine's system namespace, their keys, the
//! AWS naming rules, and id generation.
//!
//! Layout (system namespace, values are JSON; the engine adds its version byte):
//! - `iam/user/<lowercase name>` → [`UserRecord`] (inline policies included)
//! - `iam/key/<access key id>` → [`KeyRecord`] (secret sealed, see `secrets`)
//! - `iam/group/<lowercase name>` → [`GroupRecord`] (members and inline policies)
//! - `iam/account/<lowercase name>` → [`AccountRecord`] (an additional account;
//!   its root user's keys are key records naming the account instead of a user)
//!
//! Names are unique without regard to case, as in AWS, and keep the case they
//! were created with.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Format version inside each JSON record (on top of the engine's byte).
pub const RECORD_VERSION: u32 = 1;

pub const USER_PREFIX: &str = "iam/user/";
pub const KEY_PREFIX: &str = "iam/key/";
pub const GROUP_PREFIX: &str = "iam/group/";
pub const ACCOUNT_PREFIX: &str = "iam/account/";

/// Access keys a user may have at once (AWS: 2).
pub const MAX_KEYS_PER_USER: usize = 2;
/// Longest inline policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 10_240;

pub fn user_key(name: &str) -> String {
    format!("{USER_PREFIX}{}", name.to_ascii_lowercase())
}

pub fn key_key(access_key_id: &str) -> String {
    format!("{KEY_PREFIX}{access_key_id}")
}

pub fn group_key(name: &str) -> String {
    format!("{GROUP_PREFIX}{}", name.to_ascii_lowercase())
}

pub fn account_key(name: &str) -> String {
    format!("{ACCOUNT_PREFIX}{}", name.to_ascii_lowercase())
}

/// An account besides the installation's own: its ids are derived from its
/// name (see `account_id_for`), and it acts through its root user only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountRecord {
    pub version: u32,
    pub name: String,
    pub account_id: String,
    pub canonical_id: String,
    /// ACL grants by e-mail address resolve to the account with this address.
    #[serde(default)]
    pub email: Option<String>,
    pub created_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub version: u32,
    pub name: String,
    pub user_id: String,
    pub path: String,
    pub created_ms: u64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies: name → JSON text, as given.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

impl UserRecord {
    /// The `email` tag, by which ACL grants to an email address find the user.
    pub fn email(&self) -> Option<&str> {
        self.tags.iter().find(|t| t.key.eq_ignore_ascii_case("email")).map(|t| t.value.as_str())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub version: u32,
    pub access_key_id: String,
    /// Lowercase key of the owning user (empty for an account's root key).
    pub user: String,
    /// Lowercase name of the account whose root user the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub status: KeyStatus,
    pub created_ms: u64,
    /// The secret, sealed by `SecretBox` (never the plaintext).
    pub sealed_secret: String,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("user", &self.user)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    pub version: u32,
    pub name: String,
    pub group_id: String,
    pub path: String,
    pub created_ms: u64,
    /// Lowercase user keys of the members.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn new_user_id() -> String {
    format!("AIDA{}", random_from(UPPER_ALNUM, 17))
}

pub fn new_group_id() -> String {
    format!("AGPA{}", random_from(UPPER_ALNUM, 17))
}

pub fn new_access_key_id() -> String {
    format!("AKIA{}", random_from(UPPER_ALNUM, 16))
}

pub fn new_secret() -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(random_from(SECRET_ALPHABET, 40))
}

fn name_chars_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
}

/// User and group names: 1 to `max` characters of `[\w+=,.@-]`.
pub fn check_name(what: &str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max || !name_chars_ok(name) {
        return Err(format!(
            "The specified value for {what} is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- and be 1 to {max} characters long."
        ));
    }
    Ok(())
}

/// Paths: `/` alone, or `/`-delimited and ending in `/`, up to 512 printable ASCII characters.
pub fn check_path(path: &str) -> Result<(), String> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if ok {
        Ok(())
    } else {
        Err("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.".into())
    }
}

/// The ARN of a user or group: `arn:aws:iam::<account>:<kind>/<path><name>`, path without its leading `/`.
pub fn arn(account_id: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:{kind}{path}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = new_access_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA") && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(new_user_id().len(), 21);
        assert_eq!(new_secret().len(), 40);
        assert!(check_name("userName", "alice.b+c@x_y-z=1,", 64).is_ok());
        assert!(check_name("userName", "", 64).is_err());
        assert!(check_name("userName", "a b", 64).is_err());
        assert!(check_name("userName", &"a".repeat(65), 64).is_err());
        assert!(check_path("/").is_ok() && check_path("/div/team/").is_ok());
        assert!(check_path("div/").is_err() && check_path("/div").is_err());
        assert_eq!(arn("123456789012", "user", "/", "alice"), "arn:aws:iam::123456789012:user/alice");
        assert_eq!(arn("123456789012", "user", "/d/", "bob"), "arn:aws:iam::123456789012:user/d/bob");
    }
}
