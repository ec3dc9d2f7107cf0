//! The S3 requests behind each measured operation. Each returns the bytes
//! moved, or an error label (`404 NoSuchKey`, `request: ...`) for the
//! error table; none panics on what the server sends.

use http::{Method, StatusCode};

use super::client::{bytes_body, collect, drain, empty_body, encode, failure, pattern_body, xml_field, Conn};
use super::content::{size_from_key, PatternBody, Verifier};

fn object_path(conn: &Conn, key: &str) -> String {
    format!("/{}/{}", conn.bucket(), encode(key, true))
}

/// CreateBucket; an existing bucket of ours is fine.
pub async fn create_bucket(conn: &mut Conn) -> Result<(), String> {
    let path = format!("/{}", conn.bucket());
    let resp = conn.send(Method::PUT, &path, &[], empty_body(), Some(0)).await?;
    if resp.status().is_success() {
        drain(resp.into_body(), None).await?;
        return Ok(());
    }
    let label = failure(resp).await;
    if label.ends_with("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    Err(format!("create bucket: {label}"))
}

/// PutObject of the key's content (`size` bytes).
pub async fn put(conn: &mut Conn, key: &str, size: u64) -> Result<u64, String> {
    let path = object_path(conn, key);
    let body = pattern_body(PatternBody::new(key, 0, size));
    let headers = conn.write_headers();
    let resp = conn.send(Method::PUT, &path, &headers, body, Some(size)).await?;
    if resp.status() != StatusCode::OK {
        return Err(failure(resp).await);
    }
    drain(resp.into_body(), None).await?;
    Ok(size)
}

/// GetObject; with `verify`, the body is compared with the key's content.
/// Returns the bytes read and whether the body was verified.
pub async fn get(conn: &mut Conn, key: &str, verify: bool) -> Result<(u64, bool), String> {
    let path = object_path(conn, key);
    let resp = conn.send(Method::GET, &path, &[], empty_body(), None).await?;
    if resp.status() != StatusCode::OK {
        return Err(failure(resp).await);
    }
    let expected = size_from_key(key);
    if !verify {
        let n = drain(resp.into_body(), None).await?;
        if expected.is_some_and(|e| e != n) {
            return Err(format!("short body ({n} bytes, expected {expected:?})"));
        }
        return Ok((n, false));
    }
    let mut verifier = Verifier::new(key);
    let n = drain(resp.into_body(), Some(&mut verifier)).await?;
    if !verifier.finish(expected.unwrap_or(n)) {
        return Err("body differs from what was PUT".into());
    }
    Ok((n, true))
}

/// HeadObject; checks Content-Length against the size in the key.
pub async fn head(conn: &mut Conn, key: &str) -> Result<u64, String> {
    let path = object_path(conn, key);
    let resp = conn.send(Method::HEAD, &path, &[], empty_body(), None).await?;
    if resp.status() != StatusCode::OK {
        let status = resp.status().as_u16();
        drain(resp.into_body(), None).await?;
        return Err(format!("{status}"));
    }
    let len = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    drain(resp.into_body(), None).await?;
    match (len, size_from_key(key)) {
        (Some(a), Some(b)) if a != b => Err(format!("Content-Length {a}, expected {b}")),
        (None, _) => Err("no Content-Length".into()),
        _ => Ok(0),
    }
}

/// DeleteObject.
pub async fn delete(conn: &mut Conn, key: &str) -> Result<u64, String> {
    let path = object_path(conn, key);
    let resp = conn.send(Method::DELETE, &path, &[], empty_body(), None).await?;
    if !resp.status().is_success() {
        return Err(failure(resp).await);
    }
    drain(resp.into_body(), None).await?;
    Ok(0)
}

/// ListObjectsV2, one page of up to 1000 keys; returns the body size.
pub async fn list(conn: &mut Conn, prefix: &str, delimiter: Option<&str>) -> Result<u64, String> {
    let mut query = String::from("list-type=2&max-keys=1000");
    if !prefix.is_empty() {
        query.push_str(&format!("&prefix={}", encode(prefix, false)));
    }
    if let Some(d) = delimiter {
        query.push_str(&format!("&delimiter={}", encode(d, false)));
    }
    let path = format!("/{}?{query}", conn.bucket());
    let resp = conn.send(Method::GET, &path, &[], empty_body(), None).await?;
    if resp.status() != StatusCode::OK {
        return Err(failure(resp).await);
    }
    let body = collect(resp.into_body()).await?;
    if !String::from_utf8_lossy(&body).contains("<ListBucketResult") {
        return Err("200 without a ListBucketResult".into());
    }
    Ok(body.len() as u64)
}

/// Every key under `prefix` (ListObjectsV2, all pages).
pub async fn list_keys(conn: &mut Conn, prefix: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = format!("list-type=2&max-keys=1000&prefix={}", encode(prefix, false));
        if let Some(t) = &token {
            query.push_str(&format!("&continuation-token={}", encode(t, false)));
        }
        let path = format!("/{}?{query}", conn.bucket());
        let resp = conn.send(Method::GET, &path, &[], empty_body(), None).await?;
        if resp.status() != StatusCode::OK {
            return Err(format!("list: {}", failure(resp).await));
        }
        let body = collect(resp.into_body()).await?;
        let text = String::from_utf8_lossy(&body);
        let mut rest = text.as_ref();
        while let Some(start) = rest.find("<Key>") {
            let after = &rest[start + 5..];
            let end = after.find("</Key>").ok_or("list: unterminated <Key>")?;
            keys.push(after[..end].replace("&amp;", "&"));
            rest = &after[end..];
        }
        match (xml_field(&text, "IsTruncated"), xml_field(&text, "NextContinuationToken")) {
            (Some("true"), Some(t)) => {
                let next = t.replace("&amp;", "&");
                if token.as_deref() == Some(next.as_str()) {
                    return Err("list: the server repeats its continuation token".into());
                }
                token = Some(next);
            }
            _ => return Ok(keys),
        }
    }
}

