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
    /// The associated data of the block.
    pub fn aad(&self) -> [u8; 12 + 16 + 4 + 8 + 1] {
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
///
/// Blocks are sealed and opened with `ring`'s AES-256-GCM, which interleaves
/// AES and GHASH (VAES and VPCLMULQDQ where the CPU has them) and runs at
/// several times the rate of the `aes-gcm` crate on the data path; the format
/// is plain AES-256-GCM either way (the tests open blocks with `aes-gcm`), and
/// `aes-gcm` wraps the keys.
pub struct BlockCipher {
    key: ring::aead::LessSafeKey,
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
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, data_key)
            .expect("invariant: a 32-byte key is an AES-256 key");
        BlockCipher { key: ring::aead::LessSafeKey::new(key) }
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
            .key
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(place.aad()),
                &mut out[NONCE_BYTES..],
            )
            .expect("invariant: AES-GCM accepts blocks of 64 KiB");
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Decrypts one stored block in place, moving the plaintext to the front;
    /// returns its length.
    pub fn open(&self, place: BlockPlace, stored: &mut [u8]) -> Result<usize, BlockRejected> {
        let len = stored.len();
        self.open_to(place, stored, 0..len, 0)
    }

    /// Decrypts the stored block at `buf[block]` and writes its plaintext
    /// to `buf[dst..]` in the same pass (`dst <= block.start`), so that the
    /// plaintext of consecutive blocks can be laid end to end without a
    /// copy; returns the plaintext length. Bytes of `buf` between `dst` and
    /// the block's end are overwritten even when the block is rejected.
    pub fn open_to(
        &self,
        place: BlockPlace,
        buf: &mut [u8],
        block: std::ops::Range<usize>,
        dst: usize,
    ) -> Result<usize, BlockRejected> {
        if block.len() < OVERHEAD as usize || dst > block.start || block.end > buf.len() {
            return Err(BlockRejected);
        }
        let plain_len = block.len() - OVERHEAD as usize;
        let nonce: [u8; NONCE_BYTES] =
            buf[block.start..block.start + NONCE_BYTES].try_into().map_err(|_| BlockRejected)?;
        let tag: [u8; TAG_BYTES] = buf[block.end - TAG_BYTES..block.end].try_into().map_err(|_| BlockRejected)?;
        let ciphertext_at = block.start + NONCE_BYTES - dst;
        self.key
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(place.aad()),
                ring::aead::Tag::from(tag),
                &mut buf[dst..block.end - TAG_BYTES],
                ciphertext_at..,
            )
            .map_err(|_| BlockRejected)?;
        Ok(plain_len)
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

    /// The stored form is standard AES-256-GCM: `aes-gcm` opens what this
    /// seals, and this opens what `aes-gcm` seals.
    #[test]
    fn blocks_are_standard_aes_gcm() {
        use aes_gcm::aead::{AeadInOut, KeyInit};
        let key = [9u8; 32];
        let reference = aes_gcm::Aes256Gcm::new((&key).into());
        let c = BlockCipher::new(&key);
        for len in [0usize, 1, 15, 16, 17, 4096, BLOCK_PLAIN as usize] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let p = place(len as u64, len % 2 == 0);
            let stored = c.seal(p, &plain);
            let (nonce, rest) = stored.split_at(NONCE_BYTES);
            let (body, tag) = rest.split_at(len);
            let mut body = body.to_vec();
            let nonce: [u8; NONCE_BYTES] = nonce.try_into().unwrap();
            let tag: [u8; TAG_BYTES] = tag.try_into().unwrap();
            reference
                .decrypt_inout_detached(&nonce.into(), &p.aad(), (&mut body[..]).into(), &tag.into())
                .expect("aes-gcm opens the block");
            assert_eq!(body, plain);

            let mut theirs = plain.clone();
            let tag = reference.encrypt_inout_detached(&nonce.into(), &p.aad(), (&mut theirs[..]).into()).unwrap();
            let mut stored = [&nonce[..], &theirs, &tag[..]].concat();
            let n = c.open(p, &mut stored).expect("opens the aes-gcm block");
            assert_eq!(&stored[..n], &plain[..]);
        }
    }

    #[test]
    fn blocks_opened_end_to_end() {
        let c = BlockCipher::new(&[4; 32]);
        let plains: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i + 1; 1000 + usize::from(i)]).collect();
        let mut buf: Vec<u8> =
            plains.iter().enumerate().flat_map(|(i, p)| c.seal(place(i as u64, i == 2), p)).collect();
        let (mut at, mut dst) = (0, 0);
        for (i, p) in plains.iter().enumerate() {
            let stored = p.len() + OVERHEAD as usize;
            let n = c.open_to(place(i as u64, i == 2), &mut buf, at..at + stored, dst).expect("opens");
            assert_eq!(n, p.len());
            at += stored;
            dst += n;
        }
        assert_eq!(&buf[..dst], &plains.concat()[..]);
        // A block in the wrong place is still rejected, and dst may not lie after the block.
        let mut again = c.seal(place(0, false), b"abc");
        let len = again.len();
        assert!(c.open_to(place(1, false), &mut again, 0..len, 0).is_err());
        let mut again = c.seal(place(0, false), b"abc");
        assert!(c.open_to(place(0, false), &mut again, 0..len - 1, 0).is_err());
        let mut padded = [vec![0u8; 5], c.seal(place(0, false), b"abc")].concat();
        assert!(c.open_to(place(0, false), &mut padded, 5..5 + len, 6).is_err());
        assert_eq!(c.open_to(place(0, false), &mut padded, 5..5 + len, 5), Ok(3));
        assert_eq!(&padded[5..8], b"abc");
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
