//! Malformed requests and the shape of error responses.

use std::time::SystemTime;

use crate::common::http::{send_bytes, serialize_head};
use crate::common::sign::Creds;
use crate::common::{md5_b64, test_data, xml_text, Ctx, RawResponse, Req, Server};

#[tokio::test]
async fn error_document_shape() {
    let ctx = Ctx::new("errdoc").await;
    let resp = Req::new(&ctx.server, "GET", &ctx.path("nope")).send().await;
    resp.assert_error(404, "NoSuchKey");
    let text = resp.text();
    let message = xml_text(&text, "Message").expect("<Message>");
    assert!(!message.is_empty());
    let request_id = xml_text(&text, "RequestId").expect("<RequestId>");
    assert_eq!(Some(request_id.as_str()), resp.header("x-amz-request-id"));
    assert_eq!(xml_text(&text, "Key").as_deref(), Some("nope"));
    let error_pos = text.find("<Error>").expect("<Error>");
    let code_pos = text.find("<Code>").expect("<Code>");
    assert!(error_pos < code_pos && text.trim_end().ends_with("</Error>"), "{text}");
    assert_eq!(resp.header("content-length"), Some(resp.body.len().to_string().as_str()));

    let missing = crate::common::bucket_name("nobucket");
    let resp = Req::new(&ctx.server, "GET", &format!("/{missing}")).send().await;
    resp.assert_error(404, "NoSuchBucket");
    assert_eq!(xml_text(&resp.text(), "BucketName").as_deref(), Some(missing.as_str()));
    let resp = Req::new(&ctx.server, "GET", &format!("/{missing}?list-type=2")).send().await;
    resp.assert_error(404, "NoSuchBucket");
    Req::new(&ctx.server, "GET", &format!("/{missing}/some/key")).send().await.assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn malformed_create_bucket_configuration() {
    let server = Server::start().await;
    let bodies = [
        "this is not xml",
        "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>",
        "<CreateBucketConfiguration><LocationConstraint>us-east-1</Location></CreateBucketConfiguration>",
        "<SomethingElse/>",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let bucket = crate::common::bucket_name(&format!("badxml{i}"));
        let resp = Req::new(&server, "PUT", &format!("/{bucket}")).body(*body).send().await;
        resp.assert_error(400, "MalformedXML");
        Req::new(&server, "HEAD", &format!("/{bucket}")).send().await.assert_status(404);
    }
}

async fn post_delete(ctx: &Ctx, body: &str) -> RawResponse {
    Req::new(&ctx.server, "POST", &format!("/{}?delete", ctx.bucket))
        .header("content-md5", md5_b64(body.as_bytes()))
        .body(body.to_string())
        .send()
        .await
}

#[tokio::test]
async fn malformed_delete_objects() {
    let ctx = Ctx::new("badxml-del").await;
    ctx.put("keep", b"k".to_vec()).await;
    let bodies = [
        "garbage",
        "",
        "<Delete><Object><Key>keep</Key></Object>",
        "<Delete><Object><Key>keep</Key></Object></Delete",
        "<Delete></Delete>",
        "<Delete><Object><Key>keep</Key></Object><Quiet>maybe</Quiet></Delete>",
    ];
    for body in bodies {
        let resp = post_delete(&ctx, body).await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("MalformedXML")),
            "body {body:?}: {}",
            resp.text()
        );
        assert!(ctx.exists("keep").await, "nothing deleted by {body:?}");
    }
}

fn acceptable_unsupported(resp: &RawResponse) -> bool {
    matches!((resp.status, resp.code().as_deref()), (405, Some("MethodNotAllowed")) | (501, Some("NotImplemented")))
}

#[tokio::test]
async fn unsupported_methods_and_operations() {
    let ctx = Ctx::new("unsupported").await;
    ctx.put("k", b"v".to_vec()).await;
    for (method, path) in [
        ("PATCH", ctx.path("k")),
        ("PATCH", format!("/{}", ctx.bucket)),
        ("GET", format!("/{}?accelerate", ctx.bucket)),
        ("PUT", format!("/{}?replication", ctx.bucket)),
        ("GET", format!("/{}?inventory", ctx.bucket)),
        ("GET", format!("/{}?analytics", ctx.bucket)),
        ("POST", format!("{}?select&select-type=2", ctx.path("k"))),
    ] {
        let resp = Req::new(&ctx.server, method, &path).send().await;
        assert!(acceptable_unsupported(&resp), "{method} {path}: {} {}", resp.status, resp.text());
        if resp.status >= 400 {
            assert!(resp.text().contains("<Error>"), "{method} {path}: XML error body");
        }
    }
    assert_eq!(ctx.get_bytes("k").await, b"v", "nothing changed");
}

