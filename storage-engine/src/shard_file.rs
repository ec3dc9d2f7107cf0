//! Format of a shard file and the durable write of a set of shard files.
//!
//! ```text
//! header (16 bytes): "CFSH" | version u8 | shard index u8 | k u8 | m u8 | stripe size u32 BE | CRC32C of the previous 12 bytes
//! block of stripe 0: block bytes | CRC32C u32 BE
//! block of stripe 1: ...
//! ```
//! Every full stripe has blocks of `ceil(stripe_size / k)` bytes; the last
//! stripe may be shorter. The CRC of every block is verified on every read.

use rustix::buffer::spare_capacity;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::erasure::Codec;
use crate::error::{EngineError, Result};
use crate::records::{Chunk, ChunkLayout, DataId};
use crate::shard_out::ShardOut;
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

/// Whether the block of stripe `s` (with its CRC) is in the page cache,
/// judged by its first and last bytes: `RWF_NOWAIT` reads fail rather than
/// wait for the disk. A page evicted from the middle only makes a read that
/// was expected to be quick wait for the disk.
pub fn block_cached(f: &File, g: &Geometry, s: u64) -> bool {
    let first = g.block_offset(s);
    let last = first + (g.block_len(s) + CRC_LEN) as u64 - 1;
    [first, last].into_iter().all(|at| {
        let mut byte = [0u8; 1];
        let mut bufs = [std::io::IoSliceMut::new(&mut byte)];
        matches!(rustix::io::preadv2(f, &mut bufs, at, rustix::io::ReadWriteFlags::NOWAIT), Ok(1))
    })
}

