//! Object versions (S3 bucket versioning).
//!
//! The current version of a key lives in `CF_OBJECTS` (so listing current
//! objects stays one seek per page); older versions and delete markers live
//! in `CF_VERSIONS` under `object key ‖ !seq` (newest first per key). A
//! current delete marker is the newest entry in `CF_VERSIONS` with no
//! `CF_OBJECTS` entry. Moving a record between the two keeps its data
//! referenced; removing a version frees its chunks.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{blocking, free_chunk_ops, get_bucket_rec, get_object_rec, now_ms, Engine};
use crate::error::{EngineError, Result};
use crate::keys::{self, CF_OBJECTS, CF_VERSIONS};
use crate::meta::{cf, db_err, Op};
use crate::records::{ObjectRecord, VersionTag};
use crate::types::{Deleted, ObjectInfo, VersionEntry, VersionListRequest, VersionPage, Versioning};

pub const NULL_VERSION: &str = "null";

static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A new version sequence: milliseconds << 20, strictly increasing in this process.
fn next_seq() -> u64 {
    let floor = now_ms() << 20;
    let mut prev = LAST_SEQ.load(Ordering::Relaxed);
    loop {
        let next = floor.max(prev + 1);
        match LAST_SEQ.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// The version a write under `versioning` creates (`None` when unversioned).
pub fn new_version(versioning: Versioning, delete_marker: bool) -> Option<VersionTag> {
    let seq = next_seq();
    match versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => {
            let mut r = [0u8; 4];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut r);
            Some(VersionTag { seq, id: format!("{seq:016x}{}", hex_lower(&r)), delete_marker })
        }
        Versioning::Suspended => Some(VersionTag { seq, id: NULL_VERSION.to_string(), delete_marker }),
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The version a record is (a record from before versioning is the null version).
fn tag_of(rec: &ObjectRecord) -> VersionTag {
    rec.version.clone().unwrap_or(VersionTag {
        seq: rec.last_modified_ms << 20,
        id: NULL_VERSION.to_string(),
        delete_marker: false,
    })
}

fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    let mut k = keys::object_key(bucket, key);
    k.extend_from_slice(&(!seq).to_be_bytes());
    k
}

/// (bucket, key) of a `CF_VERSIONS` key.
fn decode_version_key(k: &[u8]) -> Result<(String, String)> {
    let cut = k.len().checked_sub(8).ok_or_else(|| EngineError::Corrupt { what: "version key".into() })?;
    keys::decode_object_key(&k[..cut])
}

/// Every stored older version of a key (newest first), with its `CF_VERSIONS` key.
fn versions_of(db: &rocksdb::DB, bucket: &str, key: &str) -> Result<Vec<(Vec<u8>, ObjectRecord)>> {
    let prefix = keys::object_key(bucket, key);
    let mut it = db.raw_iterator_cf(cf(db, CF_VERSIONS)?);
    it.seek(&prefix);
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 {
            break;
        }
        out.push((k.to_vec(), ObjectRecord::decode(v)?));
        it.next();
    }
    it.status().map_err(|e| db_err("read versions", e))?;
    Ok(out)
}

fn move_to_versions(bucket: &str, key: &str, mut rec: ObjectRecord, ops: &mut Vec<Op>) {
    let tag = tag_of(&rec);
    rec.version = Some(tag.clone());
    ops.push(Op::Put(CF_VERSIONS, version_key(bucket, key, tag.seq), rec.encode()));
}

fn free_record(rec: &ObjectRecord, ops: &mut Vec<Op>) {
    for c in &rec.chunks {
        free_chunk_ops(c, ops);
    }
}

