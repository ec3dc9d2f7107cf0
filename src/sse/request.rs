//! What a request asks for: the `x-amz-server-side-encryption*` headers,
//! validated as AWS validates them.

use base64::Engine as _;
use http::HeaderMap;
use md5::Digest;
use zeroize::Zeroizing;

use crate::error::{ApiError, S3ErrorCode};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const SSE: &str = "x-amz-server-side-encryption";
pub const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
pub const KMS_CONTEXT: &str = "x-amz-server-side-encryption-context";
pub const BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// Prefix of the SSE-C headers of the object a request reads or writes.
pub const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
/// Prefix of the SSE-C headers of a copy source.
pub const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// A customer-provided key (SSE-C). Never stored.
pub struct CustomerKey {
    pub key: Zeroizing<[u8; 32]>,
    /// Base64 MD5 of the key, as the client sent it (and as responses echo it).
    pub key_md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerKey").field("key_md5", &self.key_md5).finish_non_exhaustive()
    }
}

/// The encryption a write request asks for in its headers.
#[derive(Debug)]
pub enum Requested {
    /// No SSE header: the bucket's default (or the server's) applies.
    Unspecified,
    S3,
    Kms {
        key_id: Option<String>,
        context: Option<String>,
        bucket_key: bool,
    },
    Customer(CustomerKey),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| invalid(name, "The header value is not valid")),
    }
}

fn invalid(argument: &str, message: &str) -> ApiError {
    ApiError::invalid_argument(message).with_extra("ArgumentName", argument.to_string())
}

/// Parses `x-amz-server-side-encryption-bucket-key-enabled`.
fn bucket_key(headers: &HeaderMap) -> Result<Option<bool>, ApiError> {
    match header(headers, BUCKET_KEY)? {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(
            BUCKET_KEY,
            "The value of x-amz-server-side-encryption-bucket-key-enabled must be true or false",
        )),
    }
}

/// Validates an encryption context: base64 of a JSON object of strings. Returns the JSON.
pub fn parse_context(value: &str) -> Result<String, ApiError> {
    let bad = || invalid(KMS_CONTEXT, "The encryption context must be the base64 of a JSON object of string values");
    let json = B64.decode(value).map_err(|_| bad())?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    serde_json::to_string(&map).map_err(|_| bad())
}

