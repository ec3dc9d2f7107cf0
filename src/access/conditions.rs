//! The policy condition keys of one request, gathered once before any check.
//!
//! Every key the server supports is filled here from the request, the caller
//! and the client address; absent keys stay absent (which matters for `Null`,
//! `...IfExists` and `ForAllValues`). The list is documented in
//! `docs/security.md`.

use std::time::{SystemTime, UNIX_EPOCH};

use policy::{ConditionValues, Principal};

use super::client::ClientInfo;

/// Request headers whose value is also an `s3:` condition key of the same name.
const HEADER_KEYS: &[&str] = &[
    "x-amz-acl",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// Query parameters that are condition keys (on list operations, and the
/// version a request addresses).
const QUERY_KEYS: &[(&str, &str)] = &[
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:VersionId"),
];

/// How the request was authenticated, as `s3:authType` names it.
/// `s3:authType` and `s3:signatureversion` of a signed request (only signed
/// requests reach here as non-anonymous; anonymous ones get neither).
fn auth_type(parts: &http::request::Parts, query: &[(String, String)]) -> Option<(&'static str, &'static str)> {
    let has = |name: &str| query.iter().any(|(n, _)| n == name);
    if has("X-Amz-Algorithm") {
        Some(("REST-QUERY-STRING", "AWS4-HMAC-SHA256"))
    } else if let Some(value) = parts.headers.get(http::header::AUTHORIZATION) {
        let v2 = value.as_bytes().starts_with(b"AWS ");
        Some(("REST-HEADER", if v2 { "AWS" } else { "AWS4-HMAC-SHA256" }))
    } else if has("AWSAccessKeyId") && has("Signature") {
        Some(("REST-QUERY-STRING", "AWS"))
    } else {
        None
    }
}

/// The condition keys that depend only on the caller and the time.
pub fn principal_conditions(principal: &Principal, now: SystemTime) -> ConditionValues {
    let mut c = ConditionValues::new();
    add_principal_and_time(&mut c, principal, now);
    c
}

/// Builds the condition values of a request.
pub fn request_conditions(
    parts: &http::request::Parts,
    query: &[(String, String)],
    principal: &Principal,
    client: ClientInfo,
    now: SystemTime,
) -> ConditionValues {
    let mut c = ConditionValues::new();
    c.insert("aws:SourceIp", client.addr.to_string());
    c.insert("aws:SecureTransport", if client.secure { "true" } else { "false" }.to_string());
    add_principal_and_time(&mut c, principal, now);
    for (header, key) in [("referer", "aws:Referer"), ("user-agent", "aws:UserAgent")] {
        if let Some(v) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
            c.insert(key, v.to_string());
        }
    }
    add_request_keys(&mut c, parts, query);
    c
}

fn add_principal_and_time(c: &mut ConditionValues, principal: &Principal, now: SystemTime) {
    let epoch = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    c.insert("aws:EpochTime", epoch.to_string());
    if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(epoch as i64) {
        if let Ok(text) = t.format(&time::format_description::well_known::Rfc3339) {
            c.insert("aws:CurrentTime", text);
        }
    }
    match principal {
        Principal::Anonymous => {
            c.insert("aws:PrincipalType", "Anonymous".to_string());
            c.insert("aws:userid", "anonymous".to_string());
        }
        Principal::Root { account_id, .. } => {
            c.insert("aws:PrincipalType", "Account".to_string());
            c.insert("aws:userid", account_id.clone());
            c.insert("aws:PrincipalAccount", account_id.clone());
            c.insert("aws:PrincipalArn", format!("arn:aws:iam::{account_id}:root"));
        }
        Principal::User { account_id, user_name, user_id, arn, .. } => {
            c.insert("aws:PrincipalType", "User".to_string());
            c.insert("aws:username", user_name.clone());
            c.insert("aws:userid", user_id.clone());
            c.insert("aws:PrincipalAccount", account_id.clone());
            c.insert("aws:PrincipalArn", arn.clone());
        }
    }
}