/// The ops that make `new` (whose `version` is already set) the newest
/// version of the key, given the current record, under `versioning`.
pub(crate) fn place_new(
    db: &rocksdb::DB,
    bucket: &str,
    key: &str,
    current: Option<ObjectRecord>,
    new: &ObjectRecord,
    versioning: Versioning,
    ops: &mut Vec<Op>,
) -> Result<()> {
    match versioning {
        Versioning::Unversioned => {
            if let Some(old) = &current {
                free_record(old, ops);
            }
        }
        Versioning::Enabled => {
            if let Some(old) = current {
                move_to_versions(bucket, key, old, ops);
            }
        }
        Versioning::Suspended => {
            if let Some(old) = current {
                if tag_of(&old).id == NULL_VERSION {
                    free_record(&old, ops);
                } else {
                    move_to_versions(bucket, key, old, ops);
                }
            }
            // The null version is replaced wherever it is.
            for (k, rec) in versions_of(db, bucket, key)? {
                if tag_of(&rec).id == NULL_VERSION {
                    ops.push(Op::Delete(CF_VERSIONS, k));
                    free_record(&rec, ops);
                }
            }
        }
    }
    match &new.version {
        Some(tag) if tag.delete_marker => {
            ops.push(Op::Delete(CF_OBJECTS, keys::object_key(bucket, key)));
            ops.push(Op::Put(CF_VERSIONS, version_key(bucket, key, tag.seq), new.encode()));
        }
        _ => ops.push(Op::Put(CF_OBJECTS, keys::object_key(bucket, key), new.encode())),
    }
    Ok(())
}

enum Location {
    Current,
    Older(Vec<u8>),
}

/// Finds a version of a key by id.
fn find(db: &rocksdb::DB, bucket: &str, key: &str, version_id: &str) -> Result<Option<(Location, ObjectRecord)>> {
    if let Some(cur) = get_object_rec(db, bucket, key)? {
        if tag_of(&cur).id == version_id {
            return Ok(Some((Location::Current, cur)));
        }
    }
    if version_id != NULL_VERSION {
        let Some(seq) = version_id.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()) else { return Ok(None) };
        let k = version_key(bucket, key, seq);
        return match db.get_cf(cf(db, CF_VERSIONS)?, &k).map_err(|e| db_err("read version", e))? {
            Some(v) => {
                let rec = ObjectRecord::decode(&v)?;
                Ok((tag_of(&rec).id == version_id).then_some((Location::Older(k), rec)))
            }
            None => Ok(None),
        };
    }
    Ok(versions_of(db, bucket, key)?
        .into_iter()
        .find(|(_, r)| tag_of(r).id == NULL_VERSION)
        .map(|(k, r)| (Location::Older(k), r)))
}

