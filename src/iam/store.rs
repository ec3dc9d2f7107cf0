//! `Identities`: the identity records, loaded from the engine's system
//! namespace at start, cached in memory and written through: every change is
//! committed to the replicated metadata before the in-memory copy changes
//! and before the API answers. One writer at a time (an async mutex); readers
//! (authentication on every request) take a short read lock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use storage_engine::Engine;
use zeroize::Zeroizing;

use super::error::IamError;
use super::model::{self, AccountRecord, GroupRecord, KeyRecord, KeyStatus, Tag, UserRecord};
use super::secrets::SecretBox;
use super::{Identity, IdentityKind, IdentityPolicy, PolicySource};
use crate::auth::{CredentialStore, SecretKey};
use crate::config::Config;
use crate::credentials::Credentials;

/// A live access key: its record and the decrypted secret (memory only).
pub(crate) struct LiveKey {
    pub rec: KeyRecord,
    pub secret: Zeroizing<String>,
}

#[derive(Default)]
pub(crate) struct State {
    /// By lowercase name.
    pub users: BTreeMap<String, UserRecord>,
    /// By access key id.
    pub keys: BTreeMap<String, LiveKey>,
    /// By lowercase name.
    pub groups: BTreeMap<String, GroupRecord>,
    /// The additional accounts, by lowercase name.
    pub accounts: BTreeMap<String, AccountRecord>,
}

/// Records to write and delete in one atomic commit.
#[derive(Default)]
pub(crate) struct Change {
    pub users: Vec<UserRecord>,
    pub del_users: Vec<String>,
    pub keys: Vec<LiveKey>,
    pub del_keys: Vec<String>,
    pub groups: Vec<GroupRecord>,
    pub del_groups: Vec<String>,
    pub accounts: Vec<AccountRecord>,
    pub del_accounts: Vec<String>,
}

struct Shared {
    engine: Engine,
    secrets: SecretBox,
    root: Credentials,
    account_id: String,
    canonical_id: String,
    state: RwLock<State>,
    writer: tokio::sync::Mutex<()>,
}

/// The identity store. Cheap to clone.
#[derive(Clone)]
pub struct Identities {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").field("account_id", &self.shared.account_id).finish_non_exhaustive()
    }
}

fn json<T: serde::Serialize>(rec: &T) -> Result<Vec<u8>, IamError> {
    serde_json::to_vec(rec).map_err(IamError::internal)
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("identity record {key}: {e}"))
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::no_such_entity(format!("The user with name {name} cannot be found."))
}

impl Identities {
    /// Loads every identity record; the key-encryption key comes from the data directory.
    pub async fn load(config: &Config, engine: Engine, root: Credentials) -> std::io::Result<Identities> {
        let secrets = SecretBox::load_or_create(&config.data_dir)?;
        Self::load_with(engine, root, secrets).await
    }

