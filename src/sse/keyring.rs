//! The local keyring: key-encryption keys, kept outside the zone directories.
//!
//! One JSON file (default `<data-dir>/keyring.json`, mode 0600, written
//! atomically and fsynced) holds
//! - the SSE-S3 master key, in versions: new data keys are wrapped by the
//!   current version; rotation adds a version, re-wraps every stored data key
//!   and then drops the versions nothing refers to any more;
//! - the SSE-KMS keys: named keys (a key id, an optional alias such as the
//!   default `aws/s3`), each enabled or disabled.
//!
//! A master key may instead come from the environment (`COFFER_SSE_MASTER_KEY`,
//! base64 of 32 bytes); it is then version 0 and cannot be rotated here.
//! Wrapping is AES-256-GCM with a fresh nonce and associated data that names
//! the object, so a wrapped key cannot be moved to another object.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ops::now_ms;

/// File name of the keyring inside the data directory.
pub const KEYRING_FILE: &str = "keyring.json";
/// Alias of the KMS key used when a request names none (as AWS's managed key).
pub const DEFAULT_KMS_ALIAS: &str = "aws/s3";
/// Master key version of a key given by the environment.
pub const ENV_MASTER_ID: u32 = 0;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Clone, Serialize, Deserialize)]
struct MasterVersion {
    id: u32,
    key: String,
    created_ms: u64,
}

/// A KMS key as the keyring stores it.
#[derive(Clone, Serialize, Deserialize)]
struct KmsEntry {
    id: String,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    description: String,
    enabled: bool,
    created_ms: u64,
    key: String,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    v: u8,
    current_master: u32,
    master: Vec<MasterVersion>,
    #[serde(default)]
    kms: Vec<KmsEntry>,
}

/// What the admin interface shows of a KMS key (never its material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyInfo {
    pub id: String,
    pub alias: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub created_ms: u64,
}

/// What the admin interface shows of the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterInfo {
    pub current: u32,
    pub versions: Vec<u32>,
    pub from_environment: bool,
}

/// Why a KMS key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsError {
    NotFound(String),
    Disabled(String),
}

/// Why a data key could not be unwrapped or wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Kms(KmsError),
    /// The master key version the object was wrapped with is not in the keyring.
    UnknownMasterVersion(u32),
    /// The wrapped key does not open with the key-encryption key.
    Rejected,
    Io(String),
}

impl From<KmsError> for KeyError {
    fn from(e: KmsError) -> Self {
        KeyError::Kms(e)
    }
}

pub struct Keyring {
    path: PathBuf,
    env_master: Option<Zeroizing<[u8; 32]>>,
    state: RwLock<KeyringFile>,
    /// Serialises read-modify-write of the file.
    write: Mutex<()>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("path", &self.path).finish_non_exhaustive()
    }
}

fn random_key() -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(k.as_mut());
    k
}