/// Reads and verifies the block of stripe `s`; `None` when unreadable or corrupt.
pub fn read_block(f: &File, g: &Geometry, s: u64) -> Option<Vec<u8>> {
    let bl = g.block_len(s);
    let want = bl + CRC_LEN;
    let at = g.block_offset(s);
    // Read into the buffer's spare capacity: zeroing it first would cost a
    // pass over every byte served.
    let mut buf = Vec::with_capacity(want);
    while buf.len() < want {
        let next = at + buf.len() as u64;
        match rustix::io::pread(f, spare_capacity(&mut buf), next) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    buf.truncate(want);
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
    out: ShardOut,
}

/// A set of shard files being written to temp names. Dropping it without
/// `finish` removes the temp files.
///
/// A shard whose zone fails while the set is written (on create, append or
/// fsync) is moved: its file is written again in another usable zone, the
/// blocks already written rebuilt from the other shards. So a write that was
/// under way when a zone failed keeps all k + m shards, as a write that
/// starts after the failure does.
pub struct ShardSetWriter {
    pub id: DataId,
    /// The geometry of what `append_stripe` has written so far (`size` grows).
    g: Geometry,
    shards: Vec<Option<PendingShard>>,
    /// Shards per zone in this set, to place a moved shard on the least loaded zone.
    load: Vec<usize>,
    /// Zones whose writes failed (also for a full disk), each once.
    pub failed_zones: Vec<usize>,
    /// Some zone ran out of space; if too few shards survive, the write fails with `NoSpace`.
    pub no_space: bool,
    finished: bool,
}

/// Why a moved shard could not be rebuilt.
enum Rebuild {
    /// The zone it was being written to failed: try another.
    TargetFailed(std::io::Error),
    /// Fewer than k other shards are readable.
    NoSources,
}

impl ShardSetWriter {
    /// Creates temp files for the given shards (`targets[i] = Some(zone)`).
    /// A zone that fails is avoided: its shards go to the other usable zones,
    /// least loaded first.
    pub fn create(zones: &[Zone], id: DataId, g: &Geometry, targets: &[Option<usize>]) -> Result<ShardSetWriter> {
        let mut w = ShardSetWriter {
            id,
            g: Geometry { size: 0, ..*g },
            shards: Vec::with_capacity(targets.len()),
            load: vec![0; zones.len()],
            failed_zones: Vec::new(),
            no_space: false,
            finished: false,
        };
        for (i, t) in targets.iter().enumerate() {
            let shard = t.and_then(|first| w.open_shard(zones, i, Some(first)));
            w.shards.push(shard);
        }
        Ok(w)
    }

    pub fn live_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.is_some()).count()
    }

    /// Creates the temp file of shard `i` (header written) in `preferred`
    /// unless that zone has failed, else in the least loaded usable zone that
    /// has not; `None` when no zone takes it.
    fn open_shard(&mut self, zones: &[Zone], i: usize, preferred: Option<usize>) -> Option<PendingShard> {
        loop {
            let z = preferred.filter(|z| !self.failed_zones.contains(z)).or_else(|| {
                (0..zones.len())
                    .filter(|z| zones[*z].usable() && !self.failed_zones.contains(z))
                    .min_by_key(|z| self.load[*z])
            })?;
            let tmp = zones[z].tmp_path(&self.id, i);
            let opened = zones[z].injected_error().map_or(Ok(()), Err).and_then(|_| ShardOut::create(&tmp)).and_then(
                |mut out| {
                    out.write_all(&header(i, &self.g))?;
                    Ok(out)
                },
            );
            match opened {
                Ok(out) => {
                    self.load[z] += 1;
                    return Some(PendingShard { zone: z, tmp, out });
                }
                Err(e) => {
                    let err = io_err("create shard", &tmp, e);
                    let _ = std::fs::remove_file(&tmp);
                    self.zone_failed(z, err);
                }
            }
        }
    }

    fn zone_failed(&mut self, zone: usize, err: EngineError) {
        self.no_space |= matches!(err, EngineError::NoSpace { .. });
        tracing::warn!(zone, error = %err, "shard write failed in this zone; placing the shard elsewhere");
        if !self.failed_zones.contains(&zone) {
            self.failed_zones.push(zone);
        }
    }

    /// Removes shard `i` after a failed write to it and records its zone as failed.
    fn drop_shard(&mut self, i: usize, op: &'static str, err: std::io::Error) {
        let Some(p) = self.shards.get_mut(i).and_then(Option::take) else { return };
        let err = io_err(op, &p.tmp, err);
        let _ = std::fs::remove_file(&p.tmp);
        self.load[p.zone] = self.load[p.zone].saturating_sub(1);
        self.zone_failed(p.zone, err);
    }

    fn write_block(zones: &[Zone], p: &mut PendingShard, block: &[u8]) -> std::io::Result<()> {
        zones.get(p.zone).and_then(|z| z.injected_error()).map_or(Ok(()), Err)?;
        p.out.write_all(block)?;
        p.out.write_all(&crc(block).to_be_bytes())
    }

    fn sync(zones: &[Zone], p: &mut PendingShard) -> std::io::Result<()> {
        zones.get(p.zone).and_then(|z| z.injected_error()).map_or(Ok(()), Err)?;
        p.out.sync()
    }

    /// Appends one block (with its CRC) to shard `i`; a failed write drops
    /// the shard (a heal writes it again later).
    pub fn append(&mut self, zones: &[Zone], i: usize, block: &[u8]) -> Result<()> {
        let Some(Some(p)) = self.shards.get_mut(i) else { return Ok(()) };
        if let Err(e) = Self::write_block(zones, p, block) {
            self.drop_shard(i, "write shard", e);
        }
        Ok(())
    }

    /// Appends the blocks of the next stripe, which holds `data_len` bytes of
    /// data. A shard whose write fails is moved to another zone.
    pub fn append_stripe(&mut self, zones: &[Zone], blocks: &[Vec<u8>], data_len: usize) -> Result<()> {
        let before = self.g;
        for (i, b) in blocks.iter().enumerate() {
            let Some(Some(p)) = self.shards.get_mut(i) else { continue };
            if let Err(e) = Self::write_block(zones, p, b) {
                self.drop_shard(i, "write shard", e);
                self.relocate(zones, i, &before, Some(b), false);
            }
        }
        self.g.size += data_len as u64;
        Ok(())
    }

    /// Writes shard `i` again in another zone: the blocks of the stripes of
    /// `done`, rebuilt from the other shards, then `next` if given, then an
    /// fsync if `sync`. The shard stays absent when no zone takes it or fewer
    /// than k other shards can be read.
    fn relocate(&mut self, zones: &[Zone], i: usize, done: &Geometry, next: Option<&[u8]>, sync: bool) {
        let Ok(codec) = done.codec() else { return };
        // Read handles on the other shards, their bytes written out first.
        let sources: Vec<Option<File>> = (self.shards.iter_mut().enumerate())
            .map(|(j, q)| {
                let q = q.as_mut().filter(|_| j != i)?;
                q.out.flush().and_then(|()| q.out.reader()).ok()
            })
            .collect();
        while let Some(mut p) = self.open_shard(zones, i, None) {
            match Self::rebuild_shard(zones, &codec, &sources, i, done, &mut p, next, sync) {
                Ok(()) => {
                    tracing::info!(zone = p.zone, shard = i, "shard moved to another zone during the write");
                    self.shards[i] = Some(p);
                    return;
                }
                Err(Rebuild::TargetFailed(e)) => {
                    self.shards[i] = Some(p);
                    self.drop_shard(i, "rebuild shard", e);
                }
                Err(Rebuild::NoSources) => {
                    let _ = std::fs::remove_file(&p.tmp);
                    self.load[p.zone] = self.load[p.zone].saturating_sub(1);
                    return;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rebuild_shard(
        zones: &[Zone],
        codec: &Codec,
        sources: &[Option<File>],
        i: usize,
        done: &Geometry,
        p: &mut PendingShard,
        next: Option<&[u8]>,
        sync: bool,
    ) -> std::result::Result<(), Rebuild> {
        for s in 0..done.stripes() {
            let mut blocks: Vec<Option<Vec<u8>>> =
                sources.iter().map(|f| f.as_ref().and_then(|f| read_block(f, done, s))).collect();
            codec.reconstruct(&mut blocks).map_err(|_| Rebuild::NoSources)?;
            let block = blocks.get(i).and_then(Option::as_ref).ok_or(Rebuild::NoSources)?;
            Self::write_block(zones, p, block).map_err(Rebuild::TargetFailed)?;
        }
        if let Some(b) = next {
            Self::write_block(zones, p, b).map_err(Rebuild::TargetFailed)?;
        }
        if sync {
            Self::sync(zones, p).map_err(Rebuild::TargetFailed)?;
        }
        Ok(())
    }

    /// fsyncs every file (in parallel), moves a shard whose fsync failed to
    /// another zone, renames them to their final names and fsyncs the
    /// directories. Returns how many shards are durable; a zone that fails
    /// is recorded in `failed_zones`.
    pub fn finish(&mut self, zones: &[Zone]) -> Result<usize> {
        let synced: Vec<(usize, std::io::Result<()>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (self.shards.iter_mut().enumerate())
                .filter_map(|(i, s)| s.as_mut().map(|p| (i, scope.spawn(move || Self::sync(zones, p)))))
                .collect();
            handles
                .into_iter()
                .map(|(i, h)| {
                    (i, h.join().unwrap_or_else(|_| Err(std::io::Error::other("shard fsync thread panicked"))))
                })
                .collect()
        });
        let all = self.g;
        for (i, r) in synced {
            if let Err(e) = r {
                self.drop_shard(i, "fsync shard", e);
                self.relocate(zones, i, &all, None, true);
            }
        }

        let shards = std::mem::take(&mut self.shards);
        let id = self.id;
        let results: Vec<(usize, Result<()>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (shards.into_iter().enumerate())
                .filter_map(|(i, s)| s.map(|p| (p.zone, scope.spawn(move || publish(zones, &id, i, p)))))
                .collect();
            handles
                .into_iter()
                .map(|(zone, h)| {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Err(EngineError::Corrupt { what: "shard writer thread panicked".into() }));
                    (zone, r)
                })
                .collect()
        });
        self.finished = true;
        let mut durable = 0;
        for (zone, r) in results {
            match r {
                Ok(()) => durable += 1,
                Err(e) => self.zone_failed(zone, e),
            }
        }
        Ok(durable)
    }
}

