//! Streaming reads with on-the-fly reconstruction.
//!
//! Every block read is CRC-checked. When a data block is missing or corrupt,
//! parity blocks are read until k good blocks are at hand and the stripe is
//! reconstructed; the chunk is reported for healing. An `ObjectReader` pins
//! the object's chunks so that an overwrite or delete committed meanwhile does
//! not delete the files it reads. A reader whose range touches erasure-coded
//! data holds a share of the read budget (`budget`) from its opening on.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::budget::Share;
use crate::engine::{blocking, get_cached, lock, require_object_cached, Inner, PinGuard};
use crate::erasure::Codec;
use crate::error::{EngineError, Result};
use crate::keys::{self, CF_INLINE, CF_OBJECTS};
use crate::meta::{cf, db_err};
use crate::records::{decode_inline, Chunk, DataId, ObjectRecord};
use crate::shard_file::{block_cached, locate, open_checked, read_block, Geometry};
use crate::types::ObjectInfo;
use crate::zones::{home_zone, Zone};

/// Lazily opened shard files of one chunk.
pub(crate) struct ShardFiles {
    pub id: DataId,
    pub g: Geometry,
    files: Vec<Option<Option<File>>>,
    /// Whether a degraded read of this chunk was already logged at warn level.
    warned: bool,
}

impl ShardFiles {
    pub fn new(id: DataId, g: Geometry) -> ShardFiles {
        ShardFiles { id, g, files: (0..g.total()).map(|_| None).collect(), warned: false }
    }

    fn file(&mut self, zones: &[Zone], i: usize) -> Option<&File> {
        let total = self.g.total();
        let g = self.g;
        let id = self.id;
        let slot = self.files.get_mut(i)?;
        if slot.is_none() {
            let opened = locate(zones, &id, i, home_zone(i, total)).and_then(|(_, p)| open_checked(&p, i, &g));
            *slot = Some(opened);
        }
        slot.as_ref().and_then(|f| f.as_ref())
    }

    /// Whether the blocks `read_stripe` reads of stripe `s` can be read
    /// without waiting for the disk: the first k shards whose files are
    /// present (the data shards, or parity in place of missing ones) are all
    /// open already (opening reads a header) and in the page cache.
    fn cached(&self, s: u64) -> bool {
        let g = self.g;
        let mut ready = 0;
        for slot in &self.files {
            match slot {
                // Not opened yet.
                None => return false,
                // Known missing: `read_stripe` skips it.
                Some(None) => {}
                Some(Some(f)) if block_cached(f, &g, s) => {
                    ready += 1;
                    if ready == g.k {
                        return true;
                    }
                }
                Some(Some(_)) => return false,
            }
        }
        false
    }

    /// The verified block of shard `i` in stripe `s`, or `None`.
    pub fn read(&mut self, zones: &[Zone], i: usize, s: u64) -> Option<Vec<u8>> {
        let g = self.g;
        let f = self.file(zones, i)?;
        read_block(f, &g, s)
    }
}

