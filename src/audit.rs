//! The access (audit) log: one JSON line per S3 request — time, request id,
//! principal, operation, bucket, key, status, error code, bytes, duration,
//! client address, user agent — written to a file or stdout by a dedicated
//! thread, so a slow disk never blocks the reactor (a full queue drops lines
//! and counts them instead). Never logged: headers other than the user agent,
//! query strings (presigned signatures), keys, secrets. SIGHUP reopens the
//! file (for logrotate).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use serde::Serialize;

/// Lines waiting for the writer before new ones are dropped.
const QUEUE: usize = 8192;

/// One request, as the access log records it.
#[derive(Debug, Serialize)]
pub struct AccessRecord<'a> {
    pub time: String,
    pub request_id: &'a str,
    /// The access key id, or `anonymous`.
    pub principal: &'a str,
    /// The IAM user (or `root`) the key belongs to, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    pub operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: u64,
    pub client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

/// Where access lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Off,
    Stdout,
    File(PathBuf),
}

impl Target {
    pub fn parse(value: &str) -> Target {
        match value.trim() {
            "" | "off" => Target::Off,
            "stdout" | "-" => Target::Stdout,
            path => Target::File(PathBuf::from(path)),
        }
    }
}

#[derive(Debug, Default)]
pub struct AccessLog {
    tx: Option<SyncSender<String>>,
    reopen: Arc<AtomicBool>,
    pub dropped: AtomicU64,
}

fn open_file(path: &PathBuf) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

impl AccessLog {
    /// Starts the writer (nothing for `Target::Off`).
    pub fn start(target: &Target) -> std::io::Result<AccessLog> {
        let reopen = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let mut out: Box<dyn Write + Send> = match target {
            Target::Off => return Ok(AccessLog::default()),
            Target::Stdout => Box::new(std::io::stdout()),
            Target::File(path) => Box::new(open_file(path)?),
        };
        let path = match target {
            Target::File(p) => Some(p.clone()),
            _ => None,
        };
        let flag = reopen.clone();
        std::thread::Builder::new().name("coffer-access-log".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                // Write what is queued, then flush once: lines reach the file
                // promptly without a flush per line under load.
                let mut next = Some(first);
                while let Some(line) = next.take() {
                    if flag.swap(false, Ordering::AcqRel) {
                        if let Some(p) = &path {
                            let _ = out.flush();
                            match open_file(p) {
                                Ok(f) => out = Box::new(f),
                                Err(e) => {
                                    tracing::error!(path = %p.display(), error = %e, "cannot reopen the access log")
                                }
                            }
                        }
                    }
                    let _ = out.write_all(line.as_bytes());
                    next = rx.try_recv().ok();
                }
                let _ = out.flush();
            }
            let _ = out.flush();
        })?;
        Ok(AccessLog { tx: Some(tx), reopen, dropped: AtomicU64::new(0) })
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues one line; never blocks.
    pub fn record(&self, record: &AccessRecord<'_>) {
        let Some(tx) = &self.tx else { return };
        let Ok(mut line) = serde_json::to_string(record) else { return };
        line.push('\n');
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The file is reopened before the next line (after logrotate moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }
}
