//! Fill the store, lose one AZ directory, read everything while healing,
//! heal, then lose a different AZ and read everything again: the heal really
//! restored full redundancy.

use std::collections::BTreeMap;

use super::{admin_json, heal_wait, options};
use crate::common::sdk::client;
use crate::common::{bucket_name, test_data, Server};

async fn read_all(server: &Server, bucket: &str, objects: &BTreeMap<String, Vec<u8>>) {
    let s3 = client(server);
    for (key, data) in objects {
        let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        let body = out.body.collect().await.expect("body").into_bytes();
        assert!(body[..] == data[..], "{key} reads back identical");
    }
}

async fn az_loss_twice(objects_count: usize, max_size: usize) {
    let dir = tempfile::tempdir().expect("data dir");
    let bucket = bucket_name("az-loss-twice");
    let sizes = [0usize, 1, 3000, 64 * 1024 + 3, 300_000, max_size];
    let mut objects = BTreeMap::new();
    {
        let mut server = Server::start_in(dir.path(), options(&[])).await;
        let s3 = client(&server);
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        for i in 0..objects_count {
            let key = format!("o/{i:05}");
            let data = test_data(sizes[i % sizes.len()], 7000 + i as u64);
            s3.put_object().bucket(&bucket).key(&key).body(data.clone().into()).send().await.expect("put");
            objects.insert(key, data);
        }
        assert_eq!(server.stop().code(), Some(0));
    }
    let bytes: usize = objects.values().map(Vec::len).sum();
    // Heal passes read about 1.5 times the data; at this rate each takes
    // two seconds or more.
    let heal_rate = (bytes * 3 / 4).max(1).to_string();
    for (round, lost) in ["az2", "az1"].iter().enumerate() {
        std::fs::remove_dir_all(dir.path().join(lost)).expect("rm -rf one AZ");
        // The rebuild is throttled so that it is surely still running while
        // everything is read.
        let mut server = Server::start_in(dir.path(), options(&["--heal-bytes-per-sec", &heal_rate])).await;
        let status = admin_json(&server, "GET", "/admin/v1/status").await;
        let zone = &status["zones"][if *lost == "az1" { 0 } else { 1 }];
        assert_eq!(zone["state"], "rebuilding", "the lost zone is being rebuilt: {status}");
        assert_eq!(status["degraded_objects"], objects_count, "every object is short of redundancy: {status}");
        assert_eq!(status["objects"], objects_count, "{status}");
        assert_eq!(status["bytes_stored"].as_u64(), Some(bytes as u64), "{status}");
        read_all(&server, &bucket, &objects).await;
        let during = admin_json(&server, "GET", "/admin/v1/status").await;
        println!("az-loss round {round}: zones while reading ended: {}", during["zones"]);
        let summary = heal_wait(&server);
        assert_eq!(summary["objects_checked"].as_u64(), Some(objects_count as u64), "{summary}");
        let status = admin_json(&server, "GET", "/admin/v1/status").await;
        assert_eq!(status["degraded_objects"], 0, "{status}");
        for z in status["zones"].as_array().expect("zones") {
            assert_eq!(z["state"], "online", "after heal, round {round}: {status}");
        }
        // A second pass finds nothing left to repair.
        let again = heal_wait(&server);
        assert_eq!(again["shards_repaired"], 0, "{again}");
        read_all(&server, &bucket, &objects).await;
        assert_eq!(server.stop().code(), Some(0));
        println!("az-loss round {round}: lost {lost}, {objects_count} objects ({bytes} bytes) read back, healed");
    }
    // After losing two different AZs (one at a time), everything is still whole.
    let server = Server::start_in(dir.path(), options(&[])).await;
    read_all(&server, &bucket, &objects).await;
}

#[tokio::test]
async fn losing_one_az_then_another_after_heal_loses_nothing() {
    az_loss_twice(24, 2 * 1024 * 1024 + 5).await;
}

/// Long version: `cargo test --release -p coffer --test s3_api ops::az_loss::long -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn long_az_loss_twice() {
    az_loss_twice(600, 8 * 1024 * 1024 + 5).await;
}

/// A disk replaced while the server runs: az2 is emptied under it (as a new,
/// empty disk mounted at its path), writes go on, `heal --wait` rebuilds the
/// zone and its metadata replica without a restart, and afterwards another
/// AZ may be lost.
#[tokio::test]
async fn an_az_replaced_while_serving_is_rebuilt_without_a_restart() {
    let dir = tempfile::tempdir().expect("data dir");
    let bucket = bucket_name("az-hot-replace");
    let mut objects = BTreeMap::new();
    let mut server = Server::start_in(dir.path(), options(&[])).await;
    let s3 = client(&server);
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let sizes = [10usize, 200_000, 3 * 1024 * 1024 + 1];
    let mut put = |i: usize| {
        let key = format!("o/{i:03}");
        let data = test_data(sizes[i % sizes.len()], 9100 + i as u64);
        objects.insert(key.clone(), data.clone());
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move { s3.put_object().bucket(&bucket).key(&key).body(data.into()).send().await.expect("put") }
    };
    for i in 0..9 {
        put(i).await;
    }
    // The old disk is gone and an empty one sits at its path.
    let az2 = dir.path().join("az2");
    std::fs::remove_dir_all(&az2).expect("rm -rf az2");
    std::fs::create_dir(&az2).expect("empty az2");
    for i in 9..18 {
        put(i).await;
    }
    let status = admin_json(&server, "GET", "/admin/v1/status").await;
    assert_eq!(status["zones"][1]["state"], "failed", "the emptied zone was taken out of service: {status}");
    read_all(&server, &bucket, &objects).await;

    let summary = heal_wait(&server);
    assert_eq!(summary["objects_checked"].as_u64(), Some(objects.len() as u64), "{summary}");
    assert!(summary["shards_repaired"].as_u64().unwrap_or(0) > 0, "{summary}");
    let status = admin_json(&server, "GET", "/admin/v1/status").await;
    for z in status["zones"].as_array().expect("zones") {
        assert_eq!(z["state"], "online", "{status}");
        assert_eq!(z["metadata_fresh"], true, "{status}");
    }
    assert!(az2.join("COFFER_ZONE").exists(), "the marker was written to the new disk");
    read_all(&server, &bucket, &objects).await;
    assert_eq!(server.stop().code(), Some(0));

    // Redundancy is whole again: az1 may go now.
    std::fs::remove_dir_all(dir.path().join("az1")).expect("rm -rf az1");
    let server = Server::start_in(dir.path(), options(&[])).await;
    read_all(&server, &bucket, &objects).await;
    println!("hot replace: {} objects written around the replacement, healed in place: {summary}", objects.len());
}
