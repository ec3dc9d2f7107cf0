//! Coffer storage engine: an erasure-coded chunk store over three
//! availability-zone directories, with its metadata in RocksDB replicated to
//! each zone.
//!
//! What it owns: buckets, objects, multipart uploads and parts, a small
//! system key-value namespace for server state (`system_get`/`system_put`/…), their bytes
//! (inline in the metadata store when small, otherwise Reed-Solomon shard
//! files spread over the zones), healing, scrubbing and garbage collection.
//!
//! Invariants (docs/storage-engine.md explains each):
//! 1. A write is acknowledged only after at least k+1 shard files are fsynced
//!    under their final names and one metadata batch (synced WAL) is applied
//!    to at least two of the three metadata replicas. That batch is the
//!    commit point; a crash before it leaves only orphans, collected in the
//!    background right after the next open.
//! 2. Every shard block carries a CRC32C verified on every read; a stripe is
//!    readable from any k good blocks and damaged chunks are queued for healing.
//! 3. Data dropped by a commit (overwrite, delete, part re-upload, abort) is
//!    deleted only after that commit, and never while a reader pins it.
//! 4. Losing any one zone directory loses nothing.
//! 5. One module (`keys`) owns the byte layout of every key; every stored
//!    value starts with a format version byte.
//! 6. Blocking work (disk, RocksDB, erasure coding) runs on the blocking pool.
//!
//! It must not depend on HTTP, XML, SigV4 or any S3 wire type: attributes
//! such as content type or user metadata are opaque bytes owned by the caller.

mod budget;
mod engine;
mod erasure;
mod error;
mod gc;
mod heal;
mod keys;
mod list;
mod meta;
mod multipart;
mod open;
mod reader;
mod records;
mod shard_file;
mod shard_out;
mod stored;
mod system;
mod types;
mod versions;
mod writer;
mod zones;

pub use budget::{per_reader_bytes, per_writer_bytes};
pub use engine::{Engine, EngineStats, ZoneStats};
pub use error::*;
pub use heal::{HealCursor, HealPass, PassControl};
pub use reader::ObjectReader;
pub use records::VersionTag;
pub use stored::StoredCounts;
pub use system::MAX_SYSTEM_KEY_BYTES;
pub use types::*;
pub use versions::{new_version, NULL_VERSION};
pub use writer::{ObjectWriter, PartWriter};
pub use zones::{InjectedFault, ZoneState};

#[cfg(test)]
mod api_tests {
    //! The server holds these across awaits and in spawned tasks.
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_send<T: Send + 'static>() {}
    fn assert_stream<T: futures::Stream<Item = crate::Result<bytes::Bytes>> + Send + Unpin + 'static>() {}

    #[test]
    fn api_types_are_thread_safe() {
        assert_send_sync::<crate::Engine>();
        assert_send::<crate::ObjectWriter>();
        assert_send::<crate::PartWriter>();
        assert_stream::<crate::ObjectReader>();
        assert_send::<crate::EngineError>();
    }
}
