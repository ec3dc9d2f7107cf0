//! Multipart upload primitives.
//!
//! Every part attempt writes under its own data id; committing a part frees
//! the previous attempt of the same number in the same metadata batch.
//! Part commits, completion and abort all run under the metadata commit lock,
//! so they are serialised per upload (and checked against its existence).
//! Completion assembles the object from the parts' chunks without copying.

use crate::engine::{blocking, free_chunk_ops, get_bucket_rec, get_object_rec, now_ms, Engine};
use crate::error::{EngineError, Result};
use crate::keys::{self, CF_PARTS, CF_UPLOADS};
use crate::meta::{cf, db_err, Op};
use crate::records::{ObjectRecord, PartRecord, UploadRecord};
use crate::types::{CommitCondition, ObjectInfo, PartInfo, UploadInfo, Versioning};
use crate::writer::{check_condition, etag_eq, PartWriter};

fn get_upload_rec(db: &rocksdb::DB, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord> {
    match db
        .get_cf(cf(db, CF_UPLOADS)?, keys::upload_key(bucket, key, upload_id))
        .map_err(|e| db_err("read upload", e))?
    {
        Some(v) => UploadRecord::decode(&v),
        None => {
            get_bucket_rec(db, bucket)?;
            Err(EngineError::NoSuchUpload { upload_id: upload_id.to_string() })
        }
    }
}

/// Every part of an upload, in part-number order.
fn all_parts(db: &rocksdb::DB, upload_id: &str) -> Result<Vec<(u32, PartRecord)>> {
    let prefix = keys::parts_prefix(upload_id);
    let mut it = db.raw_iterator_cf(cf(db, CF_PARTS)?);
    it.seek(&prefix);
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if !k.starts_with(&prefix) {
            break;
        }
        let (_, n) = keys::decode_part_key(k)?;
        out.push((n, PartRecord::decode(v)?));
        it.next();
    }
    it.status().map_err(|e| db_err("list parts", e))?;
    Ok(out)
}

fn part_info(n: u32, r: &PartRecord) -> PartInfo {
    PartInfo {
        part_number: n,
        size_bytes: r.size_bytes,
        etag: r.etag.clone(),
        last_modified_ms: r.last_modified_ms,
        attrs: r.attrs.clone(),
    }
}

/// The ops that abort every upload of `bucket` (records, parts, part data).
pub(crate) fn abort_all_ops(db: &rocksdb::DB, bucket: &str, ops: &mut Vec<Op>) -> Result<()> {
    let prefix = keys::bucket_prefix(bucket);
    let mut it = db.raw_iterator_cf(cf(db, CF_UPLOADS)?);
    it.seek(&prefix);
    while let Some(k) = it.key() {
        if !k.starts_with(&prefix) {
            break;
        }
        let (_, _, upload_id) = keys::decode_upload_key(k)?;
        abort_ops(db, k.to_vec(), &upload_id, ops)?;
        it.next();
    }
    it.status().map_err(|e| db_err("list uploads", e))
}

/// The ops that abort one upload: its record, its parts and their data.
fn abort_ops(db: &rocksdb::DB, upload_key: Vec<u8>, upload_id: &str, ops: &mut Vec<Op>) -> Result<()> {
    ops.push(Op::Delete(CF_UPLOADS, upload_key));
    for (n, r) in all_parts(db, upload_id)? {
        ops.push(Op::Delete(CF_PARTS, keys::part_key(upload_id, n)));
        free_chunk_ops(&r.chunk, ops);
    }
    Ok(())
}

