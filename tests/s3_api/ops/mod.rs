//! Durability in operation: the admin API and CLI, metrics, a SIGKILL crash
//! loop, losing an AZ directory twice with a heal in between, bitrot found by
//! the scrubber, and zones on real filesystems that fill up, fail with EIO or
//! turn read-only.

mod admin;
mod az_loss;
mod bitrot;
mod buffers;
mod connections;
mod crash;
mod enospc;
mod io_faults;
mod markers;
mod scrub_resume;

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;

use crate::common::{send, RawResponse, Server, ServerOptions};

pub const ADMIN_TOKEN: &str = "coffer-test-admin-token-42";

/// Server options with the admin token and any further flags.
pub fn options(extra: &[&str]) -> ServerOptions {
    let mut extra_args = vec!["--admin-token".to_string(), ADMIN_TOKEN.to_string()];
    extra_args.extend(extra.iter().map(|s| s.to_string()));
    ServerOptions { extra_args, ..Default::default() }
}

/// A request to the admin listener, with the token when `token` is set.
pub async fn admin(server: &Server, method: &str, path: &str, token: Option<&str>) -> RawResponse {
    let mut req = http::Request::builder().method(method).uri(path).header("host", server.admin_addr.to_string());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    send(server.admin_addr, req.body(Bytes::new()).expect("admin request")).await
}

/// GET with the right token, parsed as JSON.
pub async fn admin_json(server: &Server, method: &str, path: &str) -> serde_json::Value {
    let resp = admin(server, method, path, Some(ADMIN_TOKEN)).await;
    assert!(resp.status / 100 == 2, "{method} {path}: {} {}", resp.status, resp.text());
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{path} is JSON ({e}): {}", resp.text()))
}

/// Runs `coffer admin --admin-endpoint URL ARGS...` with the token in the environment.
pub fn cli(server: &Server, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("admin")
        .arg("--admin-endpoint")
        .arg(format!("http://{}", server.admin_addr))
        .args(args)
        .env("COFFER_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("COFFER_ADMIN_ENDPOINT")
        .output()
        .expect("run coffer admin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, format!("stdout: {stdout}\nstderr: {stderr}"))
}

/// `heal --wait` through the CLI; asserts exit 0 and 0 unrecoverable, returns the summary.
pub fn heal_wait(server: &Server) -> serde_json::Value {
    let (code, json, out) = cli(server, &["heal", "--wait"]);
    assert_eq!(code, 0, "heal --wait exits 0\n{out}");
    for field in ["objects_checked", "shards_repaired", "unrecoverable"] {
        assert!(json.get(field).and_then(|v| v.as_u64()).is_some(), "summary has {field}: {out}");
    }
    assert_eq!(json["unrecoverable"], 0, "{out}");
    json
}

/// Every shard file under `data_dir/az*/shards`.
pub fn shard_files(data_dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for az in ["az1", "az2", "az3"] {
        walk(&data_dir.join(az).join("shards"), &mut out);
    }
    out.sort();
    out
}

/// Value of an unlabelled metric, or the sum over a labelled family's series.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ') | Some(b'{')))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A small loop-mounted ext4 filesystem for one zone, unmounted when dropped.
/// It can be made to fail as a dying disk does: every I/O answering EIO
/// (`shut_down`), or ext4 turning itself read-only after an error
/// (`force_read_only`, which needs the mount option `errors=remount-ro`).
pub struct LoopFs {
    mount_point: PathBuf,
}

impl LoopFs {
    /// Creates and mounts an image of `size_mib`; `options` go to `mount -o`
    /// and must include `loop`. Fails where loop mounts are not permitted.
    pub fn mount(image: &Path, size_mib: u64, mount_point: &Path, options: &str) -> Result<LoopFs, String> {
        std::fs::File::create(image).and_then(|f| f.set_len(size_mib << 20)).map_err(|e| e.to_string())?;
        run(Command::new("mkfs.ext4").args(["-q", "-F", "-m", "0"]).arg(image))?;
        std::fs::create_dir_all(mount_point).map_err(|e| e.to_string())?;
        run(Command::new("mount").args(["-o", options]).arg(image).arg(mount_point))?;
        let fs = LoopFs { mount_point: mount_point.to_path_buf() };
        std::fs::remove_dir_all(mount_point.join("lost+found")).map_err(|e| e.to_string())?;
        Ok(fs)
    }

    /// Shuts the filesystem down (`EXT4_IOC_SHUTDOWN`, without flushing the
    /// log): from now on every read and write on it fails with EIO.
    pub fn shut_down(&self) -> Result<(), String> {
        // The ioctl is issued from Python: this crate forbids unsafe code.
        let script = "import fcntl, os, struct, sys\n\
fd = os.open(sys.argv[1], os.O_RDONLY)\n\
fcntl.ioctl(fd, (2 << 30) | (4 << 16) | (ord('X') << 8) | 125, struct.pack('I', 2))\n";
        run(Command::new("python3").arg("-c").arg(script).arg(&self.mount_point))
    }

    /// Reports a filesystem error to ext4 (`trigger_fs_error`); mounted with
    /// `errors=remount-ro`, it turns read-only at once, open files included:
    /// reads go on, writes fail with EROFS.
    pub fn force_read_only(&self) -> Result<(), String> {
        let source = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.mount_point)
            .output()
            .map_err(|e| e.to_string())?;
        let source = String::from_utf8_lossy(&source.stdout).trim().to_string();
        let device = source.rsplit('/').next().unwrap_or_default().to_string();
        let trigger = format!("/sys/fs/ext4/{device}/trigger_fs_error");
        std::fs::write(&trigger, "coffer test: simulated disk error").map_err(|e| format!("{trigger}: {e}"))?;
        let probe = self.mount_point.join("read-only-probe");
        match std::fs::write(&probe, b"x") {
            Err(e) if e.raw_os_error() == Some(30) => Ok(()),
            other => Err(format!("{} still writable after the error: {other:?}", self.mount_point.display())),
        }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount_point).status();
    }
}
