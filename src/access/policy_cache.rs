//! Parsed policies, shared across requests.
//!
//! Bucket and identity policies are stored as the JSON text the client sent
//! and were validated when they were put; parsing them again on every request
//! would cost more than the decision itself. The cache maps the SHA-256 of
//! (kind, bucket, text) to the parsed document, so a changed policy is simply
//! a different entry; it is bounded and cleared whole when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use policy::{PolicyDocument, PolicyError};
use sha2::{Digest, Sha256};

/// Entries kept before the cache is cleared.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<[u8; 32], Arc<PolicyDocument>>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache").finish_non_exhaustive()
    }
}

fn cache_key(kind: &str, bucket: &str, text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [kind, bucket, text] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

impl PolicyCache {
    fn get_or_parse(
        &self,
        key: [u8; 32],
        parse: impl FnOnce() -> Result<PolicyDocument, PolicyError>,
    ) -> Result<Arc<PolicyDocument>, PolicyError> {
        if let Some(doc) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(doc.clone());
        }
        let doc = Arc::new(parse()?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, doc.clone());
        Ok(doc)
    }

    /// The parsed bucket policy of `bucket`.
    pub fn bucket_policy(&self, bucket: &str, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        self.get_or_parse(cache_key("bucket", bucket, text), || PolicyDocument::parse_bucket_policy(text, bucket))
    }

    /// A policy that denies everything (stands in for one that cannot be read).
    pub fn deny_all(&self) -> Arc<PolicyDocument> {
        const DENY_ALL: &str =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        self.identity_policy(DENY_ALL).expect("invariant: the deny-all policy parses")
    }

    /// A parsed identity (user or group) policy.
    pub fn identity_policy(&self, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        self.get_or_parse(cache_key("identity", "", text), || PolicyDocument::parse_identity_policy(text))
    }
}
