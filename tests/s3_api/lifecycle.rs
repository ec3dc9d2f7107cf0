//! The process as an operator sees it: health endpoints, SIGTERM, restarts,
//! and losing one AZ directory while stopped.

use std::collections::BTreeMap;

use crate::common::http::try_get;
use crate::common::sdk::client;
use crate::common::{bucket_name, etag_of, test_data, Server, ServerOptions};

#[tokio::test]
async fn health_endpoints() {
    let server = Server::start().await;
    for path in ["/health/live", "/health/ready"] {
        let resp = try_get(server.admin_addr, path).await.expect("admin listener answers");
        assert_eq!(resp.status, 200, "{path}");
    }
    // The admin listener is not the S3 listener.
    assert_ne!(server.admin_addr, server.s3_addr);
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let mut server = Server::start().await;
    let s3 = client(&server);
    let bucket = bucket_name("term");
    s3.create_bucket().bucket(&bucket).send().await.expect("create");
    let status = server.stop();
    assert_eq!(status.code(), Some(0), "graceful stop exits 0\n{}", server.output());
}

async fn fill(server: &Server, bucket: &str) -> BTreeMap<String, (usize, Vec<u8>)> {
    let s3 = client(server);
    s3.create_bucket().bucket(bucket).send().await.expect("create");
    let mut objects = BTreeMap::new();
    let sizes = [0usize, 1, 4096, 128 * 1024 - 1, 128 * 1024 + 1, 1024 * 1024 + 5, 3 * 1024 * 1024 + 17];
    for (i, size) in sizes.iter().enumerate() {
        let key = format!("obj/{i}-{size}");
        let data = test_data(*size, 500 + i as u64);
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .metadata("index", i.to_string())
            .content_type("application/x-test")
            .body(data.clone().into())
            .send()
            .await
            .expect("put");
        objects.insert(key, (i, data));
    }
    objects
}

async fn verify(server: &Server, bucket: &str, objects: &BTreeMap<String, (usize, Vec<u8>)>) {
    let s3 = client(server);
    let listed = s3.list_buckets().send().await.expect("list buckets");
    assert!(listed.buckets().iter().any(|b| b.name() == Some(bucket)), "bucket survives restart");
    let listing = s3.list_objects_v2().bucket(bucket).send().await.expect("list");
    let keys: Vec<&str> = listing.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, objects.keys().map(String::as_str).collect::<Vec<_>>());
    for (key, (index, data)) in objects {
        let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        assert_eq!(out.e_tag(), Some(etag_of(data).as_str()), "{key}");
        assert_eq!(out.content_type(), Some("application/x-test"));
        let stored_index = out.metadata().and_then(|m| m.get("index")).cloned();
        assert_eq!(stored_index, Some(index.to_string()), "{key}: user metadata kept");
        let body = out.body.collect().await.expect("body").into_bytes();
        assert!(body[..] == data[..], "{key} reads back identical");
    }
}

#[tokio::test]
async fn restart_keeps_buckets_and_objects() {
    let dir = tempfile::tempdir().expect("data dir");
    let bucket = bucket_name("restart");
    let objects = {
        let mut server = Server::start_in(dir.path(), ServerOptions::default()).await;
        let objects = fill(&server, &bucket).await;
        assert_eq!(server.stop().code(), Some(0));
        objects
    };
    let mut server = Server::start_in(dir.path(), ServerOptions::default()).await;
    verify(&server, &bucket, &objects).await;
    // And it still takes writes.
    let s3 = client(&server);
    s3.put_object()
        .bucket(&bucket)
        .key("after-restart")
        .body(b"new".to_vec().into())
        .send()
        .await
        .expect("put after restart");
    assert_eq!(server.stop().code(), Some(0));
}

#[tokio::test]
async fn losing_one_az_directory_loses_no_object() {
    let dir = tempfile::tempdir().expect("data dir");
    let bucket = bucket_name("az-loss");
    let objects = {
        let mut server = Server::start_in(dir.path(), ServerOptions::default()).await;
        let objects = fill(&server, &bucket).await;
        assert_eq!(server.stop().code(), Some(0));
        objects
    };
    let az2 = dir.path().join("az2");
    assert!(az2.is_dir(), "the data dir has an az2 directory: {:?}", std::fs::read_dir(dir.path()).map(|d| d.count()));
    std::fs::remove_dir_all(&az2).expect("remove az2");
    let server = Server::start_in(dir.path(), ServerOptions::default()).await;
    verify(&server, &bucket, &objects).await;
}
