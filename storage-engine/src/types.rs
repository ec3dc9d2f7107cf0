//! Public value types of the engine API.

use std::path::PathBuf;

/// Engine configuration. `zone_dirs` default to `<data_dir>/az1..az3`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Exactly three zone directories.
    pub zone_dirs: [PathBuf; 3],
    /// k: data shards per stripe (default 4).
    pub data_shards: usize,
    /// m: parity shards per stripe (default 2).
    pub parity_shards: usize,
    /// Bytes of object data per stripe (default 1 MiB).
    pub stripe_size_bytes: usize,
    /// Objects (and parts) smaller than this are stored inline with their metadata (default 128 KiB).
    pub inline_threshold_bytes: usize,
    /// Read rate of the heal that rebuilds a zone recreated at open (default unlimited).
    pub heal_bytes_per_sec: Option<u64>,
    /// Size of the metadata block cache shared by all replicas (default 32 MiB).
    pub metadata_cache_bytes: usize,
    /// Stripe buffers all writers together may hold (default 256 MiB); each
    /// writer past the inline threshold takes [`crate::per_writer_bytes`].
    pub write_buffer_bytes: usize,
    /// Stripe buffers all readers of erasure-coded data together may hold
    /// (default 256 MiB); each takes [`crate::per_reader_bytes`] when opened.
    pub read_buffer_bytes: usize,
    /// How long a writer or reader waits for its share before it fails with
    /// `WriteBuffersBusy` or `ReadBuffersBusy` (default 10 s).
    pub buffer_wait: std::time::Duration,
}

impl EngineConfig {
    /// The defaults for a data directory: az1, az2, az3 inside it, RS(4,2), 1 MiB stripes, 128 KiB inline threshold.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        EngineConfig {
            zone_dirs: [data_dir.join("az1"), data_dir.join("az2"), data_dir.join("az3")],
            data_dir,
            data_shards: 4,
            parity_shards: 2,
            stripe_size_bytes: 1 << 20,
            inline_threshold_bytes: 128 << 10,
            heal_bytes_per_sec: None,
            metadata_cache_bytes: 32 << 20,
            write_buffer_bytes: 256 << 20,
            read_buffer_bytes: 256 << 20,
            buffer_wait: std::time::Duration::from_secs(10),
        }
    }
}

/// What the engine keeps about a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Opaque attributes owned by the caller (owner, region, configuration, ...).
    pub attrs: Vec<u8>,
}

/// What the engine keeps about an object (its "head").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size_bytes: u64,
    /// Caller-provided entity tag (the server stores the quoted MD5 or multipart ETag).
    pub etag: String,
    /// Milliseconds since the Unix epoch, set by the engine at commit.
    pub last_modified_ms: u64,
    /// Opaque attributes owned by the caller (content type, user metadata, checksums, ...).
    pub attrs: Vec<u8>,
    /// Sizes of the parts the object was assembled from (empty for a single PUT).
    pub part_sizes: Vec<u64>,
    /// The version id; `None` for an object written while the bucket was
    /// unversioned (S3 calls it the `null` version).
    pub version_id: Option<String>,
    /// This version is a delete marker (no data).
    pub delete_marker: bool,
}

/// Condition checked atomically with the commit of a new object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitCondition {
    None,
    /// Fail with `PreconditionFailed` if the key exists (`If-None-Match: *`).
    IfAbsent,
    /// `If-Match`: the key must exist (else `NoSuchKey`) with this etag (else
    /// `PreconditionFailed`).
    IfEtagMatches(String),
    /// `If-Match: *`: the key must exist (else `NoSuchKey`).
    IfExists,
    /// `If-None-Match: <etag>`: fail with `PreconditionFailed` if the key
    /// exists with this etag.
    IfEtagDiffers(String),
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Objects in UTF-8 byte order of their keys.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes (each ending with the delimiter), in order, deduplicated.
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned; pass as `start_after` to continue.
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Return only keys strictly greater than this (and skip a common prefix equal to it).
    pub start_after: Option<String>,
    pub max_keys: usize,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: u64,
    pub attrs: Vec<u8>,
}

/// A stored part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    pub size_bytes: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    pub attrs: Vec<u8>,
}

/// Counts from a verify/heal pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealReport {
    pub objects_checked: u64,
    pub shards_repaired: u64,
    pub unrecoverable: u64,
}

impl HealReport {
    pub fn add(&mut self, other: &HealReport) {
        self.objects_checked += other.objects_checked;
        self.shards_repaired += other.shards_repaired;
        self.unrecoverable += other.unrecoverable;
    }
}

/// How a bucket keeps the versions of an object (S3 bucket versioning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    /// Never enabled: a write replaces the object.
    #[default]
    Unversioned,
    /// Every write adds a version; deletes add delete markers.
    Enabled,
    /// Writes replace the `null` version; older versions are kept.
    Suspended,
}

/// One entry of a version listing.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    pub info: ObjectInfo,
    pub is_latest: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VersionListRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default)]
pub struct VersionPage {
    /// By key, then newest first.
    pub entries: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed or the delete marker added (`None`: unversioned).
    pub version_id: Option<String>,
    /// A delete marker was added or removed.
    pub delete_marker: bool,
}
