//! Deterministic object content: the bytes of an object follow from its key
//! alone, so a verifier needs no memory of what was written, and the ceiling
//! server can serve exactly what the load generator expects.
//!
//! Key layout: `<prefix>/<size>/<worker>-<seq>`. The size segment tells the
//! ceiling how many bytes to serve. Byte `p` of an object is
//! `pattern[(seed + p) % PERIOD]`, where `seed` is a hash of the key and
//! `pattern` is a fixed pseudo-random buffer; bodies are sent as zero-copy
//! slices of that buffer.

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Length of the repeating pattern (odd, so it does not align with part or
/// chunk sizes).
pub const PERIOD: usize = (1 << 20) + 7;
/// Largest frame of a [`PatternBody`].
pub const CHUNK: usize = 256 * 1024;

/// The shared pattern: `PERIOD` pseudo-random bytes followed by a copy of the
/// first `CHUNK`, so any frame of at most `CHUNK` bytes starting below
/// `PERIOD` is one contiguous slice.
pub fn pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = Vec::with_capacity(PERIOD + CHUNK);
        while buf.len() < PERIOD {
            // xorshift64*: fixed seed, identical in every process.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            buf.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        buf.truncate(PERIOD);
        // The tail repeats the head: `buf[i] == buf[i % PERIOD]` for every index.
        buf.extend_from_within(..CHUNK);
        Bytes::from(buf)
    })
}

/// FNV-1a of the key, reduced to an offset into the pattern.
pub fn seed(key: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % PERIOD as u64) as usize
}

/// The object key for `size` bytes written by `worker` as its `seq`-th object.
pub fn object_key(prefix: &str, size: u64, worker: usize, seq: u64) -> String {
    format!("{prefix}/{size}/{worker}-{seq}")
}

/// The key of a prefill object: as [`object_key`] under `<run prefix>/pre`,
/// and with `dirs > 0` in one of `dirs` directories `pre/dNNNNNN/`, which
/// consecutive keys of all `workers` go round.
pub fn prefill_key(run_prefix: &str, dirs: u64, workers: u64, size: u64, worker: usize, seq: u64) -> String {
    match dirs {
        0 => object_key(&format!("{run_prefix}/pre"), size, worker, seq),
        _ => {
            let dir = (seq * workers + worker as u64) % dirs;
            object_key(&format!("{run_prefix}/pre/d{dir:06}"), size, worker, seq)
        }
    }
}

/// The size encoded in a key made by [`object_key`] (the second-to-last
/// path segment), if any.
pub fn size_from_key(key: &str) -> Option<u64> {
    let mut parts = key.rsplit('/');
    parts.next()?;
    parts.next()?.parse().ok()
}

/// Bytes `[start, end)` of the object with this seed, as a body of zero-copy
/// frames of at most [`CHUNK`] bytes.
#[derive(Debug, Clone)]
pub struct PatternBody {
    seed: usize,
    pos: u64,
    end: u64,
}

impl PatternBody {
    pub fn new(key: &str, start: u64, end: u64) -> PatternBody {
        PatternBody { seed: seed(key), pos: start, end }
    }

    /// The next frame, or `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let offset = (self.seed as u64 + self.pos) % PERIOD as u64;
        let len = (self.end - self.pos).min(CHUNK as u64);
        self.pos += len;
        Some(pattern().slice(offset as usize..offset as usize + len as usize))
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.next_chunk().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end.saturating_sub(self.pos))
    }
}

/// Checks a received body piece by piece against the expected content.
#[derive(Debug)]
pub struct Verifier {
    seed: usize,
    pos: u64,
    ok: bool,
}

impl Verifier {
    pub fn new(key: &str) -> Verifier {
        Verifier { seed: seed(key), pos: 0, ok: true }
    }

    /// Feeds the next received bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        let pattern = pattern();
        while self.ok && !data.is_empty() {
            let offset = ((self.seed as u64 + self.pos) % PERIOD as u64) as usize;
            let n = data.len().min(pattern.len() - offset);
            if data[..n] != pattern[offset..offset + n] {
                self.ok = false;
            }
            data = &data[n..];
            self.pos += n as u64;
        }
    }

    /// True when everything fed matched and exactly `expected_len` bytes came.
    pub fn finish(&self, expected_len: u64) -> bool {
        self.ok && self.pos == expected_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefill_keys_go_round_the_directories() {
        assert_eq!(prefill_key("run", 0, 4, 4096, 1, 7), "run/pre/4096/1-7");
        let (dirs, workers) = (10u64, 4u64);
        let mut per_dir = std::collections::BTreeMap::new();
        for seq in 0..5 {
            for w in 0..workers as usize {
                let key = prefill_key("run", dirs, workers, 0, w, seq);
                assert_eq!(size_from_key(&key), Some(0), "{key}");
                let dir = key.strip_prefix("run/pre/").and_then(|k| k.split('/').next()).unwrap().to_string();
                *per_dir.entry(dir).or_insert(0) += 1;
            }
        }
        // 20 keys over 10 directories: two each, named with six digits.
        assert_eq!(per_dir.len(), 10, "{per_dir:?}");
        assert!(per_dir.values().all(|n| *n == 2), "{per_dir:?}");
        assert!(per_dir.contains_key("d000000") && per_dir.contains_key("d000009"), "{per_dir:?}");
    }

    #[test]
    fn body_round_trips_through_the_verifier() {
        for size in [0u64, 1, 4096, CHUNK as u64 + 3, 3 * PERIOD as u64 + 11] {
            let key = object_key("p", size, 1, 2);
            assert_eq!(size_from_key(&key), Some(size));
            let mut body = PatternBody::new(&key, 0, size);
            let mut v = Verifier::new(&key);
            while let Some(chunk) = body.next_chunk() {
                v.update(&chunk);
            }
            assert!(v.finish(size), "size {size}");
            // The same bytes do not verify as another key's content.
            if size > 16 {
                let mut other = Verifier::new(&object_key("p", size, 1, 3));
                let mut body = PatternBody::new(&key, 0, size);
                while let Some(chunk) = body.next_chunk() {
                    other.update(&chunk);
                }
                assert!(!other.finish(size));
            }
        }
    }

    #[test]
    fn verification_does_not_depend_on_how_the_body_is_split() {
        let size = 2 * PERIOD as u64 + CHUNK as u64 + 5;
        let key = object_key("p", size, 3, 9);
        let mut whole = Vec::new();
        let mut body = PatternBody::new(&key, 0, size);
        while let Some(chunk) = body.next_chunk() {
            whole.extend_from_slice(&chunk);
        }
        for piece in [1usize, 4096, 65_537, CHUNK + 1, 3_000_000] {
            let mut v = Verifier::new(&key);
            for p in whole.chunks(piece) {
                v.update(p);
            }
            assert!(v.finish(size), "pieces of {piece}");
        }
        whole[PERIOD + 10] ^= 1;
        let mut v = Verifier::new(&key);
        v.update(&whole);
        assert!(!v.finish(size), "a flipped bit is caught");
    }

    #[test]
    fn parts_concatenate_to_the_whole() {
        let key = object_key("p", 1000, 0, 0);
        let mut v = Verifier::new(&key);
        for (start, end) in [(0, 300), (300, 999), (999, 1000)] {
            let mut body = PatternBody::new(&key, start, end);
            while let Some(chunk) = body.next_chunk() {
                v.update(&chunk);
            }
        }
        assert!(v.finish(1000));
    }
}
