//! Durability in operation: the background scrubber and healer, and the
//! admin API (`/admin/v1/...`) that reports status and starts heal and scrub
//! passes.
//!
//! The scrubber runs a verify-and-repair pass (`Engine::heal_pass`) over
//! every object each `scrub_interval`, throttled to `scrub_bytes_per_sec`; the
//! engine does the I/O on the blocking pool batch by batch, so the reactor is
//! never starved. After every batch the pass's cursor and counts are saved in
//! `<data_dir>/scrub-state.json` with the last finished pass: a restart (or
//! `scrub pause` then `scrub start`) resumes the pass where it stood, and a
//! finished pass keeps the schedule instead of scrubbing at once. The healer
//! wakes every few seconds: chunks that reads or writes reported damaged are
//! repaired one by one (targeted repair); a zone that is not online gets a
//! full verify-and-repair pass, which also rebuilds it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use storage_engine::{HealCursor, HealReport, PassControl, ZoneState};
use subtle::ConstantTimeEq;

use crate::response::{self, Body};
use crate::server::AppState;

const STATE_FILE: &str = "scrub-state.json";
const HEAL_CHECK_PERIOD: Duration = Duration::from_secs(2);
const HEAL_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Writes from this size on are checked against free space before any byte is read.
const FREE_SPACE_CHECK_MIN: u64 = 1 << 20;
const FREE_SPACE_RESERVE: u64 = 1 << 20;

/// Outcome of one finished pass, persisted for the scrub schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassResult {
    pub finished_unix_ms: u64,
    pub duration_ms: u64,
    pub objects_checked: u64,
    pub shards_repaired: u64,
    pub unrecoverable: u64,
}

/// A scrub pass under way: where it stands and what it found so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubProgress {
    pub started_unix_ms: u64,
    /// The table being walked: 0 objects, 1 older versions, 2 parts of
    /// uploads in progress.
    pub table: usize,
    /// Hex of the last key verified in that table.
    pub after: Option<String>,
    pub objects_checked: u64,
    pub shards_repaired: u64,
    pub unrecoverable: u64,
}

impl ScrubProgress {
    fn new() -> ScrubProgress {
        ScrubProgress {
            started_unix_ms: now_ms(),
            table: 0,
            after: None,
            objects_checked: 0,
            shards_repaired: 0,
            unrecoverable: 0,
        }
    }

    fn cursor(&self) -> HealCursor {
        HealCursor { table: self.table, after: self.after.as_deref().and_then(|h| hex::decode(h).ok()) }
    }

    /// This progress moved on to `cursor`, with `report` found since it was taken.
    fn advanced(&self, cursor: &HealCursor, report: &HealReport) -> ScrubProgress {
        ScrubProgress {
            started_unix_ms: self.started_unix_ms,
            table: cursor.table,
            after: cursor.after.as_deref().map(hex::encode),
            objects_checked: self.objects_checked + report.objects_checked,
            shards_repaired: self.shards_repaired + report.shards_repaired,
            unrecoverable: self.unrecoverable + report.unrecoverable,
        }
    }
}

/// What `scrub-state.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SavedState {
    last: Option<PassResult>,
    in_progress: Option<ScrubProgress>,
    /// Paused by `scrub pause`: stays paused across restarts until `scrub start`.
    #[serde(default)]
    paused: bool,
}

