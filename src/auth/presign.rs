//! SigV4 by query parameters (presigned URLs): the `X-Amz-*` parameters,
//! their validation, expiry and the not-yet-valid check.

use std::time::{Duration, SystemTime};

use super::{
    check_scope, format_iso8601, parse_amz_date, parse_credential, parse_signed_headers, SignedRequest, MAX_SKEW,
    UNSIGNED_PAYLOAD,
};
use crate::error::{ApiError, S3ErrorCode};

/// The longest validity of a presigned URL: one week.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

fn query_error(message: impl Into<String>) -> ApiError {
    ApiError::new(S3ErrorCode::AuthorizationQueryParametersError, message)
}

fn param<'a>(params: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    params.iter().find(|(n, _)| n.as_slice() == name.as_bytes()).map(|(_, v)| v.as_slice())
}

/// Validates the presigned-URL parameters (decoded query pairs) and returns
/// what the signature check needs. The payload hash is taken from the
/// request headers later; see [`with_payload_hash`].
pub(super) fn parse(
    params: &[(Vec<u8>, Vec<u8>)],
    region: &str,
    services: &[&str],
    now: SystemTime,
) -> Result<PresignedParams, ApiError> {
    let get = |name: &str| param(params, name).map(|v| String::from_utf8_lossy(v).into_owned());
    let (Some(algorithm), Some(credential), Some(signature), Some(amz_date), Some(signed_headers), Some(expires)) = (
        get("X-Amz-Algorithm"),
        get("X-Amz-Credential"),
        get("X-Amz-Signature"),
        get("X-Amz-Date"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Expires"),
    ) else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    if algorithm != super::canonical::ALGORITHM {
        if algorithm == super::SIGV4A_ALGORITHM {
            return Err(ApiError::new(
                S3ErrorCode::NotImplemented,
                "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not implemented by Coffer",
            ));
        }
        return Err(query_error("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let credential = parse_credential(&credential).ok_or_else(|| {
        query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if let Err(detail) = check_scope(&credential, region, services) {
        let err = query_error(format!("Error parsing the X-Amz-Credential parameter; {detail}"));
        return Err(if credential.region != region { err.with_extra("Region", region.to_owned()) } else { err });
    }
    let request_time = parse_amz_date(&amz_date)
        .ok_or_else(|| query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""))?;
    if amz_date[..8] != credential.date {
        return Err(query_error("Invalid credential date. Date is not the same as X-Amz-Date."));
    }
    let expires_secs: u64 = match expires.trim().parse::<i64>() {
        Ok(n) if n < 0 => return Err(query_error("X-Amz-Expires must be non-negative")),
        Ok(0) => return Err(query_error("X-Amz-Expires must be greater than 0")),
        Ok(n) if n as u64 > MAX_EXPIRES_SECS => {
            return Err(query_error("X-Amz-Expires must be less than a week (in seconds) that is 604800"))
        }
        Ok(n) => n as u64,
        Err(_) => return Err(query_error("X-Amz-Expires should be a number")),
    };
    let signed_headers =
        parse_signed_headers(&signed_headers).ok_or_else(|| query_error("X-Amz-SignedHeaders is malformed."))?;
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(query_error("X-Amz-SignedHeaders must include host."));
    }

    if request_time.duration_since(now).is_ok_and(|ahead| ahead > MAX_SKEW) {
        return Err(ApiError::new(S3ErrorCode::AccessDenied, "Request is not valid yet")
            .with_extra("X-Amz-Date", amz_date.clone())
            .with_extra("ServerTime", format_iso8601(now)));
    }
    let expiry = request_time + Duration::from_secs(expires_secs);
    if now > expiry {
        return Err(ApiError::new(S3ErrorCode::AccessDenied, "Request has expired")
            .with_extra("X-Amz-Expires", expires_secs.to_string())
            .with_extra("Expires", format_iso8601(expiry))
            .with_extra("ServerTime", format_iso8601(now)));
    }
    Ok(PresignedParams { credential, signed_headers, signature, amz_date })
}

/// Validated presigned-URL parameters.
pub(super) struct PresignedParams {
    credential: super::Credential,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
}

/// The signed request of a presigned URL: the payload hash is
/// `x-amz-content-sha256` when the client sent it, else `UNSIGNED-PAYLOAD`.
pub(super) fn with_payload_hash(p: PresignedParams, headers: &http::HeaderMap) -> Result<SignedRequest, ApiError> {
    let payload_hash = match headers.get("x-amz-content-sha256") {
        Some(v) => v.to_str().map_err(|_| super::bad_content_sha256())?.trim().to_owned(),
        None => UNSIGNED_PAYLOAD.to_owned(),
    };
    Ok(SignedRequest {
        credential: p.credential,
        signed_headers: p.signed_headers,
        signature: p.signature,
        amz_date: p.amz_date,
        payload_hash,
        presigned: true,
    })
}
