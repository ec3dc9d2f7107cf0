//! Serving buckets as static websites. A request whose Host is
//! `<bucket>.<website_domain>` (on the S3 listener) is a website request:
//! unauthenticated GET/HEAD, answered with objects the anonymous public may
//! read (the same access evaluation as any anonymous GetObject: bucket
//! policy, ACLs, Block Public Access), index documents for "directories",
//! the error document or an HTML error page, and redirects.

use std::net::SocketAddr;

use http::{HeaderValue, Method, Response, StatusCode};
use percent_encoding::percent_decode_str;

use super::config::{Redirect, Website};
use crate::auth::{PayloadMode, Principal};
use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::attrs::BucketAttrs;
use crate::handlers::list::url_encode;
use crate::handlers::RequestContext;
use crate::response::{self, Body};
use crate::router::{Endpoint, Route};
use crate::server::AppState;

fn html(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let page = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n<li>Code: {}</li>\n<li>Message: {}</li>\n<li>RequestId: {}</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        esc(code),
        esc(message),
        esc(request_id)
    );
    let mut r = Response::new(response::full(page));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn redirect_to(status: u16, location: &str) -> Response<Body> {
    let mut r = Response::new(response::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// Where a redirect rule sends a request for `key` (which matched `prefix`).
fn location(r: &Redirect, prefix: Option<&str>, key: &str, host: &str, secure: bool) -> String {
    let proto = r.protocol.as_deref().unwrap_or(if secure { "https" } else { "http" });
    let host = r.host.as_deref().unwrap_or(host);
    let new_key = match (&r.replace_key_with, &r.replace_key_prefix_with) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => format!("{p}{}", key.strip_prefix(prefix.unwrap_or("")).unwrap_or(key)),
        (None, None) => key.to_string(),
    };
    let encoded = url_encode(&new_key);
    format!("{proto}://{host}/{encoded}")
}

/// An anonymous GetObject (or HeadObject) of `key`, through the usual access evaluation.
async fn fetch(
    state: &AppState,
    parts: &http::request::Parts,
    bucket: &str,
    key: &str,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let head = parts.method == Method::HEAD;
    let endpoint = if head { Endpoint::HeadObject } else { Endpoint::GetObject };
    let route = Route { endpoint, bucket: Some(bucket.to_string()), key: Some(key.to_string()) };
    let access = crate::access::authorize(state, parts, &[], &route, &Principal::Anonymous, peer).await?;
    let ctx = RequestContext { state, parts, query: &[], route, payload: PayloadMode::Unsigned, access };
    match crate::handlers::object::handle_get_object(&ctx, head).await {
        // Without the right to list, a missing key is indistinguishable from a forbidden one.
        Err(e) if e.code == S3ErrorCode::NoSuchKey && !ctx.access.allows_bucket("s3:ListBucket") => {
            Err(ApiError::access_denied())
        }
        other => other,
    }
}

/// Serves one website request for `bucket`.
pub async fn serve(
    state: &AppState,
    parts: &http::request::Parts,
    bucket: &str,
    peer: SocketAddr,
    request_id: &str,
) -> Response<Body> {
    let site: Website = match state.engine.get_bucket(bucket).await {
        Ok(info) => match BucketAttrs::decode(&info.attrs).ok().and_then(|a| a.website) {
            Some(site) => site,
            None => {
                return html(
                    StatusCode::NOT_FOUND,
                    "NoSuchWebsiteConfiguration",
                    "The specified bucket does not have a website configuration",
                    request_id,
                )
            }
        },
        Err(_) => {
            return html(StatusCode::NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist", request_id)
        }
    };
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
    let secure = crate::access::ClientInfo::resolve(peer, &parts.headers, &state.config.trusted_proxies).secure;
    let path = percent_decode_str(parts.uri.path()).decode_utf8_lossy().into_owned();
    let key = path.trim_start_matches('/').to_string();
    if let Some(all) = &site.redirect_all {
        return redirect_to(all.http_redirect_code.unwrap_or(301), &location(all, None, &key, &host, secure));
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            request_id,
        );
    }
    let index = site.index_suffix.clone().unwrap_or_else(|| "index.html".into());
    let target = if key.is_empty() || key.ends_with('/') { format!("{key}{index}") } else { key.clone() };
    // Routing rules on the key alone apply before any lookup.
    for rule in site.rules.iter().filter(|r| r.error_code_equals.is_none()) {
        if rule.key_prefix_equals.as_deref().is_none_or(|p| key.starts_with(p)) {
            let to = location(&rule.redirect, rule.key_prefix_equals.as_deref(), &key, &host, secure);
            return redirect_to(rule.redirect.http_redirect_code.unwrap_or(301), &to);
        }
    }
    let err = match fetch(state, parts, bucket, &target, peer).await {
        Ok(r) => return r,
        Err(e) => e,
    };
    let status = err.status();
    // "dir" without its slash: if "dir/index.html" exists, send the browser to "dir/".
    if (status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN) && !key.is_empty() && !key.ends_with('/') {
        let folder_index = format!("{key}/{index}");
        if fetch(state, parts, bucket, &folder_index, peer).await.is_ok() {
            return redirect_to(302, &format!("/{}/", url_encode(&key)));
        }
    }
    for rule in site.rules.iter().filter(|r| r.error_code_equals == Some(status.as_u16())) {
        if rule.key_prefix_equals.as_deref().is_none_or(|p| key.starts_with(p)) {
            let to = location(&rule.redirect, rule.key_prefix_equals.as_deref(), &key, &host, secure);
            return redirect_to(rule.redirect.http_redirect_code.unwrap_or(301), &to);
        }
    }
    if status.is_client_error() {
        if let Some(error_key) = &site.error_key {
            if let Ok(mut page) = fetch(state, parts, bucket, error_key, peer).await {
                *page.status_mut() = status;
                return page;
            }
        }
    }
    html(status, err.code.as_str(), &err.message, request_id)
}
