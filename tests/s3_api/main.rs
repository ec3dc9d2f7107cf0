//! End-to-end tests: the real `coffer` binary on 127.0.0.1:0, driven by
//! `aws-sdk-s3` (default checksum behaviour) and by hand-signed raw requests.
//!
//! Each test starts its own server on a fresh temporary data directory and
//! stops it (SIGTERM, by PID) when it ends, also on failure; on failure the
//! server's output is printed. One bucket per test, unique names, no fixed
//! ports, no sleeps except the readiness poll of `/health/ready`.
//!
//! Run (release profile only, shared target dir):
//!   CARGO_TARGET_DIR=/root/.cache/coffer-target cargo test --release -p coffer --test s3_api
//!
//! Modules:
//! - `access`: bucket policies, Block Public Access, Object Ownership, ACLs,
//!   anonymous requests, `aws:SourceIp` behind a real nginx.
//! - `audit`: the access log (JSON lines, no secrets), JSON logs, `--version`.
//! - `browser`: headless Chromium uploads cross-origin (presigned PUT, POST form).
//! - `buckets`: create/head/list/location/delete bucket, names, pagination.
//! - `objects`: put/get/head/delete, metadata and system headers, sizes around
//!   engine thresholds, special keys, key and metadata limits, DeleteObjects,
//!   conditional writes.
//! - `ranges`: Range requests and GET/HEAD conditionals with AWS precedence,
//!   response-* overrides.
//! - `copy`: CopyObject directives, self-copy, copy-source conditionals.
//! - `cors`: bucket CORS rules, preflight, CORS headers on responses.
//! - `checksums`: every SDK checksum algorithm, checksum mode, BadDigest,
//!   InvalidDigest, ranged GET without full-object checksum.
//! - `listing`: ListObjectsV2 and v1: prefix, delimiter, paging, start-after,
//!   owner, url encoding, byte order.
//! - `raw_auth`: presigned URLs, signature failures, clock skew, anonymous
//!   access, request ids.
//! - `streaming`: every `x-amz-content-sha256` payload mode for PUT, aws-chunked
//!   signed and unsigned, trailers.
//! - `errors`: malformed XML, unsupported methods, the error document,
//!   truncated and oversized bodies.
//! - `expiration`: lifecycle rules and the worker (short test day): expiration,
//!   noncurrent versions, expired delete markers, incomplete uploads, restart.
//! - `tagging`: object and bucket tags, limits, copy directive, tag conditions.
//! - `versioning`: version ids, reads and deletes by version, delete markers,
//!   ListObjectVersions paging and delimiters, the null version, copies from a version.
//! - `object_lock`: Object Lock buckets, retention (GOVERNANCE, COMPLIANCE), legal hold, defaults.
//! - `website`: static website hosting on the website host suffix.
//! - `post_object`: browser form uploads with signed POST policies.
//! - `production`: behind a real nginx with TLS (`docs/nginx/coffer.conf`):
//!   aws-sdk-s3, awscli, boto3, rclone, s3cmd, curl presigned, virtual hosts.
//! - `vhost`: virtual-hosted-style addressing with `--domain`.
//! - `sigv2`: Signature Version 2 from boto3 (`s3` signer) and s3cmd; turning it off.
//! - `attributes`: GetObjectAttributes (parts and pagination, versions, SSE-C, errors).
//! - `multipart`: multipart uploads: checksums, ETags, part numbers, errors,
//!   listings, UploadPartCopy, races, 10,000 parts, SIGKILL, the `aws` CLI.
//! - `iam`: users, access keys, policies and groups through the IAM query API
//!   (awscli, raw signed requests, `coffer admin`); keys stop at once when
//!   disabled or deleted; identities survive restarts; secrets sealed at rest.
//! - `lifecycle`: health endpoints, SIGTERM exit code, restart, losing an AZ
//!   directory.
//! - `sse`: server-side encryption (SSE-S3, SSE-KMS, SSE-C): every mode over
//!   small, large, multipart, ranged and copied objects, key errors, bucket
//!   default encryption, master key rotation, no plaintext at rest.
//! - `ops`: admin API and CLI, metrics, SIGKILL crash loop, AZ loss and
//!   heal, bitrot and the scrubber.

mod common;

mod access;
mod attributes;
mod audit;
mod browser;
mod buckets;
mod checksums;
mod copy;
mod cors;
mod errors;
mod expiration;
mod iam;
mod lifecycle;
mod listing;
mod multipart;
mod object_lock;
mod objects;
mod ops;
mod post_object;
mod production;
mod ranges;
mod raw_auth;
mod sigv2;
mod sse;
mod streaming;
mod tagging;
mod versioning;
mod vhost;
mod website;
