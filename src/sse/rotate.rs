//! Master key rotation: a new master version for new writes, then one pass
//! that re-wraps every SSE-S3 data key (every version of every object, and
//! uploads in progress)
//! under it, without touching object data. When the pass leaves nothing
//! wrapped by an older version, those versions are removed from the keyring.
//!
//! Writers wrap their data key and commit while holding the rotation's read
//! guard, and switching versions takes it exclusively; so once the switch
//! returns, every record wrapped by an old version is already committed and
//! the pass will find it.

use serde::Serialize;
use storage_engine::{EngineError, VersionListRequest};

use super::Kek;
use crate::error::ApiError;
use crate::handlers::attrs::ObjectAttrs;
use crate::handlers::multipart::UploadAttrs;
use crate::server::AppState;

/// What a rotation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotationReport {
    pub new_version: u32,
    pub objects_rewrapped: u64,
    pub uploads_rewrapped: u64,
    /// Records that could not be re-wrapped (logged); old versions are then kept.
    pub failed: u64,
    pub removed_versions: Vec<u32>,
}

const RETRIES: usize = 8;

fn is_old(kek: &Kek, current: u32) -> bool {
    matches!(kek, Kek::S3 { master } if *master != current)
}

/// Rotates the SSE-S3 master key and re-wraps every data key.
pub async fn rotate_master(state: &AppState) -> Result<RotationReport, ApiError> {
    let sse = &state.sse;
    let engine = &state.engine;
    let mut report = RotationReport { new_version: sse.switch_master().await?, ..Default::default() };
    let current = report.new_version;
    for bucket in engine.list_buckets().await? {
        let bucket = bucket.name;
        // Every version of every key (the current ones included).
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let req = VersionListRequest {
                prefix: String::new(),
                delimiter: None,
                key_marker: key_marker.clone(),
                version_id_marker: version_marker.clone(),
                max_keys: 1000,
            };
            let page = match engine.list_versions(&bucket, &req).await {
                Ok(p) => p,
                Err(EngineError::NoSuchBucket { .. }) => break,
                Err(e) => return Err(e.into()),
            };
            for entry in page.entries.into_iter().filter(|e| !e.info.delete_marker) {
                let (key, version) = (entry.info.key, entry.info.version_id);
                match rewrap_object(state, &bucket, &key, version.as_deref(), entry.info.attrs, current).await {
                    Ok(true) => report.objects_rewrapped += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(bucket = %bucket, key = %key, error = %e, "re-wrapping a data key failed");
                        report.failed += 1;
                    }
                }
            }
            if !page.is_truncated {
                break;
            }
            key_marker = page.next_key_marker;
            version_marker = page.next_version_id_marker;
        }
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let (uploads, more) =
                match engine.list_uploads(&bucket, "", key_marker.as_deref(), id_marker.as_deref(), 1000).await {
                    Ok(p) => p,
                    Err(EngineError::NoSuchBucket { .. }) => break,
                    Err(e) => return Err(e.into()),
                };
            for upload in &uploads {
                match rewrap_upload(state, &bucket, &upload.key, &upload.upload_id, upload.attrs.clone(), current).await
                {
                    Ok(true) => report.uploads_rewrapped += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(bucket = %bucket, key = %upload.key, error = %e, "re-wrapping an upload's data key failed");
                        report.failed += 1;
                    }
                }
            }
            match uploads.last() {
                Some(last) if more => {
                    key_marker = Some(last.key.clone());
                    id_marker = Some(last.upload_id.clone());
                }
                _ => break,
            }
        }
    }
    if report.failed == 0 {
        report.removed_versions = sse.keyring.drop_old_master_versions().map_err(|e| sse.key_error(e))?;
    }
    tracing::info!(?report, "master key rotation finished");
    Ok(report)
}

async fn rewrap_object(
    state: &AppState,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    mut attrs: Vec<u8>,
    current: u32,
) -> Result<bool, ApiError> {
    for _ in 0..RETRIES {
        let mut decoded = ObjectAttrs::decode(&attrs)?;
        let Some(rec) = decoded.sse.as_ref().filter(|r| is_old(&r.kek, current)) else { return Ok(false) };
        let guard = state.sse.commit_guard().await;
        decoded.sse = Some(state.sse.rewrap(rec, bucket, key, &guard)?);
        let engine = &state.engine;
        let replaced = match version {
            Some(v) => engine.replace_version_attrs(bucket, key, v, attrs.clone(), decoded.encode()).await,
            None => engine.replace_object_attrs(bucket, key, attrs.clone(), decoded.encode()).await,
        };
        match replaced {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(EngineError::NoSuchKey { .. } | EngineError::NoSuchVersion { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        // Changed meanwhile (an overwrite or a tag change): look again.
        let again = match version {
            Some(v) => engine.head_version(bucket, key, v).await,
            None => engine.head_object(bucket, key).await,
        };
        match again {
            Ok(info) => attrs = info.attrs,
            Err(EngineError::NoSuchKey { .. } | EngineError::NoSuchVersion { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("the object changed too often during re-wrapping"))
}

async fn rewrap_upload(
    state: &AppState,
    bucket: &str,
    key: &str,
    upload_id: &str,
    mut attrs: Vec<u8>,
    current: u32,
) -> Result<bool, ApiError> {
    for _ in 0..RETRIES {
        let mut decoded = UploadAttrs::decode(&attrs)?;
        let Some(rec) = decoded.object.sse.as_ref().filter(|r| is_old(&r.kek, current)) else { return Ok(false) };
        let guard = state.sse.commit_guard().await;
        decoded.object.sse = Some(state.sse.rewrap(rec, bucket, key, &guard)?);
        if state.engine.replace_upload_attrs(bucket, key, upload_id, attrs.clone(), decoded.encode()?).await? {
            return Ok(true);
        }
        match state.engine.get_upload(bucket, key, upload_id).await {
            Ok(info) => attrs = info.attrs,
            Err(EngineError::NoSuchUpload { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("the upload changed too often during re-wrapping"))
}