impl Engine {
    pub async fn create_upload(&self, bucket: &str, key: &str, attrs: Vec<u8>) -> Result<UploadInfo> {
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            inner.commit(|db| {
                get_bucket_rec(db, &bucket)?;
                let upload_id = uuid::Uuid::new_v4().simple().to_string();
                let rec = UploadRecord { initiated_ms: now_ms(), attrs: attrs.clone() };
                let ops = vec![Op::Put(CF_UPLOADS, keys::upload_key(&bucket, &key, &upload_id), rec.encode())];
                Ok((
                    ops,
                    UploadInfo {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        upload_id,
                        initiated_ms: rec.initiated_ms,
                        attrs: rec.attrs,
                    },
                ))
            })
        })
        .await
    }

    pub async fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadInfo> {
        let inner = self.inner.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                let rec = get_upload_rec(db, &bucket, &key, &upload_id)?;
                Ok(UploadInfo {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    upload_id: upload_id.clone(),
                    initiated_ms: rec.initiated_ms,
                    attrs: rec.attrs,
                })
            })
        })
        .await
    }

    /// Replaces an upload's attributes if they still equal `expected` (a
    /// compare-and-swap, as `replace_object_attrs`). Returns whether they were replaced.
    pub async fn replace_upload_attrs(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        expected: Vec<u8>,
        attrs: Vec<u8>,
    ) -> Result<bool> {
        let inner = self.inner.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        blocking(move || {
            inner.commit(|db| {
                let mut rec = get_upload_rec(db, &bucket, &key, &upload_id)?;
                if rec.attrs != expected {
                    return Ok((Vec::new(), false));
                }
                rec.attrs = attrs.clone();
                Ok((vec![Op::Put(CF_UPLOADS, keys::upload_key(&bucket, &key, &upload_id), rec.encode())], true))
            })
        })
        .await
    }

    /// A writer for one part attempt. The upload is checked now and again at commit.
    pub async fn part_writer(&self, bucket: &str, key: &str, upload_id: &str, part_number: u32) -> Result<PartWriter> {
        self.get_upload(bucket, key, upload_id).await?;
        PartWriter::new(self.inner.clone(), bucket.to_string(), key.to_string(), upload_id.to_string(), part_number)
    }

    /// Parts with numbers greater than `part_number_marker`, at most `max_parts`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: usize,
    ) -> Result<(Vec<PartInfo>, bool)> {
        let inner = self.inner.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                get_upload_rec(db, &bucket, &key, &upload_id)?;
                let prefix = keys::parts_prefix(&upload_id);
                let mut it = db.raw_iterator_cf(cf(db, CF_PARTS)?);
                match part_number_marker.checked_add(1) {
                    Some(first) => it.seek(keys::part_key(&upload_id, first)),
                    None => return Ok((Vec::new(), false)),
                }
                let mut out = Vec::new();
                let mut truncated = false;
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    if out.len() >= max_parts {
                        truncated = true;
                        break;
                    }
                    let (_, n) = keys::decode_part_key(k)?;
                    out.push(part_info(n, &PartRecord::decode(v)?));
                    it.next();
                }
                it.status().map_err(|e| db_err("list parts", e))?;
                Ok((out, truncated))
            })
        })
        .await
    }

    /// Uploads in progress under `prefix`, ordered by key then upload id, after the markers.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<(Vec<UploadInfo>, bool)> {
        let inner = self.inner.clone();
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        let key_marker = key_marker.map(str::to_string);
        let upload_id_marker = upload_id_marker.map(str::to_string);
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                get_bucket_rec(db, &bucket)?;
                let range_start = keys::object_prefix(&bucket, &prefix);
                let mut seek = range_start.clone();
                let mut skip_equal = None;
                if let Some(km) = &key_marker {
                    let pos = match &upload_id_marker {
                        Some(uim) => {
                            let k = keys::upload_key(&bucket, km, uim);
                            skip_equal = Some(k.clone());
                            k
                        }
                        // Every upload of key_marker starts with its object key: skip them all.
                        None => keys::prefix_successor(&keys::object_key(&bucket, km)).unwrap_or_default(),
                    };
                    if pos > seek {
                        seek = pos;
                    }
                }
                let mut it = db.raw_iterator_cf(cf(db, CF_UPLOADS)?);
                it.seek(&seek);
                let mut out = Vec::new();
                let mut truncated = false;
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&range_start) {
                        break;
                    }
                    if skip_equal.as_deref() == Some(k) {
                        it.next();
                        continue;
                    }
                    if out.len() >= max_uploads {
                        truncated = true;
                        break;
                    }
                    let (b, key, upload_id) = keys::decode_upload_key(k)?;
                    let rec = UploadRecord::decode(v)?;
                    out.push(UploadInfo {
                        bucket: b,
                        key,
                        upload_id,
                        initiated_ms: rec.initiated_ms,
                        attrs: rec.attrs,
                    });
                    it.next();
                }
                it.status().map_err(|e| db_err("list uploads", e))?;
                Ok((out, truncated))
            })
        })
        .await
    }

    /// Completes an upload from the listed parts (see the crate docs for the checks).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        min_part_size_bytes: u64,
        etag: String,
        attrs: Vec<u8>,
        cond: CommitCondition,
    ) -> Result<ObjectInfo> {
        self.complete_upload_versioned(
            bucket,
            key,
            upload_id,
            parts,
            min_part_size_bytes,
            etag,
            attrs,
            cond,
            (Versioning::Unversioned, None),
        )
        .await
    }

    /// CompleteMultipartUpload in a bucket with `version.0`; `version.1` is
    /// the version the object becomes (from [`crate::new_version`]), chosen
    /// by the caller so it can be announced before the commit ends.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload_versioned(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        min_part_size_bytes: u64,
        etag: String,
        attrs: Vec<u8>,
        cond: CommitCondition,
        version: (Versioning, Option<crate::records::VersionTag>),
    ) -> Result<ObjectInfo> {
        let inner = self.inner.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let listed = parts.to_vec();
        let out = blocking(move || {
            inner.commit(|db| {
                get_upload_rec(db, &bucket, &key, &upload_id)?;
                let stored = all_parts(db, &upload_id)?;
                if listed.is_empty() {
                    return Err(EngineError::InvalidPart { part_number: 0 });
                }
                let mut prev = None;
                let mut chosen = Vec::with_capacity(listed.len());
                for (idx, (n, e)) in listed.iter().enumerate() {
                    if prev.is_some_and(|p| p >= *n) {
                        return Err(EngineError::InvalidPartOrder);
                    }
                    prev = Some(*n);
                    let rec = stored
                        .binary_search_by_key(n, |(pn, _)| *pn)
                        .ok()
                        .and_then(|i| stored.get(i))
                        .map(|(_, r)| r)
                        .ok_or(EngineError::InvalidPart { part_number: *n })?;
                    if !etag_eq(e, &rec.etag) {
                        return Err(EngineError::InvalidPart { part_number: *n });
                    }
                    if idx + 1 < listed.len() && rec.size_bytes < min_part_size_bytes {
                        return Err(EngineError::EntityTooSmall { part_number: *n });
                    }
                    chosen.push(rec.clone());
                }
                let current = get_object_rec(db, &bucket, &key)?;
                check_condition(&cond, current.as_ref(), &bucket, &key)?;
                let mut ops = Vec::new();
                // Parts not listed are freed; listed ones now belong to the object.
                for (n, r) in &stored {
                    ops.push(Op::Delete(CF_PARTS, keys::part_key(&upload_id, *n)));
                    if listed.binary_search_by_key(n, |(ln, _)| *ln).is_err() {
                        free_chunk_ops(&r.chunk, &mut ops);
                    }
                }
                ops.push(Op::Delete(CF_UPLOADS, keys::upload_key(&bucket, &key, &upload_id)));
                let rec = ObjectRecord {
                    size_bytes: chosen.iter().map(|p| p.size_bytes).sum(),
                    etag: etag.clone(),
                    last_modified_ms: now_ms(),
                    attrs: attrs.clone(),
                    part_sizes: chosen.iter().map(|p| p.size_bytes).collect(),
                    chunks: chosen.iter().map(|p| p.chunk).collect(),
                    version: version.1.clone(),
                };
                crate::versions::place_new(db, &bucket, &key, current, &rec, version.0, &mut ops)?;
                Ok((ops, rec.info(&bucket, &key)))
            })
        })
        .await?;
        self.inner.gc_notify.notify_one();
        Ok(out)
    }

    /// Aborts an upload and frees every part.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let inner = self.inner.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        blocking(move || {
            inner.commit(|db| {
                get_upload_rec(db, &bucket, &key, &upload_id)?;
                let mut ops = Vec::new();
                abort_ops(db, keys::upload_key(&bucket, &key, &upload_id), &upload_id, &mut ops)?;
                Ok((ops, ()))
            })
        })
        .await?;
        self.inner.gc_notify.notify_one();
        Ok(())
    }
}
