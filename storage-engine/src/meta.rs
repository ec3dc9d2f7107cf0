//! Replicated metadata: one RocksDB replica per zone (`azN/meta`).
//!
//! Design (see docs/storage-engine.md):
//! - Commits are ordered by one lock. Each commit is a list of operations
//!   built while holding the lock from a consistent view (so preconditions are
//!   checked atomically with the write, against every earlier commit), then
//!   written as one `WriteBatch` to every fresh replica, together with the
//!   next commit sequence number, *without* syncing the WAL; the lock is then
//!   released. Durability is group commit: each replica's writer thread syncs
//!   that replica's WAL (`flush_wal(true)`), and one sync covers every commit
//!   written before it started, so concurrent committers share syncs. A
//!   commit is acknowledged when at least `WRITE_QUORUM` (2) replicas have
//!   synced it.
//! - A replica that fails a write, or whose zone is unavailable, becomes
//!   stale and is never written again until rebuilt; so every replica holds
//!   exactly the prefix of commits up to its own sequence number, and the
//!   replica with the highest sequence number holds every acknowledged commit
//!   as long as two replicas survive.
//! - A stale or missing replica is rebuilt from a fresh one by a RocksDB
//!   checkpoint that is then copied file by file into the other zone.
//! - Reads go to any fresh replica.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rocksdb::{BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

use crate::error::{EngineError, Result};
use crate::keys::{ALL_CFS, CF_SYS, SYS_COMMIT_SEQ};
use crate::records::{decode_seq, encode_seq};
use crate::stored::StoredCounts;
use crate::zones::{fsync_dir, io_err, Zone};

/// Replicas that must apply a commit before it is acknowledged.
pub const WRITE_QUORUM: usize = 2;

/// One operation of a commit.
#[derive(Debug, Clone)]
pub enum Op {
    Put(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
}

struct Slot {
    db: Option<Arc<DB>>,
    fresh: bool,
}

/// Work for a replica's writer thread.
type Job = Box<dyn FnOnce() + Send>;

/// One long-lived thread per replica syncs that replica's WAL for the
/// committers waiting on it. (Writes happen on the committers' threads under
/// the commit lock; an earlier design applied them here because a new thread
/// per commit made RocksDB draw the same skiplist heights for every memtable
/// insert, its per-thread random generator being seeded from a thread id that
/// new threads reuse. Committers run on tokio's long-lived blocking pool.)
struct ReplicaWriters {
    senders: Vec<std::sync::mpsc::Sender<Job>>,
}

impl ReplicaWriters {
    fn start(replicas: usize) -> Result<Self> {
        let mut senders = Vec::with_capacity(replicas);
        for z in 0..replicas {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name(format!("coffer-meta-az{}", z + 1))
                .spawn(move || {
                    // Ends when the engine drops the sender.
                    for job in rx {
                        job();
                    }
                })
                .map_err(|e| EngineError::Metadata { op: "start metadata writer", message: e.to_string() })?;
            senders.push(tx);
        }
        Ok(ReplicaWriters { senders })
    }
}

/// Group-commit progress of one replica.
#[derive(Default)]
struct Durability {
    /// Highest commit sequence written to the replica (memtable + WAL, maybe not synced).
    written: AtomicU64,
    /// Highest commit sequence known to be on disk (WAL synced).
    synced: AtomicU64,
}

pub struct Meta {
    writers: ReplicaWriters,
    durability: Arc<Vec<Durability>>,
    slots: RwLock<Vec<Slot>>,
    /// Serialises commits; holds the last committed sequence number.
    commit: Mutex<u64>,
    /// Copy of the last sequence number, readable without waiting for a commit.
    last_seq: AtomicU64,
    /// What the replicas hold, as of the last commit (changed only under `commit`).
    stored: Mutex<StoredCounts>,
    /// The block cache of every replica (a rebuilt replica is opened with it too).
    cache: Cache,
}

pub fn db_err(op: &'static str, e: rocksdb::Error) -> EngineError {
    let message = e.into_string();
    if message.contains("No space left") {
        EngineError::NoSpace { op, path: PathBuf::from("metadata") }
    } else {
        EngineError::Metadata { op, message }
    }
}

/// Whether a metadata error says the replica's files cannot be read
/// (RocksDB's "IO error" and "Corruption" statuses), rather than something
/// about the request.
fn replica_unreadable(e: &EngineError) -> bool {
    matches!(e, EngineError::Metadata { message, .. } if message.starts_with("IO error") || message.starts_with("Corruption"))
}

pub fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| EngineError::Metadata { op: "column family", message: format!("missing column family {name}") })
}

