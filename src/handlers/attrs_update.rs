//! Read-modify-write of bucket and object attributes (policies, ACLs,
//! ownership, tags) without rewriting data: read, change, and replace only
//! if nothing changed in between (compare-and-swap in the engine), retried a
//! bounded number of times when another request won the race.

use super::{BucketAttrs, ObjectAttrs, RequestContext};
use crate::error::{ApiError, S3ErrorCode};

/// How often an update is retried after a concurrent change.
const UPDATE_ATTEMPTS: usize = 16;

fn contended(what: &str) -> ApiError {
    ApiError::new(S3ErrorCode::SlowDown, format!("The {what} changed concurrently; please retry"))
}

/// Changes the request's bucket attributes; returns them as stored.
pub async fn update_bucket_attrs(
    ctx: &RequestContext<'_>,
    mut change: impl FnMut(&mut BucketAttrs) -> Result<(), ApiError>,
) -> Result<BucketAttrs, ApiError> {
    let name = ctx.bucket();
    let mut current = ctx.state.engine.get_bucket(name).await?.attrs;
    for _ in 0..UPDATE_ATTEMPTS {
        let mut attrs = BucketAttrs::decode(&current)?;
        change(&mut attrs)?;
        if ctx.state.engine.replace_bucket_attrs(name, Some(current.clone()), attrs.encode()).await? {
            return Ok(attrs);
        }
        current = ctx.state.engine.get_bucket(name).await?.attrs;
    }
    Err(contended("bucket configuration"))
}

/// Changes the attributes of one version of the request's object (the
/// current one when `version` is `None`).
pub async fn update_version_attrs(
    ctx: &RequestContext<'_>,
    version: Option<&str>,
    mut change: impl FnMut(&mut ObjectAttrs) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let engine = &ctx.state.engine;
    let (bucket, key) = (ctx.bucket(), ctx.key());
    let head = || async {
        match version {
            Some(v) => engine.head_version(bucket, key, v).await,
            None => engine.head_object(bucket, key).await,
        }
    };
    let mut current = head().await?.attrs;
    for _ in 0..UPDATE_ATTEMPTS {
        let mut attrs = ObjectAttrs::decode(&current)?;
        change(&mut attrs)?;
        let replaced = match version {
            Some(v) => engine.replace_version_attrs(bucket, key, v, current, attrs.encode()).await?,
            None => engine.replace_object_attrs(bucket, key, current, attrs.encode()).await?,
        };
        if replaced {
            return Ok(());
        }
        current = head().await?.attrs;
    }
    Err(contended("object"))
}
