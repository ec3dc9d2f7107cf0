//! Listing: prefix, delimiter, start_after, max_keys, common prefixes skipped whole.

use crate::common::*;
use storage_engine::{Engine, ListRequest};

const KEYS: &[&str] = &[
    "a",
    "a/b",
    "a/c",
    "a/d/e",
    "b/x/1",
    "b/x/2",
    "b/y",
    "c",
    "photos/2020/a.jpg",
    "photos/2020/b.jpg",
    "photos/2021/c.jpg",
    "photos/index",
    "z",
    "é",
    "日本/語",
    "\u{0}nul",
    "a\u{0}b",
];

async fn setup() -> (Cluster, Engine) {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    e.create_bucket("b2", vec![]).await.expect("bucket");
    for k in KEYS {
        put(&e, "b", k, k.as_bytes()).await;
    }
    put(&e, "b2", "a/zzz", b"other bucket").await;
    (c, e)
}

fn req(prefix: &str, delimiter: Option<&str>, start_after: Option<&str>, max_keys: usize) -> ListRequest {
    ListRequest {
        prefix: prefix.into(),
        delimiter: delimiter.map(Into::into),
        start_after: start_after.map(Into::into),
        max_keys,
    }
}

/// Reference model: what S3 returns for a full listing.
fn model(prefix: &str, delimiter: Option<&str>, start_after: Option<&str>) -> Vec<String> {
    let mut keys: Vec<&str> = KEYS.to_vec();
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        if !k.starts_with(prefix) {
            continue;
        }
        let entry = match delimiter
            .and_then(|d| k[prefix.len()..].find(d).map(|i| k[..prefix.len() + i + d.len()].to_string()))
        {
            Some(cp) => cp,
            None => k.to_string(),
        };
        if start_after.is_some_and(|sa| entry.as_str() <= sa) {
            continue;
        }
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    out
}

async fn entries(e: &Engine, r: &ListRequest) -> (Vec<String>, storage_engine::ListPage) {
    let page = e.list_objects("b", r).await.expect("list");
    let mut all: Vec<String> =
        page.objects.iter().map(|o| o.key.clone()).chain(page.common_prefixes.iter().cloned()).collect();
    all.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    (all, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_matches_the_model() {
    let (_c, e) = setup().await;
    let cases: Vec<(&str, Option<&str>, Option<&str>)> = vec![
        ("", None, None),
        ("", Some("/"), None),
        ("a", Some("/"), None),
        ("a/", Some("/"), None),
        ("photos/", Some("/"), None),
        ("photos/20", Some("/"), None),
        ("", Some("/"), Some("a/")),
        ("", Some("/"), Some("a/c")),
        ("", Some("/"), Some("b")),
        ("photos/", Some("/"), Some("photos/2020/")),
        ("", None, Some("photos/2020/a.jpg")),
        ("", Some("0/"), None),
        ("nothing", Some("/"), None),
        ("", Some("/"), Some("\u{10FFFF}")),
    ];
    for (prefix, delim, sa) in cases {
        let (got, page) = entries(&e, &req(prefix, delim, sa, 1000)).await;
        assert_eq!(got, model(prefix, delim, sa), "prefix {prefix:?} delimiter {delim:?} start_after {sa:?}");
        assert!(!page.is_truncated);
        assert_eq!(page.next_marker, None);
    }
    // Objects come in byte order and carry their heads.
    let (_, page) = entries(&e, &req("", None, None, 1000)).await;
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(keys, sorted);
    assert!(page.objects.iter().all(|o| o.size_bytes == o.key.len() as u64 && o.bucket == "b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_with_next_marker() {
    let (_c, e) = setup().await;
    for (prefix, delim) in [("", None), ("", Some("/")), ("photos/", Some("/")), ("a", None)] {
        for max_keys in [1, 2, 3, 5] {
            let mut marker: Option<String> = None;
            let mut all = Vec::new();
            loop {
                let (got, page) = entries(&e, &req(prefix, delim, marker.as_deref(), max_keys)).await;
                assert!(got.len() <= max_keys);
                all.extend(got.clone());
                if !page.is_truncated {
                    assert_eq!(page.next_marker, None);
                    break;
                }
                assert_eq!(page.next_marker.as_ref(), got.last(), "next_marker is the last entry");
                marker = page.next_marker.clone();
            }
            assert_eq!(all, model(prefix, delim, None), "prefix {prefix:?} delim {delim:?} max {max_keys}");
        }
    }
    let page = e.list_objects("b", &req("", None, None, 0)).await.expect("list");
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_prefixes_are_skipped_whole() {
    let c = Cluster::new();
    let e = c.open().await;
    e.create_bucket("b", vec![]).await.expect("bucket");
    for i in 0..300 {
        put(&e, "b", &format!("deep/{i:04}"), b"x").await;
    }
    put(&e, "b", "after", b"x").await;
    put(&e, "b", "zz", b"x").await;
    let page = e.list_objects("b", &req("", Some("/"), None, 2)).await.expect("list");
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, vec!["after"]);
    assert_eq!(page.common_prefixes, vec!["deep/"]);
    assert!(page.is_truncated);
    assert_eq!(page.next_marker.as_deref(), Some("deep/"));
    let page = e.list_objects("b", &req("", Some("/"), Some("deep/"), 2)).await.expect("list");
    assert_eq!(page.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), vec!["zz"]);
    assert!(page.common_prefixes.is_empty());
    assert!(!page.is_truncated);
    assert!(matches!(
        e.list_objects("nope", &req("", None, None, 1)).await,
        Err(storage_engine::EngineError::NoSuchBucket { .. })
    ));
}