    pub async fn load_with(engine: Engine, root: Credentials, secrets: SecretBox) -> std::io::Result<Identities> {
        let entries = engine.system_list("iam/").await.map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut state = State::default();
        for (key, value) in entries {
            if let Some(name) = key.strip_prefix(model::USER_PREFIX) {
                let rec: UserRecord = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
                state.users.insert(name.to_string(), rec);
            } else if let Some(id) = key.strip_prefix(model::KEY_PREFIX) {
                let rec: KeyRecord = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
                let secret = secrets.open(&rec.access_key_id, &rec.sealed_secret).map_err(|e| corrupt(&key, e))?;
                state.keys.insert(id.to_string(), LiveKey { rec, secret });
            } else if let Some(name) = key.strip_prefix(model::GROUP_PREFIX) {
                let rec: GroupRecord = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
                state.groups.insert(name.to_string(), rec);
            } else if let Some(name) = key.strip_prefix(model::ACCOUNT_PREFIX) {
                let rec: AccountRecord = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
                state.accounts.insert(name.to_string(), rec);
            }
        }
        tracing::info!(
            users = state.users.len(),
            keys = state.keys.len(),
            groups = state.groups.len(),
            accounts = state.accounts.len(),
            "identities loaded"
        );
        Ok(Identities {
            shared: Arc::new(Shared {
                engine,
                secrets,
                root,
                account_id: super::account_id_for(MAIN_ACCOUNT),
                canonical_id: super::canonical_id_for(MAIN_ACCOUNT),
                state: RwLock::new(state),
                writer: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    pub fn account_canonical_id(&self) -> &str {
        &self.shared.canonical_id
    }

    /// The root user's access key id.
    pub fn root_access_key_id(&self) -> &str {
        self.shared.root.root_access_key_id()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.shared.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Serialises changes: hold the guard from reading the state to committing.
    pub(crate) async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.shared.writer.lock().await
    }

    pub fn user_arn(&self, rec: &UserRecord) -> String {
        model::arn(&self.shared.account_id, "user", &rec.path, &rec.name)
    }

    pub fn group_arn(&self, rec: &GroupRecord) -> String {
        model::arn(&self.shared.account_id, "group", &rec.path, &rec.name)
    }

    /// Persists a change durably, then applies it to the cache. Call with the writer guard held.
    pub(crate) async fn commit(&self, change: Change) -> Result<(), IamError> {
        let mut puts = Vec::new();
        for u in &change.users {
            puts.push((model::user_key(&u.name), json(u)?));
        }
        for k in &change.keys {
            puts.push((model::key_key(&k.rec.access_key_id), json(&k.rec)?));
        }
        for g in &change.groups {
            puts.push((model::group_key(&g.name), json(g)?));
        }
        for a in &change.accounts {
            puts.push((model::account_key(&a.name), json(a)?));
        }
        let mut deletes: Vec<String> = change.del_users.iter().map(|n| model::user_key(n)).collect();
        deletes.extend(change.del_keys.iter().map(|k| model::key_key(k)));
        deletes.extend(change.del_groups.iter().map(|n| model::group_key(n)));
        deletes.extend(change.del_accounts.iter().map(|n| model::account_key(n)));
        self.shared.engine.system_batch(puts, deletes).await.map_err(IamError::internal)?;
        let mut st = self.write_state();
        for n in change.del_users {
            st.users.remove(&n.to_ascii_lowercase());
        }
        for k in change.del_keys {
            st.keys.remove(&k);
        }
        for n in change.del_groups {
            st.groups.remove(&n.to_ascii_lowercase());
        }
        for n in change.del_accounts {
            st.accounts.remove(&n.to_ascii_lowercase());
        }
        for u in change.users {
            st.users.insert(u.name.to_ascii_lowercase(), u);
        }
        for k in change.keys {
            st.keys.insert(k.rec.access_key_id.clone(), k);
        }
        for g in change.groups {
            st.groups.insert(g.name.to_ascii_lowercase(), g);
        }
        for a in change.accounts {
            st.accounts.insert(a.name.to_ascii_lowercase(), a);
        }
        Ok(())
    }

    pub fn get_user(&self, name: &str) -> Result<UserRecord, IamError> {
        self.read().users.get(&name.to_ascii_lowercase()).cloned().ok_or_else(|| no_such_user(name))
    }

    /// Users whose path starts with `path_prefix`, by name.
    pub fn list_users(&self, path_prefix: &str) -> Vec<UserRecord> {
        self.read().users.values().filter(|u| u.path.starts_with(path_prefix)).cloned().collect()
    }

    pub async fn create_user(&self, name: &str, path: &str, tags: Vec<Tag>) -> Result<UserRecord, IamError> {
        model::check_name("userName", name, 64).map_err(IamError::validation)?;
        model::check_path(path).map_err(IamError::validation)?;
        let _w = self.writer().await;
        if self.read().users.contains_key(&name.to_ascii_lowercase()) {
            return Err(IamError::already_exists(format!("User with name {name} already exists.")));
        }
        let rec = UserRecord {
            version: model::RECORD_VERSION,
            name: name.to_string(),
            user_id: model::new_user_id(),
            path: path.to_string(),
            created_ms: now_ms(),
            tags,
            policies: BTreeMap::new(),
        };
        self.commit(Change { users: vec![rec.clone()], ..Default::default() }).await?;
        Ok(rec)
    }

    /// Deletes a user that has no access keys, policies or group memberships left.
    pub async fn delete_user(&self, name: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        let lower = name.to_ascii_lowercase();
        {
            let st = self.read();
            let user = st.users.get(&lower).ok_or_else(|| no_such_user(name))?;
            if st.keys.values().any(|k| k.rec.user == lower) {
                return Err(IamError::delete_conflict("Cannot delete entity, must delete access keys first."));
            }
            if !user.policies.is_empty() {
                return Err(IamError::delete_conflict("Cannot delete entity, must delete policies first."));
            }
            if st.groups.values().any(|g| g.members.contains(&lower)) {
                return Err(IamError::delete_conflict("Cannot delete entity, must remove users from group first."));
            }
        }
        self.commit(Change { del_users: vec![lower], ..Default::default() }).await
    }

    /// A new active key; the secret is returned once, here.
    pub async fn create_access_key(&self, user: &str) -> Result<(KeyRecord, Zeroizing<String>), IamError> {
        let _w = self.writer().await;
        let lower = user.to_ascii_lowercase();
        let live = {
            let st = self.read();
            st.users.get(&lower).ok_or_else(|| no_such_user(user))?;
            if st.keys.values().filter(|k| k.rec.user == lower).count() >= model::MAX_KEYS_PER_USER {
                return Err(IamError::limit_exceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {}",
                    model::MAX_KEYS_PER_USER
                )));
            }
            self.new_key(&st, lower, None)?
        };
        let out = (live.rec.clone(), live.secret.clone());
        self.commit(Change { keys: vec![live], ..Default::default() }).await?;
        Ok(out)
    }

    /// A new active key with a fresh id and secret (not yet committed).
    fn new_key(&self, st: &State, user: String, account: Option<String>) -> Result<LiveKey, IamError> {
        let access_key_id = loop {
            let id = model::new_access_key_id();
            if !st.keys.contains_key(&id) && id != self.root_access_key_id() {
                break id;
            }
        };
        let secret = model::new_secret();
        let sealed = self.shared.secrets.seal(&access_key_id, &secret).map_err(IamError::internal)?;
        let rec = KeyRecord {
            version: model::RECORD_VERSION,
            access_key_id,
            user,
            account,
            status: KeyStatus::Active,
            created_ms: now_ms(),
            sealed_secret: sealed,
        };
        Ok(LiveKey { rec, secret })
    }

    /// Creates an additional account with one root access key; the secret
    /// is returned once, here. Its name must not be the installation's own
    /// account (`root`) nor another account's, in any case.
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<String>,
    ) -> Result<(AccountRecord, KeyRecord, Zeroizing<String>), IamError> {
        model::check_name("accountName", name, 64).map_err(IamError::validation)?;
        let _w = self.writer().await;
        let lower = name.to_ascii_lowercase();
        let (rec, live) = {
            let st = self.read();
            let account_id = super::account_id_for(&lower);
            let taken = lower == MAIN_ACCOUNT
                || st.accounts.contains_key(&lower)
                || account_id == self.shared.account_id
                || st.accounts.values().any(|a| a.account_id == account_id);
            if taken {
                return Err(IamError::already_exists(format!("Account with name {name} already exists.")));
            }
            if let Some(e) = &email {
                if self.email_taken(&st, e) {
                    return Err(IamError::already_exists(format!("The e-mail address {e} is already in use.")));
                }
            }
            let rec = AccountRecord {
                version: model::RECORD_VERSION,
                name: name.to_string(),
                account_id,
                canonical_id: super::canonical_id_for(&lower),
                email,
                created_ms: now_ms(),
            };
            let live = self.new_key(&st, String::new(), Some(lower))?;
            (rec, live)
        };
        let out = (rec.clone(), live.rec.clone(), live.secret.clone());
        self.commit(Change { accounts: vec![rec], keys: vec![live], ..Default::default() }).await?;
        Ok(out)
    }

    fn email_taken(&self, st: &State, email: &str) -> bool {
        st.accounts.values().any(|a| a.email.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(email)))
            || st.users.values().any(|u| u.email().is_some_and(|x| x.eq_ignore_ascii_case(email)))
    }

    /// The additional accounts, by name.
    pub fn list_accounts(&self) -> Vec<AccountRecord> {
        self.read().accounts.values().cloned().collect()
    }

    pub fn get_account(&self, name: &str) -> Option<AccountRecord> {
        self.read().accounts.get(&name.to_ascii_lowercase()).cloned()
    }

    /// Deletes an account and its root keys (the caller checks that it owns no bucket).
    pub async fn delete_account(&self, name: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        let lower = name.to_ascii_lowercase();
        let keys: Vec<String> = {
            let st = self.read();
            if !st.accounts.contains_key(&lower) {
                return Err(IamError::no_such_entity(format!("The account with name {name} cannot be found.")));
            }
            st.keys
                .values()
                .filter(|k| k.rec.account.as_deref() == Some(lower.as_str()))
                .map(|k| k.rec.access_key_id.clone())
                .collect()
        };
        self.commit(Change { del_accounts: vec![lower], del_keys: keys, ..Default::default() }).await
    }

    /// The account id and display name of the account with `canonical_id`
    /// (the installation's own or an additional one).
    pub fn account_of_canonical(&self, canonical_id: &str) -> Option<(String, String)> {
        if canonical_id == self.shared.canonical_id {
            return Some((self.shared.account_id.clone(), MAIN_ACCOUNT.to_string()));
        }
        let st = self.read();
        st.accounts.values().find(|a| a.canonical_id == canonical_id).map(|a| (a.account_id.clone(), a.name.clone()))
    }

    /// The user's keys, oldest first.
    pub fn list_access_keys(&self, user: &str) -> Result<Vec<KeyRecord>, IamError> {
        let lower = user.to_ascii_lowercase();
        let st = self.read();
        st.users.get(&lower).ok_or_else(|| no_such_user(user))?;
        let mut keys: Vec<KeyRecord> =
            st.keys.values().filter(|k| k.rec.user == lower).map(|k| k.rec.clone()).collect();
        keys.sort_by(|a, b| (a.created_ms, &a.access_key_id).cmp(&(b.created_ms, &b.access_key_id)));
        Ok(keys)
    }

    fn key_of_user(st: &State, user: &str, access_key_id: &str) -> Result<KeyRecord, IamError> {
        let lower = user.to_ascii_lowercase();
        st.users.get(&lower).ok_or_else(|| no_such_user(user))?;
        match st.keys.get(access_key_id) {
            Some(k) if k.rec.user == lower => Ok(k.rec.clone()),
            _ => Err(IamError::no_such_entity(format!("The Access Key with id {access_key_id} cannot be found."))),
        }
    }

    pub async fn update_access_key(&self, user: &str, access_key_id: &str, status: KeyStatus) -> Result<(), IamError> {
        let _w = self.writer().await;
        let (mut rec, secret) = {
            let st = self.read();
            let rec = Self::key_of_user(&st, user, access_key_id)?;
            let secret = st.keys.get(access_key_id).map(|k| k.secret.clone()).unwrap_or_default();
            (rec, secret)
        };
        if rec.status == status {
            return Ok(());
        }
        rec.status = status;
        self.commit(Change { keys: vec![LiveKey { rec, secret }], ..Default::default() }).await
    }

    pub async fn delete_access_key(&self, user: &str, access_key_id: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        Self::key_of_user(&self.read(), user, access_key_id)?;
        self.commit(Change { del_keys: vec![access_key_id.to_string()], ..Default::default() }).await
    }

    pub async fn put_user_policy(&self, user: &str, policy: &str, document: &str) -> Result<(), IamError> {
        model::check_name("policyName", policy, 128).map_err(IamError::validation)?;
        check_document(document)?;
        let _w = self.writer().await;
        let mut rec = self.get_user(user)?;
        rec.policies.insert(policy.to_string(), document.to_string());
        self.commit(Change { users: vec![rec], ..Default::default() }).await
    }

    pub fn get_user_policy(&self, user: &str, policy: &str) -> Result<(UserRecord, String), IamError> {
        let rec = self.get_user(user)?;
        let doc = rec.policies.get(policy).cloned().ok_or_else(|| no_such_policy("user", user, policy))?;
        Ok((rec, doc))
    }

    pub async fn delete_user_policy(&self, user: &str, policy: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        let mut rec = self.get_user(user)?;
        if rec.policies.remove(policy).is_none() {
            return Err(no_such_policy("user", user, policy));
        }
        self.commit(Change { users: vec![rec], ..Default::default() }).await
    }

    /// The identity behind an ACTIVE access key (root's or a user's).
    pub fn identity_for_key(&self, access_key_id: &str) -> Option<Identity> {
        if access_key_id == self.root_access_key_id() {
            return Some(self.root_identity());
        }
        let st = self.read();
        let key = st.keys.get(access_key_id).filter(|k| k.rec.status == KeyStatus::Active)?;
        if let Some(account) = &key.rec.account {
            return st.accounts.get(account).map(account_identity);
        }
        let user = st.users.get(&key.rec.user)?;
        Some(self.user_identity(&st, user))
    }

    pub fn root_identity(&self) -> Identity {
        Identity {
            kind: IdentityKind::Root,
            account_id: self.shared.account_id.clone(),
            canonical_id: self.shared.canonical_id.clone(),
            display_name: MAIN_ACCOUNT.into(),
            account_name: MAIN_ACCOUNT.into(),
            policies: Vec::new(),
        }
    }

    /// The account or user with the e-mail address `email` (case-insensitive), for ACL grants by email.
    pub fn identity_for_email(&self, email: &str) -> Option<Identity> {
        let st = self.read();
        if let Some(a) =
            st.accounts.values().find(|a| a.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
        {
            return Some(account_identity(a));
        }
        let user = st.users.values().find(|u| u.email().is_some_and(|e| e.eq_ignore_ascii_case(email)))?;
        Some(self.user_identity(&st, user))
    }

    fn user_identity(&self, st: &State, user: &UserRecord) -> Identity {
        let lower = user.name.to_ascii_lowercase();
        let mut policies: Vec<IdentityPolicy> = user
            .policies
            .iter()
            .map(|(n, d)| IdentityPolicy {
                name: n.clone(),
                source: PolicySource::User,
                document: Arc::from(d.as_str()),
            })
            .collect();
        for g in st.groups.values().filter(|g| g.members.contains(&lower)) {
            policies.extend(g.policies.iter().map(|(n, d)| IdentityPolicy {
                name: n.clone(),
                source: PolicySource::Group(g.name.clone()),
                document: Arc::from(d.as_str()),
            }));
        }
        Identity {
            kind: IdentityKind::User {
                user_name: user.name.clone(),
                user_id: user.user_id.clone(),
                arn: self.user_arn(user),
            },
            account_id: self.shared.account_id.clone(),
            canonical_id: self.shared.canonical_id.clone(),
            display_name: user.name.clone(),
            account_name: MAIN_ACCOUNT.into(),
            policies,
        }
    }
}

/// The name of the installation's own account (its root user's display name).
pub const MAIN_ACCOUNT: &str = "root";

/// The root user of an additional account.
fn account_identity(a: &AccountRecord) -> Identity {
    Identity {
        kind: IdentityKind::Root,
        account_id: a.account_id.clone(),
        canonical_id: a.canonical_id.clone(),
        display_name: a.name.clone(),
        account_name: a.name.clone(),
        policies: Vec::new(),
    }
}

impl CredentialStore for Identities {
    /// The secret of root or of an ACTIVE user key; `None` for inactive, deleted or unknown keys.
    fn secret_key(&self, access_key_id: &str) -> Option<SecretKey> {
        if access_key_id == self.root_access_key_id() {
            return self.shared.root.secret_key(access_key_id);
        }
        let st = self.read();
        let key = st.keys.get(access_key_id).filter(|k| k.rec.status == KeyStatus::Active)?;
        Some(SecretKey::new(key.secret.as_str().to_owned()))
    }
}

pub(crate) fn no_such_policy(kind: &str, owner: &str, policy: &str) -> IamError {
    IamError::no_such_entity(format!("The {kind} policy with name {policy} cannot be found for {owner}."))
}

/// Size bound, then the validator the policy crate will provide.
pub(crate) fn check_document(document: &str) -> Result<(), IamError> {
    if document.is_empty() || document.len() > model::MAX_POLICY_BYTES {
        return Err(IamError::validation(format!(
            "The policy document must be 1 to {} characters long.",
            model::MAX_POLICY_BYTES
        )));
    }
    super::validate_identity_policy(document).map_err(IamError::malformed_policy)
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