/// The record of `version_id` (or the current object); NoSuchKey / NoSuchVersion otherwise.
pub(crate) fn require_version(
    db: &rocksdb::DB,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectRecord> {
    match version_id {
        None => crate::engine::require_object(db, bucket, key),
        Some(id) => match find(db, bucket, key, id)? {
            Some((_, rec)) => Ok(rec),
            None => {
                get_bucket_rec(db, bucket)?;
                Err(EngineError::NoSuchVersion { bucket: bucket.into(), key: key.into(), version_id: id.into() })
            }
        },
    }
}

/// When the newest older version is an object (not a marker), it becomes current.
fn promote(db: &rocksdb::DB, bucket: &str, key: &str, removed: Option<&[u8]>, ops: &mut Vec<Op>) -> Result<()> {
    let next = versions_of(db, bucket, key)?.into_iter().find(|(k, _)| Some(k.as_slice()) != removed);
    if let Some((k, rec)) = next {
        if !tag_of(&rec).delete_marker {
            ops.push(Op::Delete(CF_VERSIONS, k));
            ops.push(Op::Put(CF_OBJECTS, keys::object_key(bucket, key), rec.encode()));
        }
    }
    Ok(())
}

impl Engine {
    /// DeleteObject without a version id: removes the object (unversioned) or
    /// adds a delete marker (versioning enabled or suspended).
    pub async fn delete_object_versioned(&self, bucket: &str, key: &str, versioning: Versioning) -> Result<Deleted> {
        if versioning == Versioning::Unversioned {
            let out = self.delete_object(bucket, key).await?;
            return Ok(Deleted { version_id: out.and_then(|i| i.version_id), delete_marker: false });
        }
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let out = blocking(move || {
            inner.commit(|db| {
                get_bucket_rec(db, &bucket)?;
                let current = get_object_rec(db, &bucket, &key)?;
                let tag = new_version(versioning, true);
                let marker = ObjectRecord {
                    size_bytes: 0,
                    etag: String::new(),
                    last_modified_ms: now_ms(),
                    attrs: Vec::new(),
                    part_sizes: Vec::new(),
                    chunks: Vec::new(),
                    version: tag.clone(),
                };
                let mut ops = Vec::new();
                place_new(db, &bucket, &key, current, &marker, versioning, &mut ops)?;
                Ok((ops, Deleted { version_id: tag.map(|t| t.id), delete_marker: true }))
            })
        })
        .await?;
        self.inner.gc_notify.notify_one();
        Ok(out)
    }

    /// DeleteObject with a version id: removes that version for good; a
    /// version that does not exist is not an error (`None`).
    pub async fn delete_version(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<Deleted>> {
        let inner = self.inner.clone();
        let (bucket, key, version_id) = (bucket.to_string(), key.to_string(), version_id.to_string());
        let out = blocking(move || {
            inner.commit(|db| {
                get_bucket_rec(db, &bucket)?;
                let Some((loc, rec)) = find(db, &bucket, &key, &version_id)? else { return Ok((Vec::new(), None)) };
                let mut ops = Vec::new();
                free_record(&rec, &mut ops);
                match loc {
                    Location::Current => {
                        ops.push(Op::Delete(CF_OBJECTS, keys::object_key(&bucket, &key)));
                        promote(db, &bucket, &key, None, &mut ops)?;
                    }
                    Location::Older(k) => {
                        ops.push(Op::Delete(CF_VERSIONS, k.clone()));
                        // Removing a current delete marker uncovers the version below it.
                        let newest = versions_of(db, &bucket, &key)?.first().map(|(nk, _)| nk.clone());
                        if get_object_rec(db, &bucket, &key)?.is_none() && newest.as_deref() == Some(k.as_slice()) {
                            promote(db, &bucket, &key, Some(&k), &mut ops)?;
                        }
                    }
                }
                let tag = tag_of(&rec);
                Ok((ops, Some(Deleted { version_id: Some(tag.id), delete_marker: tag.delete_marker })))
            })
        })
        .await?;
        self.inner.gc_notify.notify_one();
        Ok(out)
    }

    /// The head of one version (a delete marker has `delete_marker` set).
    pub async fn head_version(&self, bucket: &str, key: &str, version_id: &str) -> Result<ObjectInfo> {
        let inner = self.inner.clone();
        let (bucket, key, version_id) = (bucket.to_string(), key.to_string(), version_id.to_string());
        blocking(move || {
            inner
                .meta
                .read(&inner.zones, |db| Ok(require_version(db, &bucket, &key, Some(&version_id))?.info(&bucket, &key)))
        })
        .await
    }

    /// The delete marker that hides a key, when its newest version is one.
    pub async fn current_delete_marker(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>> {
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                if get_object_rec(db, &bucket, &key)?.is_some() {
                    return Ok(None);
                }
                let newest = versions_of(db, &bucket, &key)?.into_iter().next();
                Ok(newest.filter(|(_, r)| tag_of(r).delete_marker).map(|(_, r)| r.info(&bucket, &key)))
            })
        })
        .await
    }

    /// Replaces the attributes of one version if they still equal `expected`.
    pub async fn replace_version_attrs(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        expected: Vec<u8>,
        attrs: Vec<u8>,
    ) -> Result<bool> {
        let inner = self.inner.clone();
        let (bucket, key, version_id) = (bucket.to_string(), key.to_string(), version_id.to_string());
        blocking(move || {
            inner.commit(|db| {
                let Some((loc, mut rec)) = find(db, &bucket, &key, &version_id)? else {
                    return Err(EngineError::NoSuchVersion {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        version_id: version_id.clone(),
                    });
                };
                if rec.attrs != expected {
                    return Ok((Vec::new(), false));
                }
                rec.attrs = attrs.clone();
                let k = match loc {
                    Location::Current => (CF_OBJECTS, keys::object_key(&bucket, &key)),
                    Location::Older(k) => (CF_VERSIONS, k),
                };
                Ok((vec![Op::Put(k.0, k.1, rec.encode())], true))
            })
        })
        .await
    }

    /// ListObjectVersions: by key, newest first; delete markers included.
    pub async fn list_versions(&self, bucket: &str, req: &VersionListRequest) -> Result<VersionPage> {
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        let req = req.clone();
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                get_bucket_rec(db, &bucket)?;
                list_versions(db, &bucket, &req)
            })
        })
        .await
    }
}

