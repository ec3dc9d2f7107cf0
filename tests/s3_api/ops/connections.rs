//! `--max-connections`: the S3 listener serves that many client connections
//! at once; a further client waits (its connection sits in the accept queue)
//! until one closes, and is then served. The admin listener is not held up.

use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{admin, options, ADMIN_TOKEN};
use crate::common::{Req, Server};

async fn open_connections(server: &Server) -> String {
    let metrics = admin(server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    metrics.lines().find(|l| l.starts_with("coffer_s3_connections_open ")).unwrap_or_default().to_string()
}

async fn open_becomes(server: &Server, want: u64) {
    let line = format!("coffer_s3_connections_open {want}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = open_connections(server).await;
        if now == line {
            return;
        }
        assert!(Instant::now() < deadline, "connections open stay at {now:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn clients_beyond_max_connections_wait_for_a_free_one() {
    let server = Server::start_with(options(&["--max-connections", "2"])).await;
    open_becomes(&server, 0).await;
    let metrics = admin(&server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert!(metrics.contains("coffer_s3_connections_limit 2"), "{metrics}");

    // Two idle clients take both connections.
    let first = TcpStream::connect(server.s3_addr).await.expect("connect");
    let second = TcpStream::connect(server.s3_addr).await.expect("connect");
    open_becomes(&server, 2).await;

    // A third one is not served while they stay; the admin listener still answers.
    let request = Req::new(&server, "GET", "/");
    let third = tokio::spawn(async move { request.send_anonymous().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "the third client waits for a free connection");
    open_becomes(&server, 2).await;

    // It is served as soon as one of them goes away.
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(10), third).await.expect("served").expect("task");
    answer.assert_error(403, "AccessDenied");
    drop(second);
    open_becomes(&server, 0).await;
}
