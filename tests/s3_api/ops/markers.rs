//! Zone markers: swapped AZ directories, or one taken from another server,
//! make `coffer server` refuse to start with a message naming the problem.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::options;
use crate::common::Server;

/// Starts `coffer server` on `data_dir`; it must exit non-zero on its own. Returns its stderr.
fn refused_start(data_dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env("COFFER_ROOT_ACCESS_KEY", crate::common::server::ACCESS_KEY)
        .env("COFFER_ROOT_SECRET_KEY", crate::common::server::SECRET_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coffer");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            assert!(!status.success(), "server must refuse to start");
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server started although its zone directories are wrong");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn initialised_dir(dir: &Path) {
    let mut server = Server::start_in(dir, options(&[])).await;
    assert_eq!(server.stop().code(), Some(0));
}

#[tokio::test]
async fn swapped_or_foreign_az_directories_are_refused() {
    let a = tempfile::tempdir().expect("dir a");
    let b = tempfile::tempdir().expect("dir b");
    initialised_dir(a.path()).await;
    initialised_dir(b.path()).await;

    // Swap az1 and az2 of server A.
    let (az1, az2, tmp) = (a.path().join("az1"), a.path().join("az2"), a.path().join("swap"));
    std::fs::rename(&az1, &tmp).expect("rename");
    std::fs::rename(&az2, &az1).expect("rename");
    std::fs::rename(&tmp, &az2).expect("rename");
    let err = refused_start(a.path());
    assert!(err.contains("belongs to zone"), "swap is named: {err}");
    std::fs::rename(&az1, &tmp).expect("rename");
    std::fs::rename(&az2, &az1).expect("rename");
    std::fs::rename(&tmp, &az2).expect("rename");

    // az3 of server B in place of A's.
    std::fs::remove_dir_all(a.path().join("az3")).expect("rm az3");
    std::fs::rename(b.path().join("az3"), a.path().join("az3")).expect("move B's az3");
    let err = refused_start(a.path());
    assert!(err.contains("different clusters"), "foreign zone is named: {err}");
}
