//! Multipart upload end to end: create/upload/complete with every checksum
//! algorithm and type, the multipart ETag, GET/HEAD by part number, the error
//! cases, part replacement and subsets, ListParts and ListMultipartUploads
//! paging, UploadPartCopy, concurrency (parts in parallel, complete racing
//! abort), 10,000 parts, SIGKILL mid-upload and mid-complete, and the `aws`
//! CLI (multipart with its default 8 MiB parts).
//!
//! Tests that need small parts start the server with the hidden
//! `--test-min-part-size-bytes 1`; the EntityTooSmall test and the tests with
//! 5 MiB parts use the default 5 MiB minimum.
//!
//! The 1 GiB `aws s3 cp` test is ignored; run it with
//!   CARGO_TARGET_DIR=/root/.cache/coffer-target cargo test --release -p coffer --test s3_api multipart::aws_cli::aws_cli_cp_1_gib -- --ignored
//!
//! Modules:
//! - `upload`: create/upload/complete and read back, GET/HEAD by part number,
//!   part number bounds, unknown uploads, bad part lists, EntityTooSmall,
//!   complete twice and abort, malformed XML, part replacement and subsets,
//!   PutObject during an upload.
//! - `checksums`: COMPOSITE and FULL_OBJECT checksums of every algorithm.
//! - `listing`: ListParts and ListMultipartUploads paging.
//! - `copy`: UploadPartCopy.
//! - `concurrency`: parts in parallel, complete racing abort, 10,000 parts.
//! - `crash`: SIGKILL mid-upload and mid-complete.
//! - `aws_cli`: `aws s3 cp` with the CLI's multipart transfer.

mod aws_cli;
mod checksums;
mod concurrency;
mod copy;
mod crash;
mod listing;
mod upload;

use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use md5::{Digest as _, Md5};

use crate::common::{enc_key, enc_query, etag_of, Ctx, Req, Server, ServerOptions};

const MIB: usize = 1024 * 1024;

/// A server that accepts parts of any size (test-only flag).
fn small_parts() -> ServerOptions {
    ServerOptions { extra_args: vec!["--test-min-part-size-bytes".into(), "1".into()], ..ServerOptions::default() }
}

/// The ETag of a multipart object: MD5 of the concatenated binary part MD5s, `-N`.
fn multipart_etag<T: AsRef<[u8]>>(parts: &[T]) -> String {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(Md5::digest(part.as_ref()));
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len())
}

fn concat<T: AsRef<[u8]>>(parts: &[T]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.as_ref().iter().copied()).collect()
}

/// Byte equality without printing megabytes on failure.
#[track_caller]
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!("{what}: {} bytes, expected {}; first difference at {first:?}", got.len(), want.len());
    }
}

async fn create(ctx: &Ctx, key: &str) -> String {
    let out = ctx.s3.create_multipart_upload().bucket(&ctx.bucket).key(key).send().await;
    let out = out.unwrap_or_else(|e| panic!("create upload {key}: {e:?}"));
    out.upload_id().expect("CreateMultipartUpload returns an UploadId").to_string()
}

/// Uploads one part and checks its ETag (the quoted MD5 of the part).
async fn upload_part(s3: &Client, bucket: &str, key: &str, upload_id: &str, number: i32, data: &[u8]) -> String {
    let out = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload part {number} of {key}: {e:?}"));
    let etag = out.e_tag().expect("UploadPart returns an ETag").to_string();
    assert_eq!(etag, etag_of(data), "part {number} ETag is the quoted MD5 of its bytes");
    etag
}

/// Uploads `parts` as parts 1..=N, in order; returns (number, ETag).
async fn upload_all(ctx: &Ctx, key: &str, upload_id: &str, parts: &[Vec<u8>]) -> Vec<(i32, String)> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        out.push((n, upload_part(&ctx.s3, &ctx.bucket, key, upload_id, n, data).await));
    }
    out
}

fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    let list = parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build()).collect();
    CompletedMultipartUpload::builder().set_parts(Some(list)).build()
}

async fn complete(ctx: &Ctx, key: &str, upload_id: &str, parts: &[(i32, String)]) -> CompleteMultipartUploadOutput {
    ctx.s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete {key}: {e:?}"))
}

/// Every upload in progress under `prefix`, as (key, upload id), in listing order.
async fn listed_uploads(s3: &Client, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    let out = s3.list_multipart_uploads().bucket(bucket).prefix(prefix).send().await.expect("list multipart uploads");
    assert_eq!(out.is_truncated(), Some(false), "test listings fit in one page");
    out.uploads()
        .iter()
        .map(|u| (u.key().expect("Upload Key").to_string(), u.upload_id().expect("Upload UploadId").to_string()))
        .collect()
}

async fn get_part(ctx: &Ctx, key: &str, n: i32) -> (Option<i32>, Option<i64>, Option<String>, Option<String>, Vec<u8>) {
    let out = ctx.s3.get_object().bucket(&ctx.bucket).key(key).part_number(n).send().await;
    let out = out.unwrap_or_else(|e| panic!("get part {n} of {key}: {e:?}"));
    let meta = (
        out.parts_count(),
        out.content_length(),
        out.e_tag().map(str::to_string),
        out.content_range().map(str::to_string),
    );
    let body = out.body.collect().await.expect("part body").into_bytes().to_vec();
    (meta.0, meta.1, meta.2, meta.3, body)
}

/// A signed CompleteMultipartUpload request for `parts` (origin-form URI).
fn complete_request(
    server: &Server,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[(i32, String)],
) -> http::Request<Bytes> {
    let mut xml = String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (n, etag) in parts {
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let path = format!("/{bucket}/{}?uploadId={}", enc_key(key), enc_query(upload_id));
    let req = Req::new(server, "POST", &path).header("content-length", xml.len().to_string()).body(xml).signed();
    let (mut head, body) = req.into_parts();
    head.uri = path.parse().expect("origin-form URI");
    http::Request::from_parts(head, body)
}