impl SavedState {
    fn load(path: &Path) -> SavedState {
        let Ok(bytes) = std::fs::read(path) else { return SavedState::default() };
        if let Ok(state) = serde_json::from_slice::<SavedState>(&bytes) {
            return state;
        }
        // The first format held only the last finished pass.
        match serde_json::from_slice::<PassResult>(&bytes) {
            Ok(last) => SavedState { last: Some(last), in_progress: None, paused: false },
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "unreadable scrub state; starting afresh");
                SavedState::default()
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScrubSnapshot {
    pub running: bool,
    pub paused: bool,
    pub passes: u64,
    pub interval_secs: f64,
    pub last: Option<PassResult>,
    /// The pass under way (or paused, or cut short by a restart), if any.
    pub progress: Option<ScrubProgress>,
}

/// Shared state of the scrubber and healer.
pub struct Ops {
    state_path: PathBuf,
    scrub: Mutex<ScrubSnapshot>,
    paused: AtomicBool,
    wake: tokio::sync::Notify,
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Ops {
    pub fn new(data_dir: &Path, interval: Duration) -> Ops {
        let state_path = data_dir.join(STATE_FILE);
        let saved = SavedState::load(&state_path);
        Ops {
            state_path,
            scrub: Mutex::new(ScrubSnapshot {
                interval_secs: interval.as_secs_f64(),
                last: saved.last,
                progress: saved.in_progress,
                ..Default::default()
            }),
            paused: AtomicBool::new(saved.paused),
            wake: tokio::sync::Notify::new(),
        }
    }

    pub fn scrub_snapshot(&self) -> ScrubSnapshot {
        let mut s = self.scrub.lock().map(|s| s.clone()).unwrap_or_default();
        s.paused = self.paused.load(Ordering::SeqCst);
        s
    }

    /// Pauses or resumes scrubbing; the choice is saved with the scrub state.
    fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
        self.update_scrub(true, |_| {});
        if !paused {
            self.wake.notify_one();
        }
    }

    fn progress(&self) -> Option<ScrubProgress> {
        self.scrub.lock().ok().and_then(|s| s.progress.clone())
    }

    /// Updates the scrub state in memory and, with `save`, on disk.
    fn update_scrub(&self, save: bool, f: impl FnOnce(&mut ScrubSnapshot)) {
        let saved = match self.scrub.lock() {
            Ok(mut s) => {
                f(&mut s);
                SavedState {
                    last: s.last.clone(),
                    in_progress: s.progress.clone(),
                    paused: self.paused.load(Ordering::SeqCst),
                }
            }
            Err(_) => return,
        };
        if !save {
            return;
        }
        let saved = serde_json::to_vec(&saved).map_err(std::io::Error::other).and_then(|bytes| {
            let tmp = self.state_path.with_extension("json.tmp");
            std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &self.state_path))
        });
        if let Err(err) = saved {
            tracing::warn!(error = %err, "cannot save the scrub state");
        }
    }

    /// When the next scheduled scrub is due, from the last finished one.
    fn next_due(&self, interval: Duration) -> Duration {
        let last = self.scrub.lock().ok().and_then(|s| s.last.as_ref().map(|l| l.finished_unix_ms));
        match last {
            None => interval,
            Some(at) => {
                let due = at.saturating_add(interval.as_millis() as u64);
                Duration::from_millis(due.saturating_sub(now_ms()))
            }
        }
    }
}

/// Runs one full verify-and-repair pass (admin `heal`, or the healer when a
/// zone is out of service).
pub async fn run_pass(state: &AppState, rate: Option<u64>) -> Result<PassResult, String> {
    let started = std::time::Instant::now();
    let report = state.engine.heal_all(true, rate).await.map_err(|e| e.to_string())?;
    let result = PassResult {
        finished_unix_ms: now_ms(),
        duration_ms: started.elapsed().as_millis() as u64,
        objects_checked: report.objects_checked,
        shards_repaired: report.shards_repaired,
        unrecoverable: report.unrecoverable,
    };
    tracing::info!(
        objects = result.objects_checked,
        repaired = result.shards_repaired,
        unrecoverable = result.unrecoverable,
        "verify-and-repair pass finished"
    );
    Ok(result)
}

/// Runs the scrub pass, resuming the saved one if there is one. Returns the
/// finished pass, or `None` when it stopped early (paused, or shutting down)
/// with its progress saved.
async fn run_scrub(state: &AppState) -> Result<Option<PassResult>, String> {
    let ops = &state.ops;
    let base = ops.progress().unwrap_or_else(ScrubProgress::new);
    if base.table > 0 || base.after.is_some() {
        tracing::info!(objects_done = base.objects_checked, table = base.table, "resuming the scrub pass");
    }
    ops.update_scrub(true, |s| {
        s.running = true;
        s.progress = Some(base.clone());
    });
    let pass = state
        .engine
        .heal_pass(true, state.config.scrub_bytes_per_sec, base.cursor(), |cursor, report| {
            ops.update_scrub(true, |s| s.progress = Some(base.advanced(cursor, report)));
            if ops.paused.load(Ordering::SeqCst) {
                PassControl::Stop
            } else {
                PassControl::Continue
            }
        })
        .await;
    let pass = match pass {
        Ok(p) => p,
        Err(e) => {
            ops.update_scrub(true, |s| s.running = false);
            return Err(e.to_string());
        }
    };
    let total = base.advanced(&pass.cursor, &pass.report);
    if !pass.finished {
        tracing::info!(objects_done = total.objects_checked, "scrub pass stopped; it resumes from here");
        ops.update_scrub(true, |s| {
            s.running = false;
            s.progress = Some(total);
        });
        return Ok(None);
    }
    let now = now_ms();
    let result = PassResult {
        finished_unix_ms: now,
        duration_ms: now.saturating_sub(total.started_unix_ms),
        objects_checked: total.objects_checked,
        shards_repaired: total.shards_repaired,
        unrecoverable: total.unrecoverable,
    };
    ops.update_scrub(true, |s| {
        s.running = false;
        s.progress = None;
        s.passes += 1;
        s.last = Some(result.clone());
    });
    tracing::info!(
        objects = result.objects_checked,
        repaired = result.shards_repaired,
        unrecoverable = result.unrecoverable,
        "scrub pass finished"
    );
    Ok(Some(result))
}

