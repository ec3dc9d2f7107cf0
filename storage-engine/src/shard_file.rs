//! Format of a shard file and the durable write of a set of shard files.
//!
//! ```text
//! header (16 bytes): "CFSH" | version u8 | shard index u8 | k u8 | m u8 | stripe size u32 BE | CRC32C of the previous 12 bytes
//! block of stripe 0: block bytes | CRC32C u32 BE
//! block of stripe 1: ...
//! ```
//! Every full stripe has blocks of `ceil(stripe_size / k)` bytes; the last
//! stripe may be shorter. The CRC of every block is verified on every read.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::erasure::Codec;
use crate::error::{EngineError, Result};
use crate::records::{Chunk, ChunkLayout, DataId};
use crate::zones::{fsync_dir, io_err, Zone};

pub const HEADER_LEN: u64 = 16;
const MAGIC: &[u8; 4] = b"CFSH";
const VERSION: u8 = 1;
const CRC_LEN: usize = 4;

pub fn crc(data: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(data)
}

/// Geometry of an erasure-coded chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub k: usize,
    pub m: usize,
    pub stripe_size: usize,
    pub size: u64,
}

impl Geometry {
    pub fn of(chunk: &Chunk) -> Option<Geometry> {
        match chunk.layout {
            ChunkLayout::Inline => None,
            ChunkLayout::Erasure { data_shards, parity_shards, stripe_size_bytes } => Some(Geometry {
                k: data_shards as usize,
                m: parity_shards as usize,
                stripe_size: stripe_size_bytes as usize,
                size: chunk.size_bytes,
            }),
        }
    }
    /// The chunk record this geometry describes.
    pub fn chunk(&self, data_id: DataId) -> Chunk {
        Chunk {
            data_id,
            size_bytes: self.size,
            layout: ChunkLayout::Erasure {
                data_shards: self.k as u8,
                parity_shards: self.m as u8,
                stripe_size_bytes: self.stripe_size as u32,
            },
        }
    }
    pub fn total(&self) -> usize {
        self.k + self.m
    }
    pub fn stripes(&self) -> u64 {
        self.size.div_ceil(self.stripe_size as u64)
    }
    /// Data bytes in stripe `s`.
    pub fn stripe_len(&self, s: u64) -> usize {
        let start = s * self.stripe_size as u64;
        (self.size.saturating_sub(start)).min(self.stripe_size as u64) as usize
    }
    pub fn block_len(&self, s: u64) -> usize {
        self.stripe_len(s).div_ceil(self.k).max(1)
    }
    fn full_block_len(&self) -> usize {
        self.stripe_size.div_ceil(self.k).max(1)
    }
    pub fn block_offset(&self, s: u64) -> u64 {
        HEADER_LEN + s * (self.full_block_len() + CRC_LEN) as u64
    }
    /// Expected size of a complete shard file.
    pub fn file_len(&self) -> u64 {
        let n = self.stripes();
        if n == 0 {
            return HEADER_LEN;
        }
        self.block_offset(n - 1) + (self.block_len(n - 1) + CRC_LEN) as u64
    }
    pub fn codec(&self) -> Result<Codec> {
        Codec::new(self.k, self.m)
    }
}

pub fn header(shard: usize, g: &Geometry) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    h[5] = shard as u8;
    h[6] = g.k as u8;
    h[7] = g.m as u8;
    h[8..12].copy_from_slice(&(g.stripe_size as u32).to_be_bytes());
    let c = crc(&h[..12]);
    h[12..16].copy_from_slice(&c.to_be_bytes());
    h
}

/// Opens a shard file and checks its header; `None` if absent or not the expected shard.
pub fn open_checked(path: &Path, shard: usize, g: &Geometry) -> Option<File> {
    let f = File::open(path).ok()?;
    let mut h = [0u8; HEADER_LEN as usize];
    f.read_exact_at(&mut h, 0).ok()?;
    if h != header(shard, g) {
        tracing::warn!(path = %path.display(), "shard file header mismatch");
        return None;
    }
    Some(f)
}

