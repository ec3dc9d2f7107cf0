//! Freeing data: the GC queue (chunks dropped by committed metadata) and
//! orphan collection (files no committed metadata refers to).
//!
//! Invariants:
//! - Shard files of a chunk are deleted only after the commit that dropped
//!   the chunk (recorded in `CF_GC` in the same batch), and never while a
//!   reader pins the chunk.
//! - A file is an orphan only when its data id is neither in flight (being
//!   written or rebuilt) nor referenced (`CF_REFS`) nor queued (`CF_GC`). The
//!   in-flight set is checked before the references, and writers leave it only
//!   after their commit, so a file cannot be judged orphan between its
//!   writer's rename and commit.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::{blocking, lock, Engine, Inner};
use crate::error::Result;
use crate::keys::{CF_GC, CF_REFS};
use crate::meta::{cf, db_err, Op};
use crate::records::{decode_chunk, DataId};
use crate::shard_file::{remove_all, Geometry};
use crate::zones::data_id_of_file_name;

const GC_BATCH: usize = 512;
const BACKGROUND_PERIOD: Duration = Duration::from_secs(30);

/// Deletes the shard files of queued chunks that no reader pins, then drops
/// their queue entries. Returns how many chunks were freed.
pub(crate) fn gc_pass_blocking(inner: &Inner) -> Result<usize> {
    // Read the queue under the commit lock so that no commit is half applied.
    let queued = inner.meta.commit(&inner.zones, |db| {
        let mut out = Vec::new();
        let mut it = db.raw_iterator_cf(cf(db, CF_GC)?);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            match (DataId::from_slice(k), decode_chunk(v)) {
                (Ok(id), Ok(c)) => out.push((id, Geometry::of(&c).map(|g| g.total()).unwrap_or(1))),
                _ => tracing::error!("undecodable GC queue entry skipped"),
            }
            if out.len() >= GC_BATCH {
                break;
            }
            it.next();
        }
        it.status().map_err(|e| db_err("scan GC queue", e))?;
        Ok((vec![], out))
    })?;
    if queued.is_empty() {
        return Ok(0);
    }
    let mut done = Vec::new();
    for (id, total) in queued {
        let pins = lock(&inner.pins);
        if pins.contains_key(&id) {
            continue;
        }
        // Deleting under the pin lock: no reader can pin this id meanwhile.
        remove_all(&inner.zones, &id, total);
        drop(pins);
        done.push(id);
    }
    let n = done.len();
    if n > 0 {
        let ops: Vec<Op> = done.into_iter().map(|id| Op::Delete(CF_GC, id.0.to_vec())).collect();
        inner.meta.commit(&inner.zones, |_| Ok((ops.clone(), ())))?;
    }
    Ok(n)
}

/// Removes temp files and shard files that nothing refers to. Returns the
/// count. Streams the directories (memory does not grow with the number of
/// files) and stops early when the engine shuts down.
pub(crate) fn collect_orphans_blocking(inner: &Inner) -> Result<u64> {
    let mut removed = 0u64;
    let result = (|| {
        for zone in inner.zones.iter().filter(|z| z.usable()) {
            if let Ok(entries) = std::fs::read_dir(zone.tmp_dir()) {
                for e in entries.flatten() {
                    if let Some(id) = data_id_of_file_name(&e.file_name().to_string_lossy()) {
                        removed += u64::from(remove_if_orphan(inner, &id, &e.path(), true)?);
                    }
                }
            }
            let Ok(subdirs) = std::fs::read_dir(zone.shards_dir()) else { continue };
            for sub in subdirs.flatten() {
                if inner.shutting_down.load(Ordering::Acquire) {
                    return Ok(());
                }
                let Ok(files) = std::fs::read_dir(sub.path()) else { continue };
                for f in files.flatten() {
                    match data_id_of_file_name(&f.file_name().to_string_lossy()) {
                        Some(id) => removed += u64::from(remove_if_orphan(inner, &id, &f.path(), false)?),
                        None => {
                            tracing::warn!(path = %f.path().display(), "unexpected file in shard directory left alone")
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    inner.counters.orphans_collected.fetch_add(removed, Ordering::Relaxed);
    inner.counters.orphan_passes.fetch_add(1, Ordering::Release);
    result.map(|()| removed)
}

/// Removes one file if its data id is neither in flight nor (for a shard
/// file) referenced or queued; true if it was removed.
fn remove_if_orphan(inner: &Inner, id: &DataId, path: &std::path::Path, is_tmp: bool) -> Result<bool> {
    // In flight first, then references (see module docs).
    if lock(&inner.active).contains(id) {
        return Ok(false);
    }
    if !is_tmp {
        let kept = inner.meta.read(&inner.zones, |db| {
            if db.get_pinned_cf(cf(db, CF_REFS)?, id.0).map_err(|e| db_err("read refs", e))?.is_some() {
                return Ok(true);
            }
            Ok(db.get_pinned_cf(cf(db, CF_GC)?, id.0).map_err(|e| db_err("read GC queue", e))?.is_some())
        })?;
        if kept {
            return Ok(false);
        }
    }
    if std::fs::remove_file(path).is_ok() {
        tracing::info!(path = %path.display(), "orphan removed");
        return Ok(true);
    }
    Ok(false)
}

/// Background maintenance: GC after frees and unpins, and healing of zones
/// recreated at open. Holds the engine only while working, so dropping every
/// `Engine` closes it.
pub(crate) async fn background(weak: Weak<Inner>, notify: Arc<tokio::sync::Notify>, mut heal_pending: bool) {
    // Files left by writes a crash interrupted: collected once, after the
    // engine is open, so that start-up does not wait on a walk over every
    // shard file.
    if let Some(inner) = weak.upgrade() {
        let orphan_inner = inner.clone();
        drop(inner);
        match blocking(move || collect_orphans_blocking(&orphan_inner)).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "orphan files left by interrupted writes removed"),
            Err(e) => tracing::warn!(error = %e, "orphan collection after open failed"),
        }
    }
    loop {
        {
            let Some(inner) = weak.upgrade() else { return };
            if inner.shutting_down.load(Ordering::Acquire) {
                return;
            }
            if heal_pending {
                heal_pending = false;
                let engine = Engine { inner: inner.clone() };
                match engine.heal_all(true, inner.config.heal_bytes_per_sec).await {
                    Ok(r) => tracing::info!(
                        repaired = r.shards_repaired,
                        unrecoverable = r.unrecoverable,
                        "background heal finished"
                    ),
                    Err(e) => tracing::error!(error = %e, "background heal failed"),
                }
            }
            let gc_inner = inner.clone();
            if let Err(e) = blocking(move || gc_pass_blocking(&gc_inner)).await {
                tracing::warn!(error = %e, "GC pass failed");
            }
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(BACKGROUND_PERIOD) => {}
        }
    }
}

impl Engine {
    /// Removes temp files and unreferenced shard files; returns how many. Also runs a GC pass.
    pub async fn collect_orphans(&self) -> Result<u64> {
        let inner = self.inner.clone();
        blocking(move || {
            let n = collect_orphans_blocking(&inner)?;
            gc_pass_blocking(&inner)?;
            Ok(n)
        })
        .await
    }
}
