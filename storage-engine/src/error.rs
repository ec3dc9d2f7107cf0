//! Engine errors: domain values with no knowledge of HTTP or S3 wire types.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no such bucket: {bucket}")]
    NoSuchBucket { bucket: String },
    #[error("no such key: {bucket}/{key}")]
    NoSuchKey { bucket: String, key: String },
    #[error("no such version {version_id} of {bucket}/{key}")]
    NoSuchVersion { bucket: String, key: String, version_id: String },
    #[error("no such multipart upload: {upload_id}")]
    NoSuchUpload { upload_id: String },
    #[error("bucket already exists: {bucket}")]
    BucketAlreadyExists { bucket: String },
    #[error("bucket not empty: {bucket}")]
    BucketNotEmpty { bucket: String },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("invalid part {part_number}")]
    InvalidPart { part_number: u32 },
    #[error("parts not in ascending order")]
    InvalidPartOrder,
    #[error("part {part_number} is smaller than the minimum part size")]
    EntityTooSmall { part_number: u32 },
    #[error("only {available} zones/shards available, {needed} needed")]
    InsufficientZones { available: usize, needed: usize },
    #[error("corrupt {what}")]
    Corrupt { what: String },
    #[error("I/O error during {op} on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no space left on device during {op} on {path}")]
    NoSpace { op: &'static str, path: PathBuf },
    #[error("metadata store error during {op}: {message}")]
    Metadata { op: &'static str, message: String },
    /// The write buffers stayed all in use for the whole wait: retry later.
    #[error("write buffers all in use (waited {waited_ms} ms)")]
    WriteBuffersBusy { waited_ms: u64 },
    /// The read buffers stayed all in use for the whole wait: retry later.
    #[error("read buffers all in use (waited {waited_ms} ms)")]
    ReadBuffersBusy { waited_ms: u64 },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
