//! Encryption of access-key secrets at rest.
//!
//! SigV4 verification needs each secret in plaintext, so a one-way hash will
//! not do. Every secret is stored encrypted with AES-256-GCM under a
//! key-encryption key (KEK) that lives outside the zone directories, in
//! `<data-dir>/iam-secrets.key` (32 random bytes, created on first start with
//! mode 0600 and fsynced). The metadata replicas in the zone directories then
//! hold no usable secret. Each ciphertext uses a fresh random 96-bit nonce and
//! the access key id as associated data, so a ciphertext cannot be moved to
//! another key id.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::Engine as _;
use rand::RngCore;
use zeroize::Zeroizing;

/// File name of the key-encryption key inside the data directory.
pub const SECRETS_KEY_FILE: &str = "iam-secrets.key";

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// The key-encryption key. `Debug` never shows it.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    /// Loads the key from `<data_dir>/iam-secrets.key`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<SecretBox> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(SECRETS_KEY_FILE);
        let key: Zeroizing<Vec<u8>> = match std::fs::read(&path) {
            Ok(bytes) => {
                let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "IAM secrets key is readable by others");
                }
                Zeroizing::new(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new(vec![0u8; KEY_BYTES]);
                rand::rng().fill_bytes(&mut key);
                let tmp = path.with_extension("key.tmp");
                let mut file =
                    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
                file.write_all(&key)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                std::fs::File::open(data_dir)?.sync_all()?;
                key
            }
            Err(e) => return Err(e),
        };
        SecretBox::from_key(&key).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: expected {KEY_BYTES} bytes", path.display()),
            )
        })
    }

    pub fn from_key(key: &[u8]) -> Option<SecretBox> {
        if key.len() != KEY_BYTES {
            return None;
        }
        Aes256Gcm::new_from_slice(key).ok().map(|cipher| SecretBox { cipher })
    }

    /// Encrypts `secret` for `access_key_id`: base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, access_key_id: &str, secret: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..]).map_err(|_| "nonce size".to_string())?;
        let ct = self
            .cipher
            .encrypt(&n, Payload { msg: secret.as_bytes(), aad: access_key_id.as_bytes() })
            .map_err(|_| "secret encryption failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// Decrypts what [`SecretBox::seal`] made for the same key id.
    pub fn open(&self, access_key_id: &str, sealed: &str) -> Result<Zeroizing<String>, String> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| "sealed secret is not base64")?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err("sealed secret is too short".into());
        }
        let (nonce, ct) = bytes.split_at(NONCE_BYTES);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| "nonce size".to_string())?;
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(&n, Payload { msg: ct, aad: access_key_id.as_bytes() })
                .map_err(|_| "sealed secret does not decrypt with this key (wrong iam-secrets.key?)".to_string())?,
        );
        String::from_utf8(plain.to_vec()).map(Zeroizing::new).map_err(|_| "sealed secret is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_bound_to_key_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = SecretBox::load_or_create(dir.path()).expect("create");
        let mode = std::fs::metadata(dir.path().join(SECRETS_KEY_FILE)).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = b.seal("AKIAEXAMPLE", "secret-value").expect("seal");
        assert!(!sealed.contains("secret-value"));
        assert_eq!(b.open("AKIAEXAMPLE", &sealed).expect("open").as_str(), "secret-value");
        assert!(b.open("AKIAOTHER", &sealed).is_err(), "bound to the key id");
        let again = SecretBox::load_or_create(dir.path()).expect("reload");
        assert_eq!(again.open("AKIAEXAMPLE", &sealed).expect("open").as_str(), "secret-value");
        assert!(SecretBox::from_key(&[0u8; 31]).is_none());
    }
}
