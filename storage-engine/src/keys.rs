//! The byte layout of every RocksDB key, and the column family names.
//!
//! This module is the only place that knows how keys are built. Invariants:
//! - String components (bucket names, object keys, upload ids) use an escaped,
//!   order-preserving, prefix-free encoding: every byte except `0x00` stands
//!   for itself, `0x00` becomes `0x00 0xFF`, and a component ends with
//!   `0x00 0x01`. For any two strings `a < b` (bytewise, which for UTF-8 is
//!   S3 listing order) `enc(a) < enc(b)`, and composite keys sort by their
//!   first component, then the next.
//! - The body of an encoded string (`enc_body`, without terminator) is a
//!   prefix of another body exactly when the string is a prefix of the other,
//!   so a listing prefix is an iterator seek.
//! - Integers are big-endian; data ids are 16 raw bytes.

use crate::error::{EngineError, Result};

/// Buckets: `enc(bucket)` → `BucketRecord`.
pub const CF_BUCKETS: &str = "buckets";
/// Objects: `enc(bucket) enc(key)` → `ObjectRecord` (head and chunk map).
pub const CF_OBJECTS: &str = "objects";
/// Multipart uploads: `enc(bucket) enc(key) enc(upload_id)` → `UploadRecord`.
pub const CF_UPLOADS: &str = "uploads";
/// Parts: `enc(upload_id) part_number(u32 BE)` → `PartRecord`.
pub const CF_PARTS: &str = "parts";
/// Data of inline chunks: `data_id` → version byte + bytes.
pub const CF_INLINE: &str = "inline";
/// Erasure-coded chunks referenced by committed metadata: `data_id` → `ChunkRecord`.
pub const CF_REFS: &str = "refs";
/// Erasure-coded chunks freed by a commit, whose shard files are still to be deleted: `data_id` → `ChunkRecord`.
pub const CF_GC: &str = "gc";
/// Engine bookkeeping: `SYS_COMMIT_SEQ` → u64 BE.
pub const CF_SYS: &str = "sys";
/// The server's system namespace (identities and other server state that is
/// neither bucket nor object): `system_key(name)` → version byte + opaque value.
pub const CF_SYSTEM: &str = "system";
/// Older versions and delete markers: object key ‖ `!seq` (big-endian) → object record.
pub const CF_VERSIONS: &str = "versions";

/// Every column family the engine uses.
pub const ALL_CFS: [&str; 10] =
    [CF_BUCKETS, CF_OBJECTS, CF_UPLOADS, CF_PARTS, CF_INLINE, CF_REFS, CF_GC, CF_SYS, CF_SYSTEM, CF_VERSIONS];

/// Key in `CF_SYS` of the commit sequence number of a replica.
pub const SYS_COMMIT_SEQ: &[u8] = b"commit_seq";

const ESC: u8 = 0x00;
const ESC_ZERO: u8 = 0xFF;
const TERM: u8 = 0x01;

/// Appends the body of `s` (no terminator).
pub fn push_body(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        if b == ESC {
            out.push(ESC);
            out.push(ESC_ZERO);
        } else {
            out.push(b);
        }
    }
}

/// Appends `s` as a complete component (body and terminator).
pub fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    push_body(out, s);
    out.push(ESC);
    out.push(TERM);
}

/// Decodes one component from `input`, returning it and the remaining bytes.
pub fn take_str(input: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != ESC {
            out.push(b);
            i += 1;
            continue;
        }
        match input.get(i + 1) {
            Some(&ESC_ZERO) => {
                out.push(0);
                i += 2;
            }
            Some(&TERM) => return Ok((out, &input[i + 2..])),
            _ => return Err(corrupt("bad escape in key")),
        }
    }
    Err(corrupt("unterminated key component"))
}

fn take_string(input: &[u8]) -> Result<(String, &[u8])> {
    let (bytes, rest) = take_str(input)?;
    let s = String::from_utf8(bytes).map_err(|_| corrupt("key component is not UTF-8"))?;
    Ok((s, rest))
}

