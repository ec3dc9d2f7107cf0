//! The system namespace: small replicated key-value entries for server state
//! that is neither bucket nor object (identities now, other state later).
//!
//! Every write goes through the replicated commit path (`Meta::commit`: one
//! `WriteBatch` with a synced WAL on every fresh zone replica, acknowledged at
//! the write quorum), so an entry survives a restart, the loss of one zone
//! directory, and is copied by a replica rebuild like any other metadata.
//! Values are opaque to the engine; on disk each starts with the format
//! version byte.

use crate::engine::{blocking, Engine};
use crate::error::{EngineError, Result};
use crate::keys::{self, CF_SYSTEM};
use crate::meta::{cf, db_err, Op};
use crate::records::FORMAT_V1;

/// Longest accepted system key name, in bytes.
pub const MAX_SYSTEM_KEY_BYTES: usize = 1024;

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_SYSTEM_KEY_BYTES || name.contains('\0') {
        return Err(EngineError::Metadata {
            op: "system key",
            message: format!("a system key name of {} bytes is empty, too long or contains NUL", name.len()),
        });
    }
    Ok(())
}

fn encode_value(value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 1);
    v.push(FORMAT_V1);
    v.extend_from_slice(value);
    v
}

fn decode_value(v: &[u8]) -> Result<Vec<u8>> {
    match v.split_first() {
        Some((&FORMAT_V1, rest)) => Ok(rest.to_vec()),
        _ => Err(EngineError::Corrupt { what: "system value version".into() }),
    }
}

impl Engine {
    /// The value stored under `key`, if any.
    pub async fn system_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_name(key)?;
        let inner = self.inner.clone();
        let k = keys::system_key(key);
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                match db.get_cf(cf(db, CF_SYSTEM)?, &k).map_err(|e| db_err("read system entry", e))? {
                    Some(v) => Ok(Some(decode_value(&v)?)),
                    None => Ok(None),
                }
            })
        })
        .await
    }

    /// Stores `value` under `key` durably (replicated commit).
    pub async fn system_put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.system_batch(vec![(key.to_string(), value)], Vec::new()).await.map(|_| ())
    }

    /// Deletes `key`; returns whether it existed.
    pub async fn system_delete(&self, key: &str) -> Result<bool> {
        self.system_batch(Vec::new(), vec![key.to_string()]).await.map(|existed| existed > 0)
    }

    /// Applies puts and deletes as one atomic commit; returns how many of the
    /// deleted keys existed. A key both put and deleted ends up deleted.
    pub async fn system_batch(&self, puts: Vec<(String, Vec<u8>)>, deletes: Vec<String>) -> Result<usize> {
        for name in puts.iter().map(|(k, _)| k).chain(deletes.iter()) {
            check_name(name)?;
        }
        let inner = self.inner.clone();
        blocking(move || {
            inner.commit(|db| {
                let cf_system = cf(db, CF_SYSTEM)?;
                let mut existed = 0;
                for name in &deletes {
                    let k = keys::system_key(name);
                    if db.get_cf(cf_system, &k).map_err(|e| db_err("read system entry", e))?.is_some() {
                        existed += 1;
                    }
                }
                let mut ops = Vec::with_capacity(puts.len() + deletes.len());
                for (name, value) in &puts {
                    ops.push(Op::Put(CF_SYSTEM, keys::system_key(name), encode_value(value)));
                }
                for name in &deletes {
                    ops.push(Op::Delete(CF_SYSTEM, keys::system_key(name)));
                }
                Ok((ops, existed))
            })
        })
        .await
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub async fn system_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let inner = self.inner.clone();
        let start = keys::system_key(prefix);
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                let mut it = db.raw_iterator_cf(cf(db, CF_SYSTEM)?);
                it.seek(&start);
                let mut out = Vec::new();
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&start) {
                        break;
                    }
                    out.push((keys::decode_system_key(k)?, decode_value(v)?));
                    it.next();
                }
                it.status().map_err(|e| db_err("list system entries", e))?;
                Ok(out)
            })
        })
        .await
    }
}
