//! Streaming writers for objects and parts.
//!
//! A writer buffers at most `max(stripe, inline threshold)` bytes beyond the
//! caller's current piece, plus the one stripe being written; past the
//! inline threshold it holds a share of the engine-wide write budget
//! (`budget`), waiting for one if all are taken. Data smaller
//! than the inline threshold is stored in the metadata store; anything larger
//! is cut into stripes, each encoded and appended to k+m temp shard files as
//! it fills, on the blocking pool while the next stripe arrives. Commit =
//! fsync + rename + directory fsync of the shard files, then one replicated
//! metadata commit.
//! Dropping a writer without committing removes its temp files.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::budget::Share;
use crate::engine::{blocking, free_chunk_ops, get_bucket_rec, get_object_rec, joined, now_ms, ActiveGuard, Inner};
use crate::erasure::Codec;
use crate::error::{EngineError, Result};
use crate::keys::{self, CF_INLINE, CF_PARTS, CF_REFS, CF_UPLOADS};
use crate::meta::{cf, db_err, Op};
use crate::records::{encode_chunk, encode_inline, Chunk, ChunkLayout, DataId, ObjectRecord, PartRecord};
use crate::shard_file::{remove_all, Geometry, ShardSetWriter};
use crate::types::{CommitCondition, ObjectInfo, PartInfo, Versioning};
use crate::zones::place;

/// The data half shared by object and part writers.
pub(crate) struct DataWriter {
    inner: Arc<Inner>,
    id: DataId,
    buf: BytesMut,
    written: u64,
    /// Data bytes per stripe: the configured size, or a multiple of k × unit (`align_blocks`).
    stripe_size: usize,
    shards: Option<ShardSetWriter>,
    /// This writer's share of the write buffers, taken once it outgrows the
    /// inline threshold; the stripe in flight carries it while it runs.
    share: Option<Share>,
    /// The stripe being encoded and written; it hands the shard files and the share back.
    in_flight: Option<tokio::task::JoinHandle<Result<(ShardSetWriter, Share)>>>,
    codec: Arc<Codec>,
    poisoned: bool,
    // Declared last: dropped after `shards`, whose drop removes the temp files.
    _active: ActiveGuard,
}

/// Result of finishing the data: the chunk to commit, and the inline bytes if any.
pub(crate) struct FinishedData {
    pub chunk: Chunk,
    pub inline: Option<Vec<u8>>,
    pub active: ActiveGuard,
}

impl DataWriter {
    fn new(inner: Arc<Inner>) -> Result<DataWriter> {
        let id = DataId::new_random();
        let codec = Arc::new(Codec::new(inner.config.data_shards, inner.config.parity_shards)?);
        let active = ActiveGuard::new(&inner, id);
        let stripe_size = inner.config.stripe_size_bytes;
        Ok(DataWriter {
            inner,
            id,
            buf: BytesMut::new(),
            written: 0,
            stripe_size,
            shards: None,
            share: None,
            in_flight: None,
            codec,
            poisoned: false,
            _active: active,
        })
    }

    fn stripe(&self) -> usize {
        self.stripe_size
    }

    /// Rounds the stripe up so that every data block of a full stripe is a
    /// multiple of `unit` bytes; a reader's pieces (one data block each) then
    /// start and end on `unit` boundaries from the chunk's start. Only takes
    /// effect before the first byte is written.
    fn align_blocks(&mut self, unit: usize) {
        let step = unit.max(1).saturating_mul(self.codec.data_shards());
        let aligned = self.inner.config.stripe_size_bytes.div_ceil(step).saturating_mul(step);
        if self.total() == 0 && aligned <= u32::MAX as usize {
            self.stripe_size = aligned;
        }
    }

