//! Streaming encryption and decryption over the block format.
//!
//! [`Sealer`] turns plaintext pieces of any size into stored blocks as they
//! arrive, holding back at most one block (the last block is only known at
//! the end). [`Layout`] maps a plaintext range of an object (one stream, or
//! one stream per part) to the whole blocks that hold it, and [`open_range`]
//! decrypts those blocks from the engine's reader and trims them to the range.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use storage_engine::EngineError;

use super::blocks::{self, BlockCipher, BlockPlace, BLOCK_PLAIN, BLOCK_STORED};

/// Most blocks decrypted into one piece of the response body (1 MiB of
/// plaintext, like the engine's stripes): large pieces keep the writes to
/// the socket large.
const RUN_BLOCKS: u64 = 16;

/// A stream of object bytes as the engine's reader yields them.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send>>;

/// Encrypts one stream (an object or a part) piece by piece.
pub struct Sealer {
    cipher: BlockCipher,
    object_id: [u8; 16],
    part_number: u32,
    index: u64,
    pending: BytesMut,
}

impl Sealer {
    pub fn new(data_key: &[u8; 32], object_id: [u8; 16], part_number: u32) -> Sealer {
        Sealer {
            cipher: BlockCipher::new(data_key),
            object_id,
            part_number,
            index: 0,
            pending: BytesMut::with_capacity(BLOCK_PLAIN as usize),
        }
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> Bytes {
        let place = BlockPlace { object_id: self.object_id, part_number: self.part_number, index: self.index, last };
        self.index += 1;
        Bytes::from(self.cipher.seal(place, plain))
    }

    /// Adds plaintext; returns the blocks that are now complete (never the last one).
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let block = BLOCK_PLAIN as usize;
        while !data.is_empty() {
            if self.pending.len() == block {
                let full = self.pending.split();
                out.push(self.seal(&full, false));
            }
            let take = (block - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        out
    }

    /// The last block, if the stream was not empty.
    pub fn finish(mut self) -> Option<Bytes> {
        if self.pending.is_empty() {
            return None;
        }
        let rest = self.pending.split();
        Some(self.seal(&rest, true))
    }
}

/// One encrypted stream inside an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub part_number: u32,
    pub plain_start: u64,
    pub plain_len: u64,
    pub stored_start: u64,
    pub stored_len: u64,
}

impl Segment {
    fn blocks(&self) -> u64 {
        self.plain_len.div_ceil(BLOCK_PLAIN)
    }
}

/// Where each stream of an encrypted object lies, in plaintext and in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub segments: Vec<Segment>,
}

fn damaged(what: &str) -> EngineError {
    EngineError::Corrupt { what: format!("encrypted object: {what}") }
}

impl Layout {
    /// From the stored sizes of the object's streams and their part numbers
    /// (`[0]` for a single-PUT object).
    pub fn new(stored_sizes: &[u64], part_numbers: &[u32]) -> Result<Layout, EngineError> {
        if stored_sizes.len() != part_numbers.len() {
            return Err(damaged("part numbers do not match the parts"));
        }
        let mut segments = Vec::with_capacity(stored_sizes.len());
        let (mut plain_start, mut stored_start) = (0, 0);
        for (&stored_len, &part_number) in stored_sizes.iter().zip(part_numbers) {
            let plain_len = blocks::plain_size(stored_len).ok_or_else(|| damaged("impossible stored size"))?;
            segments.push(Segment { part_number, plain_start, plain_len, stored_start, stored_len });
            plain_start += plain_len;
            stored_start += stored_len;
        }
        Ok(Layout { segments })
    }

    pub fn plain_size(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.plain_start + s.plain_len)
    }

    pub fn plain_part_sizes(&self) -> Vec<u64> {
        self.segments.iter().map(|s| s.plain_len).collect()
    }

    /// The stored byte range holding the whole blocks of plaintext `[start, end)`.
    pub fn stored_range(&self, start: u64, end: u64) -> (u64, u64) {
        let mut from = None;
        let mut to = 0;
        for s in &self.segments {
            let (ps, pe) = (s.plain_start, s.plain_start + s.plain_len);
            if pe <= start || ps >= end {
                continue;
            }
            if from.is_none() {
                from = Some(s.stored_start + (start.max(ps) - ps) / BLOCK_PLAIN * BLOCK_STORED);
            }
            let last_block = (end.min(pe) - 1 - ps) / BLOCK_PLAIN;
            to = s.stored_start + ((last_block + 1) * BLOCK_STORED).min(s.stored_len);
        }
        (from.unwrap_or(0), to)
    }
}

struct Opener {
    inner: ByteStream,
    cipher: BlockCipher,
    object_id: [u8; 16],
    segments: Vec<Segment>,
    seg: usize,
    block: u64,
    /// The rest of the engine's current piece, decrypted where it lies.
    piece: BytesMut,
    /// The start of a block that straddles two pieces (only such a block is copied).
    carry: BytesMut,
    start: u64,
    end: u64,
}

