//! The output file of a shard being written: direct I/O where the
//! filesystem allows it, the page cache otherwise.
//!
//! A shard file is written once, front to back, fsynced, and seldom read
//! back soon. Through the page cache every byte is copied into a new cache
//! page, written back at the fsync, and then occupies memory that metadata
//! and hot objects could use. With `O_DIRECT` the disk reads the bytes from
//! a small staging buffer instead: blocks are gathered in it and written in
//! aligned runs; the unaligned tail is written padded with zeros to a full
//! run, and the file cut back to its length before the fsync. (Writing that
//! tail through the page cache instead, `O_DIRECT` cleared on the
//! descriptor, needs no cut but made 64 MiB PUTs ~10 % slower: the fsync
//! then has a dirty delayed-allocation page to write.) Reading the file
//! while it is written (a shard being rebuilt elsewhere) writes the padded
//! tail too; it stays staged and is written again with what follows.
//!
//! Filesystems without direct I/O (tmpfs, some FUSE mounts) refuse it with
//! `EINVAL`, at open or at the first write; the file then goes on through
//! the page cache, with writeback started every [`WRITEBACK_STEP`] bytes and
//! the pages dropped once the file is durable.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::num::NonZeroU64;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Alignment of direct writes: offset, length and memory address. 4096
/// covers every logical block size Linux filesystems use.
const ALIGN: usize = 4096;
/// Bytes gathered before a direct write.
const STAGE: usize = 256 << 10;
/// Page-cache writes start their writeback every this many bytes, so that
/// the fsync at the end finds little left to write.
const WRITEBACK_STEP: u64 = 1 << 20;
/// Memory one shard file's staging buffer takes.
pub(crate) const STAGE_BYTES: usize = STAGE + ALIGN;

pub struct ShardOut {
    path: PathBuf,
    file: File,
    /// Bytes written so far (the file's length once synced).
    written: u64,
    mode: Mode,
}

enum Mode {
    Direct(Stage),
    /// Through the page cache; the length whose writeback has been started.
    Cached {
        flushing: u64,
    },
}

/// The staging buffer of direct writes: `buf[start..]` holds the bytes from
/// file offset `at` on (`at` and the address of `buf[start]` aligned).
/// `tail_written`: the staged bytes are in the file too (until the next
/// write). `padded_end`: the furthest a padded tail has reached.
struct Stage {
    buf: Vec<u8>,
    start: usize,
    at: u64,
    tail_written: bool,
    padded_end: u64,
}

impl Stage {
    fn new() -> Stage {
        let mut buf: Vec<u8> = Vec::with_capacity(STAGE + ALIGN);
        let start = buf.as_ptr().align_offset(ALIGN);
        buf.resize(start, 0);
        Stage { buf, start, at: 0, tail_written: false, padded_end: 0 }
    }
    fn staged(&self) -> usize {
        self.buf.len() - self.start
    }
}