fn corrupt(what: &str) -> EngineError {
    EngineError::Corrupt { what: format!("metadata key: {what}") }
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None` when there is none: the prefix is all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Key of a bucket in `CF_BUCKETS`.
pub fn bucket_key(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 2);
    push_str(&mut k, bucket.as_bytes());
    k
}

pub fn decode_bucket_key(k: &[u8]) -> Result<String> {
    let (b, rest) = take_string(k)?;
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes after bucket name"));
    }
    Ok(b)
}

/// Prefix shared by every object (and every upload) of a bucket.
pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    bucket_key(bucket)
}

/// Key of an object in `CF_OBJECTS`.
pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + key.len() + 4);
    push_str(&mut k, bucket.as_bytes());
    push_str(&mut k, key.as_bytes());
    k
}

/// Seek position of the object keys of `bucket` that start with `prefix`
/// (every such encoded key starts with the returned bytes).
pub fn object_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    push_body(&mut k, prefix.as_bytes());
    k
}

/// Seek position just past every object key of `bucket` starting with `prefix`.
pub fn object_prefix_end(bucket: &str, prefix: &str) -> Vec<u8> {
    let p = object_prefix(bucket, prefix);
    // The bucket component is terminated, so a successor always exists within or after it.
    prefix_successor(&p).unwrap_or(p)
}

/// Decodes an object key into (bucket, key).
pub fn decode_object_key(k: &[u8]) -> Result<(String, String)> {
    let (b, rest) = take_string(k)?;
    let (key, rest) = take_string(rest)?;
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes after object key"));
    }
    Ok((b, key))
}

/// Key of a multipart upload in `CF_UPLOADS`.
pub fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    push_str(&mut k, upload_id.as_bytes());
    k
}

/// Decodes an upload key into (bucket, key, upload id).
pub fn decode_upload_key(k: &[u8]) -> Result<(String, String, String)> {
    let (b, rest) = take_string(k)?;
    let (key, rest) = take_string(rest)?;
    let (id, rest) = take_string(rest)?;
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes after upload id"));
    }
    Ok((b, key, id))
}

/// Prefix of every part of an upload in `CF_PARTS`.
pub fn parts_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 6);
    push_str(&mut k, upload_id.as_bytes());
    k
}

/// Key of a part in `CF_PARTS`.
pub fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = parts_prefix(upload_id);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

/// Decodes a part key into (upload id, part number).
pub fn decode_part_key(k: &[u8]) -> Result<(String, u32)> {
    let (id, rest) = take_string(k)?;
    let n: [u8; 4] = rest.try_into().map_err(|_| corrupt("bad part number"))?;
    Ok((id, u32::from_be_bytes(n)))
}

/// Key of a system-namespace entry in `CF_SYSTEM`: the name's UTF-8 bytes as
/// they are. Names are plain strings chosen by the server (no NUL), so byte
/// order is name order and a name prefix is a key prefix.
pub fn system_key(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

pub fn decode_system_key(k: &[u8]) -> Result<String> {
    String::from_utf8(k.to_vec()).map_err(|_| corrupt("system key is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_key() -> impl Strategy<Value = String> {
        // Any UTF-8, including NUL and multi-byte characters, up to 1024 bytes.
        proptest::collection::vec(any::<char>(), 0..64)
            .prop_map(|cs| cs.into_iter().collect::<String>())
            .prop_filter("S3 keys are at most 1024 bytes", |s| s.len() <= 1024)
    }

    fn nul_heavy() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just('\0'), Just('\u{1}'), Just('a'), Just('/'), Just('\u{ff}')], 0..12)
            .prop_map(|cs| cs.into_iter().collect::<String>())
    }

    proptest! {
        #[test]
        fn object_key_round_trips(b in "[a-z0-9.-]{3,20}", k in any_key()) {
            let enc = object_key(&b, &k);
            prop_assert_eq!(decode_object_key(&enc).ok(), Some((b, k)));
        }

        #[test]
        fn object_key_order_is_byte_order(b in "[a-z]{3,5}", k1 in any_key(), k2 in any_key()) {
            prop_assert_eq!(object_key(&b, &k1).cmp(&object_key(&b, &k2)), k1.as_bytes().cmp(k2.as_bytes()));
        }

        #[test]
        fn order_with_nul_bytes(k1 in nul_heavy(), k2 in nul_heavy(), b1 in "[ab]{1,3}", b2 in "[ab]{1,3}") {
            let expected = (b1.as_bytes(), k1.as_bytes()).cmp(&(b2.as_bytes(), k2.as_bytes()));
            prop_assert_eq!(object_key(&b1, &k1).cmp(&object_key(&b2, &k2)), expected);
        }

        #[test]
        fn prefix_is_a_seek(p in nul_heavy(), k in nul_heavy()) {
            let enc = object_key("bkt", &k);
            let start = object_prefix("bkt", &p);
            let end = object_prefix_end("bkt", &p);
            let inside = enc.as_slice() >= start.as_slice() && enc.as_slice() < end.as_slice();
            prop_assert_eq!(inside, k.as_bytes().starts_with(p.as_bytes()));
            prop_assert_eq!(enc.starts_with(&start), k.as_bytes().starts_with(p.as_bytes()));
        }

        #[test]
        fn upload_and_part_keys_round_trip(b in "[a-z]{3,8}", k in any_key(), id in "[0-9a-f]{32}", n in any::<u32>()) {
            prop_assert_eq!(decode_upload_key(&upload_key(&b, &k, &id)).ok(), Some((b, k, id.clone())));
            prop_assert_eq!(decode_part_key(&part_key(&id, n)).ok(), Some((id, n)));
        }

        #[test]
        fn part_keys_sort_by_number(n1 in any::<u32>(), n2 in any::<u32>()) {
            prop_assert_eq!(part_key("u", n1).cmp(&part_key("u", n2)), n1.cmp(&n2));
        }
    }

    #[test]
    fn bucket_round_trip_and_garbage() {
        assert_eq!(decode_bucket_key(&bucket_key("my-bucket")).ok(), Some("my-bucket".to_string()));
        assert!(decode_object_key(b"abc").is_err());
        assert!(decode_object_key(&[b'a', 0, 7]).is_err());
        assert!(decode_part_key(&parts_prefix("u")).is_err());
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
