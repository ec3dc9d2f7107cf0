//! Values stored in RocksDB. Every value starts with a format version byte;
//! decoding never panics and turns malformed bytes into `EngineError::Corrupt`.

use crate::error::{EngineError, Result};

/// Current format version of every record.
pub const FORMAT_V1: u8 = 1;

/// Identity of one stored piece of data (an inline blob or a set of shard files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataId(pub [u8; 16]);

impl DataId {
    pub fn new_random() -> DataId {
        DataId(*uuid::Uuid::new_v4().as_bytes())
    }

    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    pub fn from_hex(s: &str) -> Option<DataId> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(DataId(out))
    }

    pub fn from_slice(s: &[u8]) -> Result<DataId> {
        let a: [u8; 16] = s.try_into().map_err(|_| corrupt("data id"))?;
        Ok(DataId(a))
    }
}

/// How a chunk's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLayout {
    /// In `CF_INLINE` under the data id.
    Inline,
    /// Erasure-coded shard files, one per shard, named by data id and shard index.
    Erasure { data_shards: u8, parity_shards: u8, stripe_size_bytes: u32 },
}

/// A contiguous piece of an object (a whole single-PUT object, or one part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub data_id: DataId,
    pub size_bytes: u64,
    pub layout: ChunkLayout,
}

impl Chunk {
    pub fn is_erasure(&self) -> bool {
        matches!(self.layout, ChunkLayout::Erasure { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub created_ms: u64,
    pub attrs: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub size_bytes: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    pub attrs: Vec<u8>,
    pub part_sizes: Vec<u64>,
    pub chunks: Vec<Chunk>,
    /// The version this record is; `None`: written while the bucket was
    /// unversioned (the `null` version). Encoded after the chunks, so records
    /// written before versioning existed decode unchanged.
    pub version: Option<VersionTag>,
}

/// Identity of one version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTag {
    /// Orders the versions of a key (larger is newer).
    pub seq: u64,
    /// The version id clients see (`null` for the null version).
    pub id: String,
    pub delete_marker: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub initiated_ms: u64,
    pub attrs: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub size_bytes: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    pub attrs: Vec<u8>,
    pub chunk: Chunk,
}

fn corrupt(what: &str) -> EngineError {
    EngineError::Corrupt { what: format!("metadata value: {what}") }
}

/// Append-only encoder.
struct Enc(Vec<u8>);

impl Enc {
    fn new() -> Enc {
        Enc(vec![FORMAT_V1])
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    fn chunk(&mut self, c: &Chunk) {
        self.0.extend_from_slice(&c.data_id.0);
        self.u64(c.size_bytes);
        match c.layout {
            ChunkLayout::Inline => self.u8(0),
            ChunkLayout::Erasure { data_shards, parity_shards, stripe_size_bytes } => {
                self.u8(1);
                self.u8(data_shards);
                self.u8(parity_shards);
                self.u32(stripe_size_bytes);
            }
        }
    }
}

/// Bounds-checked decoder.
struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn start(v: &'a [u8], what: &str) -> Result<Dec<'a>> {
        match v.split_first() {
            Some((&FORMAT_V1, rest)) => Ok(Dec(rest)),
            Some((ver, _)) => Err(corrupt(&format!("{what}: unknown format version {ver}"))),
            None => Err(corrupt(&format!("{what}: empty value"))),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| corrupt("u32"))?;
        Ok(u32::from_be_bytes(b))
    }
    fn u64(&mut self) -> Result<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| corrupt("u64"))?;
        Ok(u64::from_be_bytes(b))
    }
    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| corrupt("string is not UTF-8"))
    }
    fn chunk(&mut self) -> Result<Chunk> {
        let data_id = DataId::from_slice(self.take(16)?)?;
        let size_bytes = self.u64()?;
        let layout = match self.u8()? {
            0 => ChunkLayout::Inline,
            1 => {
                let data_shards = self.u8()?;
                let parity_shards = self.u8()?;
                let stripe_size_bytes = self.u32()?;
                if data_shards == 0 || stripe_size_bytes == 0 {
                    return Err(corrupt("chunk geometry"));
                }
                ChunkLayout::Erasure { data_shards, parity_shards, stripe_size_bytes }
            }
            t => return Err(corrupt(&format!("chunk layout tag {t}"))),
        };
        Ok(Chunk { data_id, size_bytes, layout })
    }
    fn end(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(corrupt("trailing bytes"))
        }
    }
}

