//! Verification and healing.
//!
//! A chunk is healed by reading every block of every stripe, CRC-checking
//! it, and rewriting each shard that is missing, corrupt, or outside its home
//! zone: the new shard file is written under a temp name from reconstructed
//! blocks, fsynced, re-verified, then renamed over the old one. A heal pass
//! also brings failed zones back (recreating the directory if needed and
//! rebuilding its metadata replica) and marks a zone online once every chunk
//! is whole again.
//!
//! In a `HealReport` with `repair == false`, `shards_repaired` counts the
//! shards that *would* be rewritten.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{blocking, lock, require_object, ActiveGuard, Engine, Inner, PinGuard};
use crate::error::{EngineError, Result};
use crate::keys::{CF_INLINE, CF_OBJECTS, CF_PARTS, CF_REFS, CF_VERSIONS};
use crate::meta::{cf, db_err};
use crate::reader::ShardFiles;
use crate::records::{Chunk, ObjectRecord, PartRecord};
use crate::shard_file::{locate, open_checked, read_block, Geometry, ShardSetWriter};
use crate::types::HealReport;
use crate::zones::{create_layout, home_zone, inspect, place, Found, ZoneState, ZONE_COUNT};

const SCAN_BATCH: usize = 128;

/// Outcome of checking one chunk.
#[derive(Debug, Default, Clone, Copy)]
struct ChunkOutcome {
    /// Shards missing, corrupt or misplaced (rewritten when repairing).
    bad_shards: u64,
    unrecoverable: bool,
}

/// The read rate of a pass: after every stripe it reads, a throttled pass
/// sleeps (on its blocking-pool thread) until its average rate is back under
/// the limit, so even one large object is read at that rate.
pub(crate) struct Throttle {
    started: Instant,
    rate: Option<u64>,
    bytes: u64,
}

impl Throttle {
    pub(crate) fn new(rate: Option<u64>) -> Throttle {
        Throttle { started: Instant::now(), rate: rate.filter(|r| *r > 0), bytes: 0 }
    }

