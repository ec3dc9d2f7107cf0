//! Reed-Solomon coding of one stripe into k data and m parity shard blocks.
//!
//! A stripe of `len` bytes is cut into k blocks of `block_len(len)` bytes (the
//! last one zero-padded); m parity blocks of the same length follow.

use bytes::Bytes;
use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::error::{EngineError, Result};

#[derive(Debug)]
pub struct Codec {
    k: usize,
    m: usize,
    rs: Option<ReedSolomon>,
}

impl Codec {
    pub fn new(k: usize, m: usize) -> Result<Codec> {
        if k == 0 || k + m > 255 {
            return Err(EngineError::Corrupt { what: format!("erasure geometry {k}+{m}") });
        }
        let rs = if m == 0 {
            None
        } else {
            Some(
                ReedSolomon::new(k, m)
                    .map_err(|e| EngineError::Corrupt { what: format!("erasure geometry {k}+{m}: {e:?}") })?,
            )
        };
        Ok(Codec { k, m, rs })
    }

    pub fn data_shards(&self) -> usize {
        self.k
    }

    pub fn total_shards(&self) -> usize {
        self.k + self.m
    }

    /// Length of each shard block for a stripe of `len` data bytes.
    pub fn block_len(&self, len: usize) -> usize {
        len.div_ceil(self.k).max(1)
    }

    /// Encodes one stripe into k + m blocks.
    pub fn encode(&self, stripe: &[u8]) -> Result<Vec<Vec<u8>>> {
        let bl = self.block_len(stripe.len());
        let mut shards: Vec<Vec<u8>> = Vec::with_capacity(self.k + self.m);
        for i in 0..self.k {
            let start = (i * bl).min(stripe.len());
            let end = ((i + 1) * bl).min(stripe.len());
            let mut b = Vec::with_capacity(bl);
            b.extend_from_slice(&stripe[start..end]);
            b.resize(bl, 0);
            shards.push(b);
        }
        for _ in 0..self.m {
            shards.push(vec![0u8; bl]);
        }
        if let Some(rs) = &self.rs {
            rs.encode(&mut shards).map_err(|e| EngineError::Corrupt { what: format!("erasure encode: {e:?}") })?;
        }
        Ok(shards)
    }

    /// Fills in every missing block (`None`) from the present ones; needs at least k present.
    pub fn reconstruct(&self, blocks: &mut [Option<Vec<u8>>]) -> Result<()> {
        let present = blocks.iter().filter(|b| b.is_some()).count();
        if present < self.k {
            return Err(EngineError::InsufficientZones { available: present, needed: self.k });
        }
        if present == blocks.len() {
            return Ok(());
        }
        match &self.rs {
            Some(rs) => {
                rs.reconstruct(blocks).map_err(|e| EngineError::Corrupt { what: format!("erasure reconstruct: {e:?}") })
            }
            None => Ok(()),
        }
    }

    /// Joins the data blocks back into the stripe of `len` bytes.
    /// The stripe's bytes as its first k blocks, trimmed to the stripe's
    /// `len` bytes, without copying them.
    pub fn data_blocks(&self, blocks: Vec<Option<Vec<u8>>>, len: usize) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(self.k);
        let mut left = len;
        for b in blocks.into_iter().take(self.k) {
            let mut b =
                b.ok_or_else(|| EngineError::Corrupt { what: "missing data block after reconstruct".into() })?;
            let need = left.min(b.len());
            b.truncate(need);
            left -= need;
            if need > 0 {
                out.push(Bytes::from(b));
            }
        }
        if left != 0 {
            return Err(EngineError::Corrupt { what: "stripe shorter than recorded".into() });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_lose_m_decode() {
        let codec = Codec::new(4, 2).expect("geometry");
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        let shards = codec.encode(&data).expect("encode");
        assert_eq!(shards.len(), 6);
        for lost_a in 0..6 {
            for lost_b in lost_a + 1..6 {
                let mut blocks: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
                blocks[lost_a] = None;
                blocks[lost_b] = None;
                codec.reconstruct(&mut blocks).expect("reconstruct");
                assert_eq!(codec.data_blocks(blocks.clone(), data.len()).expect("data").concat(), data);
                for (i, b) in blocks.iter().enumerate() {
                    assert_eq!(b.as_ref(), Some(&shards[i]));
                }
            }
        }
        let mut blocks: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
        blocks[0] = None;
        blocks[1] = None;
        blocks[2] = None;
        assert!(matches!(
            codec.reconstruct(&mut blocks),
            Err(EngineError::InsufficientZones { available: 3, needed: 4 })
        ));
    }

    #[test]
    fn tiny_stripe() {
        let codec = Codec::new(4, 2).expect("geometry");
        let shards = codec.encode(b"x").expect("encode");
        let mut blocks: Vec<Option<Vec<u8>>> = shards.into_iter().map(Some).collect();
        blocks[0] = None;
        codec.reconstruct(&mut blocks).expect("reconstruct");
        assert_eq!(codec.data_blocks(blocks, 1).expect("data").concat(), b"x");
    }
}
