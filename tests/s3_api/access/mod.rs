//! Access control end to end: bucket policies, Block Public Access, Object
//! Ownership and ACLs, anonymous requests, and the client address behind a
//! trusted proxy (a real nginx).

mod accounts;
mod acl;
mod bucket_policy;
mod proxy;
mod users;

use crate::common::{Ctx, RawResponse, Req};

/// A policy letting anyone (`"Principal": "*"`) read the objects of `bucket`.
pub fn public_read_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

/// An anonymous GET of `key` in the context's bucket.
pub async fn anonymous_get(ctx: &Ctx, key: &str) -> RawResponse {
    Req::new(&ctx.server, "GET", &ctx.path(key)).send_anonymous().await
}

/// Turns Block Public Access off for the context's bucket (new buckets have it on).
pub async fn allow_public(ctx: &Ctx) {
    ctx.s3.delete_public_access_block().bucket(&ctx.bucket).send().await.expect("delete public access block");
}
