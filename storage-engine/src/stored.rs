//! What the store holds, counted exactly: current objects, older versions
//! (and delete markers), and data bytes (every referenced chunk: objects,
//! versions and parts of uploads in progress; before erasure coding, so the
//! disks hold about 1.5 times as much).
//!
//! The counts live in the metadata (`CF_SYS`, key `SYS_STORED`) and every
//! commit that changes them writes the new totals in its own batch, under the
//! commit lock; so they are as durable and as replicated as the records they
//! count, and survive crashes and replica rebuilds unchanged. The change is
//! worked out from the commit's operations alone (a key appearing in or
//! leaving `objects`, `versions`, `refs` or `inline`), so no write path has to
//! keep count itself. A replica from before the counts existed is counted
//! once, by a scan, when it is opened.

use std::collections::HashMap;

use rocksdb::DB;

use crate::error::Result;
use crate::keys::{CF_INLINE, CF_OBJECTS, CF_REFS, CF_SYS, CF_VERSIONS};
use crate::meta::{cf, db_err, Op};
use crate::records::{decode_chunk, decode_inline, decode_stored, encode_stored};

/// Key in `CF_SYS` of the stored counts.
pub const SYS_STORED: &[u8] = b"stored";

/// The stored counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredCounts {
    pub objects: u64,
    pub versions: u64,
    pub bytes: u64,
}

impl StoredCounts {
    /// The counts of a replica: as recorded, or by a scan for a replica that predates them.
    pub fn load(db: &DB) -> Result<StoredCounts> {
        if let Some(v) = db.get_cf(cf(db, CF_SYS)?, SYS_STORED).map_err(|e| db_err("read stored counts", e))? {
            return decode_stored(&v);
        }
        let mut counts = StoredCounts::default();
        for (cf_name, counter) in [(CF_OBJECTS, 0), (CF_VERSIONS, 1), (CF_REFS, 2), (CF_INLINE, 2)] {
            let mut it = db.raw_iterator_cf(cf(db, cf_name)?);
            it.seek_to_first();
            while let (Some(_), Some(v)) = (it.key(), it.value()) {
                match counter {
                    0 => counts.objects += 1,
                    1 => counts.versions += 1,
                    _ => counts.bytes += value_bytes(cf_name, v),
                }
                it.next();
            }
            it.status().map_err(|e| db_err("count stored data", e))?;
        }
        Ok(counts)
    }

    /// The counts after `ops`, as read against `db` (the state before them).
    /// `None` when `ops` change nothing counted.
    pub fn after(&self, db: &DB, ops: &[Op]) -> Result<Option<StoredCounts>> {
        // Per key touched: bytes it holds now (None = absent), starting from `db`.
        let mut seen: HashMap<(&'static str, &[u8]), Option<u64>> = HashMap::new();
        let (mut objects, mut versions, mut bytes) = (self.objects as i128, self.versions as i128, self.bytes as i128);
        let mut changed = false;
        for op in ops {
            let (cf_name, key, new) = match op {
                Op::Put(c, k, v) => (*c, k.as_slice(), Some(value_bytes(c, v))),
                Op::Delete(c, k) => (*c, k.as_slice(), None),
            };
            if !matches!(cf_name, CF_OBJECTS | CF_VERSIONS | CF_REFS | CF_INLINE) {
                continue;
            }
            let old = match seen.get(&(cf_name, key)) {
                Some(old) => *old,
                None => db
                    .get_pinned_cf(cf(db, cf_name)?, key)
                    .map_err(|e| db_err("read for stored counts", e))?
                    .map(|v| value_bytes(cf_name, &v)),
            };
            seen.insert((cf_name, key), new);
            let presence = i128::from(new.is_some()) - i128::from(old.is_some());
            match cf_name {
                CF_OBJECTS => objects += presence,
                CF_VERSIONS => versions += presence,
                _ => bytes += i128::from(new.unwrap_or(0)) - i128::from(old.unwrap_or(0)),
            }
            changed |= new != old;
        }
        if !changed {
            return Ok(None);
        }
        let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
        Ok(Some(StoredCounts { objects: clamp(objects), versions: clamp(versions), bytes: clamp(bytes) }))
    }

    /// The operation that records these counts.
    pub fn op(&self) -> Op {
        Op::Put(CF_SYS, SYS_STORED.to_vec(), encode_stored(self))
    }
}

/// Data bytes a value in `refs` or `inline` stands for (0 elsewhere, or if undecodable).
fn value_bytes(cf_name: &str, v: &[u8]) -> u64 {
    match cf_name {
        CF_REFS => decode_chunk(v).map(|c| c.size_bytes).unwrap_or(0),
        CF_INLINE => decode_inline(v).map(|d| d.len() as u64).unwrap_or(0),
        _ => 0,
    }
}
