//! Response bodies and the one place that writes `<Error>`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};

use crate::error::ApiError;
use crate::xml::XmlWriter;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

pub fn empty() -> Body {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A 200 response with an XML document.
/// An empty `204 No Content` response.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    response
}

pub fn xml(document: String) -> Response<Body> {
    let mut response = Response::new(full(document));
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// Renders an error. `resource` is the request path; HEAD responses carry no body.
pub fn error_response(err: &ApiError, resource: &str, request_id: &str, head: bool) -> Response<Body> {
    let status = err.status();
    let mut response = if head || status == StatusCode::NOT_MODIFIED {
        Response::new(empty())
    } else {
        let mut w = XmlWriter::new_plain("Error");
        w.text("Code", err.code.as_str());
        w.text("Message", &err.message);
        for (name, value) in &err.extra {
            w.text(name, value);
        }
        w.text("Resource", err.resource.as_deref().unwrap_or(resource));
        w.text("RequestId", request_id);
        let mut r = Response::new(full(w.finish()));
        r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        r
    };
    *response.status_mut() = status;
    for (name, value) in &err.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::S3ErrorCode;

    #[tokio::test]
    async fn error_document_has_code_message_resource_and_request_id() {
        let err = ApiError::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.").with_extra("Key", "a&b");
        let response = error_response(&err, "/bucket/a&b", "REQ1", false);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).expect("utf8"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><Resource>/bucket/a&amp;b</Resource><RequestId>REQ1</RequestId></Error>"
        );
    }

    #[tokio::test]
    async fn head_errors_have_no_body() {
        let err = ApiError::new(S3ErrorCode::NoSuchBucket, "x");
        let response = error_response(&err, "/b", "R", true);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert!(body.is_empty());
    }
}
