//! The engine handle: shared state, opening, buckets, and object head/delete.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{EngineError, Result};
use crate::keys::{self, CF_BUCKETS, CF_GC, CF_INLINE, CF_OBJECTS, CF_REFS};
use crate::meta::{cf, db_err, Meta, Op};
use crate::records::{encode_chunk, BucketRecord, Chunk, ChunkLayout, DataId, ObjectRecord};
use crate::types::{BucketInfo, EngineConfig, ObjectInfo};
use crate::zones::{InjectedFault, Zone, ZoneState};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Runs blocking work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    joined(tokio::task::spawn_blocking(f)).await
}

/// The result of a task on the blocking pool, a panic in it as an error.
pub(crate) async fn joined<T>(task: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    task.await.map_err(|e| EngineError::Corrupt { what: format!("blocking task failed: {e}") })?
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub degraded_reads: AtomicU64,
    pub blocks_reconstructed: AtomicU64,
    pub shards_repaired: AtomicU64,
    pub orphans_collected: AtomicU64,
    pub orphan_passes: AtomicU64,
}

/// Shared state behind every `Engine` clone.
pub(crate) struct Inner {
    pub config: EngineConfig,
    pub zones: Vec<Zone>,
    pub meta: Meta,
    /// Reader pins: data ids whose shard files must not be deleted.
    pub pins: Mutex<HashMap<DataId, usize>>,
    /// Data ids being written or rebuilt: their files are not orphans.
    pub active: Mutex<HashSet<DataId>>,
    /// Chunks found damaged by reads or written short of shards, for targeted repair.
    pub heal_queue: Mutex<HashMap<DataId, Chunk>>,
    pub counters: Counters,
    pub write_budget: crate::budget::Budget,
    pub read_budget: crate::budget::Budget,
    pub heal_lock: tokio::sync::Mutex<()>,
    pub gc_notify: Arc<tokio::sync::Notify>,
    pub shutting_down: AtomicBool,
    pub background: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Inner {
    pub fn usable_zones(&self) -> [bool; 3] {
        [self.zones[0].usable(), self.zones[1].usable(), self.zones[2].usable()]
    }

    pub fn erasure_layout(&self, stripe_size: usize) -> ChunkLayout {
        ChunkLayout::Erasure {
            data_shards: self.config.data_shards as u8,
            parity_shards: self.config.parity_shards as u8,
            stripe_size_bytes: stripe_size as u32,
        }
    }

    /// Takes a zone out of service after a failure.
    pub fn fail_zone(&self, zone: usize) {
        if let Some(z) = self.zones.get(zone) {
            if z.state() != ZoneState::Missing {
                tracing::error!(zone, dir = %z.dir.display(), "zone marked missing");
            }
            z.set_state(ZoneState::Missing);
        }
        self.meta.mark_stale(zone);
    }

    /// Runs a read on the calling thread when the memtables and the block
    /// cache can answer it, so hot metadata (bucket records, object heads)
    /// costs no hop to the blocking pool; `None` when they cannot (`read`
    /// returned `Ok(None)`) or the replica reported an error, and the caller
    /// then reads on the blocking pool, with replica failover.
    pub fn read_in_memory<T>(
        &self,
        read: impl FnOnce(&rocksdb::DB, &rocksdb::ReadOptions) -> Result<Option<T>>,
    ) -> Option<Result<T>> {
        let db = self.meta.reader().ok()?;
        let mut opts = rocksdb::ReadOptions::default();
        opts.set_read_tier(rocksdb::ReadTier::BlockCache);
        match read(&db, &opts) {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) | Err(EngineError::Metadata { .. } | EngineError::Io { .. } | EngineError::NoSpace { .. }) => None,
            Err(e) => Some(Err(e)),
        }
    }

    pub fn commit<T>(&self, build: impl FnMut(&rocksdb::DB) -> Result<(Vec<Op>, T)>) -> Result<T> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(EngineError::Metadata { op: "commit", message: "engine is shut down".into() });
        }
        self.meta.commit(&self.zones, build)
    }
}

/// Registration of a data id as in flight; removed on drop.
pub(crate) struct ActiveGuard {
    inner: Arc<Inner>,
    id: DataId,
}