fn add_request_keys(c: &mut ConditionValues, parts: &http::request::Parts, query: &[(String, String)]) {
    if let Some((kind, version)) = auth_type(parts, query) {
        c.insert("s3:authType", kind.to_string());
        c.insert("s3:signatureversion", version.to_string());
    }
    for name in HEADER_KEYS {
        if let Some(v) = parts.headers.get(*name).and_then(|v| v.to_str().ok()) {
            c.insert(&format!("s3:{name}"), v.trim().to_string());
        }
    }
    for (param, key) in QUERY_KEYS {
        if let Some((_, v)) = query.iter().find(|(n, _)| n == param) {
            c.insert(key, v.clone());
        }
    }
    if let Some(tagging) = parts.headers.get("x-amz-tagging").and_then(|v| v.to_str().ok()) {
        let tags = crate::router::parse_query(Some(tagging));
        for (k, v) in &tags {
            c.insert(&format!("s3:RequestObjectTag/{k}"), v.clone());
        }
        let keys: Vec<String> = tags.into_iter().map(|(k, _)| k).collect();
        if !keys.is_empty() {
            c.insert_many("s3:RequestObjectTagKeys", keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn keys_from_request_and_principal() {
        let p = parts(
            "/b?list-type=2&prefix=home%2Falice%2F&delimiter=%2F&max-keys=10",
            &[
                ("authorization", "AWS4-HMAC-SHA256 ..."),
                ("referer", "https://example.com/"),
                ("x-amz-acl", "public-read"),
                ("x-amz-tagging", "team=blue&env=prod"),
            ],
        );
        let query = crate::router::parse_query(p.uri.query());
        let user = Principal::User {
            account_id: "123456789012".into(),
            canonical_id: "c".repeat(64),
            user_name: "alice".into(),
            user_id: "AIDAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
        };
        let client = ClientInfo { addr: "192.0.2.1".parse().expect("ip"), secure: true };
        let c = request_conditions(&p, &query, &user, client, UNIX_EPOCH + std::time::Duration::from_secs(86_400));
        let one = |k: &str| c.get(k).and_then(|v| v.first()).cloned();
        assert_eq!(one("aws:SourceIp").as_deref(), Some("192.0.2.1"));
        assert_eq!(one("aws:securetransport").as_deref(), Some("true"));
        assert_eq!(one("aws:EpochTime").as_deref(), Some("86400"));
        assert_eq!(one("aws:CurrentTime").as_deref(), Some("1970-01-02T00:00:00Z"));
        assert_eq!(one("aws:username").as_deref(), Some("alice"));
        assert_eq!(one("aws:PrincipalType").as_deref(), Some("User"));
        assert_eq!(one("s3:prefix").as_deref(), Some("home/alice/"));
        assert_eq!(one("s3:delimiter").as_deref(), Some("/"));
        assert_eq!(one("s3:max-keys").as_deref(), Some("10"));
        assert_eq!(one("s3:x-amz-acl").as_deref(), Some("public-read"));
        assert_eq!(one("s3:authType").as_deref(), Some("REST-HEADER"));
        assert_eq!(one("s3:RequestObjectTag/team").as_deref(), Some("blue"));
        assert_eq!(c.get("s3:RequestObjectTagKeys").map(|v| v.len()), Some(2));
        assert!(c.get("aws:UserAgent").is_none());
    }

    #[test]
    fn anonymous_has_no_auth_keys() {
        let p = parts("/b/k", &[]);
        let client = ClientInfo { addr: "127.0.0.1".parse().expect("ip"), secure: false };
        let c = request_conditions(&p, &[], &Principal::Anonymous, client, SystemTime::now());
        assert!(c.get("s3:authType").is_none());
        assert!(c.get("aws:username").is_none());
        assert_eq!(c.get("aws:PrincipalType").and_then(|v| v.first()).map(String::as_str), Some("Anonymous"));
    }
}
