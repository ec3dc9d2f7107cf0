//! The system key-value namespace: durable, replicated, atomic batches.

use crate::common::*;

async fn fill(e: &storage_engine::Engine) {
    e.system_put("iam/users/alice", b"alice-v1".to_vec()).await.expect("put");
    e.system_put("iam/users/bob", b"bob".to_vec()).await.expect("put");
    e.system_put("iam/users/alice", b"alice-v2".to_vec()).await.expect("overwrite");
    e.system_put("other/x", vec![0, 1, 2, 255]).await.expect("put");
}

async fn check(e: &storage_engine::Engine) {
    assert_eq!(e.system_get("iam/users/alice").await.expect("get"), Some(b"alice-v2".to_vec()));
    assert_eq!(e.system_get("other/x").await.expect("get"), Some(vec![0, 1, 2, 255]));
    let listed = e.system_list("iam/users/").await.expect("list");
    let names: Vec<&str> = listed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["iam/users/alice", "iam/users/bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_list_delete_and_batch() {
    let c = Cluster::new();
    let e = c.open().await;
    assert_eq!(e.system_get("nothing").await.expect("get"), None);
    fill(&e).await;
    check(&e).await;
    assert_eq!(e.system_list("").await.expect("list all").len(), 3);
    assert_eq!(e.system_list("iam/users/z").await.expect("list none"), vec![]);
    assert!(e.system_delete("iam/users/bob").await.expect("delete"));
    assert!(!e.system_delete("iam/users/bob").await.expect("delete again"));
    assert_eq!(e.system_get("iam/users/bob").await.expect("get"), None);

    let existed = e
        .system_batch(vec![("a/1".into(), b"1".to_vec()), ("a/2".into(), b"2".to_vec())], vec!["other/x".into()])
        .await
        .expect("batch");
    assert_eq!(existed, 1);
    assert_eq!(e.system_list("a/").await.expect("list").len(), 2);
    assert_eq!(e.system_get("other/x").await.expect("get"), None);
    // Bad names are refused, not stored.
    assert!(e.system_put("", b"x".to_vec()).await.is_err());
    assert!(e.system_put("nul\0name", b"x".to_vec()).await.is_err());
    // Buckets are untouched by the system namespace.
    assert!(e.list_buckets().await.expect("buckets").is_empty());
    e.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_reopen_and_losing_any_zone() {
    for lost in 0..3 {
        let c = Cluster::new();
        let e = c.open().await;
        fill(&e).await;
        e.shutdown().await.expect("shutdown");
        drop(e);

        let e = c.open().await;
        check(&e).await;
        e.shutdown().await.expect("shutdown");
        drop(e);

        c.lose_zone(lost);
        let e = c.open().await;
        assert!(c.zone_dir(lost).join("meta").exists(), "metadata replica rebuilt at open");
        check(&e).await;
        e.shutdown().await.expect("shutdown");
        drop(e);

        // The rebuilt replica holds the entries: lose another zone and read again.
        c.lose_zone((lost + 1) % 3);
        let e = c.open().await;
        check(&e).await;
        e.shutdown().await.expect("shutdown");
    }
}