/// The SSE-C key in the headers with `prefix` (the object's or the copy source's), if any.
pub fn customer_key(headers: &HeaderMap, prefix: &str) -> Result<Option<CustomerKey>, ApiError> {
    let algorithm_name = format!("{prefix}algorithm");
    let key_name = format!("{prefix}key");
    let md5_name = format!("{prefix}key-MD5");
    let algorithm = header(headers, &algorithm_name)?;
    let key = header(headers, &key_name)?;
    let md5 = header(headers, &md5_name)?;
    let Some(algorithm) = algorithm else {
        if key.is_some() || md5.is_some() {
            return Err(invalid(
                &algorithm_name,
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ));
        }
        return Ok(None);
    };
    if algorithm != "AES256" {
        return Err(ApiError::new(
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The encryption request that you specified is not valid. The valid value is AES256.",
        )
        .with_extra("ArgumentName", algorithm_name)
        .with_extra("ArgumentValue", algorithm.to_string()));
    }
    let key = key.ok_or_else(|| {
        invalid(&key_name, "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
    })?;
    let raw = Zeroizing::new(B64.decode(key).unwrap_or_default());
    let key: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| invalid(&key_name, "The secret key was invalid for the specified algorithm."))?;
    let key = Zeroizing::new(key);
    let md5 = md5.ok_or_else(|| {
        invalid(&md5_name, "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
    })?;
    let actual = B64.encode(md5::Md5::digest(key.as_ref()));
    if actual != md5 {
        return Err(invalid(&md5_name, "The calculated MD5 hash of the key did not match the hash that was provided."));
    }
    Ok(Some(CustomerKey { key, key_md5: actual }))
}

/// The encryption headers of a write (PutObject, CopyObject's target, CreateMultipartUpload).
pub fn parse_write(headers: &HeaderMap) -> Result<Requested, ApiError> {
    let customer = customer_key(headers, CUSTOMER)?;
    let sse = header(headers, SSE)?;
    let key_id = header(headers, KMS_KEY_ID)?;
    let context = header(headers, KMS_CONTEXT)?;
    let bucket_key = bucket_key(headers)?;
    if customer.is_some() && sse.is_some() {
        return Err(invalid(
            SSE,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    let is_kms = sse == Some("aws:kms");
    if !is_kms && key_id.is_some() {
        return Err(invalid(
            KMS_KEY_ID,
            "x-amz-server-side-encryption-aws-kms-key-id header is not supported for this operation unless x-amz-server-side-encryption is aws:kms.",
        ));
    }
    if !is_kms && context.is_some() {
        return Err(invalid(
            KMS_CONTEXT,
            "x-amz-server-side-encryption-context header is not supported for this operation unless x-amz-server-side-encryption is aws:kms.",
        ));
    }
    if let Some(c) = customer {
        return Ok(Requested::Customer(c));
    }
    match sse {
        None => Ok(Requested::Unspecified),
        Some("AES256") => Ok(Requested::S3),
        Some("aws:kms") => Ok(Requested::Kms {
            key_id: key_id.filter(|k| !k.is_empty()).map(str::to_string),
            context: context.map(parse_context).transpose()?,
            bucket_key: bucket_key.unwrap_or(false),
        }),
        Some(_) => Err(invalid(SSE, "The encryption method specified is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
        }
        h
    }

    fn ssec(key: &[u8; 32]) -> Vec<(String, String)> {
        vec![
            (format!("{CUSTOMER}algorithm"), "AES256".into()),
            (format!("{CUSTOMER}key"), B64.encode(key)),
            (format!("{CUSTOMER}key-MD5"), B64.encode(md5::Md5::digest(key))),
        ]
    }

    #[test]
    fn write_headers() {
        assert!(matches!(parse_write(&headers(&[])), Ok(Requested::Unspecified)));
        assert!(matches!(parse_write(&headers(&[(SSE, "AES256")])), Ok(Requested::S3)));
        let ctx = B64.encode(br#"{"a":"b"}"#);
        match parse_write(&headers(&[(SSE, "aws:kms"), (KMS_KEY_ID, "alias/x"), (KMS_CONTEXT, &ctx)])) {
            Ok(Requested::Kms { key_id, context, bucket_key }) => {
                assert_eq!(key_id.as_deref(), Some("alias/x"));
                assert_eq!(context.as_deref(), Some(r#"{"a":"b"}"#));
                assert!(!bucket_key);
            }
            other => panic!("{other:?}"),
        }
        let code = |h: &[(&str, &str)]| parse_write(&headers(h)).err().map(|e| e.code);
        assert_eq!(code(&[(SSE, "AES128")]), Some(S3ErrorCode::InvalidArgument));
        assert_eq!(code(&[(KMS_KEY_ID, "k")]), Some(S3ErrorCode::InvalidArgument));
        assert_eq!(code(&[(SSE, "aws:kms"), (KMS_CONTEXT, "not base64!")]), Some(S3ErrorCode::InvalidArgument));
        assert_eq!(code(&[(SSE, "aws:kms"), (BUCKET_KEY, "maybe")]), Some(S3ErrorCode::InvalidArgument));
    }

    #[test]
    fn customer_headers() {
        let key = [5u8; 32];
        let pairs = ssec(&key);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        match parse_write(&headers(&refs)) {
            Ok(Requested::Customer(c)) => assert_eq!(*c.key, key),
            other => panic!("{other:?}"),
        }
        let mut with_sse = refs.clone();
        with_sse.push((SSE, "AES256"));
        assert!(parse_write(&headers(&with_sse)).is_err());
        let mut wrong_md5 = refs.clone();
        let other = B64.encode(md5::Md5::digest(b"x"));
        wrong_md5[2].1 = &other;
        assert_eq!(parse_write(&headers(&wrong_md5)).err().map(|e| e.code), Some(S3ErrorCode::InvalidArgument));
        let mut bad_alg = refs.clone();
        bad_alg[0].1 = "AES128";
        assert_eq!(
            parse_write(&headers(&bad_alg)).err().map(|e| e.code),
            Some(S3ErrorCode::InvalidEncryptionAlgorithmError)
        );
        let short = B64.encode([1u8; 16]);
        let mut short_key = refs.clone();
        short_key[1].1 = &short;
        assert!(parse_write(&headers(&short_key)).is_err());
        assert!(customer_key(&headers(&refs[1..]), CUSTOMER).is_err());
    }
}
