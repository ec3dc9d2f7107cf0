//! Derived SigV4 signing keys, kept for reuse.
//!
//! A signing key is HMAC-chained from the secret, the scope date, region and
//! service (four HMAC-SHA256); a client signs all of a day's requests with the
//! same one, and deriving it anew was a visible share of a small request's
//! cost. Entries are keyed by the secret itself with the scope, so a changed
//! or deleted secret can never be served from here (the secret is looked up
//! before the cache is consulted). Bounded, and cleared whole when full (old
//! dates fall out that way); keys and secrets are zeroized when dropped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::SystemTime;

use zeroize::Zeroizing;

use super::SecretKey;

/// A derived signing key.
pub type SigningKey = Arc<Zeroizing<Vec<u8>>>;

/// Entries kept before the cache is cleared.
const MAX_ENTRIES: usize = 1024;

/// What an entry is found by: secret and scope, each preceded by its length.
#[derive(PartialEq, Eq)]
struct EntryId(Zeroizing<String>);

impl std::hash::Hash for EntryId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

static CACHE: LazyLock<Mutex<HashMap<EntryId, SigningKey>>> = LazyLock::new(Default::default);

/// The signing key of `secret` for the scope `date` (`YYYYMMDD`, parsed by the
/// caller into `date_time`), `region` and `service`.
pub fn signing_key(secret: &SecretKey, date: &str, date_time: SystemTime, region: &str, service: &str) -> SigningKey {
    let mut id = Zeroizing::new(String::with_capacity(secret.expose().len() + date.len() + region.len() + 32));
    for part in [secret.expose(), date, region, service] {
        let _ = write!(id, "{}:{part}", part.len());
    }
    let id = EntryId(id);
    if let Some(key) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return key.clone();
    }
    let key: SigningKey = Arc::new(Zeroizing::new(
        aws_sigv4::sign::v4::generate_signing_key(secret.expose(), date_time, region, service).as_ref().to_vec(),
    ));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    cache.insert(id, key.clone());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        let time = super::super::scope_date_time(date).unwrap();
        signing_key(&SecretKey::new(secret.into()), date, time, region, service).to_vec()
    }

    fn direct(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        let time = super::super::scope_date_time(date).unwrap();
        aws_sigv4::sign::v4::generate_signing_key(secret, time, region, service).as_ref().to_vec()
    }

    #[test]
    fn cached_keys_are_the_derived_ones_for_each_scope() {
        let expected = direct("secret-a", "20261207", "us-east-1", "s3");
        assert_eq!(derive("secret-a", "20261207", "us-east-1", "s3"), expected);
        // Served again (now from the cache), still the same.
        assert_eq!(derive("secret-a", "20261207", "us-east-1", "s3"), expected);
        // Any part of the scope or the secret changed: that scope's own key.
        for (secret, date, region, service) in [
            ("secret-b", "20261207", "us-east-1", "s3"),
            ("secret-a", "20261208", "us-east-1", "s3"),
            ("secret-a", "20261207", "eu-west-1", "s3"),
            ("secret-a", "20261207", "us-east-1", "iam"),
            // Concatenates like the first entry: still told apart.
            ("secret-a", "20261207", "us-east-1s", "3"),
        ] {
            let key = derive(secret, date, region, service);
            assert_eq!(key, direct(secret, date, region, service), "{secret} {date} {region} {service}");
            assert_ne!(key, expected);
        }
    }

    #[test]
    fn a_full_cache_starts_over_and_keeps_answering() {
        let time = super::super::scope_date_time("20261207").unwrap();
        for i in 0..MAX_ENTRIES + 10 {
            let secret = format!("secret-{i}");
            let key = signing_key(&SecretKey::new(secret.clone()), "20261207", time, "us-east-1", "s3");
            let direct = aws_sigv4::sign::v4::generate_signing_key(&secret, time, "us-east-1", "s3");
            assert_eq!(key.as_slice(), direct.as_ref());
        }
        assert!(CACHE.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
