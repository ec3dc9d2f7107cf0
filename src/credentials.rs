//! Root credentials: given by the operator, or generated on first start and
//! kept in the data directory (mode 0600). The secret is never logged.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::auth::{CredentialStore, SecretKey};
use crate::config::Config;

/// File name of the generated root credentials inside the data directory.
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials.json";

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    access_key_id: String,
    secret_access_key: String,
}

/// The credentials the server accepts (for now: the root user).
pub struct Credentials {
    root_access_key_id: String,
    root_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("root_access_key_id", &self.root_access_key_id).finish_non_exhaustive()
    }
}

/// What happened while loading: `Generated` carries the new secret so that the
/// caller can print it once.
pub enum Loaded {
    FromConfig(Credentials),
    FromFile(Credentials),
    Generated(Credentials),
}

impl Credentials {
    pub fn root_access_key_id(&self) -> &str {
        &self.root_access_key_id
    }

    pub fn root_secret_for_display(&self) -> &str {
        &self.root_secret
    }

    /// Loads the root credentials: from the config, else from the data
    /// directory, else generates and stores new ones.
    pub fn load(config: &Config) -> std::io::Result<Loaded> {
        if let Some((ak, sk)) = &config.root_credentials {
            return Ok(Loaded::FromConfig(Credentials { root_access_key_id: ak.clone(), root_secret: sk.0.clone() }));
        }
        std::fs::create_dir_all(&config.data_dir)?;
        let path = config.data_dir.join(ROOT_CREDENTIALS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: StoredCredentials = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                })?;
                let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "root credentials file is readable by others");
                }
                Ok(Loaded::FromFile(Credentials {
                    root_access_key_id: stored.access_key_id,
                    root_secret: stored.secret_access_key,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let creds = generate();
                write_new(&path, &creds)?;
                Ok(Loaded::Generated(creds))
            }
            Err(e) => Err(e),
        }
    }
}

fn generate() -> Credentials {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
    };
    let access = format!("CFR{}", pick(UPPER, 17));
    let secret = pick(SECRET, 40);
    Credentials { root_access_key_id: access, root_secret: secret }
}

fn write_new(path: &Path, creds: &Credentials) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&StoredCredentials {
        access_key_id: creds.root_access_key_id.clone(),
        secret_access_key: creds.root_secret.clone(),
    })
    .map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(&body)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl CredentialStore for Credentials {
    fn secret_key(&self, access_key_id: &str) -> Option<SecretKey> {
        (access_key_id == self.root_access_key_id).then(|| SecretKey::new(self.root_secret.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerArgs;

    #[test]
    fn generated_once_then_reloaded_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = ServerArgs { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let config = Config::from_args(&args).expect("config");
        let first = match Credentials::load(&config).expect("load") {
            Loaded::Generated(c) => c,
            _ => panic!("expected generated credentials"),
        };
        let mode = std::fs::metadata(dir.path().join(ROOT_CREDENTIALS_FILE)).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = match Credentials::load(&config).expect("load") {
            Loaded::FromFile(c) => c,
            _ => panic!("expected stored credentials"),
        };
        assert_eq!(first.root_access_key_id, second.root_access_key_id);
        assert_eq!(first.root_secret, second.root_secret);
        assert!(second.secret_key(&first.root_access_key_id).is_some());
        assert!(second.secret_key("OTHER").is_none());
    }
}