#[tokio::test]
async fn truncated_body_stores_nothing() {
    let ctx = Ctx::new("truncated").await;
    for (key, payload) in
        [("unsigned", "UNSIGNED-PAYLOAD".to_string()), ("signed", crate::common::sha256_hex(&test_data(100_000, 41)))]
    {
        let req = Req::new(&ctx.server, "PUT", &ctx.path(key)).header("content-length", "100000");
        let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), &payload);
        let mut bytes = serialize_head(&signed);
        bytes.extend_from_slice(&test_data(100_000, 41)[..1000]);
        let resp = send_bytes(ctx.server.s3_addr, &bytes, true).await;
        if let Some(resp) = resp {
            assert!(resp.status >= 400, "{key}: a truncated body is not a success: {}", resp.status);
        }
        ctx.assert_absent(key).await;
    }
}

#[tokio::test]
async fn declared_size_over_5_gib_is_entity_too_large() {
    let ctx = Ctx::new("toolarge").await;
    let too_big = 5u64 * 1024 * 1024 * 1024 + 1;
    let req = Req::new(&ctx.server, "PUT", &ctx.path("huge")).header("content-length", too_big.to_string());
    let (signed, _) = req.signed_with(&Creds::root(), SystemTime::now(), "UNSIGNED-PAYLOAD");
    // Headers only: the server must answer before reading the body.
    let resp = send_bytes(ctx.server.s3_addr, &serialize_head(&signed), false).await.expect("an early response");
    resp.assert_error(400, "EntityTooLarge");
    ctx.assert_absent("huge").await;
}

/// A request refused before its body is read leaves the rest of the body on
/// the connection, so the server ends that connection and says so. A pooling
/// client (the SDK here, retries off) must then send its next request on a
/// new connection rather than into one the server is closing.
#[tokio::test]
async fn refused_uploads_end_their_connection_and_say_so() {
    let ctx = Ctx::new("refusedconn").await;
    let missing = format!("{}-missing", ctx.bucket);
    let body = test_data(1 << 20, 43);
    let refused =
        Req::new(&ctx.server, "PUT", &format!("/{missing}/k")).body(body.clone()).send_unsigned_payload().await;
    refused.assert_error(404, "NoSuchBucket");
    assert_eq!(refused.header("connection"), Some("close"), "{:?}", refused.headers);
    let stored = Req::new(&ctx.server, "PUT", &ctx.path("k")).body(body.clone()).send_unsigned_payload().await;
    stored.assert_status(200);
    assert_eq!(stored.header("connection"), None, "a stored upload keeps its connection");
    // A client that waits for 100-continue is answered without being asked for the body.
    let waiting = Req::new(&ctx.server, "PUT", &format!("/{missing}/k"))
        .header("content-length", body.len().to_string())
        .header("expect", "100-continue");
    let (signed, _) = waiting.signed_with(&Creds::root(), SystemTime::now(), "UNSIGNED-PAYLOAD");
    let answer = send_bytes(ctx.server.s3_addr, &serialize_head(&signed), false).await.expect("an answer");
    answer.assert_error(404, "NoSuchBucket");
    let absent = Req::new(&ctx.server, "GET", &ctx.path("absent")).send().await;
    absent.assert_error(404, "NoSuchKey");
    assert_eq!(absent.header("connection"), None, "an error to a request without a body keeps its connection");

    for round in 0..40 {
        let refused = ctx.s3.put_object().bucket(&missing).key("k").body(body.clone().into()).send().await;
        crate::common::sdk::expect_sdk_err(refused, 404, "NoSuchBucket");
        let key = format!("after-{round}");
        ctx.s3
            .put_object()
            .bucket(&ctx.bucket)
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the upload after a refused one: {e:?}"));
    }
    assert_eq!(ctx.get_bytes("after-39").await, body);
}
