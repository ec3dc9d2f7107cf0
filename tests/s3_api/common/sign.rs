//! SigV4 for hand-made requests, through the `aws-sigv4` crate: header
//! signing with any `x-amz-content-sha256` value, and presigned URLs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use super::server::{ACCESS_KEY, REGION, SECRET_KEY};

#[derive(Debug, Clone)]
pub struct Creds {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Creds {
    pub fn root() -> Creds {
        Creds { access_key: ACCESS_KEY.into(), secret_key: SECRET_KEY.into(), region: REGION.into() }
    }

    pub fn with_secret(secret: &str) -> Creds {
        Creds { secret_key: secret.into(), ..Creds::root() }
    }

    pub fn with_access_key(access_key: &str) -> Creds {
        Creds { access_key: access_key.into(), ..Creds::root() }
    }

    pub fn with_region(region: &str) -> Creds {
        Creds { region: region.into(), ..Creds::root() }
    }
}

fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// Signs `req` in place (Authorization, X-Amz-Date, X-Amz-Content-Sha256 =
/// `payload_hash`). The URI must be absolute and the Host header set; every
/// header present is signed. Returns the signature (the seed of aws-chunked
/// chunk signatures).
pub fn sign_headers(
    req: &mut http::Request<bytes::Bytes>,
    creds: &Creds,
    time: SystemTime,
    payload_hash: &str,
) -> String {
    let mut settings = s3_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = Credentials::new(&creds.access_key, &creds.secret_key, None, None, "coffer-e2e").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().expect("ASCII header").to_string()))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        req.uri().to_string(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(payload_hash.to_string()),
    )
    .expect("signable request");
    let (instructions, signature) = sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(req);
    signature
}

/// A presigned URL (`http://HOST/path?...&X-Amz-Signature=...`) for `method`
/// on `url` (absolute, encoded), valid `expires` from `time`, unsigned payload.
/// `headers` are signed too (the client must then send them).
pub fn presign(
    creds: &Creds,
    method: &str,
    url: &str,
    time: SystemTime,
    expires: Duration,
    headers: &[(&str, &str)],
) -> String {
    let mut settings = s3_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let identity = Credentials::new(&creds.access_key, &creds.secret_key, None, None, "coffer-e2e").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::UnsignedPayload)
        .expect("signable request");
    let (instructions, _signature) = sign(signable, &params).expect("presign").into_parts();
    let mut req = http::Request::builder().method(method).uri(url).body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req.uri().to_string()
}

/// The AWS4 signing key (for chunk and trailer signatures).
pub fn signing_key(creds: &Creds, time: SystemTime) -> Vec<u8> {
    v4::generate_signing_key(&creds.secret_key, time, &creds.region, "s3").as_ref().to_vec()
}

/// Signs an IAM query request in place as AWS SDKs do: service `iam`,
/// payload hash = SHA-256 of `body`, no `x-amz-content-sha256` header.
pub fn sign_iam(req: &mut http::Request<bytes::Bytes>, creds: &Creds, time: SystemTime) {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let identity = Credentials::new(&creds.access_key, &creds.secret_key, None, None, "coffer-e2e").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name("iam")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().expect("ASCII header").to_string()))
        .collect();
    let body = req.body().clone();
    let signable = SignableRequest::new(
        req.method().as_str(),
        req.uri().to_string(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .expect("signable request");
    let (instructions, _signature) = sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(req);
}