fn is_einval(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

impl ShardOut {
    /// Creates (or truncates) `path` for writing.
    pub fn create(path: &Path) -> std::io::Result<ShardOut> {
        let open = |flags: i32| {
            OpenOptions::new().read(true).write(true).create(true).truncate(true).custom_flags(flags).open(path)
        };
        let (file, mode) = match open(libc::O_DIRECT) {
            Ok(f) => (f, Mode::Direct(Stage::new())),
            Err(e) if is_einval(&e) => (open(0)?, Mode::Cached { flushing: 0 }),
            Err(e) => return Err(e),
        };
        Ok(ShardOut { path: path.to_path_buf(), file, written: 0, mode })
    }

    #[cfg(test)]
    fn written(&self) -> u64 {
        self.written
    }

    /// Whether the file is written with direct I/O (false after a fallback).
    #[cfg(test)]
    fn is_direct(&self) -> bool {
        matches!(self.mode, Mode::Direct(_))
    }

    pub fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let Mode::Direct(stage) = &mut self.mode else {
                self.file.write_all(data)?;
                self.written += data.len() as u64;
                self.maybe_start_writeback();
                return Ok(());
            };
            let n = data.len().min(STAGE - stage.staged());
            stage.buf.extend_from_slice(&data[..n]);
            stage.tail_written = false;
            self.written += n as u64;
            data = &data[n..];
            if stage.staged() == STAGE {
                self.flush_stage(false)?;
            }
        }
        Ok(())
    }

    /// Writes what is staged: the aligned part, and with `tail` also the
    /// unaligned rest padded with zeros (kept staged, to be written again
    /// with what follows it).
    fn flush_stage(&mut self, tail: bool) -> std::io::Result<()> {
        let Mode::Direct(stage) = &mut self.mode else { return Ok(()) };
        if tail && stage.tail_written {
            // Everything is in the file already (and may have been synced and
            // cut to length since): writing the padded tail again would
            // lengthen it.
            return Ok(());
        }
        let staged = stage.staged();
        let aligned = staged - staged % ALIGN;
        let len = if tail { staged.next_multiple_of(ALIGN) } else { aligned };
        if len == 0 {
            return Ok(());
        }
        if len > staged {
            stage.buf.resize(stage.start + len, 0);
        }
        let res = self.file.write_all_at(&stage.buf[stage.start..stage.start + len], stage.at);
        stage.buf.truncate(stage.start + staged);
        match res {
            Ok(()) => {
                stage.buf.copy_within(stage.start + aligned.., stage.start);
                stage.buf.truncate(stage.start + staged - aligned);
                if tail {
                    stage.padded_end = stage.padded_end.max(stage.at + len as u64);
                }
                stage.at += aligned as u64;
                stage.tail_written = tail;
                Ok(())
            }
            Err(e) if is_einval(&e) => self.fall_back_to_cache(),
            Err(e) => Err(e),
        }
    }

    /// The filesystem refused a direct write: goes on with the page cache,
    /// writing the staged bytes at their offset.
    fn fall_back_to_cache(&mut self) -> std::io::Result<()> {
        tracing::debug!(path = %self.path.display(), "direct write refused; writing through the page cache");
        let Mode::Direct(stage) = std::mem::replace(&mut self.mode, Mode::Cached { flushing: 0 }) else {
            return Ok(());
        };
        let mut file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.write_all_at(&stage.buf[stage.start..], stage.at)?;
        file.set_len(self.written)?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.written))?;
        self.file = file;
        Ok(())
    }

    fn maybe_start_writeback(&mut self) {
        if let Mode::Cached { flushing } = &mut self.mode {
            if self.written - *flushing >= WRITEBACK_STEP {
                *flushing = self.written;
                self.drop_cache(NonZeroU64::new(self.written));
            }
        }
    }

    /// `POSIX_FADV_DONTNEED` over the first `len` bytes (`None`: all): the
    /// kernel starts writeback of dirty pages without waiting for it and
    /// drops the clean ones. Advice only, so a refusal is just logged.
    fn drop_cache(&self, len: Option<NonZeroU64>) {
        if let Err(e) = rustix::fs::fadvise(&self.file, 0, len, rustix::fs::Advice::DontNeed) {
            tracing::debug!(path = %self.path.display(), error = %e, "page cache advice refused");
        }
    }

    /// Puts everything written so far in the file, so that it can be read
    /// (by another handle) while the writing goes on.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.flush_stage(true)
    }

    /// A handle to read what has been written (call [`ShardOut::flush`] first).
    pub fn reader(&self) -> std::io::Result<File> {
        File::open(&self.path)
    }

    /// Makes the file durable at its exact length. A page-cache file large
    /// enough to have had its writeback started early then leaves the cache:
    /// a large new object is seldom read back at once, and the next writes
    /// reuse those pages instead of growing the cache.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.flush_stage(true)?;
        if let Mode::Direct(stage) = &self.mode {
            if stage.padded_end > self.written {
                self.file.set_len(self.written)?;
            }
        }
        self.file.sync_all()?;
        if let Mode::Cached { flushing } = self.mode {
            if flushing > 0 {
                self.drop_cache(None);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// Writes pieces of the given sizes, syncs, and checks the file holds
    /// exactly their concatenation; reads back through `reader` mid-way.
    fn round_trip(dir: &Path, sizes: &[usize]) -> bool {
        let path = dir.join(format!("out-{}", sizes.len()));
        let mut out = ShardOut::create(&path).unwrap();
        let direct = out.is_direct();
        let mut all = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let piece = pattern(*n, i as u8);
            out.write_all(&piece).unwrap();
            all.extend_from_slice(&piece);
            assert_eq!(out.written(), all.len() as u64);
            if i == sizes.len() / 2 {
                out.flush().unwrap();
                let mut got = vec![0u8; all.len()];
                out.reader().unwrap().read_exact_at(&mut got, 0).unwrap();
                assert!(got == all, "flushed bytes read back mid-way");
            }
        }
        out.sync().unwrap();
        // A flush after the sync (a relocation reading the synced shards) leaves the file as it is.
        out.flush().unwrap();
        drop(out);
        let got = std::fs::read(&path).unwrap();
        let first = got.iter().zip(&all).position(|(a, b)| a != b);
        assert!(
            got == all,
            "file holds exactly what was written ({sizes:?}): {} vs {} bytes, first difference at {first:?}",
            got.len(),
            all.len()
        );
        direct
    }

    #[test]
    fn writes_read_back_at_their_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        let block = 64 << 10;
        let cases: Vec<Vec<usize>> = vec![
            vec![16],
            vec![16, block, 4, block, 4],
            vec![16, STAGE, 4, STAGE * 2 + 1, 4],
            vec![ALIGN; 3],
            vec![16, 300_000, 4, 300_000, 4, 17, 4],
            vec![],
        ];
        let direct: Vec<bool> = cases.iter().map(|c| round_trip(dir.path(), c)).collect();
        // The test directory is on a disk filesystem here (ext4), which takes
        // direct I/O: the direct path is the one exercised.
        assert!(direct.iter().all(|d| *d), "direct I/O used: {direct:?}");
    }

    #[test]
    fn direct_writes_can_fall_back_to_the_page_cache_mid_file() {
        // No filesystem at hand refuses O_DIRECT (tmpfs takes it since Linux
        // 6.6), so the fallback a refusal triggers is called directly: after
        // direct writes, one with a padded tail on disk, and from the start.
        let dir = tempfile::tempdir().unwrap();
        for (k, switch_at) in [STAGE + 100, 10, 0].into_iter().enumerate() {
            let path = dir.path().join(format!("out-{k}"));
            let mut out = ShardOut::create(&path).unwrap();
            let data = pattern(3 * WRITEBACK_STEP as usize + 5, k as u8);
            out.write_all(&data[..switch_at]).unwrap();
            out.flush().unwrap();
            out.fall_back_to_cache().unwrap();
            assert!(!out.is_direct());
            out.write_all(&data[switch_at..]).unwrap();
            out.sync().unwrap();
            drop(out);
            assert!(std::fs::read(&path).unwrap() == data, "switch at {switch_at}");
        }
    }
}
