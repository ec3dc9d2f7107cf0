//! The admin API's token check, `status`, `scrub`, metrics and the CLI.

use super::{admin, admin_json, cli, heal_wait, metric, options, ADMIN_TOKEN};
use crate::common::{test_data, Ctx};

#[tokio::test]
async fn admin_api_needs_the_token_health_does_not() {
    let ctx = Ctx::with_options("admin-auth", options(&[])).await;
    let s = &ctx.server;
    assert_eq!(admin(s, "GET", "/health/live", None).await.status, 200);
    assert_eq!(admin(s, "GET", "/health/ready", None).await.status, 200);
    for path in ["/admin/v1/status", "/metrics", "/admin/v1/scrub/status"] {
        let none = admin(s, "GET", path, None).await;
        assert_eq!(none.status, 401, "{path} without a token: {}", none.text());
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert_eq!(admin(s, "GET", path, Some("wrong-token-123")).await.status, 401, "{path} with a wrong token");
        assert_eq!(admin(s, "GET", path, Some(ADMIN_TOKEN)).await.status, 200, "{path} with the token");
    }
    assert_eq!(admin(s, "POST", "/admin/v1/heal", None).await.status, 401);
    assert_eq!(admin(s, "GET", "/admin/v1/nothing", Some(ADMIN_TOKEN)).await.status, 404);
    // The CLI without the token gets the 401 and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["admin", "--admin-endpoint", &format!("http://{}", s.admin_addr), "status"])
        .env_remove("COFFER_ADMIN_TOKEN")
        .output()
        .expect("run coffer admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{:?}", out);
}

#[tokio::test]
async fn status_scrub_and_heal_from_the_cli() {
    let ctx = Ctx::with_options("admin-cli", options(&[])).await;
    for i in 0..5u64 {
        ctx.put(&format!("k{i}"), test_data(100_000 + i as usize, i)).await;
    }
    let (code, status, out) = cli(&ctx.server, &["status"]);
    assert_eq!(code, 0, "{out}");
    let zones = status["zones"].as_array().expect("zones");
    assert_eq!(zones.len(), 3, "{out}");
    for z in zones {
        assert_eq!(z["state"], "online", "{out}");
        assert!(z["free_bytes"].as_u64().expect("free_bytes") > 0, "{out}");
        assert!(z["capacity_bytes"].as_u64().expect("capacity") >= z["free_bytes"].as_u64().expect("free"));
    }
    assert_eq!(status["degraded_objects"], 0, "{out}");
    assert_eq!(status["heal_queue"], 0, "{out}");
    assert!(status["scrub"]["last"].is_null(), "no scrub yet: {out}");

    let summary = heal_wait(&ctx.server);
    assert_eq!(summary["objects_checked"], 5, "{summary}");
    assert_eq!(summary["shards_repaired"], 0, "{summary}");

    let (code, _, out) = cli(&ctx.server, &["scrub", "pause"]);
    assert_eq!(code, 0, "{out}");
    let (_, scrub, out) = cli(&ctx.server, &["scrub", "status"]);
    assert_eq!(scrub["paused"], true, "{out}");
    let (code, _, out) = cli(&ctx.server, &["scrub", "start"]);
    assert_eq!(code, 0, "{out}");
    // The started pass finishes and is recorded (poll the status, no fixed sleep).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = admin_json(&ctx.server, "GET", "/admin/v1/scrub/status").await;
        if s["passes"].as_u64() == Some(1) {
            assert_eq!(s["last"]["objects_checked"], 5, "{s}");
            assert_eq!(s["paused"], false, "{s}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "scrub pass did not finish: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, status, out) = cli(&ctx.server, &["status"]);
    assert_eq!(status["objects"], 5, "{out}");
}

#[tokio::test]
async fn metrics_count_requests_bytes_and_zones() {
    let ctx = Ctx::with_options("metrics", options(&[])).await;
    let data = test_data(12_345, 9);
    ctx.put("m1", data.clone()).await;
    assert_eq!(ctx.get_bytes("m1").await, data);
    let missing = ctx.s3.get_object().bucket(&ctx.bucket).key("absent").send().await;
    assert!(missing.is_err());
    let text = admin(&ctx.server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert!(text.contains("coffer_requests_total{op=\"PutObject\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("coffer_requests_total{op=\"GetObject\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("coffer_requests_total{op=\"GetObject\",status=\"404\"} 1"), "{text}");
    assert!(text.contains("coffer_request_duration_seconds_bucket{le="), "{text}");
    assert!(metric(&text, "coffer_bytes_received_total") >= 12_345.0, "{text}");
    assert!(metric(&text, "coffer_bytes_sent_total") >= 12_345.0, "{text}");
    for az in ["az1", "az2", "az3"] {
        assert!(text.contains(&format!("coffer_zone_state{{zone=\"{az}\"}} 0")), "{text}");
        assert!(text.contains(&format!("coffer_zone_free_bytes{{zone=\"{az}\"}} ")), "{text}");
    }
    assert_eq!(metric(&text, "coffer_degraded_objects"), 0.0);
    assert_eq!(metric(&text, "coffer_shards_repaired_total"), 0.0);
    assert!(text.contains("coffer_scrub_running 0"), "{text}");
}