impl ActiveGuard {
    pub fn new(inner: &Arc<Inner>, id: DataId) -> ActiveGuard {
        lock(&inner.active).insert(id);
        ActiveGuard { inner: inner.clone(), id }
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        lock(&self.inner.active).remove(&self.id);
    }
}

/// Keeps shard files of some data ids from being deleted by GC.
pub(crate) struct PinGuard {
    inner: Arc<Inner>,
    ids: Vec<DataId>,
}

impl PinGuard {
    pub fn new(inner: &Arc<Inner>, ids: Vec<DataId>) -> PinGuard {
        let mut pins = lock(&inner.pins);
        for id in &ids {
            *pins.entry(*id).or_insert(0) += 1;
        }
        drop(pins);
        PinGuard { inner: inner.clone(), ids }
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut released = false;
        let mut pins = lock(&self.inner.pins);
        for id in &self.ids {
            if let Some(n) = pins.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(id);
                    released = true;
                }
            }
        }
        drop(pins);
        if released {
            self.inner.gc_notify.notify_one();
        }
    }
}

/// Operations that free a chunk: inline data goes at once, shard files via the GC queue.
pub(crate) fn free_chunk_ops(c: &Chunk, ops: &mut Vec<Op>) {
    match c.layout {
        ChunkLayout::Inline => ops.push(Op::Delete(CF_INLINE, c.data_id.0.to_vec())),
        ChunkLayout::Erasure { .. } => {
            ops.push(Op::Delete(CF_REFS, c.data_id.0.to_vec()));
            ops.push(Op::Put(CF_GC, c.data_id.0.to_vec(), encode_chunk(c)));
        }
    }
}

pub(crate) fn get_bucket_rec(db: &rocksdb::DB, bucket: &str) -> Result<BucketRecord> {
    match db.get_cf(cf(db, CF_BUCKETS)?, keys::bucket_key(bucket)).map_err(|e| db_err("read bucket", e))? {
        Some(v) => BucketRecord::decode(&v),
        None => Err(EngineError::NoSuchBucket { bucket: bucket.to_string() }),
    }
}

pub(crate) fn get_object_rec(db: &rocksdb::DB, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
    match db.get_cf(cf(db, CF_OBJECTS)?, keys::object_key(bucket, key)).map_err(|e| db_err("read object", e))? {
        Some(v) => Ok(Some(ObjectRecord::decode(&v)?)),
        None => Ok(None),
    }
}

/// A point read from the memtables and block cache only (`opts` from
/// [`Inner::read_in_memory`]): `None` when answering needs the disk.
pub(crate) fn get_cached<'a>(
    db: &'a rocksdb::DB,
    opts: &rocksdb::ReadOptions,
    cf_name: &str,
    key: &[u8],
) -> Result<Option<Option<rocksdb::DBPinnableSlice<'a>>>> {
    match db.get_pinned_cf_opt(cf(db, cf_name)?, key, opts) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == rocksdb::ErrorKind::Incomplete => Ok(None),
        Err(e) => Err(db_err("read from memory", e)),
    }
}

/// [`get_bucket_rec`] from memory only (`None`: needs the disk).
fn get_bucket_rec_cached(db: &rocksdb::DB, opts: &rocksdb::ReadOptions, bucket: &str) -> Result<Option<BucketRecord>> {
    match get_cached(db, opts, CF_BUCKETS, &keys::bucket_key(bucket))? {
        Some(Some(v)) => BucketRecord::decode(&v).map(Some),
        Some(None) => Err(EngineError::NoSuchBucket { bucket: bucket.to_string() }),
        None => Ok(None),
    }
}