    fn total(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn is_inline(&self) -> bool {
        self.shards.is_none()
            && self.in_flight.is_none()
            && (self.total() < self.inner.config.inline_threshold_bytes as u64 || self.total() == 0)
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        if self.poisoned {
            return Err(EngineError::Corrupt { what: "write after a failed write".into() });
        }
        self.buf.extend_from_slice(&data);
        // Past the inline threshold, the stripe buffers are taken from the
        // budget before the buffer grows further.
        if self.share.is_none() && self.in_flight.is_none() && !self.is_inline() {
            match self.inner.write_budget.acquire().await {
                Ok(share) => self.share = Some(share),
                Err(e) => {
                    self.poisoned = true;
                    return Err(e);
                }
            }
        }
        while !self.is_inline() && self.buf.len() >= self.stripe() {
            let stripe = self.buf.split_to(self.stripe()).freeze();
            if let Err(e) = self.flush_stripe(stripe).await {
                self.poisoned = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Waits for the stripe in flight, if any, and takes its shard files back.
    async fn settle(&mut self) -> Result<()> {
        if let Some(h) = self.in_flight.take() {
            let (shards, share) = joined(h).await?;
            self.shards = Some(shards);
            self.share = Some(share);
        }
        Ok(())
    }

    /// Starts encoding and writing `stripe` once the previous one is written.
    async fn flush_stripe(&mut self, stripe: Bytes) -> Result<()> {
        self.settle().await?;
        let share = match self.share.take() {
            Some(s) => s,
            None => self.inner.write_budget.acquire().await?,
        };
        let inner = self.inner.clone();
        let codec = self.codec.clone();
        let shards = self.shards.take();
        let id = self.id;
        let stripe_size = self.stripe_size;
        let len = stripe.len() as u64;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let blocks = codec.encode(&stripe)?;
            let mut shards = match shards {
                Some(s) => s,
                None => {
                    let usable = inner.usable_zones();
                    let targets = place(codec.total_shards(), &usable)
                        .ok_or(EngineError::InsufficientZones { available: 0, needed: crate::meta::WRITE_QUORUM })?;
                    let g = Geometry {
                        k: codec.data_shards(),
                        m: codec.total_shards() - codec.data_shards(),
                        stripe_size,
                        size: 0,
                    };
                    let targets: Vec<Option<usize>> = targets.into_iter().map(Some).collect();
                    ShardSetWriter::create(&inner.zones, id, &g, &targets)?
                }
            };
            shards.append_stripe(&inner.zones, &blocks, len as usize)?;
            for z in std::mem::take(&mut shards.failed_zones) {
                inner.fail_zone(z);
            }
            let need = codec.data_shards() + 1;
            if shards.live_shards() < need.min(codec.total_shards()) || !commit_possible(&inner) {
                if shards.no_space {
                    return Err(EngineError::NoSpace { op: "write shards", path: "shards".into() });
                }
                return Err(EngineError::InsufficientZones { available: shards.live_shards(), needed: need });
            }
            Ok((shards, share))
        }));
        self.written += len;
        Ok(())
    }

    /// Writes the tail stripe and makes the shard files durable under their final names.
    async fn finish(mut self) -> Result<FinishedData> {
        if self.poisoned {
            return Err(EngineError::Corrupt { what: "commit after a failed write".into() });
        }
        let size = self.total();
        if self.is_inline() {
            let data = std::mem::take(&mut self.buf).to_vec();
            let chunk = Chunk { data_id: self.id, size_bytes: size, layout: ChunkLayout::Inline };
            let DataWriter { _active, .. } = self;
            return Ok(FinishedData { chunk, inline: Some(data), active: _active });
        }
        if !self.buf.is_empty() {
            let tail = std::mem::take(&mut self.buf).freeze();
            self.flush_stripe(tail).await?;
        }
        self.settle().await?;
        let shards =
            self.shards.take().ok_or_else(|| EngineError::Corrupt { what: "erasure writer without shards".into() })?;
        let inner = self.inner.clone();
        let codec = self.codec.clone();
        let id = self.id;
        let chunk = Chunk { data_id: self.id, size_bytes: size, layout: self.inner.erasure_layout(self.stripe_size) };
        let queued = chunk;
        blocking(move || {
            let total = codec.total_shards();
            let mut shards = shards;
            let failed = std::mem::take(&mut shards.failed_zones);
            let res = shards.finish(&inner.zones);
            for z in failed.into_iter().chain(std::mem::take(&mut shards.failed_zones)) {
                inner.fail_zone(z);
            }
            let durable = match res {
                Ok(d) => d,
                Err(e) => {
                    remove_all(&inner.zones, &id, total);
                    return Err(e);
                }
            };
            let need = (codec.data_shards() + 1).min(total);
            if durable < need || !commit_possible(&inner) {
                remove_all(&inner.zones, &id, total);
                if shards.no_space {
                    return Err(EngineError::NoSpace { op: "write shards", path: "shards".into() });
                }
                return Err(EngineError::InsufficientZones { available: durable, needed: need });
            }
            if durable < total {
                crate::engine::lock(&inner.heal_queue).insert(id, queued);
            }
            Ok(())
        })
        .await?;
        let DataWriter { _active, .. } = self;
        Ok(FinishedData { chunk, inline: None, active: _active })
    }
}

/// Whether enough zones are usable for the metadata commit to be
/// acknowledged; a write whose zones failed under it stops as soon as it is
/// not, with the error of its cause (space or I/O).
fn commit_possible(inner: &Inner) -> bool {
    inner.usable_zones().iter().filter(|u| **u).count() >= crate::meta::WRITE_QUORUM
}

/// Operations that store a finished chunk's data reference.
fn store_chunk_ops(f: &FinishedData, ops: &mut Vec<Op>) {
    match &f.inline {
        Some(data) => ops.push(Op::Put(CF_INLINE, f.chunk.data_id.0.to_vec(), encode_inline(data))),
        None => ops.push(Op::Put(CF_REFS, f.chunk.data_id.0.to_vec(), encode_chunk(&f.chunk))),
    }
}

/// Checks a commit condition against the current object.
pub(crate) fn check_condition(
    cond: &CommitCondition,
    current: Option<&ObjectRecord>,
    bucket: &str,
    key: &str,
) -> Result<()> {
    match (cond, current) {
        (CommitCondition::None, _) => Ok(()),
        (CommitCondition::IfAbsent, None) => Ok(()),
        (CommitCondition::IfAbsent, Some(_)) => Err(EngineError::PreconditionFailed),
        (CommitCondition::IfEtagMatches(_) | CommitCondition::IfExists, None) => {
            Err(EngineError::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() })
        }
        (CommitCondition::IfEtagMatches(e), Some(r)) if etag_eq(e, &r.etag) => Ok(()),
        (CommitCondition::IfEtagMatches(_), Some(_)) => Err(EngineError::PreconditionFailed),
        (CommitCondition::IfExists, Some(_)) => Ok(()),
        (CommitCondition::IfEtagDiffers(e), Some(r)) if etag_eq(e, &r.etag) => Err(EngineError::PreconditionFailed),
        (CommitCondition::IfEtagDiffers(_), _) => Ok(()),
    }
}

