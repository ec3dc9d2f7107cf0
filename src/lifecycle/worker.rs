//! The lifecycle worker: one pass over every bucket with rules, then a pause.
//!
//! A pass lists current objects (expiring those due: a delete marker in a
//! versioned bucket, a delete otherwise), then every version (removing
//! noncurrent versions due, keeping the newest `NewerNoncurrentVersions`,
//! and removing delete markers that are the only version left), then the
//! multipart uploads (aborting those due). Versions under Object Lock
//! retention or legal hold are kept. Passes are idempotent and start again
//! from the beginning after a restart; they yield to the reactor between
//! batches and pace themselves so that foreground requests come first.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use storage_engine::{EngineError, ListRequest, VersionListRequest, Versioning};

use super::{config::Lifecycle, expiration};
use crate::handlers::attrs::{BucketAttrs, ObjectAttrs};
use crate::ops::now_ms;
use crate::server::AppState;

/// What a pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub objects_expired: u64,
    pub noncurrent_removed: u64,
    pub delete_markers_removed: u64,
    pub uploads_aborted: u64,
    pub errors: u64,
}

/// Entries handled between two pauses of the pass.
const BATCH: usize = 200;
const PAUSE: Duration = Duration::from_millis(5);

/// Runs passes until `stop` changes.
pub async fn run(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = state.config.lifecycle_interval;
    loop {
        match run_pass(&state).await {
            Ok(r) if r.objects_expired + r.noncurrent_removed + r.delete_markers_removed + r.uploads_aborted > 0 => {
                tracing::info!(?r, "lifecycle pass");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = state.lifecycle_wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass over every bucket.
pub async fn run_pass(state: &AppState) -> Result<PassReport, EngineError> {
    let mut report = PassReport::default();
    for bucket in state.engine.list_buckets().await? {
        let Ok(attrs) = BucketAttrs::decode(&bucket.attrs) else { continue };
        let Some(lc) = attrs.lifecycle.clone().filter(|l| l.rules.iter().any(|r| r.enabled)) else { continue };
        let versioning = attrs.versioning_mode();
        let result = async {
            expire_current(state, &bucket.name, &lc, versioning, &mut report).await?;
            if versioning != Versioning::Unversioned {
                expire_versions(state, &bucket.name, &lc, &mut report).await?;
            }
            abort_uploads(state, &bucket.name, &lc, &mut report).await
        }
        .await;
        match result {
            Ok(()) | Err(EngineError::NoSuchBucket { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

async fn pace(handled: &mut usize) {
    *handled += 1;
    if (*handled).is_multiple_of(BATCH) {
        tokio::time::sleep(PAUSE).await;
    }
}

async fn expire_current(
    state: &AppState,
    bucket: &str,
    lc: &Lifecycle,
    versioning: Versioning,
    report: &mut PassReport,
) -> Result<(), EngineError> {
    if !lc.rules.iter().any(|r| r.enabled && (r.expiration_days.is_some() || r.expiration_date_ms.is_some())) {
        return Ok(());
    }
    let clock = state.lifecycle_clock;
    let mut start_after = None;
    let mut handled = 0;
    loop {
        let req =
            ListRequest { prefix: String::new(), delimiter: None, start_after: start_after.clone(), max_keys: 1000 };
        let page = state.engine.list_objects(bucket, &req).await?;
        for object in &page.objects {
            pace(&mut handled).await;
            let Ok(attrs) = ObjectAttrs::decode(&object.attrs) else { continue };
            let size = crate::sse::plain_size(object, attrs.sse.as_ref()).unwrap_or(object.size_bytes);
            let Some((due, _)) = expiration(lc, clock, &object.key, &attrs.tags, size, object.last_modified_ms) else {
                continue;
            };
            if due > now_ms() {
                continue;
            }
            let done = match versioning {
                Versioning::Unversioned => state.engine.delete_object(bucket, &object.key).await.map(|_| ()),
                v => state.engine.delete_object_versioned(bucket, &object.key, v).await.map(|_| ()),
            };
            match done {
                Ok(()) => report.objects_expired += 1,
                Err(e) => {
                    tracing::warn!(bucket, key = %object.key, error = %e, "lifecycle expiration failed");
                    report.errors += 1;
                }
            }
        }
        if !page.is_truncated {
            return Ok(());
        }
        start_after = page.next_marker;
    }
}

/// The versions of one key seen so far in a version listing.
#[derive(Default)]
struct KeyState {
    key: String,
    /// Versions of the key seen (newest first).
    seen: usize,
    /// Noncurrent versions seen.
    noncurrent: u32,
    /// When the previous (newer) version was written: the time the next one became noncurrent.
    newer_modified_ms: u64,
    /// The only version so far is a delete marker: (version id).
    lone_marker: Option<String>,
}

async fn expire_versions(
    state: &AppState,
    bucket: &str,
    lc: &Lifecycle,
    report: &mut PassReport,
) -> Result<(), EngineError> {
    let rules: Vec<_> =
        lc.rules.iter().filter(|r| r.enabled && (r.noncurrent_days.is_some() || r.expired_delete_marker)).collect();
    if rules.is_empty() {
        return Ok(());
    }
    let clock = state.lifecycle_clock;
    let now = now_ms();
    let mut cur = KeyState::default();
    let (mut key_marker, mut version_marker) = (None, None);
    let mut handled = 0;
    loop {
        let req = VersionListRequest {
            prefix: String::new(),
            delimiter: None,
            key_marker: key_marker.clone(),
            version_id_marker: version_marker.clone(),
            max_keys: 1000,
        };
        let page = state.engine.list_versions(bucket, &req).await?;
        for entry in &page.entries {
            pace(&mut handled).await;
            let info = &entry.info;
            if info.key != cur.key {
                finish_key(state, bucket, &rules, &cur, report).await;
                cur = KeyState { key: info.key.clone(), ..KeyState::default() };
            }
            cur.seen += 1;
            let version = info.version_id.clone().unwrap_or_else(|| storage_engine::NULL_VERSION.to_string());
            if cur.seen == 1 {
                cur.lone_marker = info.delete_marker.then(|| version.clone());
            } else {
                cur.lone_marker = None;
            }
            if !entry.is_latest && !info.delete_marker {
                let rank = cur.noncurrent;
                cur.noncurrent += 1;
                let attrs = ObjectAttrs::decode(&info.attrs).ok();
                let tags = attrs.as_ref().map(|a| a.tags.clone()).unwrap_or_default();
                let locked =
                    attrs.as_ref().is_some_and(|a| a.legal_hold || a.retention.is_some_and(|r| r.until_ms > now));
                let due = rules.iter().any(|r| {
                    r.filter.matches(&info.key, &tags, info.size_bytes)
                        && r.noncurrent_days.is_some_and(|d| clock.due_ms(cur.newer_modified_ms, d) <= now)
                        && r.newer_noncurrent_versions.is_none_or(|keep| rank >= keep)
                });
                if due && !locked {
                    match state.engine.delete_version(bucket, &info.key, &version).await {
                        Ok(_) => report.noncurrent_removed += 1,
                        Err(e) => {
                            tracing::warn!(bucket, key = %info.key, error = %e, "lifecycle version removal failed");
                            report.errors += 1;
                        }
                    }
                }
            }
            cur.newer_modified_ms = info.last_modified_ms;
        }
        if !page.is_truncated {
            break;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    finish_key(state, bucket, &rules, &cur, report).await;
    Ok(())
}

/// A delete marker that is the only version of its key is removed by `ExpiredObjectDeleteMarker`.
async fn finish_key(
    state: &AppState,
    bucket: &str,
    rules: &[&super::config::Rule],
    key: &KeyState,
    report: &mut PassReport,
) {
    let Some(marker) = key.lone_marker.as_deref().filter(|_| key.seen == 1) else { return };
    if !rules.iter().any(|r| r.expired_delete_marker && r.filter.matches(&key.key, &[], 0)) {
        return;
    }
    match state.engine.delete_version(bucket, &key.key, marker).await {
        Ok(_) => report.delete_markers_removed += 1,
        Err(e) => {
            tracing::warn!(bucket, key = %key.key, error = %e, "lifecycle delete marker removal failed");
            report.errors += 1;
        }
    }
}

async fn abort_uploads(
    state: &AppState,
    bucket: &str,
    lc: &Lifecycle,
    report: &mut PassReport,
) -> Result<(), EngineError> {
    let rules: Vec<_> = lc.rules.iter().filter(|r| r.enabled && r.abort_multipart_days.is_some()).collect();
    if rules.is_empty() {
        return Ok(());
    }
    let clock = state.lifecycle_clock;
    let now = now_ms();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let (uploads, more) =
            state.engine.list_uploads(bucket, "", key_marker.as_deref(), id_marker.as_deref(), 1000).await?;
        for u in &uploads {
            let due = rules.iter().any(|r| {
                u.key.starts_with(&r.filter.prefix)
                    && r.abort_multipart_days.is_some_and(|d| clock.due_ms(u.initiated_ms, d) <= now)
            });
            if due {
                match state.engine.abort_upload(bucket, &u.key, &u.upload_id).await {
                    Ok(()) | Err(EngineError::NoSuchUpload { .. }) => report.uploads_aborted += 1,
                    Err(e) => {
                        tracing::warn!(bucket, key = %u.key, error = %e, "lifecycle abort failed");
                        report.errors += 1;
                    }
                }
            }
        }
        match uploads.last() {
            Some(last) if more => {
                key_marker = Some(last.key.clone());
                id_marker = Some(last.upload_id.clone());
            }
            _ => return Ok(()),
        }
    }
}