impl BucketRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.created_ms);
        e.bytes(&self.attrs);
        e.0
    }
    pub fn decode(v: &[u8]) -> Result<Self> {
        let mut d = Dec::start(v, "bucket")?;
        let r = BucketRecord { created_ms: d.u64()?, attrs: d.bytes()? };
        d.end()?;
        Ok(r)
    }
}

impl ObjectRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.size_bytes);
        e.bytes(self.etag.as_bytes());
        e.u64(self.last_modified_ms);
        e.bytes(&self.attrs);
        e.u32(self.part_sizes.len() as u32);
        for s in &self.part_sizes {
            e.u64(*s);
        }
        e.u32(self.chunks.len() as u32);
        for c in &self.chunks {
            e.chunk(c);
        }
        if let Some(v) = &self.version {
            e.u8(1);
            e.u64(v.seq);
            e.bytes(v.id.as_bytes());
            e.u8(u8::from(v.delete_marker));
        }
        e.0
    }
    pub fn decode(v: &[u8]) -> Result<Self> {
        let mut d = Dec::start(v, "object")?;
        let size_bytes = d.u64()?;
        let etag = d.string()?;
        let last_modified_ms = d.u64()?;
        let attrs = d.bytes()?;
        let n = d.u32()? as usize;
        let mut part_sizes = Vec::with_capacity(n.min(10_000));
        for _ in 0..n {
            part_sizes.push(d.u64()?);
        }
        let n = d.u32()? as usize;
        let mut chunks = Vec::with_capacity(n.min(10_000));
        for _ in 0..n {
            chunks.push(d.chunk()?);
        }
        let version = if d.0.is_empty() {
            None
        } else {
            if d.u8()? != 1 {
                return Err(corrupt("object version"));
            }
            let seq = d.u64()?;
            let id = d.string()?;
            let delete_marker = d.u8()? != 0;
            Some(VersionTag { seq, id, delete_marker })
        };
        d.end()?;
        let total: u64 = chunks.iter().map(|c| c.size_bytes).sum();
        if total != size_bytes {
            return Err(corrupt("object size does not match its chunks"));
        }
        Ok(ObjectRecord { size_bytes, etag, last_modified_ms, attrs, part_sizes, chunks, version })
    }
    pub fn info(&self, bucket: &str, key: &str) -> crate::types::ObjectInfo {
        crate::types::ObjectInfo {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size_bytes: self.size_bytes,
            etag: self.etag.clone(),
            last_modified_ms: self.last_modified_ms,
            attrs: self.attrs.clone(),
            part_sizes: self.part_sizes.clone(),
            version_id: self.version.as_ref().map(|v| v.id.clone()),
            delete_marker: self.version.as_ref().is_some_and(|v| v.delete_marker),
        }
    }
}

impl UploadRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.initiated_ms);
        e.bytes(&self.attrs);
        e.0
    }
    pub fn decode(v: &[u8]) -> Result<Self> {
        let mut d = Dec::start(v, "upload")?;
        let r = UploadRecord { initiated_ms: d.u64()?, attrs: d.bytes()? };
        d.end()?;
        Ok(r)
    }
}

