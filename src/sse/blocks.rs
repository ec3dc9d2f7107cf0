//! The encrypted block format: how a plaintext stream becomes stored bytes.
//!
//! A stream (a single-PUT object, or one part of a multipart upload) is cut
//! into blocks of [`BLOCK_PLAIN`] plaintext bytes; only the last block may be
//! shorter. Each block is stored as `nonce (12) ‖ ciphertext ‖ tag (16)`,
//! encrypted with AES-256-GCM under the stream's data key and a fresh random
//! nonce. The associated data binds the block to its place: the object's
//! random identity, the part number, the block index and whether it is the
//! last block, so blocks cannot be reordered, moved between objects or parts,
//! or dropped from the end without the tag check failing.
//!
//! Stored and plaintext sizes convert both ways without metadata, so ranges
//! map to whole blocks and listings show plaintext sizes.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use rand::RngCore;

/// Plaintext bytes per block.
pub const BLOCK_PLAIN: u64 = 64 * 1024;
pub const NONCE_BYTES: usize = 12;
pub const TAG_BYTES: usize = 16;
/// Bytes a block adds to its plaintext.
pub const OVERHEAD: u64 = (NONCE_BYTES + TAG_BYTES) as u64;
/// Stored bytes of a full block.
pub const BLOCK_STORED: u64 = BLOCK_PLAIN + OVERHEAD;

const AAD_LABEL: &[u8; 12] = b"coffer-sse-1";

/// Where a block belongs; bound into its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPlace {
    pub object_id: [u8; 16],
    /// 0 for a single-PUT object, the part number for a part.
    pub part_number: u32,
    pub index: u64,
    pub last: bool,
}

impl BlockPlace {
    fn aad(&self) -> [u8; 12 + 16 + 4 + 8 + 1] {
        let mut a = [0u8; 41];
        a[..12].copy_from_slice(AAD_LABEL);
        a[12..28].copy_from_slice(&self.object_id);
        a[28..32].copy_from_slice(&self.part_number.to_be_bytes());
        a[32..40].copy_from_slice(&self.index.to_be_bytes());
        a[40] = u8::from(self.last);
        a
    }
}

/// Stored size of a stream of `plain` bytes.
pub fn stored_size(plain: u64) -> u64 {
    plain + plain.div_ceil(BLOCK_PLAIN) * OVERHEAD
}

/// Plaintext size of a stream stored in `stored` bytes; `None` if no
/// plaintext size gives that stored size (the metadata is damaged).
pub fn plain_size(stored: u64) -> Option<u64> {
    let blocks = stored.div_ceil(BLOCK_STORED);
    let plain = stored.checked_sub(blocks * OVERHEAD)?;
    (stored_size(plain) == stored).then_some(plain)
}

/// The data key of one stream.
pub struct BlockCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for BlockCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockCipher(<redacted>)")
    }
}

/// A block that failed authentication (damaged, moved, or the wrong key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRejected;

impl BlockCipher {
    pub fn new(data_key: &[u8; 32]) -> BlockCipher {
        BlockCipher { cipher: Aes256Gcm::new(data_key.into()) }
    }

    /// Encrypts one block (at most [`BLOCK_PLAIN`] bytes) into its stored form.
    pub fn seal(&self, place: BlockPlace, plain: &[u8]) -> Vec<u8> {
        debug_assert!(plain.len() as u64 <= BLOCK_PLAIN);
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD as usize);
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce.into(), &place.aad(), (&mut out[NONCE_BYTES..]).into())
            .expect("invariant: AES-GCM accepts blocks of 64 KiB");
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts one stored block in place, moving the plaintext to the front;
    /// returns its length.
    pub fn open(&self, place: BlockPlace, stored: &mut [u8]) -> Result<usize, BlockRejected> {
        let plain = self.open_in_place(place, stored)?;
        let n = plain.len();
        stored.copy_within(plain, 0);
        Ok(n)
    }

    /// Decrypts one stored block in place; returns where the plaintext lies
    /// in `stored` (after the nonce), without moving it.
    pub fn open_in_place(&self, place: BlockPlace, stored: &mut [u8]) -> Result<std::ops::Range<usize>, BlockRejected> {
        if stored.len() < OVERHEAD as usize {
            return Err(BlockRejected);
        }
        let plain_len = stored.len() - OVERHEAD as usize;
        let (nonce, rest) = stored.split_at_mut(NONCE_BYTES);
        let (body, tag) = rest.split_at_mut(plain_len);
        let nonce: [u8; NONCE_BYTES] = (&*nonce).try_into().map_err(|_| BlockRejected)?;
        let tag: [u8; TAG_BYTES] = (&*tag).try_into().map_err(|_| BlockRejected)?;
        self.cipher
            .decrypt_inout_detached(&nonce.into(), &place.aad(), body.into(), &tag.into())
            .map_err(|_| BlockRejected)?;
        Ok(NONCE_BYTES..NONCE_BYTES + plain_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(index: u64, last: bool) -> BlockPlace {
        BlockPlace { object_id: [7; 16], part_number: 0, index, last }
    }

    #[test]
    fn sizes_round_trip() {
        for plain in [0, 1, BLOCK_PLAIN - 1, BLOCK_PLAIN, BLOCK_PLAIN + 1, 5 * BLOCK_PLAIN, 123_456_789] {
            assert_eq!(plain_size(stored_size(plain)), Some(plain), "{plain}");
        }
        assert_eq!(stored_size(0), 0);
        assert_eq!(stored_size(1), 1 + OVERHEAD);
        // A stored size no stream has: a lone partial overhead.
        assert_eq!(plain_size(5), None);
        assert_eq!(plain_size(BLOCK_STORED + 3), None);
    }

    #[test]
    fn seal_open_and_binding() {
        let c = BlockCipher::new(&[1; 32]);
        let mut stored = c.seal(place(3, false), b"hello");
        assert_eq!(stored.len(), 5 + OVERHEAD as usize);
        let mut copy = stored.clone();
        let n = c.open(place(3, false), &mut stored).expect("opens");
        assert_eq!(&stored[..n], b"hello");
        // Another index, the last-block flag, another object or part, or a flipped bit: rejected.
        assert!(c.open(place(4, false), &mut copy.clone()).is_err());
        assert!(c.open(place(3, true), &mut copy.clone()).is_err());
        let other = BlockPlace { object_id: [8; 16], ..place(3, false) };
        assert!(c.open(other, &mut copy.clone()).is_err());
        let part = BlockPlace { part_number: 2, ..place(3, false) };
        assert!(c.open(part, &mut copy.clone()).is_err());
        copy[NONCE_BYTES] ^= 1;
        assert!(c.open(place(3, false), &mut copy).is_err());
        // The wrong key.
        let mut again = BlockCipher::new(&[1; 32]).seal(place(0, true), b"x");
        assert!(BlockCipher::new(&[2; 32]).open(place(0, true), &mut again).is_err());
    }

    #[test]
    fn nonces_differ() {
        let c = BlockCipher::new(&[1; 32]);
        let a = c.seal(place(0, true), b"same");
        let b = c.seal(place(0, true), b"same");
        assert_ne!(a[..NONCE_BYTES], b[..NONCE_BYTES]);
        assert_ne!(a, b);
    }
}
