//! The one place where a failure becomes an S3 error response.
//!
//! Every handler returns `Result<_, ApiError>`. An `ApiError` carries an AWS
//! error code (whose HTTP status comes from one exhaustive table), a message
//! for the client, the resource it concerns, optional extra XML fields (for
//! example `StringToSign` on a signature mismatch) and, for internal errors,
//! the source that is logged once where the response is made.

use std::fmt;

use storage_engine::EngineError;

/// AWS S3 error codes that Coffer answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidStorageClass,
    KeyTooLongError,
    MalformedXML,
    MalformedTrailerError,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotImplemented,
    NotModified,
    PreconditionFailed,
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    RequestTimeout,
    ServiceUnavailable,
    InsufficientStorage,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
    InvalidEncryptionAlgorithmError,
    UnexpectedContent,
    InvalidLocationConstraint,
    InvalidPartNumber,
    AccessControlListNotSupported,
    InvalidBucketAclWithObjectOwnership,
    MalformedACLError,
    MalformedPolicy,
    NoSuchBucketPolicy,
    NoSuchPublicAccessBlockConfiguration,
    OwnershipControlsNotFoundError,
    UnresolvableGrantByEmailAddress,
    InvalidTag,
    NoSuchTagSet,
    BadRequest,
    KmsNotFound,
    KmsDisabled,
    NoSuchVersion,
    InvalidBucketState,
    NoSuchLifecycleConfiguration,
    NoSuchWebsiteConfiguration,
    NoSuchCORSConfiguration,
    AccessForbidden,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
    InvalidPolicyDocument,
    ObjectLockConfigurationNotFoundError,
    NoSuchObjectLockConfiguration,
    ServerSideEncryptionConfigurationNotFoundError,
}

