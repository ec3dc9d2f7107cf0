//! CORS: a bucket's rules (Get/Put/DeleteBucketCors), preflight `OPTIONS`
//! requests answered from them without authentication, and the
//! `Access-Control-*` headers added to actual responses (errors included)
//! whose `Origin` a rule allows.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::attrs::BucketAttrs;
use crate::handlers::attrs_update::update_bucket_attrs;
use crate::handlers::RequestContext;
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::{self, XmlWriter};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
}

/// `pattern` with at most one `*` matching any run of characters (case-insensitive when `fold`).
fn wildcard(pattern: &str, value: &str, fold: bool) -> bool {
    let (p, v) =
        if fold { (pattern.to_ascii_lowercase(), value.to_ascii_lowercase()) } else { (pattern.into(), value.into()) };
    match p.split_once('*') {
        None => p == v,
        Some((pre, post)) => v.len() >= pre.len() + post.len() && v.starts_with(pre) && v.ends_with(post),
    }
}

impl Rule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin, false))
            && self.methods.iter().any(|m| m == method)
            && headers.iter().all(|h| self.headers.iter().any(|a| wildcard(a, h, true)))
    }

    /// The Access-Control-Allow-Origin value: `*` for a rule open to every origin.
    fn allow_origin<'a>(&self, origin: &'a str) -> &'a str {
        if self.origins.iter().any(|o| o == "*") {
            "*"
        } else {
            origin
        }
    }
}

#[derive(Debug, Deserialize)]
struct CorsXml {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Debug, Deserialize)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age: Option<u32>,
}

impl xml::RequestDocument for CorsXml {
    const ROOT: &'static str = "CORSConfiguration";
}

/// Parses and validates a PutBucketCors body.
pub fn parse(body: &[u8]) -> Result<Vec<Rule>, ApiError> {
    let doc: CorsXml = xml::parse(body)?;
    if doc.rules.is_empty() || doc.rules.len() > 100 {
        return Err(ApiError::malformed_xml());
    }
    let mut rules = Vec::new();
    for r in doc.rules {
        if r.origins.is_empty() || r.methods.is_empty() {
            return Err(ApiError::malformed_xml());
        }
        for m in &r.methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                return Err(ApiError::invalid_request(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
        }
        for o in r.origins.iter().chain(&r.headers) {
            if o.matches('*').count() > 1 {
                return Err(ApiError::invalid_request(format!(
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                )));
            }
        }
        rules.push(Rule {
            id: r.id,
            origins: r.origins,
            methods: r.methods,
            headers: r.headers,
            expose: r.expose,
            max_age: r.max_age,
        });
    }
    Ok(rules)
}

pub fn render(rules: &[Rule]) -> String {
    let mut w = XmlWriter::new("CORSConfiguration");
    for r in rules {
        w.open("CORSRule");
        w.opt_text("ID", r.id.as_deref());
        for h in &r.headers {
            w.text("AllowedHeader", h);
        }
        for m in &r.methods {
            w.text("AllowedMethod", m);
        }
        for o in &r.origins {
            w.text("AllowedOrigin", o);
        }
        for e in &r.expose {
            w.text("ExposeHeader", e);
        }
        if let Some(a) = r.max_age {
            w.text("MaxAgeSeconds", &a.to_string());
        }
        w.close();
    }
    w.finish()
}

pub async fn handle_put(ctx: &RequestContext<'_>, body: RequestBody) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let rules = parse(&bytes)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.cors = Some(rules.clone());
        Ok(())
    })
    .await?;
    Ok(Response::new(response::empty()))
}

pub async fn handle_get(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let rules = bucket.attrs.cors.as_ref().ok_or_else(|| {
        ApiError::new(S3ErrorCode::NoSuchCORSConfiguration, "The CORS configuration does not exist")
            .with_extra("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(render(rules)))
}

pub async fn handle_delete(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.cors = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

fn forbidden() -> ApiError {
    ApiError::new(
        S3ErrorCode::AccessForbidden,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    )
}

/// Answers a preflight `OPTIONS` for a bucket (no authentication, as AWS).
pub fn preflight(headers: &HeaderMap, bucket: Option<&BucketAttrs>) -> Result<Response<Body>, ApiError> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let origin = h("origin").ok_or_else(|| {
        ApiError::new(S3ErrorCode::BadRequest, "Insufficient information. Origin request header needed.")
    })?;
    let method = h("access-control-request-method")
        .filter(|m| Method::from_bytes(m.as_bytes()).is_ok())
        .ok_or_else(|| ApiError::new(S3ErrorCode::BadRequest, "Invalid Access-Control-Request-Method: null"))?;
    let requested: Vec<String> = h("access-control-request-headers")
        .map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let rules = bucket.and_then(|b| b.cors.as_ref()).ok_or_else(forbidden)?;
    let rule = rules.iter().find(|r| r.allows(origin, method, &requested)).ok_or_else(forbidden)?;
    let mut r = Response::new(response::empty());
    *r.status_mut() = StatusCode::OK;
    let out = r.headers_mut();
    let mut put = |n: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            out.insert(n, v);
        }
    };
    let allow_origin = rule.allow_origin(origin);
    put("access-control-allow-origin", allow_origin);
    put("access-control-allow-methods", &rule.methods.join(", "));
    if !requested.is_empty() {
        put("access-control-allow-headers", &requested.join(", "));
    }
    if !rule.expose.is_empty() {
        put("access-control-expose-headers", &rule.expose.join(", "));
    }
    if let Some(a) = rule.max_age {
        put("access-control-max-age", &a.to_string());
    }
    if allow_origin != "*" {
        put("access-control-allow-credentials", "true");
    }
    put("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    Ok(r)
}

/// Adds the CORS headers to an actual response when a rule allows the request's origin and method.
pub fn decorate(rules: Option<&[Rule]>, origin: Option<&str>, method: &Method, out: &mut HeaderMap) {
    let (Some(rules), Some(origin)) = (rules, origin) else { return };
    let method = if method == Method::HEAD { "HEAD" } else { method.as_str() };
    let Some(rule) = rules.iter().find(|r| r.allows(origin, method, &[])) else { return };
    let allow_origin = rule.allow_origin(origin);
    if let Ok(v) = HeaderValue::from_str(allow_origin) {
        out.insert("access-control-allow-origin", v);
    }
    if allow_origin != "*" {
        out.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    if let Ok(v) = HeaderValue::from_str(&rule.methods.join(", ")) {
        out.insert("access-control-allow-methods", v);
    }
    if !rule.expose.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&rule.expose.join(", ")) {
            out.insert("access-control-expose-headers", v);
        }
    }
    out.append("vary", HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_wildcards() {
        let body = "<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>";
        let rules = parse(body.as_bytes()).expect("valid");
        assert!(rules[0].allows("https://app.example.com", "PUT", &["x-amz-date".into(), "content-type".into()]));
        assert!(!rules[0].allows("https://app.example.org", "PUT", &[]));
        assert!(!rules[0].allows("https://app.example.com", "DELETE", &[]));
        assert!(!rules[0].allows("https://app.example.com", "PUT", &["authorization".into()]));
        assert_eq!(parse(render(&rules).as_bytes()).expect("round trip"), rules);
        let bad = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>";
        assert_eq!(parse(bad.as_bytes()).err().map(|e| e.code), Some(S3ErrorCode::InvalidRequest));
    }
}
