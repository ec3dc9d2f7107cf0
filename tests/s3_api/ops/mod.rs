//! Durability in operation: the admin API and CLI, metrics, a SIGKILL crash
//! loop, losing an AZ directory twice with a heal in between, and bitrot
//! found by the scrubber.

mod admin;
mod az_loss;
mod bitrot;
mod crash;
mod enospc;
mod markers;

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