/// Renames a synced temp file to its final name and fsyncs both directories.
fn publish(zones: &[Zone], id: &DataId, i: usize, p: PendingShard) -> Result<()> {
    let res = (|| {
        drop(p.out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    /// A shard file of `g` written by hand: header, then each block with its CRC.
    fn shard_file(g: &Geometry, dir: &Path) -> (File, Vec<Vec<u8>>) {
        let path = dir.join("shard");
        let mut f = File::create(&path).unwrap();
        f.write_all(&header(0, g)).unwrap();
        let mut blocks = Vec::new();
        for s in 0..g.stripes() {
            let block: Vec<u8> = (0..g.block_len(s)).map(|i| (i as u64 * 7 + s * 13) as u8).collect();
            f.write_all(&block).unwrap();
            f.write_all(&crc(&block).to_be_bytes()).unwrap();
            blocks.push(block);
        }
        assert_eq!(f.metadata().unwrap().len(), g.file_len());
        (open_checked(&path, 0, g).expect("header"), blocks)
    }

    #[test]
    fn blocks_read_back_verified() {
        let dir = tempfile::tempdir().unwrap();
        // Four full stripes and a short last one.
        let g = Geometry { k: 4, m: 2, stripe_size: 64 * 1024, size: 4 * 64 * 1024 + 1000 };
        let (f, blocks) = shard_file(&g, dir.path());
        for s in [4, 0, 3, 1, 2] {
            assert_eq!(read_block(&f, &g, s).as_ref(), Some(&blocks[s as usize]), "stripe {s}");
        }
        // A flipped byte fails the CRC of its block only.
        let at = g.block_offset(2) + 100;
        let mut byte = [0u8];
        f.read_exact_at(&mut byte, at).unwrap();
        let w = OpenOptions::new().write(true).open(dir.path().join("shard")).unwrap();
        w.write_all_at(&[byte[0] ^ 1], at).unwrap();
        assert_eq!(read_block(&f, &g, 2), None);
        assert_eq!(read_block(&f, &g, 3).as_ref(), Some(&blocks[3]));
        // A file cut short inside the last block.
        w.set_len(g.file_len() - 10).unwrap();
        assert_eq!(read_block(&f, &g, 4), None);
        assert_eq!(read_block(&f, &g, 0).as_ref(), Some(&blocks[0]));
    }
}
