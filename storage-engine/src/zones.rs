//! The three availability-zone directories: layout, marker files, shard
//! placement and the online/missing/rebuilding state of each zone.
//!
//! Layout of one zone directory:
//! ```text
//! azN/COFFER_ZONE                  marker: format, cluster id, zone index
//! azN/meta/                        this zone's RocksDB metadata replica
//! azN/shards/<xx>/<data_id>.<i>    shard i of an erasure-coded chunk (xx = first byte of the id)
//! azN/tmp/                         shard files being written or rebuilt
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{EngineError, Result};
use crate::records::DataId;

pub const ZONE_COUNT: usize = 3;
pub const MARKER_FILE: &str = "COFFER_ZONE";
const MARKER_MAGIC: &str = "coffer-zone";
const MARKER_VERSION: u32 = 1;

/// Maps an I/O error to an engine error, singling out a full disk.
pub fn io_err(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
    if source.raw_os_error() == Some(libc::ENOSPC) {
        EngineError::NoSpace { op, path: path.to_path_buf() }
    } else {
        EngineError::Io { op, path: path.to_path_buf(), source }
    }
}

/// fsyncs a directory so that renames and creations inside it are durable.
pub fn fsync_dir(path: &Path) -> Result<()> {
    let d = fs::File::open(path).map_err(|e| io_err("open dir", path, e))?;
    d.sync_all().map_err(|e| io_err("fsync dir", path, e))
}

/// Writes a small file durably: temp name, fsync, rename, fsync directory.
pub fn write_file_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| EngineError::Corrupt { what: format!("path without parent: {}", path.display()) })?;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    {
        let mut f = fs::File::create(&tmp).map_err(|e| io_err("create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err("write", &tmp, e))?;
        f.sync_all().map_err(|e| io_err("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io_err("rename", path, e))?;
    fsync_dir(dir)
}

/// State of a zone as seen by this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Serving reads and writes; its metadata replica is up to date.
    Online,
    /// Failed or unavailable: no shards are placed on it and its metadata replica is not written.
    /// Reads still try its shard files as a last resort (it may have only gone read-only).
    Missing,
    /// Recreated or returning: metadata replica rebuilt, shards still being healed.
    Rebuilding,
}

impl ZoneState {
    fn to_u8(self) -> u8 {
        match self {
            ZoneState::Online => 0,
            ZoneState::Missing => 1,
            ZoneState::Rebuilding => 2,
        }
    }
    fn from_u8(v: u8) -> ZoneState {
        match v {
            0 => ZoneState::Online,
            2 => ZoneState::Rebuilding,
            _ => ZoneState::Missing,
        }
    }
}

/// One zone directory.
#[derive(Debug)]
pub struct Zone {
    pub index: usize,
    pub dir: PathBuf,
    state: AtomicU8,
    /// Fault injection: 0 none, 1 shard writes fail with ENOSPC, 2 shard writes fail with EIO.
    fault: AtomicU8,
}

/// A write fault injected into a zone (tests and drills).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    None,
    NoSpace,
    IoError,
}

impl Zone {
    pub fn new(index: usize, dir: PathBuf, state: ZoneState) -> Zone {
        Zone { index, dir, state: AtomicU8::new(state.to_u8()), fault: AtomicU8::new(0) }
    }
    pub fn inject(&self, f: InjectedFault) {
        let v = match f {
            InjectedFault::None => 0,
            InjectedFault::NoSpace => 1,
            InjectedFault::IoError => 2,
        };
        self.fault.store(v, Ordering::Release);
    }
    /// The injected write error, if any.
    pub fn injected_error(&self) -> Option<std::io::Error> {
        match self.fault.load(Ordering::Acquire) {
            1 => Some(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            2 => Some(std::io::Error::from_raw_os_error(libc::EIO)),
            _ => None,
        }
    }
    pub fn state(&self) -> ZoneState {
        ZoneState::from_u8(self.state.load(Ordering::Acquire))
    }
    pub fn set_state(&self, s: ZoneState) {
        self.state.store(s.to_u8(), Ordering::Release);
    }
    /// Shards may be written to and read from an online or rebuilding zone.
    pub fn usable(&self) -> bool {
        self.state() != ZoneState::Missing
    }
    pub fn meta_dir(&self) -> PathBuf {
        self.dir.join("meta")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }
    pub fn shards_dir(&self) -> PathBuf {
        self.dir.join("shards")
    }
    pub fn shard_subdir(&self, id: &DataId) -> PathBuf {
        self.shards_dir().join(format!("{:02x}", id.0[0]))
    }
    pub fn shard_path(&self, id: &DataId, shard: usize) -> PathBuf {
        self.shard_subdir(id).join(format!("{}.{}", id.hex(), shard))
    }
    /// A fresh temp path for shard `shard` of `id` (the id is in the name so orphans can be attributed).
    pub fn tmp_path(&self, id: &DataId, shard: usize) -> PathBuf {
        self.tmp_dir().join(format!("{}.{}.{}", id.hex(), shard, uuid::Uuid::new_v4().simple()))
    }
}

/// Parses a shard or temp file name into its data id.
pub fn data_id_of_file_name(name: &str) -> Option<DataId> {
    DataId::from_hex(name.split('.').next()?)
}

/// What was found in a zone directory at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A marker for this zone of this cluster id.
    Marked { cluster_id: String },
    /// Missing or empty: to be recreated.
    Empty,
}

fn marker_text(cluster_id: &str, zone: usize) -> String {
    format!("{MARKER_MAGIC} {MARKER_VERSION}\ncluster_id={cluster_id}\nzone={zone}\n")
}

fn parse_marker(text: &str, path: &Path) -> Result<(String, usize)> {
    let bad = || EngineError::Corrupt { what: format!("zone marker {} is malformed", path.display()) };
    let mut lines = text.lines();
    let head = lines.next().ok_or_else(bad)?;
    if head != format!("{MARKER_MAGIC} {MARKER_VERSION}") {
        return Err(bad());
    }
    let mut cluster = None;
    let mut zone = None;
    for l in lines {
        if let Some(v) = l.strip_prefix("cluster_id=") {
            cluster = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("zone=") {
            zone = v.parse::<usize>().ok();
        }
    }
    Ok((cluster.ok_or_else(bad)?, zone.ok_or_else(bad)?))
}

/// Inspects a zone directory; refuses one that belongs to another zone or is
/// not empty but carries no marker (a wrongly mounted directory).
pub fn inspect(dir: &Path, zone: usize) -> Result<Found> {
    let marker = dir.join(MARKER_FILE);
    match fs::read(&marker) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| EngineError::Corrupt { what: format!("zone marker {} is not UTF-8", marker.display()) })?;
            let (cluster_id, z) = parse_marker(&text, &marker)?;
            if z != zone {
                return Err(EngineError::Corrupt {
                    what: format!(
                        "zone directory {} belongs to zone {} but is configured as zone {}",
                        dir.display(),
                        z,
                        zone
                    ),
                });
            }
            Ok(Found::Marked { cluster_id })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    Err(EngineError::Corrupt {
                        what: format!(
                            "zone directory {} is not empty but has no {MARKER_FILE} marker; refusing to use it",
                            dir.display()
                        ),
                    })
                } else {
                    Ok(Found::Empty)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Empty),
            Err(e) => Err(io_err("read zone dir", dir, e)),
        },
        Err(e) => Err(io_err("read zone marker", &marker, e)),
    }
}