pub(crate) fn etag_eq(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// Commits the result of a writer, cleaning up the data if the commit was refused.
async fn commit_data<T: Send + 'static>(
    inner: &Arc<Inner>,
    data: FinishedData,
    mut build: impl FnMut(&rocksdb::DB, &FinishedData) -> Result<(Vec<Op>, T)> + Send + 'static,
) -> Result<T> {
    let inner2 = inner.clone();
    let res = blocking(move || {
        let mut refused = false;
        let r = inner2.commit(|db| {
            let r = build(db, &data);
            refused = r.is_err();
            r
        });
        if r.is_err() && refused {
            // Definitively not committed: free the shard files now.
            if let Some(g) = Geometry::of(&data.chunk) {
                remove_all(&inner2.zones, &data.chunk.data_id, g.total());
            }
        }
        drop(data.active);
        r
    })
    .await;
    inner.gc_notify.notify_one();
    res
}

/// Streams an object into the store. Dropping it without `commit` leaves nothing visible.
pub struct ObjectWriter {
    data: DataWriter,
    bucket: String,
    key: String,
    versioning: Versioning,
}

impl ObjectWriter {
    pub(crate) fn new(inner: Arc<Inner>, bucket: String, key: String) -> Result<ObjectWriter> {
        Ok(ObjectWriter { data: DataWriter::new(inner)?, bucket, key, versioning: Versioning::Unversioned })
    }

    /// How the commit treats the versions already there (default: unversioned, replace).
    pub fn with_versioning(mut self, versioning: Versioning) -> Self {
        self.versioning = versioning;
        self
    }

