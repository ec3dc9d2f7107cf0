//! IAM errors: AWS's IAM error codes with their HTTP statuses, and the
//! `<ErrorResponse>` document (written by `api`).

use http::StatusCode;

use crate::error::{ApiError, S3ErrorCode};

/// An IAM error on its way to the client.
#[derive(Debug)]
pub struct IamError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// The cause of an internal error; logged, never sent to the client.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::fmt::Display for IamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl IamError {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        IamError { code, status, message: message.into(), source: None }
    }

    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new("NoSuchEntity", StatusCode::NOT_FOUND, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new("EntityAlreadyExists", StatusCode::CONFLICT, message)
    }
    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new("DeleteConflict", StatusCode::CONFLICT, message)
    }
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("LimitExceeded", StatusCode::CONFLICT, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", StatusCode::BAD_REQUEST, message)
    }
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new("MalformedPolicyDocument", StatusCode::BAD_REQUEST, message)
    }
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            StatusCode::BAD_REQUEST,
            format!("Could not find operation {action} for version 2010-05-08"),
        )
    }
    pub fn missing_action() -> Self {
        Self::new("MissingAction", StatusCode::BAD_REQUEST, "Missing Action")
    }
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", StatusCode::FORBIDDEN, message)
    }
    pub fn missing_authentication_token() -> Self {
        Self::new("MissingAuthenticationToken", StatusCode::FORBIDDEN, "Request is missing Authentication Token")
    }
    pub fn invalid_client_token() -> Self {
        Self::new(
            "InvalidClientTokenId",
            StatusCode::FORBIDDEN,
            "The security token included in the request is invalid.",
        )
    }

    /// An internal error: the client sees a generic message, the cause is logged.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        IamError {
            code: "ServiceFailure",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "The request processing has failed because of an unknown error, exception or failure.".into(),
            source: Some(source.into()),
        }
    }

    /// `Sender` for client errors, `Receiver` for server errors.
    pub fn fault(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// An authentication failure, in IAM's words where they differ from S3's.
    pub fn from_auth(err: ApiError) -> Self {
        match err.code {
            S3ErrorCode::InvalidAccessKeyId => Self::invalid_client_token(),
            S3ErrorCode::InternalError => IamError::internal(err.to_string()),
            code => Self::new(code.as_str(), code.status(), err.message),
        }
    }
}