/// [`require_object`] from memory only (`None`: needs the disk).
pub(crate) fn require_object_cached(
    db: &rocksdb::DB,
    opts: &rocksdb::ReadOptions,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRecord>> {
    match get_cached(db, opts, CF_OBJECTS, &keys::object_key(bucket, key))? {
        Some(Some(v)) => ObjectRecord::decode(&v).map(Some),
        Some(None) => match get_bucket_rec_cached(db, opts, bucket)? {
            Some(_) => Err(EngineError::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() }),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

/// Reads an object, distinguishing a missing bucket from a missing key.
pub(crate) fn require_object(db: &rocksdb::DB, bucket: &str, key: &str) -> Result<ObjectRecord> {
    match get_object_rec(db, bucket, key)? {
        Some(r) => Ok(r),
        None => {
            get_bucket_rec(db, bucket)?;
            Err(EngineError::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() })
        }
    }
}

/// True when any key of `cf_name` starts with `prefix`.
pub(crate) fn any_with_prefix(db: &rocksdb::DB, cf_name: &str, prefix: &[u8]) -> Result<bool> {
    let mut it = db.raw_iterator_cf(cf(db, cf_name)?);
    it.seek(prefix);
    let found = it.key().map(|k| k.starts_with(prefix)).unwrap_or(false);
    it.status().map_err(|e| db_err("scan metadata", e))?;
    Ok(found)
}

/// State of one zone, as reported by `Engine::stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneStats {
    pub zone: usize,
    pub dir: PathBuf,
    pub state: ZoneState,
    /// Whether this zone's metadata replica is up to date.
    pub metadata_fresh: bool,
}

/// Counters and zone states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStats {
    pub zones: Vec<ZoneStats>,
    /// Stripe reads that needed reconstruction.
    pub degraded_reads: u64,
    /// Data blocks rebuilt on the fly by reads.
    pub blocks_reconstructed: u64,
    /// Shard files rewritten by verify/heal.
    pub shards_repaired: u64,
    pub orphans_collected: u64,
    /// Orphan collections finished (the first starts right after open).
    pub orphan_passes: u64,
    /// Chunks reported damaged by reads and not yet healed.
    pub pending_heal: usize,
    pub commit_seq: u64,
    /// Objects, versions and data bytes held, as of the last commit.
    pub stored: crate::stored::StoredCounts,
    /// Bytes held in the metadata block cache (one for all replicas).
    pub metadata_cache_bytes: usize,
    /// Write-buffer shares taken by writers now, and the limit (bytes).
    pub write_buffers_in_use_bytes: usize,
    pub write_buffers_limit_bytes: usize,
    /// Writers refused with `WriteBuffersBusy`.
    pub writes_refused_busy: u64,
    /// Read-buffer shares taken by open readers of erasure-coded data, and the limit (bytes).
    pub read_buffers_in_use_bytes: usize,
    pub read_buffers_limit_bytes: usize,
    /// Readers refused with `ReadBuffersBusy`.
    pub reads_refused_busy: u64,
}

impl EngineStats {
    /// Objects and versions held with less redundancy than the geometry
    /// gives: all of them while a zone is out of service or still being
    /// rebuilt (each has shards or a metadata replica there), else the chunks
    /// that reads and writes found short of shards.
    pub fn degraded_objects(&self) -> u64 {
        if self.zones.iter().any(|z| z.state != ZoneState::Online) {
            self.stored.objects + self.stored.versions
        } else {
            self.pending_heal as u64
        }
    }
}

