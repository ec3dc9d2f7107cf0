//! Coffer: an S3-compatible object storage server.
//!
//! This crate owns the HTTP layer: configuration, the accept loop, routing,
//! SigV4 authentication, request-body verification, the S3 handlers, XML and
//! the mapping of every failure to an S3 error. Storage is delegated to
//! `storage_engine`, which knows nothing of HTTP or S3 wire types.
//!
//! The request path, one module a step: `server` (accept loop, request id,
//! span, timeouts) → `router` (operation, bucket, key) → `auth`
//! (SigV4 header, presigned query, or anonymous) → `handlers` (one
//! `handle_<op>` each; bodies streamed through `body`'s verifier) →
//! `response` (XML, and the one place that writes `<Error>`). Between
//! authentication and the handler, `access` decides whether the caller may
//! do what the request asks (the decision itself is the `policy` crate's).
//! IAM query requests (signed for service `iam`) go from `server` to
//! `iam::api`; `iam` also owns the identities every request is authenticated
//! against. `admin_cli` is the `coffer admin` client.

pub mod access;
pub mod admin_cli;
pub mod audit;
pub mod auth;
pub mod body;
pub mod checksum;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod error;
pub mod handlers;
pub mod iam;
pub mod lifecycle;
pub mod metrics;
pub mod ops;
pub mod post_object;
pub mod request_body;
pub mod response;
pub mod router;
pub mod server;
pub mod sse;
pub mod website;
pub mod xml;