/// Reads stripe `s` of a chunk, reconstructing it if needed.
pub(crate) fn read_stripe(inner: &Inner, files: &mut ShardFiles, codec: &Codec, s: u64) -> Result<Vec<Bytes>> {
    let g = files.g;
    let k = g.k;
    let n = g.total();
    let mut blocks: Vec<Option<Vec<u8>>> = vec![None; n];
    let mut good = 0;
    for (i, b) in blocks.iter_mut().enumerate().take(k) {
        *b = files.read(&inner.zones, i, s);
        good += b.is_some() as usize;
    }
    if good < k {
        let missing_data = k - good;
        for (i, b) in blocks.iter_mut().enumerate().skip(k) {
            if good >= k {
                break;
            }
            *b = files.read(&inner.zones, i, s);
            good += b.is_some() as usize;
        }
        if good < k {
            tracing::error!(data_id = %files.id.hex(), stripe = s, good, needed = k, "stripe unreadable");
            return Err(EngineError::InsufficientZones { available: good, needed: k });
        }
        codec.reconstruct(&mut blocks)?;
        inner.counters.degraded_reads.fetch_add(1, Ordering::Relaxed);
        inner.counters.blocks_reconstructed.fetch_add(missing_data as u64, Ordering::Relaxed);
        lock(&inner.heal_queue).insert(files.id, files.g.chunk(files.id));
        // Once per chunk and reader at warn level (a lost zone would
        // otherwise log every stripe of every read); the rest at debug.
        if files.warned {
            tracing::debug!(data_id = %files.id.hex(), stripe = s, missing_data, "degraded read: stripe reconstructed");
        } else {
            files.warned = true;
            tracing::warn!(data_id = %files.id.hex(), stripe = s, missing_data, "degraded read: stripes reconstructed (further stripes of this read logged at debug)");
        }
    }
    codec.data_blocks(blocks, g.stripe_len(s))
}

/// Bytes `[from, to)` of a stripe given as consecutive pieces.
fn range_of(pieces: Vec<Bytes>, from: usize, to: usize) -> VecDeque<Bytes> {
    let mut out = VecDeque::with_capacity(pieces.len());
    let mut at = 0;
    for p in pieces {
        let (start, end) = (from.max(at), to.min(at + p.len()));
        if start < end {
            out.push_back(p.slice(start - at..end - at));
        }
        at += p.len();
    }
    out
}

struct PlannedChunk {
    chunk: Chunk,
    /// Offset of the chunk's first byte in the object.
    offset: u64,
    /// Inline data (loaded eagerly, only for chunks the range touches).
    inline: Option<Bytes>,
}

struct OpenChunk {
    idx: usize,
    files: ShardFiles,
    codec: Arc<Codec>,
}

type Step = (Option<OpenChunk>, Result<VecDeque<Bytes>>);

/// A stream of the object's bytes in pieces of at most one stripe.
pub struct ObjectReader {
    inner: Arc<Inner>,
    chunks: Arc<Vec<PlannedChunk>>,
    pos: u64,
    end: u64,
    open: Option<OpenChunk>,
    fut: Option<Pin<Box<dyn Future<Output = Step> + Send>>>,
    /// Pieces of the last stripe read, not yet yielded (its data blocks, uncopied).
    ready: VecDeque<Bytes>,
    done: bool,
    _pin: PinGuard,
    /// The read-budget share for its stripe buffers (none for inline data only).
    _share: Option<Share>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").field("pos", &self.pos).field("end", &self.end).finish()
    }
}

/// What one planning attempt of a read found.
enum Plan {
    Ready(Box<Planned>),
    /// The object changed while it was being planned: plan again.
    Changed,
    /// An in-memory attempt needs the disk.
    NeedsDisk,
}

type Planned = (ObjectInfo, Vec<PlannedChunk>, u64, u64, PinGuard);

/// A point read; `memory` = from the memtables and block cache only, `None`
/// when that needs the disk.
fn point_read<'a>(
    db: &'a rocksdb::DB,
    memory: Option<&rocksdb::ReadOptions>,
    cf_name: &str,
    key: &[u8],
) -> Result<Option<Option<rocksdb::DBPinnableSlice<'a>>>> {
    match memory {
        Some(opts) => get_cached(db, opts, cf_name, key),
        None => db.get_pinned_cf(cf(db, cf_name)?, key).map(Some).map_err(|e| db_err("read", e)),
    }
}