    /// Buffers at most one stripe; encodes and writes full stripes as they fill.
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.data.write(data).await
    }

    pub fn bytes_written(&self) -> u64 {
        self.data.total()
    }

    /// Stripes whose data blocks are multiples of `unit` bytes (see
    /// `DataWriter::align_blocks`); call before the first write.
    pub fn align_blocks(&mut self, unit: usize) {
        self.data.align_blocks(unit)
    }

    /// Makes the object visible. `cond` is checked atomically with the commit.
    pub async fn commit(self, etag: String, attrs: Vec<u8>, cond: CommitCondition) -> Result<ObjectInfo> {
        let inner = self.data.inner.clone();
        let (bucket, key, versioning) = (self.bucket, self.key, self.versioning);
        let finished = self.data.finish().await?;
        commit_data(&inner, finished, move |db, f| {
            get_bucket_rec(db, &bucket)?;
            let current = get_object_rec(db, &bucket, &key)?;
            check_condition(&cond, current.as_ref(), &bucket, &key)?;
            let rec = ObjectRecord {
                size_bytes: f.chunk.size_bytes,
                etag: etag.clone(),
                last_modified_ms: now_ms(),
                attrs: attrs.clone(),
                part_sizes: Vec::new(),
                chunks: vec![f.chunk],
                version: crate::versions::new_version(versioning, false),
            };
            let mut ops = Vec::new();
            store_chunk_ops(f, &mut ops);
            crate::versions::place_new(db, &bucket, &key, current, &rec, versioning, &mut ops)?;
            Ok((ops, rec.info(&bucket, &key)))
        })
        .await
    }

    /// Fault injection: makes the shard files durable and then stops as a
    /// crashed process would, before the metadata commit. The files stay on
    /// disk as orphans until `collect_orphans` (or the next open) removes them.
    #[doc(hidden)]
    pub async fn fault_crash_before_commit(self) -> Result<()> {
        let finished = self.data.finish().await?;
        // The in-flight registration ends as it would with the process.
        drop(finished.active);
        Ok(())
    }
}

/// Streams one part of a multipart upload.
pub struct PartWriter {
    data: DataWriter,
    bucket: String,
    key: String,
    upload_id: String,
    part_number: u32,
}

impl PartWriter {
    pub(crate) fn new(
        inner: Arc<Inner>,
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
    ) -> Result<PartWriter> {
        Ok(PartWriter { data: DataWriter::new(inner)?, bucket, key, upload_id, part_number })
    }

    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.data.write(data).await
    }

    pub fn bytes_written(&self) -> u64 {
        self.data.total()
    }

    /// Stripes whose data blocks are multiples of `unit` bytes; call before the first write.
    pub fn align_blocks(&mut self, unit: usize) {
        self.data.align_blocks(unit)
    }

    /// Records the part; a previous upload of the same part number is freed.
    pub async fn commit(self, etag: String, attrs: Vec<u8>) -> Result<PartInfo> {
        let inner = self.data.inner.clone();
        let (bucket, key, upload_id, part_number) = (self.bucket, self.key, self.upload_id, self.part_number);
        let finished = self.data.finish().await?;
        commit_data(&inner, finished, move |db, f| {
            let uk = keys::upload_key(&bucket, &key, &upload_id);
            if db.get_cf(cf(db, CF_UPLOADS)?, &uk).map_err(|e| db_err("read upload", e))?.is_none() {
                return Err(EngineError::NoSuchUpload { upload_id: upload_id.clone() });
            }
            let pk = keys::part_key(&upload_id, part_number);
            let mut ops = Vec::new();
            if let Some(v) = db.get_cf(cf(db, CF_PARTS)?, &pk).map_err(|e| db_err("read part", e))? {
                let old = PartRecord::decode(&v)?;
                free_chunk_ops(&old.chunk, &mut ops);
            }
            store_chunk_ops(f, &mut ops);
            let rec = PartRecord {
                size_bytes: f.chunk.size_bytes,
                etag: etag.clone(),
                last_modified_ms: now_ms(),
                attrs: attrs.clone(),
                chunk: f.chunk,
            };
            ops.push(Op::Put(CF_PARTS, pk, rec.encode()));
            Ok((
                ops,
                PartInfo {
                    part_number,
                    size_bytes: rec.size_bytes,
                    etag: rec.etag.clone(),
                    last_modified_ms: rec.last_modified_ms,
                    attrs: rec.attrs.clone(),
                },
            ))
        })
        .await
    }
}
