//! The IAM query protocol on the S3 listener: recognising an IAM request,
//! reading its form parameters (bounded), authenticating it for service
//! `iam`, authorizing the caller, and writing `<XxxResponse>` or
//! `<ErrorResponse>` documents. The actions themselves are in `actions`.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use http_body_util::BodyExt;

use super::actions::{self, Action};
use super::error::IamError;
use super::{IamAuthorizer, Identities, Identity};
use crate::auth::{self, Principal};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::xml::XmlWriter;

/// The namespace of every IAM response document.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// Largest accepted form body.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The region IAM clients sign for, whatever the endpoint's region.
pub const IAM_SIGNING_REGION: &str = "us-east-1";

/// What the IAM endpoint needs from the server.
pub struct IamService<'a> {
    pub identities: &'a Identities,
    pub authorizer: &'a dyn IamAuthorizer,
    /// The server's region (accepted in the credential scope besides `us-east-1`).
    pub region: &'a str,
    pub body_timeout: Duration,
}

fn credential_service(parts: &http::request::Parts) -> Option<String> {
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|rest| rest.split([',', ' ']).next().unwrap_or("").to_string());
    let from_query = || {
        auth::canonical::parse_query(parts.uri.query().unwrap_or(""))
            .into_iter()
            .find(|(n, _)| n.as_slice() == b"X-Amz-Credential")
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
    };
    let credential = from_header.or_else(from_query)?;
    auth::parse_credential(&credential).map(|c| c.service)
}

fn is_form(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// An IAM request: POST or GET to `/`, signed for service `iam`, or an
/// (unsigned) form POST to `/`.
pub fn is_iam_request(parts: &http::request::Parts) -> bool {
    if parts.uri.path() != "/" || !(parts.method == Method::POST || parts.method == Method::GET) {
        return false;
    }
    match credential_service(parts) {
        Some(service) => service == auth::IAM_SERVICE,
        None => parts.method == Method::POST && is_form(parts),
    }
}

/// Decoded request parameters (form body, then query string).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(form: &[u8], query: &str) -> Result<Params, IamError> {
        let mut out = Vec::new();
        for source in [form, query.as_bytes()] {
            for pair in source.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
                let (name, value) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &b""[..]),
                };
                out.push((decode(name)?, decode(value)?));
            }
        }
        Ok(Params(out))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A required parameter; `field` is its name in AWS's validation messages.
    pub fn required(&self, name: &str, field: &str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| {
            IamError::validation(format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }
}

fn decode(raw: &[u8]) -> Result<String, IamError> {
    let plus: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).map_err(|_| IamError::validation("Request parameters must be valid UTF-8."))
}

