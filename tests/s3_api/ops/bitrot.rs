//! Bitrot: flip a byte in random shard files; reads stay correct, the
//! scrubber finds and repairs every flipped shard, metrics show the counts.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{admin, admin_json, cli, heal_wait, metric, options, shard_files, ADMIN_TOKEN};
use crate::common::{test_data, Ctx};

/// Flips one byte in each of `count` shard files of distinct chunks; returns the files.
fn flip_random_shards(data_dir: &std::path::Path, count: usize) -> Vec<std::path::PathBuf> {
    let mut files = shard_files(data_dir);
    let mut rng = rand::rng();
    let mut chosen = Vec::new();
    let mut chunks_seen = std::collections::HashSet::new();
    while chosen.len() < count && !files.is_empty() {
        let f = files.swap_remove(rng.random_range(0..files.len()));
        // `<data_id>.<shard>`: one damaged shard per chunk keeps every chunk recoverable.
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !chunks_seen.insert(stem) {
            continue;
        }
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&f).expect("open shard");
        let len = file.metadata().expect("stat").len();
        let at = rng.random_range(len / 2..len);
        let mut b = [0u8; 1];
        file.seek(SeekFrom::Start(at)).expect("seek");
        file.read_exact(&mut b).expect("read");
        b[0] ^= 1 << rng.random_range(0..8);
        file.seek(SeekFrom::Start(at)).expect("seek");
        file.write_all(&b).expect("write");
        file.sync_all().expect("sync");
        chosen.push(f);
    }
    assert_eq!(chosen.len(), count, "enough shard files of distinct chunks");
    chosen
}

async fn wait_scrub_pass(ctx: &Ctx, passes: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = admin_json(&ctx.server, "GET", "/admin/v1/scrub/status").await;
        if s["passes"].as_u64() >= Some(passes) && s["running"] == false {
            return s;
        }
        assert!(Instant::now() < deadline, "scrub pass {passes} did not finish: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn scrubber_finds_and_repairs_flipped_bytes() {
    // A long schedule: passes run only when started, so the counts are the scrubber's own.
    let ctx = Ctx::with_options("bitrot", options(&["--test-scrub-interval-ms", "3600000"])).await;
    let mut objects = Vec::new();
    for i in 0..12u64 {
        let data = test_data(200_000 + 4099 * i as usize, 300 + i);
        ctx.put(&format!("b{i}"), data.clone()).await;
        objects.push((format!("b{i}"), data));
    }
    let dir = ctx.server.data_dir.clone();

    // Round 1: the scrubber alone finds the damage.
    let flipped = flip_random_shards(&dir, 6);
    let (code, _, out) = cli(&ctx.server, &["scrub", "start"]);
    assert_eq!(code, 0, "{out}");
    let s = wait_scrub_pass(&ctx, 1).await;
    assert_eq!(s["last"]["shards_repaired"].as_u64(), Some(flipped.len() as u64), "{s}");
    assert_eq!(s["last"]["unrecoverable"], 0, "{s}");
    assert_eq!(s["last"]["objects_checked"], 12, "{s}");
    let clean = heal_wait(&ctx.server);
    assert_eq!(clean["shards_repaired"], 0, "scrubber left nothing to repair: {clean}");

    // Round 2: reads over damaged shards stay correct; then the scrub (or the
    // read-triggered healer) repairs every flipped shard.
    let flipped2 = flip_random_shards(&dir, 5);
    for (key, data) in &objects {
        assert!(ctx.get_bytes(key).await == *data, "{key} reads back correctly over bitrot");
    }
    let (code, _, out) = cli(&ctx.server, &["scrub", "start"]);
    assert_eq!(code, 0, "{out}");
    wait_scrub_pass(&ctx, 2).await;
    let clean = heal_wait(&ctx.server);
    assert_eq!(clean["shards_repaired"], 0, "{clean}");

    let text = admin(&ctx.server, "GET", "/metrics", Some(ADMIN_TOKEN)).await.text();
    assert_eq!(
        metric(&text, "coffer_shards_repaired_total"),
        (flipped.len() + flipped2.len()) as f64,
        "every flipped shard repaired once: {text}"
    );
    assert_eq!(metric(&text, "coffer_scrub_passes"), 2.0, "{text}");
    assert_eq!(metric(&text, "coffer_scrub_unrecoverable_objects"), 0.0, "{text}");
    for (key, data) in &objects {
        assert!(ctx.get_bytes(key).await == *data, "{key}");
    }
}