impl Opener {
    fn advance(&mut self) {
        self.block += 1;
        if let Some(s) = self.segments.get(self.seg) {
            if self.block >= s.blocks() {
                self.seg += 1;
                self.block = 0;
            }
        }
    }

    /// Stored length of block `index` of segment `s`.
    fn stored_len(s: &Segment, index: u64) -> usize {
        BLOCK_STORED.min(s.stored_len - index * BLOCK_STORED) as usize
    }

    /// The next run of whole stored blocks of one segment, once the pieces
    /// received hold at least one: a block straddling two pieces (copied
    /// into `carry`), else as many blocks as the current piece holds (at
    /// most [`RUN_BLOCKS`]), where they lie.
    fn take_run(&mut self, s: &Segment) -> Option<(BytesMut, u64)> {
        let first = Self::stored_len(s, self.block);
        if !self.carry.is_empty() || self.piece.len() < first {
            let take = (first - self.carry.len()).min(self.piece.len());
            self.carry.extend_from_slice(&self.piece.split_to(take));
            return (self.carry.len() == first).then(|| (std::mem::take(&mut self.carry), 1));
        }
        let (mut count, mut stored) = (0u64, 0usize);
        while self.block + count < s.blocks() && count < RUN_BLOCKS {
            let len = Self::stored_len(s, self.block + count);
            if stored + len > self.piece.len() {
                break;
            }
            stored += len;
            count += 1;
        }
        Some((self.piece.split_to(stored), count))
    }

    /// Decrypts the next run of blocks once enough stored bytes are
    /// buffered: their plaintext end to end, trimmed to the range.
    fn next_run(&mut self) -> Option<Result<Bytes, EngineError>> {
        // An empty part has no blocks.
        while self.segments.get(self.seg).is_some_and(|s| s.blocks() == 0) {
            self.seg += 1;
            self.block = 0;
        }
        let s = *self.segments.get(self.seg)?;
        let (mut run, count) = self.take_run(&s)?;
        let run_start = s.plain_start + self.block * BLOCK_PLAIN;
        let (mut at, mut plain) = (0usize, 0usize);
        for _ in 0..count {
            let len = Self::stored_len(&s, self.block);
            let place = BlockPlace {
                object_id: self.object_id,
                part_number: s.part_number,
                index: self.block,
                last: self.block + 1 == s.blocks(),
            };
            match self.cipher.open_to(place, &mut run, at..at + len, plain) {
                Ok(n) => plain += n,
                Err(_) => return Some(Err(damaged("a block failed authentication (damaged, moved or the wrong key)"))),
            }
            at += len;
            self.advance();
        }
        let n = plain as u64;
        let from = self.start.saturating_sub(run_start).min(n) as usize;
        let to = self.end.saturating_sub(run_start).min(n) as usize;
        run.truncate(to.max(from));
        Some(Ok(run.freeze().slice(from..)))
    }
}