/// The one block cache of all column families of all replicas, of `bytes`.
/// (Left to itself RocksDB makes a 32 MiB cache per column family: thirty
/// of them for three replicas.)
pub fn block_cache(bytes: usize) -> Cache {
    Cache::new_lru_cache(bytes)
}

/// Table options of every column family: data blocks in the shared cache,
/// and a whole-key bloom filter, so that a point read of a key that is not
/// there (a new object's precondition, a delete marker looked for) rarely
/// reads a block at all. Index and filter blocks stay with the table readers
/// (they grow with the data, not with traffic): held in the cache, where data
/// blocks evict them, they made delimiter listings a third slower.
fn cf_options(cache: &Cache) -> Options {
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    t.set_bloom_filter(10.0, false);
    let mut o = Options::default();
    o.set_block_based_table_factory(&t);
    o
}

fn db_options(cache: &Cache) -> Options {
    let mut o = cf_options(cache);
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_max_background_jobs(2);
    o.set_max_open_files(256);
    o.set_db_write_buffer_size(32 << 20);
    o.set_keep_log_file_num(4);
    // Start-up: a replica closed cleanly has flushed its memtables (see
    // `shutdown`); after a crash the WAL to replay is bounded (column
    // families still holding old WAL files are flushed past this size).
    o.set_max_total_wal_size(64 << 20);
    o
}

pub fn open_db(path: &Path, cache: &Cache) -> Result<DB> {
    let opts = db_options(cache);
    let cfs = ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, cf_options(cache)));
    DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| db_err("open metadata replica", e))
}

