//! Object listing as an index seek.
//!
//! A page costs O(entries returned): the iterator seeks to the first key after
//! `start_after` under the prefix, and each common prefix is skipped whole by
//! seeking to the successor of its encoding. Every entry returned (key or
//! common prefix) is strictly greater than `start_after`, so passing the last
//! entry of a page as the next `start_after` continues exactly after it.

use crate::error::Result;
use crate::keys::{self, CF_OBJECTS};
use crate::meta::{cf, db_err};
use crate::records::ObjectRecord;
use crate::types::{ListPage, ListRequest};

/// The common prefix `key` rolls up into, if any.
pub(crate) fn common_prefix<'a>(key: &'a str, prefix: &str, delimiter: Option<&str>) -> Option<&'a str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(d)?;
    key.get(..prefix.len() + at + d.len())
}

/// Seek position after every key starting with `p` in `bucket`.
pub(crate) fn skip_past(bucket: &str, p: &str) -> Vec<u8> {
    keys::object_prefix_end(bucket, p)
}

pub(crate) fn list_objects(db: &rocksdb::DB, bucket: &str, req: &ListRequest) -> Result<ListPage> {
    crate::engine::get_bucket_rec(db, bucket)?;
    let mut page = ListPage::default();
    if req.max_keys == 0 {
        return Ok(page);
    }
    let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
    let range_start = keys::object_prefix(bucket, &req.prefix);
    let mut seek = range_start.clone();
    let start_after = req.start_after.as_deref();
    if let Some(sa) = start_after {
        let after = keys::object_key(bucket, sa);
        if after > seek {
            seek = after;
        }
        // A start_after inside a common prefix (or equal to it) skips the whole prefix.
        if let Some(cp) =
            sa.starts_with(req.prefix.as_str()).then(|| common_prefix(sa, &req.prefix, delimiter)).flatten()
        {
            let past = skip_past(bucket, cp);
            if past > seek {
                seek = past;
            }
        }
    }
    let mut it = db.raw_iterator_cf(cf(db, CF_OBJECTS)?);
    it.seek(&seek);
    let mut count = 0usize;
    let mut last: Option<String> = None;
    while let Some(k) = it.key() {
        if !k.starts_with(&range_start) {
            break;
        }
        if count >= req.max_keys {
            page.is_truncated = true;
            break;
        }
        let (_, name) = keys::decode_object_key(k)?;
        if let Some(cp) = common_prefix(&name, &req.prefix, delimiter) {
            let cp = cp.to_string();
            let seek_to = skip_past(bucket, &cp);
            if start_after.map(|sa| cp.as_str() > sa).unwrap_or(true) {
                page.common_prefixes.push(cp.clone());
                last = Some(cp);
                count += 1;
            }
            it.seek(&seek_to);
            continue;
        }
        if start_after.map(|sa| name.as_str() > sa).unwrap_or(true) {
            let v = it.value().unwrap_or_default();
            let rec = ObjectRecord::decode(v)?;
            page.objects.push(rec.info(bucket, &name));
            last = Some(name);
            count += 1;
        }
        it.next();
    }
    it.status().map_err(|e| db_err("list objects", e))?;
    if page.is_truncated {
        page.next_marker = last;
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("a/b/c", "", Some("/")), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", None), None);
        assert_eq!(common_prefix("a/b", "a/b", Some("/")), None);
        assert_eq!(common_prefix("x--y--z", "x", Some("--")), Some("x--"));
    }
}