    fn read(&mut self, bytes: u64) {
        self.bytes += bytes;
        let Some(rate) = self.rate else { return };
        let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

fn heal_chunk(inner: &Arc<Inner>, chunk: &Chunk, repair: bool, throttle: &mut Throttle) -> Result<ChunkOutcome> {
    let mut out = ChunkOutcome::default();
    let Some(g) = Geometry::of(chunk) else {
        // Inline: its bytes live in the metadata replicas.
        let present = inner.meta.read(&inner.zones, |db| {
            Ok(db.get_cf(cf(db, CF_INLINE)?, chunk.data_id.0).map_err(|e| db_err("read inline data", e))?.is_some())
        })?;
        out.unrecoverable = !present;
        return Ok(out);
    };
    let _pin = PinGuard::new(inner, vec![chunk.data_id]);
    let _active = ActiveGuard::new(inner, chunk.data_id);
    let n = g.total();
    let codec = g.codec()?;
    let usable = inner.usable_zones();
    let targets = place(n, &usable).ok_or(EngineError::InsufficientZones { available: 0, needed: 1 })?;

    // Which shards need rewriting: missing, wrong header, wrong length, misplaced, or any bad block.
    let mut rewrite = vec![false; n];
    let mut misplaced_from: Vec<Option<usize>> = vec![None; n];
    let mut files: Vec<Option<std::fs::File>> = Vec::with_capacity(n);
    for i in 0..n {
        let found = locate(&inner.zones, &chunk.data_id, i, home_zone(i, n));
        let file = found.as_ref().and_then(|(_, p)| open_checked(p, i, &g));
        let len_ok = file.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.len() == g.file_len()).unwrap_or(false);
        if let Some((z, _)) = &found {
            if *z != targets[i] {
                misplaced_from[i] = Some(*z);
            }
        }
        rewrite[i] = file.is_none() || !len_ok || misplaced_from[i].is_some();
        files.push(file);
    }
    for s in 0..g.stripes() {
        let mut good = 0;
        let mut read = 0;
        for i in 0..n {
            match files[i].as_ref().and_then(|f| read_block(f, &g, s)) {
                Some(b) => {
                    good += 1;
                    read += b.len() as u64;
                }
                None => rewrite[i] = true,
            }
        }
        throttle.read(read);
        if good < g.k {
            out.unrecoverable = true;
        }
    }
    out.bad_shards = rewrite.iter().filter(|r| **r).count() as u64;
    if out.bad_shards > 0 && !still_referenced(inner, chunk)? {
        // Freed (and perhaps already collected) while we looked: nothing to heal.
        lock(&inner.heal_queue).remove(&chunk.data_id);
        return Ok(ChunkOutcome::default());
    }
    if repair && out.bad_shards == 0 {
        lock(&inner.heal_queue).remove(&chunk.data_id);
    }
    if !repair || out.bad_shards == 0 || out.unrecoverable {
        return Ok(out);
    }

    // Rebuild the bad shards from the good ones, stripe by stripe.
    let rewrite_targets: Vec<Option<usize>> = (0..n).map(|i| rewrite[i].then_some(targets[i])).collect();
    let mut writer = ShardSetWriter::create(&inner.zones, chunk.data_id, &g, &rewrite_targets)?;
    let mut source = ShardFiles::new(chunk.data_id, g);
    for s in 0..g.stripes() {
        let mut blocks: Vec<Option<Vec<u8>>> = (0..n)
            .map(|i| if rewrite[i] && misplaced_from[i].is_none() { None } else { source.read(&inner.zones, i, s) })
            .collect();
        if blocks.iter().filter(|b| b.is_some()).count() < g.k {
            return Err(EngineError::InsufficientZones {
                available: blocks.iter().filter(|b| b.is_some()).count(),
                needed: g.k,
            });
        }
        codec.reconstruct(&mut blocks)?;
        for i in (0..n).filter(|i| rewrite[*i]) {
            let b = blocks[i]
                .as_ref()
                .ok_or_else(|| EngineError::Corrupt { what: "block missing after reconstruct".into() })?;
            writer.append(&inner.zones, i, b)?;
        }
    }
    for z in std::mem::take(&mut writer.failed_zones) {
        inner.fail_zone(z);
    }
    writer.finish(&inner.zones)?;
    // Re-verify what was written before calling it healed, then drop misplaced
    // copies. A shard that does not verify (its zone failed meanwhile, say) is
    // not counted and the chunk stays queued for the next attempt.
    let mut verified = 0;
    for i in (0..n).filter(|i| rewrite[*i]) {
        let Some(zone) = inner.zones.get(targets[i]) else { continue };
        let path = zone.shard_path(&chunk.data_id, i);
        let ok = open_checked(&path, i, &g)
            .map(|f| (0..g.stripes()).all(|s| read_block(&f, &g, s).is_some()))
            .unwrap_or(false);
        if !ok {
            tracing::warn!(data_id = %chunk.data_id.hex(), shard = i, "rewritten shard failed verification");
            continue;
        }
        verified += 1;
        for (z, other) in inner.zones.iter().enumerate() {
            if z != targets[i] && other.usable() {
                let _ = std::fs::remove_file(other.shard_path(&chunk.data_id, i));
            }
        }
    }
    inner.counters.shards_repaired.fetch_add(verified, Ordering::Relaxed);
    if verified < out.bad_shards {
        lock(&inner.heal_queue).insert(chunk.data_id, *chunk);
        out.bad_shards = verified;
        return Ok(out);
    }
    lock(&inner.heal_queue).remove(&chunk.data_id);
    tracing::info!(data_id = %chunk.data_id.hex(), shards = out.bad_shards, "chunk healed");
    Ok(out)
}

fn still_referenced(inner: &Inner, chunk: &Chunk) -> Result<bool> {
    inner.meta.read(&inner.zones, |db| {
        Ok(db.get_cf(cf(db, CF_REFS)?, chunk.data_id.0).map_err(|e| db_err("read refs", e))?.is_some())
    })
}

fn heal_chunks(
    inner: &Arc<Inner>,
    chunks: &[Chunk],
    repair: bool,
    throttle: &mut Throttle,
    report: &mut HealReport,
) -> Result<()> {
    let mut unrecoverable = false;
    for c in chunks {
        match heal_chunk(inner, c, repair, throttle) {
            Ok(o) => {
                report.shards_repaired += o.bad_shards;
                unrecoverable |= o.unrecoverable;
            }
            Err(e) => {
                tracing::error!(data_id = %c.data_id.hex(), error = %e, "heal of chunk failed");
                unrecoverable = true;
            }
        }
    }
    report.objects_checked += 1;
    report.unrecoverable += unrecoverable as u64;
    Ok(())
}

/// Brings a failed or stale zone back: directory and marker, then its metadata replica.
fn revive_zone(inner: &Inner, zone: usize) -> Result<()> {
    let z = inner.zones.get(zone).ok_or_else(|| EngineError::Corrupt { what: format!("zone index {zone}") })?;
    let cluster = (0..ZONE_COUNT)
        .filter(|o| *o != zone)
        .find_map(|o| match inspect(&inner.zones[o].dir, o) {
            Ok(Found::Marked { cluster_id }) => Some(cluster_id),
            _ => None,
        })
        .ok_or(EngineError::InsufficientZones { available: 0, needed: 1 })?;
    match inspect(&z.dir, zone)? {
        Found::Marked { cluster_id } if cluster_id != cluster => {
            return Err(EngineError::Corrupt {
                what: format!("zone directory {} belongs to cluster {cluster_id}", z.dir.display()),
            })
        }
        _ => {}
    }
    create_layout(z, &cluster)?;
    inner.meta.rebuild(&inner.zones, zone)?;
    z.set_state(ZoneState::Rebuilding);
    tracing::info!(zone, "zone back in service; healing its shards");
    Ok(())
}

/// One batch of records from `cf_name` after `after`.
fn scan_batch(inner: &Inner, cf_name: &'static str, after: Option<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<Chunk>)>> {
    inner.meta.read(&inner.zones, |db| {
        let mut it = db.raw_iterator_cf(cf(db, cf_name)?);
        match &after {
            Some(k) => {
                it.seek(k);
                if it.key() == Some(k.as_slice()) {
                    it.next();
                }
            }
            None => it.seek_to_first(),
        }
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let chunks = if cf_name == CF_OBJECTS || cf_name == CF_VERSIONS {
                ObjectRecord::decode(v).map(|r| r.chunks)
            } else {
                PartRecord::decode(v).map(|r| vec![r.chunk])
            };
            match chunks {
                Ok(c) => out.push((k.to_vec(), c)),
                Err(e) => {
                    tracing::error!(error = %e, "undecodable record during heal");
                    out.push((k.to_vec(), Vec::new()));
                }
            }
            if out.len() >= SCAN_BATCH {
                break;
            }
            it.next();
        }
        it.status().map_err(|e| db_err("scan for heal", e))?;
        Ok(out)
    })
}