async fn read_form(body: RequestBody, timeout: Duration) -> Result<Bytes, IamError> {
    let limited = http_body_util::Limited::new(body, MAX_FORM_BYTES);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(IamError::new(
            "RequestTimeout",
            http::StatusCode::BAD_REQUEST,
            "The request body was not received in time.",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(IamError::validation(format!("The request body is larger than {MAX_FORM_BYTES} bytes.")))
        }
        Ok(Err(_)) => Err(IamError::validation("The request body could not be read.")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Serves one IAM request; every failure becomes an `<ErrorResponse>`.
/// Returns the action name (for the request log) and the response.
pub async fn handle(
    svc: &IamService<'_>,
    parts: &http::request::Parts,
    body: RequestBody,
    request_id: &str,
) -> (&'static str, Response<Body>) {
    let mut action_name = "IAM";
    let result = async {
        let form = read_form(body, svc.body_timeout).await?;
        let caller = authenticate(svc, parts, &form)?;
        let form_part: &[u8] = if is_form(parts) { &form } else { b"" };
        let params = Params::parse(form_part, parts.uri.query().unwrap_or(""))?;
        let name = params.get("Action").ok_or_else(IamError::missing_action)?;
        let action = Action::parse(name).ok_or_else(|| IamError::invalid_action(name))?;
        action_name = action.name();
        let resource = actions::resource_arn(svc.identities, action, &params, &caller);
        let iam_action = format!("iam:{}", action.name());
        // The IAM API manages the installation's own account; an additional
        // account has its root user only.
        let own_account = caller.account_id == svc.identities.account_id();
        if !own_account || !svc.authorizer.allowed(&caller, &iam_action, &resource) {
            return Err(IamError::access_denied(format!(
                "User: {} is not authorized to perform: {iam_action} on resource: {resource}",
                caller.arn()
            )));
        }
        let mut w = XmlWriter::with_namespace(action.response_root(), IAM_XMLNS);
        // Actions without output write nothing, and AWS sends no `<XxxResult>` for them.
        if action.has_result() {
            w.open(action.result_root());
        }
        actions::run(svc.identities, action, &params, &caller, &mut w).await?;
        if action.has_result() {
            w.close();
        }
        w.open("ResponseMetadata").text("RequestId", request_id).close();
        Ok::<_, IamError>(w.finish())
    }
    .await;
    let response = match result {
        Ok(document) => xml_response(http::StatusCode::OK, document, request_id),
        Err(err) => error_response(&err, request_id),
    };
    (action_name, response)
}

fn authenticate(svc: &IamService<'_>, parts: &http::request::Parts, form: &[u8]) -> Result<Identity, IamError> {
    let regions = [svc.region, IAM_SIGNING_REGION];
    let authenticated = auth::authenticate_iam(parts, form, svc.identities, &regions, SystemTime::now())
        .map_err(IamError::from_auth)?;
    match authenticated.principal {
        Principal::Anonymous => Err(IamError::missing_authentication_token()),
        Principal::AccessKey { access_key_id } => {
            // The key may have been disabled between the two look-ups: then it is refused too.
            svc.identities.identity_for_key(&access_key_id).ok_or_else(IamError::invalid_client_token)
        }
    }
}

fn xml_response(status: http::StatusCode, document: String, request_id: &str) -> Response<Body> {
    let mut response = Response::new(response::full(document));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

/// The one place that writes IAM's `<ErrorResponse>`; internal causes are logged here, once.
pub fn error_response(err: &IamError, request_id: &str) -> Response<Body> {
    if err.status.is_server_error() {
        tracing::error!(error = %err, "IAM request failed");
    } else {
        tracing::debug!(code = err.code, message = %err.message, "IAM request rejected");
    }
    let mut w = XmlWriter::with_namespace("ErrorResponse", IAM_XMLNS);
    w.open("Error").text("Type", err.fault()).text("Code", err.code).text("Message", &err.message).close();
    w.text("RequestId", request_id);
    xml_response(err.status, w.finish(), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn recognises_iam_requests() {
        let iam_auth =
            "AWS4-HMAC-SHA256 Credential=AKIAX/20261123/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00";
        let s3_auth =
            "AWS4-HMAC-SHA256 Credential=AKIAX/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        let form = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
        assert!(is_iam_request(&parts(Method::POST, "/", &[("authorization", iam_auth), form])));
        assert!(is_iam_request(&parts(Method::GET, "/?Action=ListUsers", &[("authorization", iam_auth)])));
        assert!(is_iam_request(&parts(Method::POST, "/", &[form])));
        assert!(!is_iam_request(&parts(Method::GET, "/", &[("authorization", s3_auth)])));
        assert!(!is_iam_request(&parts(Method::POST, "/", &[("authorization", s3_auth), form])));
        assert!(!is_iam_request(&parts(Method::POST, "/bucket", &[("authorization", iam_auth), form])));
        assert!(!is_iam_request(&parts(Method::GET, "/", &[])));
    }

    #[test]
    fn params_decode_form_and_query() {
        let p = Params::parse(b"Action=CreateUser&UserName=a%2Bb+c&Empty", "Version=2010-05-08").expect("parse");
        assert_eq!(p.get("Action"), Some("CreateUser"));
        assert_eq!(p.get("UserName"), Some("a+b c"));
        assert_eq!(p.get("Empty"), Some(""));
        assert_eq!(p.get("Version"), Some("2010-05-08"));
        assert!(p.required("Nope", "nope").is_err());
        assert!(Params::parse(b"A=%FF", "").is_err());
    }
}