/// One attempt at planning a read: the object's record, its chunks with the
/// inline data the range touches, and a pin on its shard data, confirmed
/// against the record once pinned.
fn plan(
    inner: &Arc<Inner>,
    db: &rocksdb::DB,
    memory: Option<&rocksdb::ReadOptions>,
    (bucket, key, version_id): (&str, &str, Option<&str>),
    range: Option<(u64, u64)>,
) -> Result<Plan> {
    let rec = match memory {
        None => crate::versions::require_version(db, bucket, key, version_id)?,
        Some(opts) => match require_object_cached(db, opts, bucket, key)? {
            Some(rec) => rec,
            None => return Ok(Plan::NeedsDisk),
        },
    };
    let ids: Vec<DataId> = rec.chunks.iter().filter(|c| c.is_erasure()).map(|c| c.data_id).collect();
    let pin = PinGuard::new(inner, ids);
    let (start, end) = match range {
        Some((s, e)) => (s.min(rec.size_bytes), e.min(rec.size_bytes)),
        None => (0, rec.size_bytes),
    };
    let mut planned = Vec::with_capacity(rec.chunks.len());
    let mut offset = 0u64;
    for c in &rec.chunks {
        let touches = offset < end && offset + c.size_bytes > start;
        let inline = if !c.is_erasure() && touches {
            match point_read(db, memory, CF_INLINE, &c.data_id.0)? {
                Some(Some(v)) => {
                    let data = decode_inline(&v)?;
                    if data.len() as u64 != c.size_bytes {
                        return Err(EngineError::Corrupt {
                            what: format!("inline data of {bucket}/{key} has the wrong size"),
                        });
                    }
                    Some(Bytes::copy_from_slice(data))
                }
                // Freed by a commit since the record was read.
                Some(None) => return Ok(Plan::Changed),
                None => return Ok(Plan::NeedsDisk),
            }
        } else {
            None
        };
        planned.push(PlannedChunk { chunk: *c, offset, inline });
        offset += c.size_bytes;
    }
    // Confirm, now that the data is pinned, that the object still refers to it.
    let again = match version_id {
        None => match point_read(db, memory, CF_OBJECTS, &keys::object_key(bucket, key))? {
            Some(Some(v)) => Some(ObjectRecord::decode(&v)?),
            Some(None) => None,
            None => return Ok(Plan::NeedsDisk),
        },
        Some(_) => crate::versions::require_version(db, bucket, key, version_id).ok(),
    };
    if again.as_ref().map(|r| r.chunks == rec.chunks).unwrap_or(false) {
        return Ok(Plan::Ready(Box::new((rec.info(bucket, key), planned, start, end, pin))));
    }
    Ok(Plan::Changed)
}

pub(crate) async fn open_reader(
    inner: Arc<Inner>,
    bucket: String,
    key: String,
    version_id: Option<String>,
    range: Option<(u64, u64)>,
) -> Result<(ObjectInfo, ObjectReader)> {
    // A current version whose metadata (and inline data) is in memory is
    // planned on this thread; anything else on the blocking pool.
    let hot = match version_id {
        None => inner.read_in_memory(|db, opts| {
            Ok(match plan(&inner, db, Some(opts), (&bucket, &key, None), range)? {
                Plan::Ready(p) => Some(p),
                Plan::Changed | Plan::NeedsDisk => None,
            })
        }),
        Some(_) => None,
    };
    let planned = match hot {
        Some(p) => p?,
        None => {
            let inner2 = inner.clone();
            blocking(move || {
                for _ in 0..16 {
                    let planned = inner2.meta.read(&inner2.zones, |db| {
                        plan(&inner2, db, None, (&bucket, &key, version_id.as_deref()), range)
                    })?;
                    if let Plan::Ready(p) = planned {
                        return Ok(p);
                    }
                }
                Err(EngineError::Metadata {
                    op: "read object",
                    message: "object changed too often during the read".into(),
                })
            })
            .await?
        }
    };
    let (info, chunks, start, end, pin) = *planned;
    let reads_stripes = chunks
        .iter()
        .any(|c| c.inline.is_none() && c.chunk.is_erasure() && c.offset < end && c.offset + c.chunk.size_bytes > start);
    let share = if reads_stripes { Some(inner.read_budget.acquire().await?) } else { None };
    let reader = ObjectReader {
        inner,
        chunks: Arc::new(chunks),
        pos: start,
        end,
        open: None,
        fut: None,
        ready: VecDeque::new(),
        done: start >= end,
        _pin: pin,
        _share: share,
    };
    Ok((info, reader))
}

