//! Smoke test of the load generator: start the `coffer-ceiling` binary on
//! 127.0.0.1:0 and, when it has been built, the real `coffer` server, run
//! `coffer-load --ops N --json` against them and check the report.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` and waits for a stdout line containing `marker` followed by
/// `http://ADDR`; returns the endpoint.
fn start(mut cmd: Command, marker: &str) -> (Proc, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("piped stdout");
    let proc = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines.next().expect("server exited before listening").expect("read stdout");
        if let Some(rest) = line.split(marker).nth(1) {
            let endpoint = rest.trim().split_whitespace().next().expect("address").to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (proc, endpoint);
        }
    }
}

fn load(endpoint: &str, keys: (&str, &str), args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_coffer-load"))
        .args(["--endpoint", endpoint, "--access-key", keys.0, "--secret-key", keys.1, "--json", "--no-progress"])
        .args(["--concurrency", "4", "--threads", "2"])
        .args(args)
        .output()
        .expect("run coffer-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "coffer-load {args:?} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{stdout}"))
}

fn op<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["operations"]
        .as_array()
        .expect("operations array")
        .iter()
        .find(|o| o["op"] == name)
        .unwrap_or_else(|| panic!("no {name} row in {report}"))
}

/// PUT, GET with every body verified, HEAD, mixed, list, multipart.
fn exercise(endpoint: &str, keys: (&str, &str), stores_objects: bool) {
    let put = load(endpoint, keys, &["--op", "put", "--ops", "200", "--size", "4KiB"]);
    assert_eq!(put["total_errors"], 0, "errors: {}", put["errors"]);
    assert_eq!(op(&put, "PUT")["ops"], 200);
    assert!(op(&put, "PUT")["ops_per_sec"].as_f64().expect("ops/s") > 0.0);
    assert_eq!(op(&put, "PUT")["bytes"], 200 * 4096);

    let get = load(endpoint, keys, &["--op", "get", "--ops", "200", "--size", "10KiB", "--verify-fraction", "1"]);
    assert_eq!(get["total_errors"], 0, "errors: {}", get["errors"]);
    assert_eq!(op(&get, "GET")["ops"], 200);
    assert_eq!(get["verified_gets"], 200, "every GET body was checked");
    assert_eq!(op(&get, "GET")["bytes"], 200 * 10240);

    let head = load(endpoint, keys, &["--op", "head", "--ops", "100", "--size-dist", "1KiB..64KiB"]);
    assert_eq!(head["total_errors"], 0, "errors: {}", head["errors"]);
    assert_eq!(op(&head, "HEAD")["ops"], 100);

    let mixed = load(endpoint, keys, &["--op", "mixed", "--ops", "200", "--prefill", "50", "--verify-fraction", "1"]);
    assert_eq!(mixed["total_errors"], 0, "errors: {}", mixed["errors"]);
    // A read that raced a DELETE of its key is counted apart (a 404, not an error).
    let raced = mixed["deleted_during_read"].as_u64().expect("deleted_during_read");
    assert_eq!(op(&mixed, "TOTAL")["ops"].as_u64().expect("ops") + raced, 200, "{mixed}");

    // Re-read what the PUT run wrote, found by listing (every body verified);
    // the ceiling stores nothing, so only against a real server.
    if stores_objects {
        let existing = load(
            endpoint,
            keys,
            &["--op", "get", "--ops", "50", "--existing", "--list-prefix", "coffer-load/", "--verify-fraction", "1"],
        );
        assert_eq!(existing["total_errors"], 0, "errors: {}", existing["errors"]);
        assert_eq!(existing["verified_gets"], 50);
        // A prefill over directories, listed with a delimiter under the run's prefix.
        let dirs = load(
            endpoint,
            keys,
            &[
                "--op",
                "list",
                "--ops",
                "5",
                "--size",
                "0",
                "--prefill",
                "60",
                "--prefill-dirs",
                "12",
                "--list-delimiter",
                "/",
            ],
        );
        assert_eq!(dirs["total_errors"], 0, "errors: {}", dirs["errors"]);
        assert_eq!(op(&dirs, "LIST")["ops"], 5);
    }

    let list = load(endpoint, keys, &["--op", "list", "--ops", "20"]);
    assert_eq!(list["total_errors"], 0, "errors: {}", list["errors"]);
    assert_eq!(op(&list, "LIST")["ops"], 20);

    let mp = load(endpoint, keys, &["--op", "multipart-put", "--ops", "4", "--size", "11MiB", "--part-size", "5MiB"]);
    assert_eq!(mp["total_errors"], 0, "errors: {}", mp["errors"]);
    assert_eq!(op(&mp, "MULTIPART-PUT")["bytes"], 4 * 11 * 1024 * 1024);
}

#[test]
fn load_generator_against_the_ceiling() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer-ceiling"));
    cmd.args(["--listen", "127.0.0.1:0", "--threads", "1"]);
    let (_ceiling, endpoint) = start(cmd, "listening on ");
    exercise(&endpoint, ("any", "thing"), false);
}

/// The release `coffer` binary next to this test's target directory, if it
/// has been built (`cargo build --release -p coffer --bin coffer`).
fn coffer_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("coffer");
    bin.is_file().then_some(bin)
}

#[test]
fn load_generator_against_coffer() {
    let Some(bin) = coffer_binary() else {
        eprintln!("SKIPPED: no coffer binary next to the test (build it with cargo build --release -p coffer)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (ak, sk) = ("COFFERLOADSMOKE0001", "coffer/load+smoke=0123456789abcdefghij");
    let mut cmd = Command::new(bin);
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--region", "us-east-1"])
        .env("COFFER_ROOT_ACCESS_KEY", ak)
        .env("COFFER_ROOT_SECRET_KEY", sk);
    let (_server, endpoint) = start(cmd, "S3 API listening on ");
    exercise(&endpoint, (ak, sk), true);

    // Wrong credentials are counted as errors, not a crash.
    let out = Command::new(env!("CARGO_BIN_EXE_coffer-load"))
        .args(["--endpoint", &endpoint, "--access-key", ak, "--secret-key", "wrong", "--json", "--ops", "5"])
        .output()
        .expect("run coffer-load");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SignatureDoesNotMatch"), "{out:?}");
}
