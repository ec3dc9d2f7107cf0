//! ListObjectsV2 and ListObjects (v1): prefix, delimiter, paging, start-after,
//! owner, encoding-type=url, byte order.

use aws_sdk_s3::types::EncodingType;

use crate::common::{enc_query, url_decode, xml_all, xml_blocks, xml_text, Ctx, Req};

const TREE: [&str; 7] = [
    "docs/readme.md",
    "photos/2024/a.jpg",
    "photos/2024/b.jpg",
    "photos/2025/c.jpg",
    "photos/top.jpg",
    "root.txt",
    "zeta/x",
];

async fn tree(tag: &str) -> Ctx {
    let ctx = Ctx::new(tag).await;
    for key in TREE {
        ctx.put(key, key.as_bytes().to_vec()).await;
    }
    ctx
}

#[tokio::test]
async fn v2_prefix_and_delimiter() {
    let ctx = tree("lst-delim").await;
    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).prefix("photos/").delimiter("/").send().await.expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(keys, ["photos/top.jpg"]);
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    assert_eq!(out.key_count(), Some(3), "KeyCount counts keys and common prefixes");
    assert_eq!(out.prefix(), Some("photos/"));
    assert_eq!(out.delimiter(), Some("/"));
    assert_eq!(out.is_truncated(), Some(false));
    assert_eq!(out.name(), Some(ctx.bucket.as_str()));
    let obj = &out.contents()[0];
    assert_eq!(obj.size(), Some("photos/top.jpg".len() as i64));
    assert_eq!(obj.e_tag(), Some(crate::common::etag_of(b"photos/top.jpg").as_str()));
    assert!(obj.last_modified().is_some());

    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).delimiter("/").send().await.expect("list root");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(keys, ["root.txt"]);
    assert_eq!(prefixes, ["docs/", "photos/", "zeta/"]);
    assert_eq!(out.key_count(), Some(4));

    let out =
        ctx.s3.list_objects_v2().bucket(&ctx.bucket).prefix("photos/2").send().await.expect("prefix without delimiter");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg"]);

    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).prefix("nothing-here/").send().await.expect("empty");
    assert!(out.contents().is_empty());
    assert_eq!(out.key_count(), Some(0));
}

#[tokio::test]
async fn v2_paging_across_common_prefixes() {
    let ctx = tree("lst-page").await;
    for max_keys in [1, 2, 3] {
        let mut entries = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let out = ctx
                .s3
                .list_objects_v2()
                .bucket(&ctx.bucket)
                .delimiter("/")
                .max_keys(max_keys)
                .set_continuation_token(token.clone())
                .send()
                .await
                .expect("page");
            pages += 1;
            let count = out.contents().len() + out.common_prefixes().len();
            assert!(count <= max_keys as usize, "page of at most {max_keys}");
            assert_eq!(out.key_count(), Some(count as i32));
            assert_eq!(out.max_keys(), Some(max_keys));
            assert_eq!(out.continuation_token(), token.as_deref(), "the request token is echoed");
            let mut page: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
            page.extend(out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
            page.sort();
            entries.extend(page);
            if out.is_truncated() == Some(true) {
                token = Some(out.next_continuation_token().expect("NextContinuationToken when truncated").to_string());
            } else {
                assert!(out.next_continuation_token().is_none());
                break;
            }
            assert!(pages < 20, "paging terminates");
        }
        assert_eq!(entries, ["docs/", "photos/", "root.txt", "zeta/"], "max-keys {max_keys}: each entry exactly once");
    }
    // Without a delimiter, pages of two cover every key once.
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .s3
            .list_objects_v2()
            .bucket(&ctx.bucket)
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("page");
        all.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    assert_eq!(all, TREE);
}

#[tokio::test]
async fn v2_start_after_and_fetch_owner() {
    let ctx = tree("lst-after").await;
    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).start_after("photos/2024/b.jpg").send().await.expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["photos/2025/c.jpg", "photos/top.jpg", "root.txt", "zeta/x"]);
    assert_eq!(out.start_after(), Some("photos/2024/b.jpg"));
    // start-after need not be an existing key.
    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).start_after("q").send().await.expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["root.txt", "zeta/x"]);

    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).send().await.expect("list");
    assert!(out.contents().iter().all(|o| o.owner().is_none()), "no Owner unless fetch-owner");
    let out = ctx.s3.list_objects_v2().bucket(&ctx.bucket).fetch_owner(true).send().await.expect("list");
    assert!(
        out.contents().iter().all(|o| o.owner().and_then(|w| w.id()).is_some_and(|id| !id.is_empty())),
        "fetch-owner=true gives every object an Owner/ID"
    );
    assert!(out.contents().iter().all(|o| o.storage_class().is_some()), "StorageClass listed");
}