impl ObjectReader {
    /// The next piece that can be served without I/O, or the I/O to start.
    fn next_piece(&mut self) -> Option<Result<Bytes>> {
        let chunks = self.chunks.clone();
        let idx = chunks.iter().position(|c| self.pos >= c.offset && self.pos < c.offset + c.chunk.size_bytes)?;
        let pc = &chunks[idx];
        let in_chunk = self.pos - pc.offset;
        let chunk_end = (self.end - pc.offset).min(pc.chunk.size_bytes);
        if let Some(data) = &pc.inline {
            let piece = data.slice(in_chunk as usize..chunk_end as usize);
            self.pos += piece.len() as u64;
            return Some(Ok(piece));
        }
        let Some(g) = Geometry::of(&pc.chunk) else {
            return Some(Err(EngineError::Corrupt { what: "inline chunk without data".into() }));
        };
        let stripe = g.stripe_size as u64;
        let s = in_chunk / stripe;
        let from = (in_chunk - s * stripe) as usize;
        let to = (chunk_end.min((s + 1) * stripe) - s * stripe) as usize;
        let open = match self.open.take() {
            Some(o) if o.idx == idx => Ok(o),
            _ => g.codec().map(|c| OpenChunk { idx, files: ShardFiles::new(pc.chunk.data_id, g), codec: Arc::new(c) }),
        };
        let mut open = match open {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        let inner = self.inner.clone();
        // A stripe in the page cache is read (copied and CRC-checked) right
        // here, on the runtime thread that then sends it: handing every
        // stripe to the blocking pool cost GET 64 MiB about a sixth of its
        // throughput (the hand-over, and the copy landing on another core).
        // Anything that may wait for the disk still goes to the pool; so does
        // the first stripe of a chunk, whose files are opened then. A block
        // found damaged here is reconstructed here too (rare).
        if open.files.cached(s) {
            let read = read_stripe(&inner, &mut open.files, &open.codec, s).map(|v| range_of(v, from, to));
            self.fut = Some(Box::pin(std::future::ready((Some(open), read))));
            return None;
        }
        let fut = async move {
            let res = tokio::task::spawn_blocking(move || {
                let r = read_stripe(&inner, &mut open.files, &open.codec, s).map(|v| range_of(v, from, to));
                (Some(open), r)
            })
            .await;
            match res {
                Ok(step) => step,
                Err(e) => (None, Err(EngineError::Corrupt { what: format!("read task failed: {e}") })),
            }
        };
        self.fut = Some(Box::pin(fut));
        None
    }
}

impl futures::Stream for ObjectReader {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                self.pos += b.len() as u64;
                return Poll::Ready(Some(Ok(b)));
            }
            if let Some(fut) = self.fut.as_mut() {
                let (open, res) = match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(step) => step,
                };
                self.fut = None;
                self.open = open;
                match res {
                    Ok(pieces) => self.ready = pieces,
                    Err(e) => {
                        self.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                continue;
            }
            if self.done || self.pos >= self.end {
                self.done = true;
                return Poll::Ready(None);
            }
            match self.next_piece() {
                Some(Ok(b)) if b.is_empty() => continue,
                Some(item) => {
                    if item.is_err() {
                        self.done = true;
                    }
                    return Poll::Ready(Some(item));
                }
                None if self.fut.is_some() => continue,
                None => {
                    // No chunk covers the position: the record is inconsistent.
                    self.done = true;
                    return Poll::Ready(Some(Err(EngineError::Corrupt {
                        what: "object chunks do not cover its size".into(),
                    })));
                }
            }
        }
    }
}
