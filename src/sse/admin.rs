//! The keyring's admin API (admin listener, bearer token):
//! - `GET /admin/v1/kms/keys`, `POST /admin/v1/kms/keys` (`{"alias": ..., "description": ...}`),
//!   `POST /admin/v1/kms/keys/{id|alias/NAME|ARN}/enable|disable`;
//! - `GET /admin/v1/sse/master-key`, `POST /admin/v1/sse/master-key/rotate`
//!   (switches to a new version, re-wraps every data key, answers with the report).

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;

use super::keyring::{KeyError, KmsError};
use crate::ops::{error, json_response};
use crate::response::Body;
use crate::server::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    description: String,
}

fn key_error(e: KeyError) -> Response<Body> {
    match e {
        KeyError::Kms(KmsError::NotFound(k)) => {
            error(StatusCode::NOT_FOUND, "NotFoundException", &format!("no KMS key {k}"))
        }
        KeyError::Kms(KmsError::Disabled(k)) => {
            error(StatusCode::CONFLICT, "DisabledException", &format!("{k} is disabled"))
        }
        KeyError::Io(m) => error(StatusCode::BAD_REQUEST, "KeyringError", &m),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, "KeyringError", &format!("{other:?}")),
    }
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    json_response(status, &serde_json::to_value(value).unwrap_or_default())
}

/// Serves the keyring endpoints; anything else is 404.
pub async fn serve(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let keyring = &state.sse.keyring;
    match (method, path.as_str()) {
        (Method::GET, "/admin/v1/kms/keys") => json(StatusCode::OK, &keyring.list_kms()),
        (Method::POST, "/admin/v1/kms/keys") => {
            let body = match http_body_util::Limited::new(req.into_body(), 16 * 1024).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return error(StatusCode::BAD_REQUEST, "BadBody", "the body could not be read (at most 16 KiB)")
                }
            };
            let create: CreateKey = if body.is_empty() {
                CreateKey::default()
            } else {
                match serde_json::from_slice(&body) {
                    Ok(c) => c,
                    Err(e) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "MalformedJSON",
                            &format!("expected {{\"alias\": string, \"description\": string}}: {e}"),
                        )
                    }
                }
            };
            match keyring.create_kms(create.alias, create.description) {
                Ok(k) => json(StatusCode::CREATED, &k),
                Err(e) => key_error(e),
            }
        }
        (Method::GET, "/admin/v1/sse/master-key") => json(StatusCode::OK, &keyring.master_info()),
        (Method::POST, "/admin/v1/sse/master-key/rotate") => match super::rotate::rotate_master(state).await {
            Ok(report) => json(StatusCode::OK, &report),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.code.as_str(), &e.message),
        },
        (Method::POST, p) if p.starts_with("/admin/v1/kms/keys/") => {
            let rest = &p["/admin/v1/kms/keys/".len()..];
            let enabled = match rest.rsplit_once('/') {
                Some((spec, "enable")) => Some((spec, true)),
                Some((spec, "disable")) => Some((spec, false)),
                _ => None,
            };
            match enabled {
                Some((spec, on)) => {
                    let spec = percent_encoding::percent_decode_str(spec).decode_utf8_lossy().into_owned();
                    match keyring.set_kms_enabled(&spec, on) {
                        Ok(k) => json(StatusCode::OK, &k),
                        Err(e) => key_error(e),
                    }
                }
                None => error(StatusCode::NOT_FOUND, "NotFound", "no such admin endpoint"),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "NotFound", "no such admin endpoint"),
    }
}