impl S3ErrorCode {
    /// The HTTP status AWS answers each code with. Exhaustive on purpose.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        use S3ErrorCode::*;
        match self {
            AccessDenied => S::FORBIDDEN,
            AuthorizationHeaderMalformed => S::BAD_REQUEST,
            AuthorizationQueryParametersError => S::BAD_REQUEST,
            BadDigest => S::BAD_REQUEST,
            BucketAlreadyExists => S::CONFLICT,
            BucketAlreadyOwnedByYou => S::CONFLICT,
            BucketNotEmpty => S::CONFLICT,
            EntityTooLarge => S::BAD_REQUEST,
            EntityTooSmall => S::BAD_REQUEST,
            ExpiredToken => S::BAD_REQUEST,
            IncompleteBody => S::BAD_REQUEST,
            InternalError => S::INTERNAL_SERVER_ERROR,
            InvalidAccessKeyId => S::FORBIDDEN,
            InvalidArgument => S::BAD_REQUEST,
            InvalidBucketName => S::BAD_REQUEST,
            InvalidDigest => S::BAD_REQUEST,
            InvalidPart => S::BAD_REQUEST,
            InvalidPartOrder => S::BAD_REQUEST,
            InvalidRange => S::RANGE_NOT_SATISFIABLE,
            InvalidRequest => S::BAD_REQUEST,
            InvalidStorageClass => S::BAD_REQUEST,
            KeyTooLongError => S::BAD_REQUEST,
            MalformedXML => S::BAD_REQUEST,
            MalformedTrailerError => S::BAD_REQUEST,
            MetadataTooLarge => S::BAD_REQUEST,
            MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            MissingContentLength => S::LENGTH_REQUIRED,
            MissingSecurityHeader => S::BAD_REQUEST,
            NoSuchBucket => S::NOT_FOUND,
            NoSuchKey => S::NOT_FOUND,
            NoSuchUpload => S::NOT_FOUND,
            NotImplemented => S::NOT_IMPLEMENTED,
            NotModified => S::NOT_MODIFIED,
            PreconditionFailed => S::PRECONDITION_FAILED,
            RequestHeaderSectionTooLarge => S::BAD_REQUEST,
            RequestTimeTooSkewed => S::FORBIDDEN,
            RequestTimeout => S::BAD_REQUEST,
            ServiceUnavailable => S::SERVICE_UNAVAILABLE,
            InsufficientStorage => S::INSUFFICIENT_STORAGE,
            SignatureDoesNotMatch => S::FORBIDDEN,
            SlowDown => S::SERVICE_UNAVAILABLE,
            XAmzContentSHA256Mismatch => S::BAD_REQUEST,
            InvalidEncryptionAlgorithmError => S::BAD_REQUEST,
            UnexpectedContent => S::BAD_REQUEST,
            InvalidLocationConstraint => S::BAD_REQUEST,
            InvalidPartNumber => S::RANGE_NOT_SATISFIABLE,
            AccessControlListNotSupported => S::BAD_REQUEST,
            InvalidBucketAclWithObjectOwnership => S::BAD_REQUEST,
            MalformedACLError => S::BAD_REQUEST,
            MalformedPolicy => S::BAD_REQUEST,
            NoSuchBucketPolicy => S::NOT_FOUND,
            NoSuchPublicAccessBlockConfiguration => S::NOT_FOUND,
            OwnershipControlsNotFoundError => S::NOT_FOUND,
            UnresolvableGrantByEmailAddress => S::BAD_REQUEST,
            InvalidTag => S::BAD_REQUEST,
            NoSuchTagSet => S::NOT_FOUND,
            BadRequest => S::BAD_REQUEST,
            KmsNotFound => S::BAD_REQUEST,
            NoSuchVersion => S::NOT_FOUND,
            InvalidBucketState => S::CONFLICT,
            NoSuchLifecycleConfiguration => S::NOT_FOUND,
            NoSuchWebsiteConfiguration => S::NOT_FOUND,
            NoSuchCORSConfiguration => S::NOT_FOUND,
            AccessForbidden => S::FORBIDDEN,
            MalformedPOSTRequest => S::BAD_REQUEST,
            MaxPostPreDataLengthExceeded => S::BAD_REQUEST,
            InvalidPolicyDocument => S::BAD_REQUEST,
            ObjectLockConfigurationNotFoundError => S::NOT_FOUND,
            NoSuchObjectLockConfiguration => S::NOT_FOUND,
            KmsDisabled => S::BAD_REQUEST,
            ServerSideEncryptionConfigurationNotFoundError => S::NOT_FOUND,
        }
    }

    /// The code as it appears in `<Code>`.
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "AccessDenied",
            AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            BadDigest => "BadDigest",
            BucketAlreadyExists => "BucketAlreadyExists",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            BucketNotEmpty => "BucketNotEmpty",
            EntityTooLarge => "EntityTooLarge",
            EntityTooSmall => "EntityTooSmall",
            ExpiredToken => "ExpiredToken",
            IncompleteBody => "IncompleteBody",
            InternalError => "InternalError",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            InvalidArgument => "InvalidArgument",
            InvalidBucketName => "InvalidBucketName",
            InvalidDigest => "InvalidDigest",
            InvalidPart => "InvalidPart",
            InvalidPartOrder => "InvalidPartOrder",
            InvalidRange => "InvalidRange",
            InvalidRequest => "InvalidRequest",
            InvalidStorageClass => "InvalidStorageClass",
            KeyTooLongError => "KeyTooLongError",
            MalformedXML => "MalformedXML",
            MalformedTrailerError => "MalformedTrailerError",
            MetadataTooLarge => "MetadataTooLarge",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            MissingSecurityHeader => "MissingSecurityHeader",
            NoSuchBucket => "NoSuchBucket",
            NoSuchKey => "NoSuchKey",
            NoSuchUpload => "NoSuchUpload",
            NotImplemented => "NotImplemented",
            NotModified => "NotModified",
            PreconditionFailed => "PreconditionFailed",
            RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            RequestTimeTooSkewed => "RequestTimeTooSkewed",
            RequestTimeout => "RequestTimeout",
            ServiceUnavailable => "ServiceUnavailable",
            InsufficientStorage => "InsufficientStorage",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            SlowDown => "SlowDown",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            InvalidEncryptionAlgorithmError => "InvalidEncryptionAlgorithmError",
            UnexpectedContent => "UnexpectedContent",
            InvalidLocationConstraint => "InvalidLocationConstraint",
            InvalidPartNumber => "InvalidPartNumber",
            AccessControlListNotSupported => "AccessControlListNotSupported",
            InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            MalformedACLError => "MalformedACLError",
            MalformedPolicy => "MalformedPolicy",
            NoSuchBucketPolicy => "NoSuchBucketPolicy",
            NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            InvalidTag => "InvalidTag",
            NoSuchTagSet => "NoSuchTagSet",
            BadRequest => "BadRequest",
            KmsNotFound => "KMS.NotFoundException",
            NoSuchVersion => "NoSuchVersion",
            InvalidBucketState => "InvalidBucketState",
            NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            NoSuchWebsiteConfiguration => "NoSuchWebsiteConfiguration",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            AccessForbidden => "AccessForbidden",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            InvalidPolicyDocument => "InvalidPolicyDocument",
            ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            KmsDisabled => "KMS.DisabledException",
            ServerSideEncryptionConfigurationNotFoundError => "ServerSideEncryptionConfigurationNotFoundError",
        }
    }
}

