//! Shared helpers for the end-to-end suite: start the real `coffer` binary,
//! build SDK clients, send raw (hand-signed or anonymous) requests, encode
//! aws-chunked bodies and compute the digests a client would send.
//!
//! Nothing here knows the server's internals: everything goes through the
//! S3 API or the admin listener, as a user would.

#![allow(dead_code, unused_imports)]

pub mod chunked;
pub mod http;
pub mod nginx;
pub mod sdk;
pub mod server;
pub mod sign;
pub mod util;

pub use self::http::{send, RawResponse, Req};
pub use self::sdk::{client, client_with, expect_sdk_err, sdk_err, Ctx};
pub use self::server::{Server, ServerOptions};
pub use self::util::*;