#[tokio::test]
async fn v2_encoding_type_url() {
    let ctx = Ctx::new("lst-enc").await;
    let keys = ["a b/c+d", "x&y<z>", "ctl\u{1}char", "é/ü", "percent%2F", "q?h#"];
    for key in keys {
        ctx.put(key, b"v".to_vec()).await;
    }
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?list-type=2&encoding-type=url", ctx.bucket)).send().await;
    resp.assert_status(200);
    let text = resp.text();
    assert_eq!(xml_text(&text, "EncodingType").as_deref(), Some("url"));
    let listed: Vec<String> = xml_blocks(&text, "Contents").iter().filter_map(|c| xml_text(c, "Key")).collect();
    assert_eq!(listed.len(), keys.len(), "{text}");
    for encoded in &listed {
        assert!(
            encoded.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'&' | b' ' | b'"')),
            "url-encoded key {encoded:?} is plain printable ASCII"
        );
    }
    let mut decoded: Vec<String> = listed.iter().map(|k| url_decode(k)).collect();
    decoded.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(decoded, expected);

    // Prefix and delimiter are encoded too; the SDK passes values through undecoded.
    let resp = Req::new(
        &ctx.server,
        "GET",
        &format!("/{}?list-type=2&encoding-type=url&delimiter=%2F&prefix={}", ctx.bucket, enc_query("é/")),
    )
    .send()
    .await;
    resp.assert_status(200);
    let text = resp.text();
    assert_eq!(xml_text(&text, "Prefix").map(|p| url_decode(&p)).as_deref(), Some("é/"));
    let listed: Vec<String> = xml_blocks(&text, "Contents").iter().filter_map(|c| xml_text(c, "Key")).collect();
    assert_eq!(listed.iter().map(|k| url_decode(k)).collect::<Vec<_>>(), ["é/ü"]);
    let out = ctx
        .s3
        .list_objects_v2()
        .bucket(&ctx.bucket)
        .encoding_type(EncodingType::Url)
        .prefix("a")
        .send()
        .await
        .expect("sdk");
    assert_eq!(out.contents().len(), 1);
    assert_eq!(url_decode(out.contents()[0].key().expect("key")), "a b/c+d");

    // ListObjects (v1) encodes keys and markers but echoes its Prefix as sent.
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?encoding-type=url&prefix={}", ctx.bucket, enc_query("é/")))
        .send()
        .await;
    resp.assert_status(200);
    let text = resp.text();
    assert_eq!(xml_text(&text, "Prefix").as_deref(), Some("é/"));
    let listed: Vec<String> = xml_blocks(&text, "Contents").iter().filter_map(|c| xml_text(c, "Key")).collect();
    assert!(listed.iter().all(|k| k.is_ascii()), "keys stay encoded: {listed:?}");
    assert_eq!(listed.iter().map(|k| url_decode(k)).collect::<Vec<_>>(), ["é/ü"]);
}

#[tokio::test]
async fn keys_sort_by_utf8_bytes() {
    let ctx = Ctx::new("lst-order").await;
    let keys = ["a", "a/b", "a-b", "aé", "b", "Z", "~", "a\u{fffd}", "a😀", "A", "0"];
    for key in keys {
        ctx.put(key, b"o".to_vec()).await;
    }
    let expected = ["0", "A", "Z", "a", "a-b", "a/b", "aé", "a\u{fffd}", "a😀", "b", "~"];
    let mut check: Vec<&str> = keys.to_vec();
    check.sort(); // Rust orders str by bytes: the expectation is UTF-8 byte order.
    assert_eq!(check, expected);
    assert_eq!(ctx.list_keys("").await, expected);
    // Page by page with max-keys=1 the order is the same.
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .s3
            .list_objects_v2()
            .bucket(&ctx.bucket)
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("page");
        paged.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_string);
    }
    assert_eq!(paged, expected);
    // v1 with a marker in the middle of multi-byte keys.
    let out = ctx.s3.list_objects().bucket(&ctx.bucket).marker("aé").send().await.expect("v1");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a\u{fffd}", "a😀", "b", "~"]);
}

#[tokio::test]
async fn v1_marker_next_marker_and_truncation() {
    let ctx = tree("lst-v1").await;
    let out = ctx.s3.list_objects().bucket(&ctx.bucket).max_keys(3).send().await.expect("v1");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, &TREE[..3]);
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.max_keys(), Some(3));
    let out = ctx.s3.list_objects().bucket(&ctx.bucket).marker(TREE[2]).send().await.expect("v1 after marker");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, &TREE[3..]);
    assert_eq!(out.marker(), Some(TREE[2]));
    assert_eq!(out.is_truncated(), Some(false));

    // With a delimiter, NextMarker drives paging, across common prefixes.
    let mut entries = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = ctx
            .s3
            .list_objects()
            .bucket(&ctx.bucket)
            .delimiter("/")
            .max_keys(1)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("v1 page");
        pages += 1;
        let mut page: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        page.extend(out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
        assert!(page.len() <= 1);
        entries.extend(page.clone());
        if out.is_truncated() == Some(true) {
            let next = out.next_marker().expect("NextMarker when truncated with a delimiter").to_string();
            assert_eq!(Some(&next), page.last(), "NextMarker is the last key or common prefix");
            marker = Some(next);
        } else {
            break;
        }
        assert!(pages < 20);
    }
    assert_eq!(entries, ["docs/", "photos/", "root.txt", "zeta/"]);

    // Raw v1 XML shape.
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?prefix=photos%2F&delimiter=%2F", ctx.bucket)).send().await;
    resp.assert_status(200);
    let text = resp.text();
    assert!(text.contains("<ListBucketResult"), "{text}");
    assert_eq!(xml_text(&text, "Marker").as_deref(), Some(""));
    assert_eq!(xml_text(&text, "IsTruncated").as_deref(), Some("false"));
    let prefixes: Vec<String> =
        xml_blocks(&text, "CommonPrefixes").iter().filter_map(|b| xml_text(b, "Prefix")).collect();
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    assert_eq!(xml_all(&text, "Key"), ["photos/top.jpg"]);
}

#[tokio::test]
async fn v2_invalid_max_keys() {
    let ctx = Ctx::new("lst-args").await;
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?list-type=2&max-keys=abc", ctx.bucket)).send().await;
    resp.assert_error(400, "InvalidArgument");
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?list-type=2&max-keys=-1", ctx.bucket)).send().await;
    resp.assert_error(400, "InvalidArgument");
    // max-keys above 1000 is allowed (the page is capped at 1000).
    let resp = Req::new(&ctx.server, "GET", &format!("/{}?list-type=2&max-keys=5000", ctx.bucket)).send().await;
    resp.assert_status(200);
}