impl PartRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.size_bytes);
        e.bytes(self.etag.as_bytes());
        e.u64(self.last_modified_ms);
        e.bytes(&self.attrs);
        e.chunk(&self.chunk);
        e.0
    }
    pub fn decode(v: &[u8]) -> Result<Self> {
        let mut d = Dec::start(v, "part")?;
        let r = PartRecord {
            size_bytes: d.u64()?,
            etag: d.string()?,
            last_modified_ms: d.u64()?,
            attrs: d.bytes()?,
            chunk: d.chunk()?,
        };
        d.end()?;
        Ok(r)
    }
}

/// Value in `CF_REFS` and `CF_GC`: the chunk descriptor.
pub fn encode_chunk(c: &Chunk) -> Vec<u8> {
    let mut e = Enc::new();
    e.chunk(c);
    e.0
}

pub fn decode_chunk(v: &[u8]) -> Result<Chunk> {
    let mut d = Dec::start(v, "chunk")?;
    let c = d.chunk()?;
    d.end()?;
    Ok(c)
}

/// Value in `CF_INLINE`.
pub fn encode_inline(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(FORMAT_V1);
    v.extend_from_slice(data);
    v
}

pub fn decode_inline(v: &[u8]) -> Result<&[u8]> {
    match v.split_first() {
        Some((&FORMAT_V1, rest)) => Ok(rest),
        _ => Err(corrupt("inline data version")),
    }
}

/// Value of the stored counts in `CF_SYS`.
pub fn encode_stored(c: &crate::stored::StoredCounts) -> Vec<u8> {
    let mut e = Enc::new();
    e.u64(c.objects);
    e.u64(c.versions);
    e.u64(c.bytes);
    e.0
}

pub fn decode_stored(v: &[u8]) -> Result<crate::stored::StoredCounts> {
    let mut d = Dec::start(v, "stored counts")?;
    let c = crate::stored::StoredCounts { objects: d.u64()?, versions: d.u64()?, bytes: d.u64()? };
    d.end()?;
    Ok(c)
}

/// Value of the commit sequence number in `CF_SYS`.
pub fn encode_seq(seq: u64) -> Vec<u8> {
    let mut e = Enc::new();
    e.u64(seq);
    e.0
}

pub fn decode_seq(v: &[u8]) -> Result<u64> {
    let mut d = Dec::start(v, "commit sequence")?;
    let s = d.u64()?;
    d.end()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_round_trip_and_truncation() {
        let r = ObjectRecord {
            size_bytes: 15,
            etag: "\"abc\"".into(),
            last_modified_ms: 7,
            attrs: vec![1, 2, 3],
            part_sizes: vec![5, 10],
            chunks: vec![
                Chunk { data_id: DataId([1; 16]), size_bytes: 5, layout: ChunkLayout::Inline },
                Chunk {
                    data_id: DataId([2; 16]),
                    size_bytes: 10,
                    layout: ChunkLayout::Erasure { data_shards: 4, parity_shards: 2, stripe_size_bytes: 1024 },
                },
            ],
            version: None,
        };
        let v = r.encode();
        assert_eq!(ObjectRecord::decode(&v).ok(), Some(r.clone()));
        // A versioned record round-trips; an unversioned one decodes as before versioning existed.
        let versioned =
            ObjectRecord { version: Some(VersionTag { seq: 9, id: "v9".into(), delete_marker: true }), ..r.clone() };
        let vv = versioned.encode();
        assert_eq!(ObjectRecord::decode(&vv).ok(), Some(versioned));
        assert!(ObjectRecord::decode(&vv[..vv.len() - 1]).is_err());
        for n in 0..v.len() {
            assert!(ObjectRecord::decode(&v[..n]).is_err());
        }
        let mut bad = v.clone();
        bad[0] = 9;
        assert!(ObjectRecord::decode(&bad).is_err());
    }

    #[test]
    fn data_id_hex() {
        let id = DataId::new_random();
        assert_eq!(DataId::from_hex(&id.hex()), Some(id));
        assert_eq!(DataId::from_hex("zz"), None);
    }
}