fn decode_key(b64: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(B64.decode(b64).ok()?);
    let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// Parses a base64 master key from the environment.
pub fn parse_env_master(value: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    decode_key(value.trim()).ok_or_else(|| "COFFER_SSE_MASTER_KEY must be the base64 of exactly 32 bytes".to_string())
}

/// AES-256-GCM of a 32-byte data key: nonce ‖ ciphertext ‖ tag, base64.
pub fn wrap_with(kek: &[u8; 32], data_key: &[u8; 32], aad: &[u8]) -> String {
    let cipher = Aes256Gcm::new_from_slice(kek).expect("invariant: 32-byte key");
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let ct =
        cipher.encrypt(&nonce.into(), Payload { msg: data_key, aad }).expect("invariant: AES-GCM encrypts 32 bytes");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    B64.encode(out)
}

/// The inverse of [`wrap_with`].
pub fn unwrap_with(kek: &[u8; 32], wrapped: &str, aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let bytes = B64.decode(wrapped).map_err(|_| KeyError::Rejected)?;
    if bytes.len() != 12 + 32 + 16 {
        return Err(KeyError::Rejected);
    }
    let cipher = Aes256Gcm::new_from_slice(kek).expect("invariant: 32-byte key");
    let nonce: [u8; 12] = bytes[..12].try_into().map_err(|_| KeyError::Rejected)?;
    let plain = Zeroizing::new(
        cipher.decrypt(&nonce.into(), Payload { msg: &bytes[12..], aad }).map_err(|_| KeyError::Rejected)?,
    );
    let arr: [u8; 32] = plain.as_slice().try_into().map_err(|_| KeyError::Rejected)?;
    Ok(Zeroizing::new(arr))
}

impl Keyring {
    /// Loads the keyring file, creating it (with a first master key and the
    /// default KMS key) on first start.
    pub fn load_or_create(path: &Path, env_master: Option<Zeroizing<[u8; 32]>>) -> std::io::Result<Keyring> {
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        let file = match std::fs::read(path) {
            Ok(bytes) => {
                let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the keyring is readable by others");
                }
                let file: KeyringFile = serde_json::from_slice(&bytes)
                    .map_err(|e| invalid(format!("{}: not a Coffer keyring: {e}", path.display())))?;
                for m in &file.master {
                    decode_key(&m.key)
                        .ok_or_else(|| invalid(format!("{}: master key {} is damaged", path.display(), m.id)))?;
                }
                for k in &file.kms {
                    decode_key(&k.key)
                        .ok_or_else(|| invalid(format!("{}: KMS key {} is damaged", path.display(), k.id)))?;
                }
                file
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let file = KeyringFile {
                    v: 1,
                    current_master: 1,
                    master: vec![MasterVersion { id: 1, key: B64.encode(random_key().as_ref()), created_ms: now_ms() }],
                    kms: vec![new_kms_entry(Some(DEFAULT_KMS_ALIAS.to_string()), "Default key for SSE-KMS".into())],
                };
                persist(path, &file)?;
                tracing::info!(path = %path.display(), "created the encryption keyring");
                file
            }
            Err(e) => return Err(e),
        };
        Ok(Keyring { path: path.to_path_buf(), env_master, state: RwLock::new(file), write: Mutex::new(()) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyringFile> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a change to a copy of the keyring, persists it, then publishes it.
    fn update<T>(&self, change: impl FnOnce(&mut KeyringFile) -> Result<T, KeyError>) -> Result<T, KeyError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.read().clone();
        let out = change(&mut next)?;
        persist(&self.path, &next).map_err(|e| KeyError::Io(format!("{}: {e}", self.path.display())))?;
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(out)
    }

    /// The master key version new data keys are wrapped with.
    pub fn current_master(&self) -> u32 {
        if self.env_master.is_some() {
            ENV_MASTER_ID
        } else {
            self.read().current_master
        }
    }

    fn master_key(&self, id: u32) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        if id == ENV_MASTER_ID {
            return self.env_master.clone().ok_or(KeyError::UnknownMasterVersion(id));
        }
        let state = self.read();
        let v = state.master.iter().find(|m| m.id == id).ok_or(KeyError::UnknownMasterVersion(id))?;
        decode_key(&v.key).ok_or(KeyError::UnknownMasterVersion(id))
    }

    pub fn wrap_master(&self, id: u32, data_key: &[u8; 32], aad: &[u8]) -> Result<String, KeyError> {
        Ok(wrap_with(&*self.master_key(id)?, data_key, aad))
    }

    pub fn unwrap_master(&self, id: u32, wrapped: &str, aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        unwrap_with(&*self.master_key(id)?, wrapped, aad)
    }

    pub fn master_info(&self) -> MasterInfo {
        let state = self.read();
        MasterInfo {
            current: self.current_master(),
            versions: state.master.iter().map(|m| m.id).collect(),
            from_environment: self.env_master.is_some(),
        }
    }

    /// Adds a master key version and makes it current; returns its id.
    pub fn add_master_version(&self) -> Result<u32, KeyError> {
        if self.env_master.is_some() {
            return Err(KeyError::Io("the master key comes from COFFER_SSE_MASTER_KEY; rotate it there".into()));
        }
        self.update(|f| {
            let id = f.master.iter().map(|m| m.id).max().unwrap_or(0) + 1;
            f.master.push(MasterVersion { id, key: B64.encode(random_key().as_ref()), created_ms: now_ms() });
            f.current_master = id;
            Ok(id)
        })
    }

    /// Drops master versions other than the current one.
    pub fn drop_old_master_versions(&self) -> Result<Vec<u32>, KeyError> {
        self.update(|f| {
            let current = f.current_master;
            let dropped: Vec<u32> = f.master.iter().map(|m| m.id).filter(|&id| id != current).collect();
            f.master.retain(|m| m.id == current);
            Ok(dropped)
        })
    }

    /// Finds a KMS key by id, ARN, alias (`alias/NAME`) or alias ARN.
    fn find_kms(&self, state: &KeyringFile, spec: &str) -> Option<KmsEntry> {
        let tail = spec.rsplit_once(":key/").map(|(_, id)| id).unwrap_or(spec);
        let alias = spec.rsplit_once(":alias/").map(|(_, a)| a).or_else(|| spec.strip_prefix("alias/"));
        state
            .kms
            .iter()
            .find(|k| match alias {
                Some(a) => k.alias.as_deref() == Some(a),
                None => k.id == tail,
            })
            .cloned()
    }

    /// The id of the KMS key a request names (or the default key), if it exists and is enabled.
    pub fn resolve_kms(&self, spec: Option<&str>) -> Result<String, KmsError> {
        let state = self.read();
        let spec = spec.map(str::trim).filter(|s| !s.is_empty());
        let wanted = spec.map(str::to_string).unwrap_or_else(|| format!("alias/{DEFAULT_KMS_ALIAS}"));
        let key = self.find_kms(&state, &wanted).ok_or(KmsError::NotFound(wanted))?;
        if !key.enabled {
            return Err(KmsError::Disabled(key.id));
        }
        Ok(key.id)
    }

    fn kms_key(&self, id: &str) -> Result<Zeroizing<[u8; 32]>, KmsError> {
        let state = self.read();
        let key = state.kms.iter().find(|k| k.id == id).ok_or_else(|| KmsError::NotFound(id.to_string()))?;
        if !key.enabled {
            return Err(KmsError::Disabled(id.to_string()));
        }
        decode_key(&key.key).ok_or_else(|| KmsError::NotFound(id.to_string()))
    }

    pub fn wrap_kms(&self, id: &str, data_key: &[u8; 32], aad: &[u8]) -> Result<String, KeyError> {
        Ok(wrap_with(&*self.kms_key(id)?, data_key, aad))
    }

    pub fn unwrap_kms(&self, id: &str, wrapped: &str, aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        unwrap_with(&*self.kms_key(id)?, wrapped, aad)
    }

    pub fn list_kms(&self) -> Vec<KmsKeyInfo> {
        self.read().kms.iter().map(info).collect()
    }

    pub fn create_kms(&self, alias: Option<String>, description: String) -> Result<KmsKeyInfo, KeyError> {
        if let Some(a) = &alias {
            let valid = !a.is_empty()
                && a.len() <= 250
                && a.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
                && !a.starts_with("aws/");
            if !valid {
                return Err(KeyError::Io(format!(
                    "invalid alias {a:?}: letters, digits, '/', '_' and '-' only, and not starting with aws/"
                )));
            }
        }
        self.update(|f| {
            if let Some(a) = &alias {
                if f.kms.iter().any(|k| k.alias.as_ref() == Some(a)) {
                    return Err(KeyError::Io(format!("the alias {a} is already in use")));
                }
            }
            let entry = new_kms_entry(alias, description);
            let out = info(&entry);
            f.kms.push(entry);
            Ok(out)
        })
    }

    /// Enables or disables a KMS key (by id, ARN or alias).
    pub fn set_kms_enabled(&self, spec: &str, enabled: bool) -> Result<KmsKeyInfo, KeyError> {
        let id = self.find_kms(&self.read(), spec).ok_or_else(|| KmsError::NotFound(spec.to_string()))?.id;
        self.update(|f| {
            let key = f.kms.iter_mut().find(|k| k.id == id).ok_or_else(|| KmsError::NotFound(id.clone()))?;
            key.enabled = enabled;
            Ok(info(key))
        })
    }
}

fn info(k: &KmsEntry) -> KmsKeyInfo {
    KmsKeyInfo {
        id: k.id.clone(),
        alias: k.alias.clone(),
        description: k.description.clone(),
        enabled: k.enabled,
        created_ms: k.created_ms,
    }
}

fn new_kms_entry(alias: Option<String>, description: String) -> KmsEntry {
    KmsEntry {
        id: uuid::Uuid::new_v4().to_string(),
        alias,
        description,
        enabled: true,
        created_ms: now_ms(),
        key: B64.encode(random_key().as_ref()),
    }
}

/// Writes the keyring: temporary file (mode 0600), fsync, rename, fsync of the directory.
fn persist(path: &Path, file: &KeyringFile) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let bytes = Zeroizing::new(serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?);
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_rotate_and_kms() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(KEYRING_FILE);
        let ring = Keyring::load_or_create(&path, None).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dk = [9u8; 32];
        let w1 = ring.wrap_master(ring.current_master(), &dk, b"obj").expect("wrap");
        assert_eq!(*ring.unwrap_master(1, &w1, b"obj").expect("unwrap"), dk);
        assert_eq!(ring.unwrap_master(1, &w1, b"other"), Err(KeyError::Rejected));
        let v2 = ring.add_master_version().expect("rotate");
        assert_eq!((v2, ring.current_master()), (2, 2));
        // Reloading sees the same keys.
        let again = Keyring::load_or_create(&path, None).expect("load");
        assert_eq!(*again.unwrap_master(1, &w1, b"obj").expect("unwrap"), dk);
        assert_eq!(again.drop_old_master_versions().expect("drop"), vec![1]);
        assert_eq!(again.unwrap_master(1, &w1, b"obj"), Err(KeyError::UnknownMasterVersion(1)));

        let default = ring.resolve_kms(None).expect("default key");
        let made = ring.create_kms(Some("team-a".into()), "test".into()).expect("create");
        assert_eq!(ring.resolve_kms(Some("alias/team-a")).expect("alias"), made.id);
        let arn = format!("arn:aws:kms:us-east-1:123456789012:key/{}", made.id);
        assert_eq!(ring.resolve_kms(Some(&arn)).expect("arn"), made.id);
        assert_ne!(default, made.id);
        let w = ring.wrap_kms(&made.id, &dk, b"a").expect("wrap");
        ring.set_kms_enabled("alias/team-a", false).expect("disable");
        assert_eq!(ring.resolve_kms(Some(&made.id)), Err(KmsError::Disabled(made.id.clone())));
        assert!(matches!(ring.unwrap_kms(&made.id, &w, b"a"), Err(KeyError::Kms(KmsError::Disabled(_)))));
        assert!(matches!(ring.resolve_kms(Some("nope")), Err(KmsError::NotFound(_))));
        assert!(ring.create_kms(Some("aws/mine".into()), String::new()).is_err());
    }
}