/// The storage engine. Cheap to clone; every method may be called from any task.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    pub async fn open(config: EngineConfig) -> Result<Engine> {
        let inner = blocking(move || crate::open::open_blocking(config)).await?;
        let inner = Arc::new(inner);
        let engine = Engine { inner: inner.clone() };
        let rebuilding = inner.zones.iter().any(|z| z.state() == ZoneState::Rebuilding);
        let handle = tokio::spawn(crate::gc::background(Arc::downgrade(&inner), inner.gc_notify.clone(), rebuilding));
        *lock(&inner.background) = Some(handle);
        Ok(engine)
    }

    /// Stops background work, syncs every WAL and closes the metadata replicas. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.inner.gc_notify.notify_one();
        let handle = lock(&self.inner.background).take();
        if let Some(h) = handle {
            let _ = h.await;
        }
        // Wait for a heal pass in progress.
        let _heal = self.inner.heal_lock.lock().await;
        let inner = self.inner.clone();
        blocking(move || inner.meta.shutdown()).await
    }

    pub async fn create_bucket(&self, name: &str, attrs: Vec<u8>) -> Result<BucketInfo> {
        let inner = self.inner.clone();
        let name = name.to_string();
        blocking(move || {
            inner.commit(|db| {
                if db
                    .get_cf(cf(db, CF_BUCKETS)?, keys::bucket_key(&name))
                    .map_err(|e| db_err("read bucket", e))?
                    .is_some()
                {
                    return Err(EngineError::BucketAlreadyExists { bucket: name.clone() });
                }
                let rec = BucketRecord { created_ms: now_ms(), attrs: attrs.clone() };
                let ops = vec![Op::Put(CF_BUCKETS, keys::bucket_key(&name), rec.encode())];
                Ok((ops, BucketInfo { name: name.clone(), created_ms: rec.created_ms, attrs: rec.attrs }))
            })
        })
        .await
    }

    pub async fn get_bucket(&self, name: &str) -> Result<BucketInfo> {
        let hot = self.inner.read_in_memory(|db, opts| get_bucket_rec_cached(db, opts, name));
        if let Some(rec) = hot {
            return rec.map(|rec| BucketInfo { name: name.to_string(), created_ms: rec.created_ms, attrs: rec.attrs });
        }
        let inner = self.inner.clone();
        let name = name.to_string();
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                let rec = get_bucket_rec(db, &name)?;
                Ok(BucketInfo { name: name.clone(), created_ms: rec.created_ms, attrs: rec.attrs })
            })
        })
        .await
    }

    pub async fn set_bucket_attrs(&self, name: &str, attrs: Vec<u8>) -> Result<()> {
        self.replace_bucket_attrs(name, None, attrs).await.map(|_| ())
    }

    /// Replaces a bucket's attributes if they still equal `expected` (when
    /// given): a compare-and-swap for read-modify-write updates. Returns
    /// whether the attributes were replaced.
    pub async fn replace_bucket_attrs(&self, name: &str, expected: Option<Vec<u8>>, attrs: Vec<u8>) -> Result<bool> {
        let inner = self.inner.clone();
        let name = name.to_string();
        blocking(move || {
            inner.commit(|db| {
                let mut rec = get_bucket_rec(db, &name)?;
                if expected.as_ref().is_some_and(|e| *e != rec.attrs) {
                    return Ok((Vec::new(), false));
                }
                rec.attrs = attrs.clone();
                Ok((vec![Op::Put(CF_BUCKETS, keys::bucket_key(&name), rec.encode())], true))
            })
        })
        .await
    }

    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let inner = self.inner.clone();
        let name = name.to_string();
        blocking(move || {
            inner.commit(|db| {
                get_bucket_rec(db, &name)?;
                let prefix = keys::bucket_prefix(&name);
                if any_with_prefix(db, CF_OBJECTS, &prefix)? || any_with_prefix(db, crate::keys::CF_VERSIONS, &prefix)?
                {
                    return Err(EngineError::BucketNotEmpty { bucket: name.clone() });
                }
                // As AWS: multipart uploads in progress do not keep a bucket alive; they are aborted with it.
                let mut ops = vec![Op::Delete(CF_BUCKETS, keys::bucket_key(&name))];
                crate::multipart::abort_all_ops(db, &name, &mut ops)?;
                Ok((ops, ()))
            })
        })
        .await?;
        self.inner.gc_notify.notify_one();
        Ok(())
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let inner = self.inner.clone();
        blocking(move || {
            inner.meta.read(&inner.zones, |db| {
                let mut it = db.raw_iterator_cf(cf(db, CF_BUCKETS)?);
                it.seek_to_first();
                let mut out = Vec::new();
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    let name = keys::decode_bucket_key(k)?;
                    let rec = BucketRecord::decode(v)?;
                    out.push(BucketInfo { name, created_ms: rec.created_ms, attrs: rec.attrs });
                    it.next();
                }
                it.status().map_err(|e| db_err("list buckets", e))?;
                Ok(out)
            })
        })
        .await
    }

    pub async fn object_writer(&self, bucket: &str, key: &str) -> Result<crate::writer::ObjectWriter> {
        self.get_bucket(bucket).await?;
        crate::writer::ObjectWriter::new(self.inner.clone(), bucket.to_string(), key.to_string())
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo> {
        if let Some(rec) = self.inner.read_in_memory(|db, opts| require_object_cached(db, opts, bucket, key)) {
            return rec.map(|rec| rec.info(bucket, key));
        }
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || inner.meta.read(&inner.zones, |db| Ok(require_object(db, &bucket, &key)?.info(&bucket, &key))))
            .await
    }

    /// `range = Some((start, end_exclusive))`, validated by the caller (start < end <= size).
    pub async fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<(ObjectInfo, crate::reader::ObjectReader)> {
        crate::reader::open_reader(self.inner.clone(), bucket.to_string(), key.to_string(), None, range).await
    }

    /// As [`Engine::read_object`], of one version (`None`: the current one).
    pub async fn read_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        range: Option<(u64, u64)>,
    ) -> Result<(ObjectInfo, crate::reader::ObjectReader)> {
        let version = version_id.map(str::to_string);
        crate::reader::open_reader(self.inner.clone(), bucket.to_string(), key.to_string(), version, range).await
    }

    /// Replaces the attributes of an existing object without touching its
    /// data (ACL or tag changes), if they still equal `expected`: a
    /// compare-and-swap for read-modify-write updates. Returns whether they
    /// were replaced; the data, etag and modification time stay as they are.
    pub async fn replace_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        expected: Vec<u8>,
        attrs: Vec<u8>,
    ) -> Result<bool> {
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            inner.commit(|db| {
                let mut rec = require_object(db, &bucket, &key)?;
                if rec.attrs != expected {
                    return Ok((Vec::new(), false));
                }
                rec.attrs = attrs.clone();
                Ok((vec![Op::Put(CF_OBJECTS, keys::object_key(&bucket, &key), rec.encode())], true))
            })
        })
        .await
    }

    /// Deletes an object; `Ok(None)` when it did not exist.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>> {
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let out = blocking(move || {
            inner.commit(|db| {
                let Some(rec) = get_object_rec(db, &bucket, &key)? else {
                    get_bucket_rec(db, &bucket)?;
                    return Ok((vec![], None));
                };
                let mut ops = vec![Op::Delete(CF_OBJECTS, keys::object_key(&bucket, &key))];
                for c in &rec.chunks {
                    free_chunk_ops(c, &mut ops);
                }
                Ok((ops, Some(rec.info(&bucket, &key))))
            })
        })
        .await?;
        if out.is_some() {
            self.inner.gc_notify.notify_one();
        }
        Ok(out)
    }

    pub async fn list_objects(&self, bucket: &str, req: &crate::types::ListRequest) -> Result<crate::types::ListPage> {
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        let req = req.clone();
        blocking(move || inner.meta.read(&inner.zones, |db| crate::list::list_objects(db, &bucket, &req))).await
    }

    /// Zone states and counters.
    pub fn stats(&self) -> EngineStats {
        let i = &self.inner;
        EngineStats {
            zones: i
                .zones
                .iter()
                .map(|z| ZoneStats {
                    zone: z.index,
                    dir: z.dir.clone(),
                    state: z.state(),
                    metadata_fresh: i.meta.is_fresh(z.index),
                })
                .collect(),
            degraded_reads: i.counters.degraded_reads.load(Ordering::Relaxed),
            blocks_reconstructed: i.counters.blocks_reconstructed.load(Ordering::Relaxed),
            shards_repaired: i.counters.shards_repaired.load(Ordering::Relaxed),
            orphans_collected: i.counters.orphans_collected.load(Ordering::Relaxed),
            orphan_passes: i.counters.orphan_passes.load(Ordering::Relaxed),
            pending_heal: lock(&i.heal_queue).len(),
            commit_seq: i.meta.seq(),
            stored: i.meta.stored(),
            metadata_cache_bytes: i.meta.cache_usage(),
            write_buffers_in_use_bytes: i.write_budget.in_use_bytes(),
            write_buffers_limit_bytes: i.write_budget.limit_bytes(),
            writes_refused_busy: i.write_budget.rejected(),
            read_buffers_in_use_bytes: i.read_budget.in_use_bytes(),
            read_buffers_limit_bytes: i.read_budget.limit_bytes(),
            reads_refused_busy: i.read_budget.rejected(),
        }
    }

    /// Fault injection: takes a zone out of service as if its disk had failed
    /// (no shards are placed on it, its metadata replica goes stale). A heal
    /// pass brings it back.
    #[doc(hidden)]
    pub fn fault_fail_zone(&self, zone: usize) {
        self.inner.fail_zone(zone);
    }

    /// Fault injection: makes shard writes to a zone fail (`InjectedFault::None` clears it).
    #[doc(hidden)]
    pub fn fault_inject(&self, zone: usize, fault: InjectedFault) {
        if let Some(z) = self.inner.zones.get(zone) {
            z.inject(fault);
        }
    }
}
