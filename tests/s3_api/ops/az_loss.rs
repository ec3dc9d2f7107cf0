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
    for (round, lost) in ["az2", "az1"].iter().enumerate() {
        std::fs::remove_dir_all(dir.path().join(lost)).expect("rm -rf one AZ");
        let mut server = Server::start_in(dir.path(), options(&[])).await;
        // Read everything while the background heal is (possibly) running.
        read_all(&server, &bucket, &objects).await;
        let summary = heal_wait(&server);
        assert_eq!(summary["objects_checked"].as_u64(), Some(objects_count as u64), "{summary}");
        let status = admin_json(&server, "GET", "/admin/v1/status").await;
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