fn list_versions(db: &rocksdb::DB, bucket: &str, req: &VersionListRequest) -> Result<VersionPage> {
    let range_start = keys::object_prefix(bucket, &req.prefix);
    let mut seek = range_start.clone();
    if let Some(m) = &req.key_marker {
        let at = keys::object_key(bucket, m);
        if at > seek {
            seek = at;
        }
    }
    let mut objects = db.raw_iterator_cf(cf(db, CF_OBJECTS)?);
    let mut versions = db.raw_iterator_cf(cf(db, CF_VERSIONS)?);
    objects.seek(&seek);
    versions.seek(&seek);
    let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut page = VersionPage::default();
    let mut count = 0usize;
    // Past the key marker's versions up to (and including) the version id marker.
    let mut skipping_marker = req.key_marker.clone();
    'keys: loop {
        let name_o = match objects.key() {
            Some(k) if k.starts_with(&range_start) => Some(keys::decode_object_key(k)?.1),
            _ => None,
        };
        let name_v = match versions.key() {
            Some(k) if k.starts_with(&range_start) => Some(decode_version_key(k)?.1),
            _ => None,
        };
        let name = match (name_o.as_ref(), name_v.as_ref()) {
            (None, None) => break,
            (Some(a), None) => a.clone(),
            (None, Some(b)) => b.clone(),
            (Some(a), Some(b)) => a.min(b).clone(),
        };
        if let Some(cp) = crate::list::common_prefix(&name, &req.prefix, delimiter) {
            let past = crate::list::skip_past(bucket, cp);
            let after_marker = req.key_marker.as_deref().is_none_or(|m| cp > m);
            if after_marker {
                if count >= req.max_keys {
                    page.is_truncated = true;
                    break;
                }
                page.common_prefixes.push(cp.to_string());
                page.next_key_marker = Some(cp.to_string());
                page.next_version_id_marker = None;
                count += 1;
            }
            objects.seek(&past);
            versions.seek(&past);
            continue;
        }
        let mut entries: Vec<ObjectRecord> = Vec::new();
        if name_o.as_ref() == Some(&name) {
            entries.push(ObjectRecord::decode(objects.value().unwrap_or_default())?);
            objects.next();
        }
        let mut first = true;
        let mut emit = |rec: ObjectRecord, page: &mut VersionPage, count: &mut usize| -> Option<()> {
            let is_latest = std::mem::replace(&mut first, false);
            let id = tag_of(&rec).id;
            if let Some(m) = &skipping_marker {
                if name.as_str() < m.as_str() || (name == *m && req.version_id_marker.is_none()) {
                    return Some(());
                }
                if name == *m {
                    if req.version_id_marker.as_deref() == Some(id.as_str()) {
                        skipping_marker = None;
                    }
                    return Some(());
                }
                skipping_marker = None;
            }
            if *count >= req.max_keys {
                page.is_truncated = true;
                return None;
            }
            page.next_key_marker = Some(name.clone());
            page.next_version_id_marker = Some(id);
            page.entries.push(VersionEntry { info: rec.info(bucket, &name), is_latest });
            *count += 1;
            Some(())
        };
        for rec in entries {
            if emit(rec, &mut page, &mut count).is_none() {
                break 'keys;
            }
        }
        while let Some(k) = versions.key() {
            if !k.starts_with(&range_start) || decode_version_key(k)?.1 != name {
                break;
            }
            let rec = ObjectRecord::decode(versions.value().unwrap_or_default())?;
            if emit(rec, &mut page, &mut count).is_none() {
                break 'keys;
            }
            versions.next();
        }
    }
    objects.status().map_err(|e| db_err("list versions", e))?;
    versions.status().map_err(|e| db_err("list versions", e))?;
    if !page.is_truncated {
        page.next_key_marker = None;
        page.next_version_id_marker = None;
    }
    Ok(page)
}