/// The scrub schedule; ends when `stop` flips. A pass left unfinished (by a
/// restart or a pause) is resumed at once, unless paused.
pub async fn scrubber(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = state.config.scrub_interval;
    loop {
        let wait = match state.ops.progress() {
            Some(_) => Duration::ZERO,
            None => state.ops.next_due(interval),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.ops.wake.notified() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if state.ops.paused.load(Ordering::SeqCst) {
            // Paused: wait for `scrub start`, then run (or resume).
            tokio::select! {
                _ = state.ops.wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
        if let Err(err) = run_scrub(&state).await {
            tracing::error!(error = %err, "scrub pass failed");
            // Do not spin on a persistent failure.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Repairs what reads and writes reported damaged (targeted, chunk by
/// chunk), and zones that are not online (a full pass, which rebuilds them).
///
/// When something stays unrepaired after an attempt (a dead or full disk),
/// the healer backs off, doubling up to `HEAL_MAX_BACKOFF`, so it does not
/// re-read the store every few seconds.
pub async fn healer(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut wait = HEAL_CHECK_PERIOD;
    let not_online = |s: &storage_engine::EngineStats| s.zones.iter().any(|z| z.state != ZoneState::Online);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let stats = state.engine.stats();
        if stats.pending_heal == 0 && !not_online(&stats) {
            wait = HEAL_CHECK_PERIOD;
            continue;
        }
        if not_online(&stats) {
            if let Err(err) = run_pass(&state, state.config.heal_bytes_per_sec).await {
                tracing::warn!(error = %err, "background heal failed");
            }
        } else {
            match state.engine.heal_queued().await {
                Ok(r) => tracing::info!(
                    chunks = r.objects_checked,
                    repaired = r.shards_repaired,
                    left = r.unrecoverable,
                    "targeted repair finished"
                ),
                Err(err) => tracing::warn!(error = %err, "targeted repair failed"),
            }
        }
        let after = state.engine.stats();
        wait = if after.pending_heal == 0 && !not_online(&after) {
            HEAL_CHECK_PERIOD
        } else {
            (wait * 2).min(HEAL_MAX_BACKOFF)
        };
    }
}

/// Refuses a write of `len` bytes up front when fewer than two usable zones
/// have room for their share of it (half the object each with RS(4,2) over
/// three zones, plus a reserve). Small writes are not checked.
pub fn check_free_space(state: &AppState, len: u64) -> Result<(), crate::error::ApiError> {
    if len < FREE_SPACE_CHECK_MIN {
        return Ok(());
    }
    let need = len / 2 + FREE_SPACE_RESERVE;
    let stats = state.engine.stats();
    let roomy = stats
        .zones
        .iter()
        .filter(|z| z.state != ZoneState::Missing)
        .filter(|z| disk_space(&z.dir).is_none_or(|(_, free)| free >= need))
        .count();
    if roomy >= 2 {
        return Ok(());
    }
    Err(crate::error::ApiError::new(
        crate::error::S3ErrorCode::InsufficientStorage,
        "The server does not have enough free space to store the object.",
    ))
}

pub fn zone_state_code(state: &ZoneState) -> i64 {
    match state {
        ZoneState::Online => 0,
        ZoneState::Rebuilding => 1,
        ZoneState::Missing => 2,
    }
}

fn zone_state_name(state: &ZoneState) -> &'static str {
    match state {
        ZoneState::Online => "online",
        ZoneState::Rebuilding => "rebuilding",
        ZoneState::Missing => "failed",
    }
}

/// (capacity, free) bytes of the filesystem holding `dir`.
pub fn disk_space(dir: &Path) -> Option<(u64, u64)> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some((s.f_blocks.saturating_mul(s.f_frsize), s.f_bavail.saturating_mul(s.f_frsize)))
}

pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut text = value.to_string();
    text.push('\n');
    let mut response = Response::new(response::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &serde_json::json!({ "error": code, "message": message }))
}

fn authorized(state: &AppState, req: &Request<Incoming>) -> bool {
    let Some(token) = &state.config.admin_token else { return false };
    let Some(given) = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = given.strip_prefix("Bearer ") else { return false };
    given.as_bytes().ct_eq(token.0.as_bytes()).into()
}

fn status_json(state: &AppState) -> serde_json::Value {
    let stats = state.engine.stats();
    let zones: Vec<serde_json::Value> = stats
        .zones
        .iter()
        .map(|z| {
            let space = disk_space(&z.dir);
            serde_json::json!({
                "zone": format!("az{}", z.zone + 1),
                "dir": z.dir.display().to_string(),
                "state": zone_state_name(&z.state),
                "metadata_fresh": z.metadata_fresh,
                "capacity_bytes": space.map(|s| s.0),
                "free_bytes": space.map(|s| s.1),
            })
        })
        .collect();
    serde_json::json!({
        "zones": zones,
        "objects": stats.stored.objects,
        "object_versions": stats.stored.versions,
        "bytes_stored": stats.stored.bytes,
        "degraded_objects": stats.degraded_objects(),
        "heal_queue": stats.pending_heal,
        "degraded_reads": stats.degraded_reads,
        "write_buffers": {
            "in_use_bytes": stats.write_buffers_in_use_bytes,
            "limit_bytes": stats.write_buffers_limit_bytes,
            "uploads_refused_busy": stats.writes_refused_busy,
        },
        "read_buffers": {
            "in_use_bytes": stats.read_buffers_in_use_bytes,
            "limit_bytes": stats.read_buffers_limit_bytes,
            "downloads_refused_busy": stats.reads_refused_busy,
        },
        "shards_repaired": stats.shards_repaired,
        "scrub": state.ops.scrub_snapshot(),
    })
}

/// Serves every admin-listener path except the health checks.
pub async fn serve_admin_api(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    if !authorized(&state, &req) {
        let mut r = error(StatusCode::UNAUTHORIZED, "Unauthorized", "send Authorization: Bearer <admin token>");
        r.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/metrics") => {
            let text = state.metrics.render(&state.engine, &state.ops);
            let mut r = Response::new(response::full(text));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            r
        }
        (Method::GET, "/admin/v1/status") => json_response(StatusCode::OK, &status_json(&state)),
        (Method::POST, "/admin/v1/heal") => {
            if query.split('&').any(|p| p == "wait=false") {
                let bg = state.clone();
                tokio::spawn(async move {
                    if let Err(err) = run_pass(&bg, bg.config.heal_bytes_per_sec).await {
                        tracing::error!(error = %err, "heal pass failed");
                    }
                });
                return json_response(StatusCode::ACCEPTED, &serde_json::json!({ "started": true }));
            }
            match run_pass(&state, state.config.heal_bytes_per_sec).await {
                Ok(r) => json_response(StatusCode::OK, &serde_json::to_value(&r).unwrap_or_default()),
                Err(msg) => error(StatusCode::SERVICE_UNAVAILABLE, "HealFailed", &msg),
            }
        }
        (Method::POST, "/admin/v1/scrub/start") => {
            state.ops.set_paused(false);
            json_response(StatusCode::ACCEPTED, &serde_json::to_value(state.ops.scrub_snapshot()).unwrap_or_default())
        }
        (Method::POST, "/admin/v1/scrub/pause") => {
            state.ops.set_paused(true);
            json_response(StatusCode::OK, &serde_json::to_value(state.ops.scrub_snapshot()).unwrap_or_default())
        }
        (Method::GET, "/admin/v1/public-access-block") => json_response(
            StatusCode::OK,
            &serde_json::to_value(state.account_public_access_block.get()).unwrap_or_default(),
        ),
        (Method::PUT, "/admin/v1/public-access-block") => {
            let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(req.into_body(), 4096)).await
            {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return error(StatusCode::BAD_REQUEST, "BadBody", "the body could not be read (at most 4 KiB)")
                }
            };
            let value: policy::PublicAccessBlock = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return error(StatusCode::BAD_REQUEST, "MalformedJSON", &format!("expected {{\"block_public_acls\": bool, \"ignore_public_acls\": bool, \"block_public_policy\": bool, \"restrict_public_buckets\": bool}}: {e}")),
            };
            match state.account_public_access_block.set(&state.engine, value).await {
                Ok(()) => json_response(StatusCode::OK, &serde_json::to_value(value).unwrap_or_default()),
                Err(msg) => error(StatusCode::SERVICE_UNAVAILABLE, "StoreFailed", &msg),
            }
        }
        (Method::DELETE, "/admin/v1/public-access-block") => {
            match state.account_public_access_block.reset(&state.engine).await {
                Ok(value) => json_response(StatusCode::OK, &serde_json::to_value(value).unwrap_or_default()),
                Err(msg) => error(StatusCode::SERVICE_UNAVAILABLE, "StoreFailed", &msg),
            }
        }
        (Method::GET, "/admin/v1/scrub/status") => {
            json_response(StatusCode::OK, &serde_json::to_value(state.ops.scrub_snapshot()).unwrap_or_default())
        }
        _ if path.starts_with(crate::iam::accounts_admin::PATH) => crate::iam::accounts_admin::serve(&state, req).await,
        _ => crate::sse::admin::serve(&state, req).await,
    }
}

/// The payload length a request announces (decoded length for aws-chunked bodies).
pub fn announced_length(headers: &http::HeaderMap) -> u64 {
    ["x-amz-decoded-content-length", "content-length"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0)
}