/// Reads and verifies the block of stripe `s`; `None` when unreadable or corrupt.
pub fn read_block(f: &File, g: &Geometry, s: u64) -> Option<Vec<u8>> {
    let bl = g.block_len(s);
    let mut buf = vec![0u8; bl + CRC_LEN];
    f.read_exact_at(&mut buf, g.block_offset(s)).ok()?;
    let stored = u32::from_be_bytes([buf[bl], buf[bl + 1], buf[bl + 2], buf[bl + 3]]);
    buf.truncate(bl);
    if crc(&buf) != stored {
        return None;
    }
    Some(buf)
}

/// Finds shard `shard` of `id`: first in its home zone, then in any other
/// usable zone, and as a last resort in zones marked missing. Shard files are
/// immutable and self-describing, so a copy left on a failed zone that still
/// answers reads (a filesystem remounted read-only, say) is as good as any.
pub fn locate(zones: &[Zone], id: &DataId, shard: usize, home: usize) -> Option<(usize, PathBuf)> {
    let order = || std::iter::once(home).chain((0..zones.len()).filter(move |z| *z != home));
    let usable = order().filter(|z| zones.get(*z).is_some_and(|zone| zone.usable()));
    let missing = order().filter(|z| zones.get(*z).is_some_and(|zone| !zone.usable()));
    usable.chain(missing).find_map(|z| {
        let p = zones[z].shard_path(id, shard);
        p.exists().then_some((z, p))
    })
}

struct PendingShard {
    zone: usize,
    tmp: PathBuf,
    file: File,
}

/// A set of shard files being written to temp names. Dropping it without
/// `finish` removes the temp files.
pub struct ShardSetWriter {
    pub id: DataId,
    shards: Vec<Option<PendingShard>>,
    /// Zones whose writes failed (other than for a full disk).
    pub failed_zones: Vec<usize>,
    /// Some zone ran out of space; if too few shards survive, the write fails with `NoSpace`.
    pub no_space: bool,
    finished: bool,
}

impl ShardSetWriter {
    /// Creates temp files for the given shards (`targets[i] = Some(zone)`).
    /// A zone that fails (other than for a full disk) is avoided: its shards
    /// go to the other usable zones, least loaded first.
    pub fn create(zones: &[Zone], id: DataId, g: &Geometry, targets: &[Option<usize>]) -> Result<ShardSetWriter> {
        let mut w = ShardSetWriter {
            id,
            shards: Vec::with_capacity(targets.len()),
            failed_zones: Vec::new(),
            no_space: false,
            finished: false,
        };
        let mut load = vec![0usize; zones.len()];
        for (i, t) in targets.iter().enumerate() {
            let Some(first) = *t else {
                w.shards.push(None);
                continue;
            };
            let mut created = None;
            loop {
                let candidate = if !w.failed_zones.contains(&first) {
                    Some(first)
                } else {
                    (0..zones.len())
                        .filter(|z| zones[*z].usable() && !w.failed_zones.contains(z))
                        .min_by_key(|z| load[*z])
                };
                let Some(z) = candidate else { break };
                let zone = &zones[z];
                let tmp = zone.tmp_path(&id, i);
                let opened =
                    zone.injected_error().map_or(Ok(()), Err).and_then(|_| File::create(&tmp)).and_then(|mut f| {
                        f.write_all(&header(i, g))?;
                        Ok(f)
                    });
                match opened {
                    Ok(file) => {
                        created = Some(PendingShard { zone: z, tmp, file });
                        load[z] += 1;
                        break;
                    }
                    Err(e) => {
                        let err = io_err("create shard", &tmp, e);
                        let _ = std::fs::remove_file(&tmp);
                        w.no_space |= matches!(err, EngineError::NoSpace { .. });
                        tracing::warn!(zone = z, error = %err, "shard create failed; placing it elsewhere");
                        w.failed_zones.push(z);
                    }
                }
            }
            w.shards.push(created);
        }
        Ok(w)
    }