/// Decrypts plaintext `[start, end)` from `inner`, a reader positioned at
/// `layout.stored_range(start, end).0`.
pub fn open_range(
    inner: ByteStream,
    data_key: &[u8; 32],
    object_id: [u8; 16],
    layout: &Layout,
    start: u64,
    end: u64,
) -> ByteStream {
    let (stored_from, _) = layout.stored_range(start, end);
    let seg = layout
        .segments
        .iter()
        .position(|s| stored_from >= s.stored_start && stored_from < s.stored_start + s.stored_len)
        .unwrap_or(layout.segments.len());
    let block = layout.segments.get(seg).map_or(0, |s| (stored_from - s.stored_start) / BLOCK_STORED);
    let opener = Opener {
        inner,
        cipher: BlockCipher::new(data_key),
        object_id,
        segments: layout.segments.clone(),
        seg,
        block,
        piece: BytesMut::new(),
        carry: BytesMut::new(),
        start,
        end,
    };
    let stream = futures::stream::unfold(Some(opener), |state| async move {
        let mut o = state?;
        loop {
            if let Some(item) = o.next_run() {
                let stop = item.is_err();
                return Some((item, if stop { None } else { Some(o) }));
            }
            if !o.piece.is_empty() {
                // Blocks are done but stored bytes remain.
                return Some((Err(damaged("the stored data runs past its last block")), None));
            }
            match o.inner.next().await {
                // The engine's pieces are usually uniquely owned: decrypt them where they lie.
                Some(Ok(piece)) => {
                    o.piece = piece.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None if o.carry.is_empty() => return None,
                None => return Some((Err(damaged("the stored data ends inside a block")), None)),
            }
        }
    });
    Box::pin(stream.filter(|item| futures::future::ready(!matches!(item, Ok(b) if b.is_empty()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(key: &[u8; 32], id: [u8; 16], part: u32, data: &[u8], piece: usize) -> Vec<u8> {
        let mut s = Sealer::new(key, id, part);
        let mut out = Vec::new();
        for chunk in data.chunks(piece.max(1)) {
            for b in s.push(chunk) {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = s.finish() {
            out.extend_from_slice(&b);
        }
        out
    }

    fn read(
        stored: &[u8],
        layout: &Layout,
        key: &[u8; 32],
        id: [u8; 16],
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, EngineError> {
        // Odd-sized shared pieces, and uniquely owned pieces larger than a
        // block (as the engine's stripes are): the same plaintext.
        let stored = Stored { bytes: stored, layout, key, id };
        let small = stored.read_in_pieces(start, end, 7_777, false);
        let large = stored.read_in_pieces(start, end, 3 * BLOCK_STORED as usize + 1_000, true);
        match (&small, &large) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "piece sizes change the plaintext"),
            (Err(_), Err(_)) => {}
            _ => panic!("piece sizes change the outcome: {small:?} vs {large:?}"),
        }
        small
    }

    /// A sealed stream and what opens it.
    struct Stored<'a> {
        bytes: &'a [u8],
        layout: &'a Layout,
        key: &'a [u8; 32],
        id: [u8; 16],
    }

    impl Stored<'_> {
        fn read_in_pieces(&self, start: u64, end: u64, piece: usize, owned: bool) -> Result<Vec<u8>, EngineError> {
            let (stored, layout, key, id) = (self.bytes, self.layout, self.key, self.id);
            let (from, to) = layout.stored_range(start, end);
            let slice = Bytes::copy_from_slice(&stored[from as usize..to as usize]);
            let pieces: Vec<Result<Bytes, EngineError>> = (0..slice.len())
                .step_by(piece)
                .map(|i| {
                    let p = slice.slice(i..(i + piece).min(slice.len()));
                    Ok(if owned { Bytes::from(p.to_vec()) } else { p })
                })
                .collect();
            let inner: ByteStream = Box::pin(futures::stream::iter(pieces));
            futures::executor::block_on(async {
                let mut s = open_range(inner, key, id, layout, start, end);
                let mut out = Vec::new();
                while let Some(b) = s.next().await {
                    out.extend_from_slice(&b?);
                }
                Ok(out)
            })
        }
    }

    #[test]
    fn ranges_over_parts() {
        let key = [3u8; 32];
        let id = [4u8; 16];
        let p1: Vec<u8> = (0..(3 * BLOCK_PLAIN as usize + 10)).map(|i| (i % 251) as u8).collect();
        let p2: Vec<u8> = (0..(BLOCK_PLAIN as usize)).map(|i| (i % 13) as u8).collect();
        let p3: Vec<u8> = vec![9u8; 5];
        let mut stored = Vec::new();
        let mut sizes = Vec::new();
        for (n, p) in [(1u32, &p1), (2, &p2), (5, &p3)] {
            let s = seal_all(&key, id, n, p, 10_000);
            sizes.push(s.len() as u64);
            stored.extend_from_slice(&s);
        }
        let layout = Layout::new(&sizes, &[1, 2, 5]).expect("layout");
        let plain: Vec<u8> = [p1.clone(), p2.clone(), p3.clone()].concat();
        assert_eq!(layout.plain_size(), plain.len() as u64);
        let n = plain.len() as u64;
        for (s, e) in [
            (0, n),
            (0, 1),
            (n - 1, n),
            (100, 200_000),
            (BLOCK_PLAIN, BLOCK_PLAIN + 1),
            (p1.len() as u64 - 3, p1.len() as u64 + 3),
        ] {
            assert_eq!(
                read(&stored, &layout, &key, id, s, e).expect("read"),
                plain[s as usize..e as usize],
                "{s}..{e}"
            );
        }
        // Wrong key, wrong object id, or parts presented in another order: rejected.
        assert!(read(&stored, &layout, &[0u8; 32], id, 0, n).is_err());
        assert!(read(&stored, &layout, &key, [0; 16], 0, 10).is_err());
        let swapped = Layout::new(&sizes, &[2, 1, 5]).expect("layout");
        assert!(read(&stored, &swapped, &key, id, 0, 10).is_err());
        // Truncating the last full block of a stream is detected.
        let single = seal_all(&key, id, 0, &p2, 1 << 20);
        let cut = Layout::new(&[single.len() as u64], &[0]).expect("layout");
        assert_eq!(read(&single, &cut, &key, id, 0, p2.len() as u64).expect("whole"), p2);
        let two = seal_all(&key, id, 0, &[p2.clone(), p2.clone()].concat(), 1 << 20);
        let first_only = Layout::new(&[BLOCK_STORED], &[0]).expect("layout");
        assert!(read(&two[..BLOCK_STORED as usize], &first_only, &key, id, 0, 10).is_err());
    }

    #[test]
    fn sealer_block_boundaries() {
        let key = [1u8; 32];
        for len in [0usize, 1, BLOCK_PLAIN as usize, BLOCK_PLAIN as usize + 1, 2 * BLOCK_PLAIN as usize] {
            let data = vec![7u8; len];
            let stored = seal_all(&key, [0; 16], 0, &data, 4096);
            assert_eq!(stored.len() as u64, blocks::stored_size(len as u64), "{len}");
        }
    }
}
