//! Static website hosting: the bucket's website configuration (`config`),
//! Get/Put/DeleteBucketWebsite, and serving (`serve`) for requests whose
//! Host is `<bucket>.<website_domain>` (setting `website_domain`).

pub mod config;
pub mod serve;

use http::Response;

use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::attrs_update::update_bucket_attrs;
use crate::handlers::RequestContext;
use crate::request_body::RequestBody;
use crate::response::{self, Body};

pub async fn handle_put(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 256 * 1024).await?;
    let parsed = config::parse(&bytes)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.website = Some(parsed.clone());
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let site = bucket.attrs.website.as_ref().ok_or_else(|| {
        ApiError::new(
            S3ErrorCode::NoSuchWebsiteConfiguration,
            "The specified bucket does not have a website configuration",
        )
        .with_extra("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(config::render(site)))
}

pub async fn handle_delete(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.website = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}