/// Creates the directory skeleton of a zone (idempotent), and its marker if absent.
pub fn create_layout(zone: &Zone, cluster_id: &str) -> Result<()> {
    for d in [zone.dir.clone(), zone.tmp_dir(), zone.shards_dir()] {
        fs::create_dir_all(&d).map_err(|e| io_err("create dir", &d, e))?;
    }
    for b in 0..=255u8 {
        let d = zone.shards_dir().join(format!("{b:02x}"));
        fs::create_dir_all(&d).map_err(|e| io_err("create dir", &d, e))?;
    }
    fsync_dir(&zone.shards_dir())?;
    let marker = zone.dir.join(MARKER_FILE);
    if !marker.exists() {
        write_file_durable(&marker, marker_text(cluster_id, zone.index).as_bytes())?;
    }
    if let Some(parent) = zone.dir.parent() {
        // Best effort: the parent may not be ours to open.
        let _ = fsync_dir(parent);
    }
    Ok(())
}

/// The zone a shard is placed in when every zone is online: shards spread evenly.
pub fn home_zone(shard: usize, total_shards: usize) -> usize {
    (shard * ZONE_COUNT / total_shards.max(1)).min(ZONE_COUNT - 1)
}

/// Placement of every shard given which zones are usable: the home zone if
/// usable, else the usable zone holding the fewest shards so far.
pub fn place(total_shards: usize, usable: &[bool; ZONE_COUNT]) -> Option<Vec<usize>> {
    if !usable.iter().any(|u| *u) {
        return None;
    }
    let mut count = [0usize; ZONE_COUNT];
    let mut out = vec![usize::MAX; total_shards];
    for (i, slot) in out.iter_mut().enumerate() {
        let h = home_zone(i, total_shards);
        if usable[h] {
            *slot = h;
            count[h] += 1;
        }
    }
    for slot in out.iter_mut() {
        if *slot == usize::MAX {
            let z = (0..ZONE_COUNT).filter(|z| usable[*z]).min_by_key(|z| count[*z])?;
            *slot = z;
            count[z] += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_even_and_degrades() {
        assert_eq!(place(6, &[true; 3]), Some(vec![0, 0, 1, 1, 2, 2]));
        assert_eq!(place(6, &[true, false, true]), Some(vec![0, 0, 0, 2, 2, 2]));
        assert_eq!(place(9, &[true; 3]), Some(vec![0, 0, 0, 1, 1, 1, 2, 2, 2]));
        assert_eq!(place(6, &[false; 3]), None);
    }

    #[test]
    fn marker_round_trip() {
        let t = marker_text("abc", 2);
        assert_eq!(parse_marker(&t, Path::new("x")).ok(), Some(("abc".to_string(), 2)));
        assert!(parse_marker("garbage", Path::new("x")).is_err());
    }
}
