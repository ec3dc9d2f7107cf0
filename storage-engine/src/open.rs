//! Opening the engine: zone markers, metadata replicas, recovery.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use crate::engine::{Counters, Inner};
use crate::error::{EngineError, Result};
use crate::meta::{block_cache, open_db, read_seq, Meta, WRITE_QUORUM};
use crate::types::EngineConfig;
use crate::zones::{create_layout, inspect, Found, Zone, ZoneState, ZONE_COUNT};

fn invalid(what: String) -> EngineError {
    EngineError::Corrupt { what: format!("invalid engine configuration: {what}") }
}

fn validate(c: &EngineConfig) -> Result<()> {
    if c.data_shards == 0 || c.data_shards + c.parity_shards > 255 {
        return Err(invalid(format!("erasure geometry {}+{}", c.data_shards, c.parity_shards)));
    }
    if c.stripe_size_bytes < c.data_shards || c.stripe_size_bytes > u32::MAX as usize {
        return Err(invalid(format!("stripe size {}", c.stripe_size_bytes)));
    }
    let dirs: HashSet<_> = c.zone_dirs.iter().collect();
    if dirs.len() != ZONE_COUNT {
        return Err(invalid("the three zone directories must differ".into()));
    }
    Ok(())
}

/// Removes leftovers of interrupted replica rebuilds and checkpoints.
fn remove_rebuild_leftovers(zone: &Zone) {
    for dir in [zone.dir.clone(), zone.tmp_dir()] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("meta.new-") || name.starts_with("meta.old-") || name.starts_with("ckpt-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Opens a zone's metadata replica with its commit sequence; `None` when the
/// zone has none (new or emptied) or it is unreadable (it is then rebuilt),
/// an error when another process holds it.
fn open_replica(zone: &Zone, marked: bool, cache: &rocksdb::Cache) -> Result<Option<(rocksdb::DB, u64)>> {
    if !marked {
        return Ok(None);
    }
    remove_rebuild_leftovers(zone);
    if !zone.meta_dir().join("CURRENT").exists() {
        return Ok(None);
    }
    match open_db(&zone.meta_dir(), cache).and_then(|db| read_seq(&db).map(|s| (db, s))) {
        Ok(pair) => Ok(Some(pair)),
        Err(EngineError::Metadata { message, .. }) if is_lock_error(&message) => Err(EngineError::Metadata {
            op: "open metadata replica",
            message: format!("{} is in use by another process ({message})", zone.meta_dir().display()),
        }),
        Err(e) => {
            tracing::error!(zone = zone.index, error = %e, "metadata replica unreadable; it will be rebuilt");
            Ok(None)
        }
    }
}

/// RocksDB's answer when another process (or another engine in this one)
/// holds a database's LOCK file.
fn is_lock_error(message: &str) -> bool {
    message.contains("While lock file") || message.contains("lock hold by current process")
}

pub(crate) fn open_blocking(config: EngineConfig) -> Result<Inner> {
    validate(&config)?;
    let mut found = Vec::with_capacity(ZONE_COUNT);
    for (i, dir) in config.zone_dirs.iter().enumerate() {
        found.push(inspect(dir, i)?);
    }
    let mut clusters: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        if let Found::Marked { cluster_id } = f {
            clusters.entry(cluster_id.as_str()).or_default().push(i);
        }
    }
    if clusters.len() > 1 {
        let detail: Vec<String> = clusters
            .iter()
            .map(|(c, zs)| {
                format!(
                    "cluster {c}: {}",
                    zs.iter().map(|z| config.zone_dirs[*z].display().to_string()).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        return Err(EngineError::Corrupt {
            what: format!("zone directories belong to different clusters ({})", detail.join("; ")),
        });
    }
    let existing = clusters.keys().next().map(|c| c.to_string());
    let cluster_id = existing.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());

    let zones: Vec<Zone> =
        config.zone_dirs.iter().enumerate().map(|(i, d)| Zone::new(i, d.clone(), ZoneState::Online)).collect();

    let cache = block_cache(config.metadata_cache_bytes);
    // Open the replicas that survived, side by side (each replays its own WAL).
    let opened: Vec<Result<Option<(rocksdb::DB, u64)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = zones
            .iter()
            .map(|zone| {
                let marked = matches!(found[zone.index], Found::Marked { .. });
                let cache = &cache;
                s.spawn(move || open_replica(zone, marked, cache))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::Metadata {
                        op: "open metadata replica",
                        message: "the opening thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    // A replica held by another process (a predecessor still shutting down)
    // fails the open as a whole, closing the others, so that it can be retried.
    let mut dbs = Vec::with_capacity(ZONE_COUNT);
    for r in opened {
        dbs.push(r?);
    }
    let survivors = dbs.iter().filter(|d| d.is_some()).count();
    if existing.is_some() && survivors < WRITE_QUORUM {
        return Err(EngineError::InsufficientZones { available: survivors, needed: WRITE_QUORUM });
    }

    // Recreate missing zones (a new cluster creates all three).
    for (i, zone) in zones.iter().enumerate() {
        if matches!(found[i], Found::Empty) {
            tracing::warn!(zone = i, dir = %zone.dir.display(), "zone directory missing or empty; recreating it");
        }
        create_layout(zone, &cluster_id)?;
    }
    if existing.is_none() {
        for (i, zone) in zones.iter().enumerate() {
            let db = open_db(&zone.meta_dir(), &cache)?;
            dbs[i] = Some((db, 0));
        }
    }

    let meta = Meta::new(dbs, cache)?;
    for zone in &zones {
        if !meta.is_fresh(zone.index) {
            tracing::warn!(zone = zone.index, "metadata replica stale or missing; rebuilding from a fresh replica");
            meta.rebuild(&zones, zone.index)?;
            // Its shards may be missing too: heal them.
            zone.set_state(ZoneState::Rebuilding);
        }
    }

    let inner = Inner {
        write_budget: crate::budget::Budget::for_writers(&config),
        read_budget: crate::budget::Budget::for_readers(&config),
        config,
        zones,
        meta,
        pins: Mutex::new(HashMap::new()),
        active: Mutex::new(HashSet::new()),
        heal_queue: Mutex::new(HashMap::new()),
        counters: Counters::default(),
        heal_lock: tokio::sync::Mutex::new(()),
        gc_notify: std::sync::Arc::new(tokio::sync::Notify::new()),
        shutting_down: AtomicBool::new(false),
        background: Mutex::new(None),
    };
    // Orphan collection and the GC queue are worked off in the background
    // (`gc::background`), after the engine is serving.
    Ok(inner)
}
