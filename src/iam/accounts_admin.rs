//! The accounts' admin API (admin listener, bearer token). Additional
//! accounts are the operator's to create: each is a separate owner of
//! buckets and objects, reached through its root user's access key.
//! - `GET /admin/v1/accounts`: every account (the installation's own first);
//! - `POST /admin/v1/accounts` (`{"name": ..., "email": ...}`): a new account
//!   and its root access key (the secret is shown once, in this answer);
//! - `DELETE /admin/v1/accounts/NAME`: an account that owns no bucket, with its keys.

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;

use super::model::AccountRecord;
use super::store::MAIN_ACCOUNT;
use super::IamError;
use crate::handlers::BucketAttrs;
use crate::ops::{error, json_response};
use crate::response::Body;
use crate::server::AppState;

pub const PATH: &str = "/admin/v1/accounts";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccount {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

fn account_json(name: &str, account_id: &str, canonical_id: &str, email: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "name": name, "account_id": account_id, "canonical_id": canonical_id, "email": email })
}

fn record_json(a: &AccountRecord) -> serde_json::Value {
    account_json(&a.name, &a.account_id, &a.canonical_id, a.email.as_deref())
}

fn iam_error(e: IamError) -> Response<Body> {
    error(e.status, e.code, &e.message)
}

/// Serves the account endpoints (`path` starts with [`PATH`]).
pub async fn serve(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    let identities = &state.identities;
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.strip_prefix(PATH)) {
        (Method::GET, Some("")) => {
            let mut all =
                vec![account_json(MAIN_ACCOUNT, identities.account_id(), identities.account_canonical_id(), None)];
            all.extend(identities.list_accounts().iter().map(record_json));
            json_response(StatusCode::OK, &serde_json::Value::Array(all))
        }
        (Method::POST, Some("")) => {
            let body = match http_body_util::Limited::new(req.into_body(), 4096).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return error(StatusCode::BAD_REQUEST, "BadBody", "the body could not be read (at most 4 KiB)")
                }
            };
            let create: CreateAccount = match serde_json::from_slice(&body) {
                Ok(c) => c,
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "MalformedJSON",
                        &format!("expected {{\"name\": string, \"email\": string}}: {e}"),
                    )
                }
            };
            match identities.create_account(&create.name, create.email).await {
                Ok((account, key, secret)) => {
                    let mut value = record_json(&account);
                    value["access_key_id"] = key.access_key_id.into();
                    value["secret_access_key"] = secret.as_str().into();
                    json_response(StatusCode::CREATED, &value)
                }
                Err(e) => iam_error(e),
            }
        }
        (Method::DELETE, Some(rest)) if rest.starts_with('/') && rest.len() > 1 => {
            let name = percent_encoding::percent_decode_str(&rest[1..]).decode_utf8_lossy().into_owned();
            let Some(account) = identities.get_account(&name) else {
                return error(StatusCode::NOT_FOUND, "NoSuchEntity", &format!("no account named {name}"));
            };
            match owns_buckets(state, &account.canonical_id).await {
                Ok(false) => {}
                Ok(true) => {
                    return error(
                        StatusCode::CONFLICT,
                        "DeleteConflict",
                        &format!("account {name} still owns buckets: delete them first"),
                    )
                }
                Err(msg) => return error(StatusCode::SERVICE_UNAVAILABLE, "StoreFailed", &msg),
            }
            match identities.delete_account(&name).await {
                Ok(()) => json_response(StatusCode::OK, &record_json(&account)),
                Err(e) => iam_error(e),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "NotFound", "no such admin endpoint"),
    }
}

async fn owns_buckets(state: &AppState, canonical_id: &str) -> Result<bool, String> {
    let buckets = state.engine.list_buckets().await.map_err(|e| e.to_string())?;
    for b in buckets {
        let attrs = BucketAttrs::decode(&b.attrs).map_err(|e| e.message)?;
        if attrs.owner_id == canonical_id {
            return Ok(true);
        }
    }
    Ok(false)
}