/// CreateMultipartUpload, UploadPart × ⌈size / part_size⌉ (in sequence),
/// CompleteMultipartUpload. The object has the same content as a single PUT
/// of the key would, so GETs verify it the same way.
pub async fn multipart_put(conn: &mut Conn, key: &str, size: u64, part_size: u64) -> Result<u64, String> {
    let path = object_path(conn, key);
    let headers = conn.write_headers();
    let resp = conn.send(Method::POST, &format!("{path}?uploads"), &headers, empty_body(), Some(0)).await?;
    if resp.status() != StatusCode::OK {
        return Err(format!("create upload: {}", failure(resp).await));
    }
    let body = collect(resp.into_body()).await?;
    let text = String::from_utf8_lossy(&body);
    let upload_id = xml_field(&text, "UploadId").ok_or("create upload: no UploadId")?.to_string();
    let upload_q = encode(&upload_id, false);

    let part_size = part_size.max(1);
    let mut complete = String::from("<CompleteMultipartUpload>");
    let mut start = 0u64;
    let mut number = 1u32;
    while start < size || number == 1 {
        let end = (start + part_size).min(size);
        let part_path = format!("{path}?partNumber={number}&uploadId={upload_q}");
        let body = pattern_body(PatternBody::new(key, start, end));
        let resp = conn.send(Method::PUT, &part_path, &[], body, Some(end - start)).await?;
        if resp.status() != StatusCode::OK {
            return Err(format!("upload part: {}", failure(resp).await));
        }
        let etag = resp
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .ok_or("upload part: no ETag")?
            .to_string();
        drain(resp.into_body(), None).await?;
        complete.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"));
        start = end;
        number += 1;
    }
    complete.push_str("</CompleteMultipartUpload>");
    let len = complete.len() as u64;
    let resp =
        conn.send(Method::POST, &format!("{path}?uploadId={upload_q}"), &[], bytes_body(complete), Some(len)).await?;
    if resp.status() != StatusCode::OK {
        return Err(format!("complete: {}", failure(resp).await));
    }
    // CompleteMultipartUpload can fail after a 200 with an <Error> body.
    let body = collect(resp.into_body()).await?;
    let text = String::from_utf8_lossy(&body);
    if text.contains("<Error>") {
        return Err(format!("complete: 200 {}", xml_field(&text, "Code").unwrap_or("Error")));
    }
    Ok(size)
}
