//! Start and stop the real server process.
//!
//! Every test gets its own process on 127.0.0.1:0 with a fresh data
//! directory; the [`Server`] guard stops it (SIGTERM, then SIGKILL) when it is
//! dropped, also when the test panics, and then prints the server's output.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Root credentials given to every test server.
pub const ACCESS_KEY: &str = "COFFERTESTROOT0001";
pub const SECRET_KEY: &str = "coffer/test+secret=0123456789abcdefghij";
pub const REGION: &str = "us-east-1";
/// Domain used by the virtual-hosted-style tests (never resolved by DNS).
pub const DOMAIN: &str = "s3.coffer.test";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const OUTPUT_LINES_KEPT: usize = 300;

#[derive(Debug, Default, Clone)]
pub struct ServerOptions {
    /// `--domain`: enables virtual-hosted-style requests.
    pub domain: Option<String>,
    /// Further command-line arguments for `coffer server` (e.g. the hidden
    /// `--test-min-part-size-bytes N`).
    pub extra_args: Vec<String>,
    /// stderr (the log) on `/dev/full`: every log write fails with ENOSPC,
    /// as when the disk holding the log file fills up.
    pub log_to_dev_full: bool,
}

/// A running `coffer server`; stopped when dropped.
pub struct Server {
    child: Option<Child>,
    pub s3_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub domain: Option<String>,
    output: Arc<Mutex<Vec<String>>>,
    // Dropped after `Drop::drop` has stopped the process.
    owned_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a fresh temporary data directory.
    pub async fn start() -> Server {
        Server::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> Server {
        let dir = tempfile::Builder::new().prefix("coffer-e2e-").tempdir().expect("create temp data dir");
        let mut server = Server::start_in(dir.path(), options).await;
        server.owned_dir = Some(dir);
        server
    }

    /// A server on `data_dir`, which the caller keeps (for restart tests).
    pub async fn start_in(data_dir: &Path, options: ServerOptions) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        cmd.arg("server").arg("--data-dir").arg(data_dir).args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--region",
            REGION,
        ]);
        if let Some(domain) = &options.domain {
            cmd.args(["--domain", domain]);
        }
        cmd.args(&options.extra_args);
        for var in [
            "COFFER_CONFIG",
            "COFFER_DATA_DIR",
            "COFFER_LISTEN",
            "COFFER_ADMIN_LISTEN",
            "COFFER_DOMAIN",
            "COFFER_REGION",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("COFFER_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("COFFER_ROOT_SECRET_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if options.log_to_dev_full {
            cmd.stderr(std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full"));
        } else {
            cmd.stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn the coffer binary");

        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<(&'static str, SocketAddr)>();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take();
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = listening_addr(&line, "S3 API listening on http://") {
                        let _ = tx.send(("s3", addr));
                    } else if let Some(addr) = listening_addr(&line, "admin listening on http://") {
                        let _ = tx.send(("admin", addr));
                    }
                    keep_line(&output, format!("[stdout] {line}"));
                }
            });
        }
        if let Some(stderr) = stderr {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => keep_line(&output, format!("[stderr] {}", String::from_utf8_lossy(&buf).trim_end())),
                    }
                }
            });
        }

        let mut server = Server {
            child: Some(child),
            s3_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            data_dir: data_dir.to_path_buf(),
            domain: options.domain.clone(),
            output,
            owned_dir: None,
        };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let (mut s3, mut admin) = (None, None);
        while s3.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(("s3", addr)) => s3 = Some(addr),
                Ok((_, addr)) => admin = Some(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("server did not print both listening lines within {STARTUP_TIMEOUT:?}\n{}", server.output())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.as_mut().and_then(|c| c.wait().ok());
                    // Give the stderr thread a moment to collect the reason.
                    std::thread::sleep(Duration::from_millis(100));
                    panic!("server exited during startup ({status:?})\n{}", server.output())
                }
            }
        }
        server.s3_addr = s3.expect("checked above");
        server.admin_addr = admin.expect("checked above");
        assert_eq!(server.s3_addr.ip().to_string(), "127.0.0.1", "S3 listener must be the requested address");
        assert_ne!(server.s3_addr.port(), 0, "port 0 must be resolved to the bound port");
        assert_ne!(server.admin_addr.port(), 0);
        server.wait_ready(deadline).await;
        server
    }

    async fn wait_ready(&mut self, deadline: Instant) {
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("server exited before it was ready ({status})\n{}", self.output());
            }
            if let Ok(resp) = super::http::try_get(self.admin_addr, "/health/ready").await {
                if resp.status == 200 {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("/health/ready did not answer 200 within {STARTUP_TIMEOUT:?}\n{}", self.output());
            }
            // Polling interval of the readiness probe (the only wait in the suite).
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3_addr)
    }

    /// Everything the server printed so far (last lines only).
    pub fn output(&self) -> String {
        self.output.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }

    /// Peak resident set size of the server (VmHWM), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc/PID/status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
        let kib: u64 =
            line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().expect("VmHWM value in kB");
        kib * 1024
    }

    /// SIGTERM, then wait for the exit; panics if it does not stop in time.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        send_sigterm(child.id());
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}", self.output());
            }
        }
    }
}

impl Server {
    /// SIGKILL (`Child::kill` sends SIGKILL on Unix; the workspace forbids the
    /// `unsafe` a direct `libc::kill` would need), then reap the process: a
    /// crash with no chance to flush or clean up.
    pub fn kill_hard(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the killed server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_sigterm(child.id());
            if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "---- coffer server output (s3 {}, admin {}) ----\n{}",
                self.s3_addr,
                self.admin_addr,
                self.output()
            );
        }
    }
}

fn listening_addr(line: &str, marker: &str) -> Option<SocketAddr> {
    let at = line.find(marker)?;
    let rest = &line[at + marker.len()..];
    let addr = rest.split(|c: char| c.is_whitespace() || c == '/').next()?;
    addr.parse().ok()
}

fn keep_line(output: &Mutex<Vec<String>>, line: String) {
    if let Ok(mut lines) = output.lock() {
        if lines.len() >= OUTPUT_LINES_KEPT {
            lines.remove(0);
        }
        lines.push(line);
    }
}

/// SIGTERM through kill(1): the workspace forbids `unsafe`, so `libc::kill`
/// cannot be called from here.
pub fn send_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}