impl Engine {
    /// Checks every shard of an object; with `repair`, rewrites the bad ones.
    pub async fn verify_object(&self, bucket: &str, key: &str, repair: bool) -> Result<HealReport> {
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let rec = inner.meta.read(&inner.zones, |db| require_object(db, &bucket, &key))?;
            let mut report = HealReport::default();
            heal_chunks(&inner, &rec.chunks, repair, &mut Throttle::new(None), &mut report)?;
            Ok(report)
        })
        .await
    }

    /// Verifies (and with `repair` heals) every object and stored part, after
    /// bringing failed zones back. Reads are throttled to `max_bytes_per_sec`.
    pub async fn heal_all(&self, repair: bool, max_bytes_per_sec: Option<u64>) -> Result<HealReport> {
        let pass =
            self.heal_pass(repair, max_bytes_per_sec, HealCursor::default(), |_, _| PassControl::Continue).await?;
        Ok(pass.report)
    }

    /// A verify (and with `repair`, repair) pass from `start` to the end of
    /// the metadata, in batches. After every batch `on_batch` sees where the
    /// pass stands and what it found so far, and may stop it there (a paused
    /// scrub); the pass also stops, unfinished, when the engine shuts down.
    /// An unfinished pass resumes from its cursor.
    ///
    /// Only a repairing pass that started at the beginning and found nothing
    /// unrecoverable marks rebuilt zones online and clears the heal queue: a
    /// resumed pass did not see the part before its cursor since this process
    /// started.
    pub async fn heal_pass(
        &self,
        repair: bool,
        max_bytes_per_sec: Option<u64>,
        start: HealCursor,
        mut on_batch: impl FnMut(&HealCursor, &HealReport) -> PassControl + Send,
    ) -> Result<HealPass> {
        let _guard = self.inner.heal_lock.lock().await;
        if repair {
            for zone in 0..ZONE_COUNT {
                let needs = self.inner.zones[zone].state() == ZoneState::Missing || !self.inner.meta.is_fresh(zone);
                if needs {
                    let inner = self.inner.clone();
                    if let Err(e) = blocking(move || revive_zone(&inner, zone)).await {
                        tracing::error!(zone, error = %e, "zone could not be brought back");
                    }
                }
            }
        }
        let whole = start == HealCursor::default();
        let mut throttle = Throttle::new(max_bytes_per_sec);
        let mut report = HealReport::default();
        let mut cursor = start;
        while let Some(&cf_name) = HEAL_TABLES.get(cursor.table) {
            if self.inner.shutting_down.load(Ordering::Acquire) {
                return Ok(HealPass { report, cursor, finished: false });
            }
            let inner = self.inner.clone();
            let a = cursor.after.clone();
            let mut t = throttle;
            let (batch_report, last, more, t) = blocking(move || {
                let batch = scan_batch(&inner, cf_name, a)?;
                let more = batch.len() >= SCAN_BATCH;
                let mut r = HealReport::default();
                let mut last = None;
                for (k, chunks) in batch {
                    heal_chunks(&inner, &chunks, repair, &mut t, &mut r)?;
                    last = Some(k);
                }
                Ok((r, last, more, t))
            })
            .await?;
            throttle = t;
            report.add(&batch_report);
            cursor = match last {
                Some(l) if more => HealCursor { table: cursor.table, after: Some(l) },
                _ => HealCursor { table: cursor.table + 1, after: None },
            };
            if let PassControl::Stop = on_batch(&cursor, &report) {
                return Ok(HealPass { report, cursor, finished: false });
            }
        }
        if repair && whole && report.unrecoverable == 0 {
            for z in &self.inner.zones {
                if z.state() == ZoneState::Rebuilding && self.inner.meta.is_fresh(z.index) {
                    z.set_state(ZoneState::Online);
                    tracing::info!(zone = z.index, "zone healed and online");
                }
            }
            lock(&self.inner.heal_queue).clear();
        }
        Ok(HealPass { report, cursor, finished: true })
    }

    /// Repairs only the chunks that reads and writes reported damaged (the
    /// heal queue), not the whole store. A chunk leaves the queue once it is
    /// whole again or no longer referenced; one that cannot be repaired now
    /// stays queued for the next attempt.
    pub async fn heal_queued(&self) -> Result<HealReport> {
        let _guard = self.inner.heal_lock.lock().await;
        let queued: Vec<Chunk> = lock(&self.inner.heal_queue).values().copied().collect();
        let mut report = HealReport::default();
        for batch in queued.chunks(SCAN_BATCH) {
            if self.inner.shutting_down.load(Ordering::Acquire) {
                break;
            }
            let inner = self.inner.clone();
            let batch = batch.to_vec();
            let r = blocking(move || {
                let mut r = HealReport::default();
                for chunk in &batch {
                    r.objects_checked += 1;
                    match heal_chunk(&inner, chunk, true, &mut Throttle::new(None)) {
                        // A chunk left whole leaves the queue in `heal_chunk`.
                        Ok(o) if !o.unrecoverable => r.shards_repaired += o.bad_shards,
                        Ok(_) => r.unrecoverable += 1,
                        Err(e) => {
                            tracing::warn!(data_id = %chunk.data_id.hex(), error = %e, "targeted repair failed");
                            r.unrecoverable += 1;
                        }
                    }
                }
                Ok(r)
            })
            .await?;
            report.add(&r);
        }
        Ok(report)
    }
}

/// The metadata tables a pass walks, in order: current objects, older
/// versions, stored parts of multipart uploads in progress.
const HEAL_TABLES: [&str; 3] = [CF_OBJECTS, CF_VERSIONS, CF_PARTS];

/// Where a verify pass stands: the table it walks (an index into
/// [objects, versions, parts]; 3 once done) and the last key done in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealCursor {
    pub table: usize,
    pub after: Option<Vec<u8>>,
}

/// What `on_batch` tells a pass to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassControl {
    Continue,
    Stop,
}

/// A pass's outcome: what it found, where it ended and whether it reached the end.
#[derive(Debug, Clone)]
pub struct HealPass {
    pub report: HealReport,
    pub cursor: HealCursor,
    pub finished: bool,
}
