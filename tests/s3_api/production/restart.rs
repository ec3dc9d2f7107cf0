//! Zero-downtime restart behind nginx: clients keep writing and reading
//! through the shipped nginx configuration while Coffer hands its listening
//! sockets to a successor (SIGUSR2) several times; not one request fails.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clients::tls_client;
use super::{nginx_with_shipped_conf, Certs};
use crate::common::{bucket_name, test_data, Server, ServerOptions};

/// Stops a process by PID (SIGTERM) when dropped: the successors are not children of the test.
struct StopOnDrop(Arc<Mutex<u32>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let pid = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or_default().trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// The PID in the last output line starting with `prefix`.
fn pid_after(server: &Server, prefix: &str) -> Option<u32> {
    server.output().lines().rev().find_map(|l| l.split(prefix).nth(1).and_then(|p| p.trim().parse().ok()))
}

#[tokio::test]
async fn restarts_behind_nginx_lose_no_request() {
    let work = tempfile::Builder::new().prefix("coffer-restart-").tempdir().expect("tmp");
    let certs = Certs::generate(work.path());
    let options = ServerOptions {
        extra_args: ["--log", "warn", "--trusted-proxy", "127.0.0.1"].map(String::from).to_vec(),
        ..Default::default()
    };
    let server = Server::start_with(options).await;
    let current = Arc::new(Mutex::new(server.pid()));
    let _stop_last = StopOnDrop(current.clone());
    let nginx = nginx_with_shipped_conf(server.s3_addr, &certs, |c| c).await;
    let endpoint = format!("https://127.0.0.1:{}", nginx.addr.port());
    let s3 = tls_client(&endpoint, &certs.ca);
    let bucket = bucket_name("restart");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut loops = Vec::new();
    for worker in 0..2u64 {
        let (s3, bucket, stop, ops, failures) =
            (s3.clone(), bucket.clone(), stop.clone(), ops.clone(), failures.clone());
        loops.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let key = format!("w{worker}/{i}");
                let data = test_data(1000 + (i as usize * 7919) % 300_000, worker * 1_000_000 + i);
                if let Err(e) = s3.put_object().bucket(&bucket).key(&key).body(data.clone().into()).send().await {
                    failures.lock().expect("lock").push(format!("PUT {key}: {e:?}"));
                    continue;
                }
                match s3.get_object().bucket(&bucket).key(&key).send().await {
                    Ok(out) => match out.body.collect().await.map(|b| b.into_bytes()) {
                        Ok(b) if b == data => {}
                        Ok(_) => failures.lock().expect("lock").push(format!("GET {key}: wrong bytes")),
                        Err(e) => failures.lock().expect("lock").push(format!("GET {key} body: {e:?}")),
                    },
                    Err(e) => failures.lock().expect("lock").push(format!("GET {key}: {e:?}")),
                }
                ops.fetch_add(2, Ordering::Relaxed);
            }
        }));
    }

    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let old = *current.lock().expect("lock");
        let before = ops.load(Ordering::Relaxed);
        std::process::Command::new("kill").arg("-USR2").arg(old.to_string()).status().expect("kill -USR2");
        let deadline = Instant::now() + Duration::from_secs(60);
        let new = loop {
            if let Some(pid) = pid_after(&server, "coffer: serving as pid ").filter(|p| *p != old) {
                break pid;
            }
            assert!(Instant::now() < deadline, "round {round}: no successor\n{}", server.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        *current.lock().expect("lock") = new;
        while alive(old) {
            assert!(Instant::now() < deadline, "round {round}: pid {old} did not exit\n{}", server.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Traffic flows through the successor.
        while ops.load(Ordering::Relaxed) < before + 10 {
            assert!(Instant::now() < deadline, "round {round}: no traffic after the handover\n{}", server.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("restart {round}: pid {old} -> {new}, {} requests so far", ops.load(Ordering::Relaxed));
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.expect("client loop");
    }
    let failures = failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failed requests of {}:\n{}",
        failures.len(),
        ops.load(Ordering::Relaxed),
        failures.join("\n")
    );
    assert!(ops.load(Ordering::Relaxed) >= 100, "enough traffic to mean something");
    drop(nginx);
}