pub fn read_seq(db: &DB) -> Result<u64> {
    match db.get_cf(cf(db, CF_SYS)?, SYS_COMMIT_SEQ).map_err(|e| db_err("read commit sequence", e))? {
        Some(v) => decode_seq(&v),
        None => Ok(0),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn shut_down() -> EngineError {
    EngineError::Metadata { op: "access metadata", message: "engine is shut down".into() }
}

impl Meta {
    /// Builds the replica set from databases opened at start-up (`None` = to be rebuilt).
    pub fn new(dbs: Vec<Option<(DB, u64)>>, cache: Cache) -> Result<Meta> {
        let max = dbs.iter().flatten().map(|(_, s)| *s).max().unwrap_or(0);
        let slots: Vec<Slot> = dbs
            .into_iter()
            .map(|d| match d {
                Some((db, seq)) => Slot { db: Some(Arc::new(db)), fresh: seq == max },
                None => Slot { db: None, fresh: false },
            })
            .collect();
        let stored = match slots.iter().find(|s| s.fresh).and_then(|s| s.db.as_ref()) {
            Some(db) => StoredCounts::load(db)?,
            None => StoredCounts::default(),
        };
        // Replicas opened from disk hold their commits durably (RocksDB replays the WAL).
        let durability = (0..slots.len())
            .map(|_| Durability { written: AtomicU64::new(max), synced: AtomicU64::new(max) })
            .collect();
        Ok(Meta {
            writers: ReplicaWriters::start(slots.len())?,
            durability: Arc::new(durability),
            slots: RwLock::new(slots),
            commit: Mutex::new(max),
            last_seq: AtomicU64::new(max),
            stored: Mutex::new(stored),
            cache,
        })
    }

    /// Bytes held in the block cache.
    pub fn cache_usage(&self) -> usize {
        self.cache.get_usage()
    }

    fn slots_read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Slot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn slots_write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Slot>> {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_fresh(&self, zone: usize) -> bool {
        self.slots_read().get(zone).map(|s| s.fresh && s.db.is_some()).unwrap_or(false)
    }

    /// A fresh replica to read from (reads that should survive a failing
    /// replica go through `read`).
    pub fn reader(&self) -> Result<Arc<DB>> {
        self.first_fresh().map(|(_, db, _)| db)
    }

    /// The first fresh replica: its zone, the database, and how many fresh
    /// replicas there are.
    fn first_fresh(&self) -> Result<(usize, Arc<DB>, usize)> {
        let slots = self.slots_read();
        if slots.iter().all(|s| s.db.is_none()) {
            return Err(shut_down());
        }
        let fresh = slots.iter().filter(|s| s.fresh && s.db.is_some()).count();
        slots
            .iter()
            .enumerate()
            .find_map(|(z, s)| s.db.clone().filter(|_| s.fresh).map(|db| (z, db, fresh)))
            .ok_or(EngineError::InsufficientZones { available: 0, needed: 1 })
    }

    /// Runs a read against a fresh replica. When RocksDB cannot read that
    /// replica's files (an I/O error or a corrupt block), the replica is
    /// marked stale and its zone missing, and the read runs again on the
    /// next fresh replica: a failing disk costs no read while another
    /// replica is whole. The last fresh replica is never given up this way.
    pub fn read<T>(&self, zones: &[Zone], mut f: impl FnMut(&DB) -> Result<T>) -> Result<T> {
        loop {
            let (zone, db, fresh) = self.first_fresh()?;
            match f(&db) {
                Err(e) if fresh > 1 && replica_unreadable(&e) => self.replica_failed(zones, zone, &e),
                r => return r,
            }
        }
    }

    /// Marks a replica stale (its zone failed): it is no longer read or written.
    pub fn mark_stale(&self, zone: usize) {
        if let Some(s) = self.slots_write().get_mut(zone) {
            s.fresh = false;
        }
    }

    /// A replica failed a write or a sync: it is stale from now on and its zone missing.
    fn replica_failed(&self, zones: &[Zone], z: usize, e: &EngineError) {
        tracing::error!(zone = z, error = %e, "metadata replica write failed; replica marked stale");
        self.mark_stale(z);
        if let Some(zone) = zones.get(z) {
            zone.set_state(crate::zones::ZoneState::Missing);
        }
    }

    /// Runs `build` under the commit lock with a fresh replica, writes the
    /// operations it returns to every fresh replica, and waits until they are
    /// durable (group commit, see the module doc).
    /// `build` reads through `read`: it runs again on the next replica if
    /// the first cannot be read.
    pub fn commit<T>(&self, zones: &[Zone], mut build: impl FnMut(&DB) -> Result<(Vec<Op>, T)>) -> Result<T> {
        let (next, written, out) = {
            let mut seq = lock(&self.commit);
            let (mut ops, out) = self.read(zones, &mut build)?;
            let db = self.reader()?;
            if ops.is_empty() {
                return Ok(out);
            }
            let stored = lock(&self.stored).after(&db, &ops)?;
            drop(db);
            if let Some(counts) = &stored {
                ops.push(counts.op());
            }
            let targets: Vec<(usize, Arc<DB>)> = {
                let mut slots = self.slots_write();
                for (z, s) in slots.iter_mut().enumerate() {
                    // A replica whose zone failed misses this commit: it is stale from now on.
                    if s.fresh && !zones.get(z).map(|zz| zz.usable()).unwrap_or(false) {
                        s.fresh = false;
                    }
                }
                slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.fresh)
                    .filter_map(|(z, s)| s.db.clone().map(|d| (z, d)))
                    .collect()
            };
            if targets.len() < WRITE_QUORUM {
                return Err(EngineError::InsufficientZones { available: targets.len(), needed: WRITE_QUORUM });
            }
            let next = *seq + 1;
            // Unsynced writes take microseconds: done here, in commit order, so
            // every replica holds the commits in the same sequence.
            let mut written = Vec::with_capacity(targets.len());
            let mut last_err = None;
            for (z, db) in targets {
                match apply(&db, &ops, next) {
                    Ok(()) => {
                        if let Some(d) = self.durability.get(z) {
                            d.written.fetch_max(next, Ordering::AcqRel);
                        }
                        written.push((z, db));
                    }
                    Err(e) => {
                        self.replica_failed(zones, z, &e);
                        last_err = Some(e);
                    }
                }
            }
            if !written.is_empty() {
                // Some replica holds it: later commits must come after it.
                *seq = next;
                self.last_seq.store(next, Ordering::Release);
                if let Some(counts) = stored {
                    *lock(&self.stored) = counts;
                }
            }
            if written.len() < WRITE_QUORUM {
                // Ambiguous outcome: a surviving replica may hold it.
                return match last_err {
                    Some(e @ EngineError::NoSpace { .. }) => Err(e),
                    _ => Err(EngineError::InsufficientZones { available: written.len(), needed: WRITE_QUORUM }),
                };
            }
            (next, written, out)
        };

        // Durability, outside the lock: ask each replica's writer thread for a
        // WAL sync covering `next`. A sync started after our write covers it;
        // committers queued behind one sync find their sequence already synced.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Result<()>)>();
        let mut results: Vec<(usize, Result<()>)> = Vec::with_capacity(written.len());
        let mut sent = Vec::with_capacity(written.len());
        for (z, db) in written {
            let (durability, done) = (Arc::clone(&self.durability), done_tx.clone());
            let job: Job = Box::new(move || {
                let _ = done.send((z, sync_replica(&db, &durability, z, next)));
            });
            match self.writers.senders.get(z).map(|s| s.send(job)) {
                Some(Ok(())) => sent.push(z),
                _ => results.push((z, Err(EngineError::Corrupt { what: "metadata writer thread is gone".into() }))),
            }
        }
        drop(done_tx);
        // Every job answers exactly once, unless its writer thread died.
        let answered: Vec<(usize, Result<()>)> = done_rx.iter().collect();
        for z in sent {
            if !answered.iter().any(|(a, _)| *a == z) {
                results.push((z, Err(EngineError::Corrupt { what: "metadata writer thread panicked".into() })));
            }
        }
        results.extend(answered);
        let mut ok = 0;
        let mut last_err = None;
        for (z, r) in results {
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    self.replica_failed(zones, z, &e);
                    last_err = Some(e);
                }
            }
        }
        if ok >= WRITE_QUORUM {
            return Ok(out);
        }
        // Written but durable on fewer than a quorum: the outcome is ambiguous.
        match last_err {
            Some(e @ EngineError::NoSpace { .. }) => Err(e),
            _ => Err(EngineError::InsufficientZones { available: ok, needed: WRITE_QUORUM }),
        }
    }

    /// Rebuilds the replica of `zone` from a fresh one (under the commit lock, so no commit interleaves).
    pub fn rebuild(&self, zones: &[Zone], zone: usize) -> Result<()> {
        let seq = lock(&self.commit);
        if self.is_fresh(zone) {
            return Ok(());
        }
        let (src_zone, src) = {
            let slots = self.slots_read();
            slots
                .iter()
                .enumerate()
                .find(|(_, s)| s.fresh && s.db.is_some())
                .and_then(|(z, s)| s.db.clone().map(|d| (z, d)))
                .ok_or(EngineError::InsufficientZones { available: 0, needed: 1 })?
        };
        let src_z = zones.get(src_zone).ok_or_else(|| EngineError::Corrupt { what: "zone index".into() })?;
        let dst_z = zones.get(zone).ok_or_else(|| EngineError::Corrupt { what: "zone index".into() })?;
        let ckpt = src_z.tmp_dir().join(format!("ckpt-{}", uuid::Uuid::new_v4().simple()));
        let staged = dst_z.dir.join(format!("meta.new-{}", uuid::Uuid::new_v4().simple()));
        let res = (|| {
            rocksdb::checkpoint::Checkpoint::new(src.as_ref())
                .and_then(|c| c.create_checkpoint(&ckpt))
                .map_err(|e| db_err("checkpoint metadata replica", e))?;
            copy_dir(&ckpt, &staged)
        })();
        let _ = std::fs::remove_dir_all(&ckpt);
        if let Err(e) = res {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e);
        }
        drop(src);
        // Swap the staged copy in place of the old replica.
        let old = self.slots_write().get_mut(zone).and_then(|s| {
            s.fresh = false;
            s.db.take()
        });
        drop(old);
        let meta_dir = dst_z.meta_dir();
        if meta_dir.exists() {
            let aside = dst_z.dir.join(format!("meta.old-{}", uuid::Uuid::new_v4().simple()));
            std::fs::rename(&meta_dir, &aside).map_err(|e| io_err("move stale replica aside", &meta_dir, e))?;
            let _ = std::fs::remove_dir_all(&aside);
        }
        std::fs::rename(&staged, &meta_dir).map_err(|e| io_err("install rebuilt replica", &meta_dir, e))?;
        fsync_dir(&dst_z.dir)?;
        let db = open_db(&meta_dir, &self.cache)?;
        let got = read_seq(&db)?;
        if got != *seq {
            return Err(EngineError::Corrupt {
                what: format!("rebuilt replica has sequence {got}, expected {}", *seq),
            });
        }
        if let Some(d) = self.durability.get(zone) {
            // The copied files were fsynced: everything up to `seq` is durable.
            d.written.store(*seq, Ordering::Release);
            d.synced.store(*seq, Ordering::Release);
        }
        if let Some(s) = self.slots_write().get_mut(zone) {
            s.db = Some(Arc::new(db));
            s.fresh = true;
        }
        tracing::info!(zone, seq = *seq, "metadata replica rebuilt");
        Ok(())
    }

    /// Syncs every WAL, flushes the memtables (so the next open has no WAL
    /// to replay) and closes the replicas. Idempotent.
    pub fn shutdown(&self) -> Result<()> {
        let _seq = lock(&self.commit);
        let mut slots = self.slots_write();
        let mut first_err = None;
        for s in slots.iter_mut() {
            if let Some(db) = s.db.take() {
                if let Err(e) = db.flush_wal(true) {
                    first_err.get_or_insert(db_err("flush WAL", e));
                    continue;
                }
                // The commits are durable in the WAL already; a failed flush
                // (a zone gone while running, say) only costs a replay.
                for name in ALL_CFS {
                    if let Some(handle) = db.cf_handle(name) {
                        if let Err(e) = db.flush_cf(&handle) {
                            tracing::warn!(cf = name, error = %e, "memtable flush at shutdown failed; the replica's other column families are left to WAL replay");
                            break;
                        }
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What the store holds, as of the last commit.
    pub fn stored(&self) -> StoredCounts {
        *lock(&self.stored)
    }

    pub fn seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }
}

/// Makes commit `seq` durable on replica `z`: nothing to do if a sync since
/// its write already covered it, else one WAL sync covering every commit
/// written so far.
fn sync_replica(db: &DB, durability: &[Durability], z: usize, seq: u64) -> Result<()> {
    let d = durability.get(z).ok_or_else(|| EngineError::Corrupt { what: "replica index".into() })?;
    if d.synced.load(Ordering::Acquire) >= seq {
        return Ok(());
    }
    // Read before syncing: every commit up to `upto` was written before the sync starts.
    let upto = d.written.load(Ordering::Acquire);
    db.flush_wal(true).map_err(|e| db_err("sync metadata WAL", e))?;
    d.synced.fetch_max(upto, Ordering::AcqRel);
    Ok(())
}

/// Writes one commit to a replica's memtable and WAL; not synced (see [`sync_replica`]).
fn apply(db: &DB, ops: &[Op], seq: u64) -> Result<()> {
    let mut batch = WriteBatch::default();
    for op in ops {
        match op {
            Op::Put(c, k, v) => batch.put_cf(cf(db, c)?, k, v),
            Op::Delete(c, k) => batch.delete_cf(cf(db, c)?, k),
        }
    }
    batch.put_cf(cf(db, CF_SYS)?, SYS_COMMIT_SEQ, encode_seq(seq));
    let mut wo = WriteOptions::default();
    wo.set_sync(false);
    db.write_opt(batch, &wo).map_err(|e| db_err("commit metadata", e))
}

/// Copies a flat directory (a RocksDB checkpoint) file by file, durably.
fn copy_dir(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| io_err("create dir", dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| io_err("read checkpoint", src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("read checkpoint", src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        std::fs::copy(&from, &to).map_err(|e| io_err("copy replica file", &to, e))?;
        let f = std::fs::File::open(&to).map_err(|e| io_err("open replica file", &to, e))?;
        f.sync_all().map_err(|e| io_err("fsync replica file", &to, e))?;
    }
    fsync_dir(dst)
}