    pub fn live_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.is_some()).count()
    }

    /// Appends one block (with its CRC) to shard `i`.
    pub fn append(&mut self, zones: &[Zone], i: usize, block: &[u8]) -> Result<()> {
        let Some(Some(p)) = self.shards.get_mut(i) else { return Ok(()) };
        let c = crc(block).to_be_bytes();
        let injected = zones.get(p.zone).and_then(|z| z.injected_error());
        let res = injected.map_or(Ok(()), Err).and_then(|_| p.file.write_all(block)).and_then(|_| p.file.write_all(&c));
        if let Err(e) = res {
            let err = io_err("write shard", &p.tmp, e);
            self.no_space |= matches!(err, EngineError::NoSpace { .. });
            tracing::warn!(zone = p.zone, error = %err, "shard write failed; continuing degraded");
            let zone = p.zone;
            let tmp = p.tmp.clone();
            self.shards[i] = None;
            let _ = std::fs::remove_file(tmp);
            self.failed_zones.push(zone);
        }
        Ok(())
    }

    /// Appends all blocks of one encoded stripe.
    pub fn append_stripe(&mut self, zones: &[Zone], blocks: &[Vec<u8>]) -> Result<()> {
        for (i, b) in blocks.iter().enumerate() {
            self.append(zones, i, b)?;
        }
        Ok(())
    }

    /// fsyncs every file (in parallel), renames them to their final names and
    /// fsyncs the directories. Returns how many shards are durable; a zone that
    /// fails (also for lack of space) is recorded in `failed_zones`.
    pub fn finish(&mut self, zones: &[Zone]) -> Result<usize> {
        let shards = std::mem::take(&mut self.shards);
        let id = self.id;
        let results: Vec<(usize, usize, Result<()>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (i, s)))
                .map(|(i, p)| {
                    scope.spawn(move || {
                        let zone = p.zone;
                        let r = finish_one(zones, &id, i, p);
                        (i, zone, r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or((
                        usize::MAX,
                        usize::MAX,
                        Err(EngineError::Corrupt { what: "shard writer thread panicked".into() }),
                    ))
                })
                .collect()
        });
        self.finished = true;
        let mut durable = 0;

        for (_, zone, r) in results {
            match r {
                Ok(()) => durable += 1,
                Err(e) => {
                    if zone != usize::MAX {
                        self.failed_zones.push(zone);
                    }
                    self.no_space |= matches!(e, EngineError::NoSpace { .. });
                    tracing::warn!(zone, error = %e, "shard finish failed; continuing degraded");
                }
            }
        }
        Ok(durable)
    }
}

fn finish_one(zones: &[Zone], id: &DataId, i: usize, p: PendingShard) -> Result<()> {
    let res = (|| {
        p.file.sync_all().map_err(|e| io_err("fsync shard", &p.tmp, e))?;
        drop(p.file);
        let zone = zones.get(p.zone).ok_or_else(|| EngineError::Corrupt { what: "zone index".into() })?;
        let dst = zone.shard_path(id, i);
        std::fs::rename(&p.tmp, &dst).map_err(|e| io_err("rename shard", &dst, e))?;
        fsync_dir(&zone.shard_subdir(id))?;
        fsync_dir(&zone.tmp_dir())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&p.tmp);
    }
    res
}

impl Drop for ShardSetWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let paths: Vec<PathBuf> = self.shards.iter().flatten().map(|p| p.tmp.clone()).collect();
        self.shards.clear();
        if paths.is_empty() {
            return;
        }
        let remove = move || {
            for p in paths {
                let _ = std::fs::remove_file(p);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// Removes every final shard file of `id` in every zone (used by GC and aborts).
pub fn remove_all(zones: &[Zone], id: &DataId, total_shards: usize) -> usize {
    let mut n = 0;
    for z in zones {
        let mut touched = false;
        for i in 0..total_shards.max(1) {
            if std::fs::remove_file(z.shard_path(id, i)).is_ok() {
                n += 1;
                touched = true;
            }
        }
        if touched {
            let _ = fsync_dir(&z.shard_subdir(id));
        }
    }
    n
}