/// An S3 error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: S3ErrorCode,
    pub message: String,
    /// The bucket/key path the error concerns (`<Resource>`), filled in by the
    /// response writer when the handler did not set it.
    pub resource: Option<String>,
    /// Extra `<Name>value</Name>` fields inside `<Error>` (AWS adds e.g.
    /// `StringToSign`, `CanonicalRequest`, `BucketName`, `Key`).
    pub extra: Vec<(&'static str, String)>,
    /// The cause of an internal error; logged, never sent to the client.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Response headers of the error (`x-amz-delete-marker` on a read that found a delete marker).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), resource: None, extra: Vec::new(), source: None, headers: Vec::new() }
    }

    /// An internal error: the client sees a generic message, the cause is logged.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError {
            code: S3ErrorCode::InternalError,
            message: "We encountered an internal error. Please try again.".into(),
            resource: None,
            extra: Vec::new(),
            source: Some(source.into()),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// The cause, logged with the request (the client sees only code and message).
    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn status(&self) -> http::StatusCode {
        self.code.status()
    }

    pub fn access_denied() -> Self {
        Self::new(S3ErrorCode::AccessDenied, "Access Denied")
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::InvalidArgument, message)
    }
    pub fn invalid_policy_document(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::InvalidPolicyDocument, message)
    }
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::InvalidRequest, message)
    }
    pub fn malformed_xml() -> Self {
        Self::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }
    pub fn not_implemented(what: &str) -> Self {
        Self::new(S3ErrorCode::NotImplemented, format!("{what} is not implemented by Coffer"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        use S3ErrorCode as C;
        match err {
            EngineError::NoSuchBucket { bucket } => {
                ApiError::new(C::NoSuchBucket, "The specified bucket does not exist").with_extra("BucketName", bucket)
            }
            EngineError::NoSuchKey { key, .. } => {
                ApiError::new(C::NoSuchKey, "The specified key does not exist.").with_extra("Key", key)
            }
            EngineError::NoSuchVersion { key, version_id, .. } => {
                ApiError::new(C::NoSuchVersion, "The specified version does not exist.")
                    .with_extra("Key", key)
                    .with_extra("VersionId", version_id)
            }
            EngineError::NoSuchUpload { upload_id } => ApiError::new(
                C::NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            )
            .with_extra("UploadId", upload_id),
            EngineError::BucketAlreadyExists { bucket } => ApiError::new(
                C::BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
            .with_extra("BucketName", bucket),
            EngineError::BucketNotEmpty { bucket } => {
                ApiError::new(C::BucketNotEmpty, "The bucket you tried to delete is not empty")
                    .with_extra("BucketName", bucket)
            }
            EngineError::PreconditionFailed => ApiError::new(
                C::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ),
            EngineError::InvalidPart { .. } => ApiError::new(
                C::InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
            ),
            EngineError::InvalidPartOrder => ApiError::new(
                C::InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ),
            EngineError::EntityTooSmall { .. } => ApiError::new(
                C::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            ),
            e @ EngineError::InsufficientZones { .. } => ApiError::new(
                C::ServiceUnavailable,
                "Not enough storage zones are available to serve the request; please retry later.",
            )
            .with_source(e),
            e @ (EngineError::Corrupt { .. } | EngineError::Io { .. } | EngineError::Metadata { .. }) => {
                ApiError::internal(e)
            }
            e @ EngineError::WriteBuffersBusy { .. } => {
                ApiError::new(C::SlowDown, "Too many uploads are in progress; please reduce your request rate.")
                    .with_source(e)
            }
            e @ EngineError::ReadBuffersBusy { .. } => {
                ApiError::new(C::SlowDown, "Too many downloads are in progress; please reduce your request rate.")
                    .with_source(e)
            }
            e @ EngineError::NoSpace { .. } => {
                ApiError::new(C::InsufficientStorage, "The server has no space left to store the object.")
                    .with_source(e)
            }
        }
    }
}
