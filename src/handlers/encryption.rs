//! Get/Put/DeleteBucketEncryption, and the glue between the object handlers
//! and `crate::sse`: choosing the encryption of a write, checking the keys of
//! a read, and streaming plaintext into an engine writer through the sealer.

use bytes::Bytes;
use serde::Deserialize;
use storage_engine::{EngineError, ObjectWriter, PartWriter};

use super::attrs::ObjectAttrs;
use super::attrs_update::update_bucket_attrs;
use super::RequestContext;
use crate::error::{ApiError, S3ErrorCode};
use crate::request_body::RequestBody;
use crate::response::{self, Body};
use crate::sse::request::{self, CustomerKey};
use crate::sse::stream::Sealer;
use crate::sse::{BucketDefault, NewKeys, OpenKeys};
use crate::xml::{self, XmlWriter};

/// How a write is encrypted: its headers, the bucket default, the server default.
pub fn plan_write(ctx: &RequestContext<'_>) -> Result<Option<NewKeys>, ApiError> {
    let requested = request::parse_write(&ctx.parts.headers)?;
    let bucket_default = ctx.loaded_bucket()?.attrs.encryption.as_ref();
    ctx.state.sse.plan_write(requested, bucket_default, ctx.access.client.secure)
}

/// The SSE-C key in the request's headers with `prefix` (object or copy source).
pub fn customer_key(ctx: &RequestContext<'_>, prefix: &str) -> Result<Option<CustomerKey>, ApiError> {
    request::customer_key(&ctx.parts.headers, prefix)
}

/// Checks the request's keys against a stored object and unwraps its data key.
pub fn open_stored(
    ctx: &RequestContext<'_>,
    attrs: &ObjectAttrs,
    bucket: &str,
    key: &str,
    prefix: &str,
) -> Result<Option<OpenKeys>, ApiError> {
    let customer = customer_key(ctx, prefix)?;
    ctx.state.sse.open(attrs.sse.as_ref(), bucket, key, customer.as_ref(), ctx.access.client.secure)
}

/// An engine writer of stored bytes.
pub trait Sink {
    fn put(&mut self, data: Bytes) -> impl std::future::Future<Output = Result<(), EngineError>> + Send;
    /// Stripes whose data blocks hold whole units of `unit` bytes.
    fn align_blocks(&mut self, unit: usize);
}

impl Sink for ObjectWriter {
    fn put(&mut self, data: Bytes) -> impl std::future::Future<Output = Result<(), EngineError>> + Send {
        self.write(data)
    }
    fn align_blocks(&mut self, unit: usize) {
        ObjectWriter::align_blocks(self, unit)
    }
}

impl Sink for PartWriter {
    fn put(&mut self, data: Bytes) -> impl std::future::Future<Output = Result<(), EngineError>> + Send {
        self.write(data)
    }
    fn align_blocks(&mut self, unit: usize) {
        PartWriter::align_blocks(self, unit)
    }
}

/// Plaintext into a writer, encrypted on the way when there is a sealer.
pub struct PlainWriter<'a, S: Sink> {
    sink: &'a mut S,
    sealer: Option<Sealer>,
    plain_bytes: u64,
}

impl<'a, S: Sink> PlainWriter<'a, S> {
    /// With a sealer, the engine's stripes are sized so that a read hands
    /// the decryption whole encrypted blocks, none split over two pieces.
    pub fn new(sink: &'a mut S, sealer: Option<Sealer>) -> Self {
        if sealer.is_some() {
            sink.align_blocks(crate::sse::blocks::BLOCK_STORED as usize);
        }
        PlainWriter { sink, sealer, plain_bytes: 0 }
    }

    pub async fn write(&mut self, piece: Bytes) -> Result<(), ApiError> {
        self.plain_bytes += piece.len() as u64;
        match self.sealer.as_mut() {
            None => self.sink.put(piece).await?,
            Some(sealer) => {
                for block in sealer.push(&piece) {
                    self.sink.put(block).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the last block; returns the plaintext bytes written.
    pub async fn finish(mut self) -> Result<u64, ApiError> {
        if let Some(last) = self.sealer.take().and_then(Sealer::finish) {
            self.sink.put(last).await?;
        }
        Ok(self.plain_bytes)
    }
}

#[derive(Debug, Deserialize)]
struct ServerSideEncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    default: Option<ApplyDefault>,
    #[serde(rename = "BucketKeyEnabled")]
    bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ApplyDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    kms_master_key_id: Option<String>,
}

impl xml::RequestDocument for ServerSideEncryptionConfiguration {
    const ROOT: &'static str = "ServerSideEncryptionConfiguration";
}

fn parse_configuration(body: &[u8]) -> Result<BucketDefault, ApiError> {
    let doc: ServerSideEncryptionConfiguration = xml::parse(body)?;
    let [rule] = doc.rules.as_slice() else { return Err(ApiError::malformed_xml()) };
    let Some(default) = &rule.default else { return Err(ApiError::malformed_xml()) };
    let algorithm = default.algorithm.trim();
    let kms_key_id = default.kms_master_key_id.as_deref().map(str::trim).filter(|k| !k.is_empty());
    match algorithm {
        "AES256" if kms_key_id.is_some() => Err(ApiError::invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
        )),
        "AES256" | "aws:kms" => Ok(BucketDefault {
            algorithm: algorithm.to_string(),
            kms_key_id: kms_key_id.map(str::to_string),
            bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
        }),
        _ => Err(ApiError::malformed_xml()),
    }
}

pub async fn handle_put_bucket_encryption(
    ctx: &RequestContext<'_>,
    body: RequestBody,
) -> Result<Response<Body>, ApiError> {
    let (bytes, _) = ctx.small_body(body, 64 * 1024).await?;
    let config = parse_configuration(&bytes)?;
    update_bucket_attrs(ctx, |attrs| {
        attrs.encryption = Some(config.clone());
        Ok(())
    })
    .await?;
    Ok(http::Response::new(response::empty()))
}

pub async fn handle_get_bucket_encryption(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    let bucket = ctx.loaded_bucket()?;
    let config = match &bucket.attrs.encryption {
        Some(c) => c.clone(),
        // With the server-wide default on, every bucket behaves as if it had SSE-S3 configured.
        None if ctx.state.sse.default_sse_s3() => {
            BucketDefault { algorithm: "AES256".into(), kms_key_id: None, bucket_key_enabled: false }
        }
        None => {
            return Err(ApiError::new(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found",
            )
            .with_extra("BucketName", bucket.name.clone()))
        }
    };
    let mut w = XmlWriter::new("ServerSideEncryptionConfiguration");
    w.open("Rule").open("ApplyServerSideEncryptionByDefault").text("SSEAlgorithm", &config.algorithm);
    if let Some(k) = &config.kms_key_id {
        w.text("KMSMasterKeyID", k);
    }
    w.close();
    w.text("BucketKeyEnabled", if config.bucket_key_enabled { "true" } else { "false" });
    w.close();
    Ok(response::xml(w.finish()))
}

pub async fn handle_delete_bucket_encryption(ctx: &RequestContext<'_>) -> Result<Response<Body>, ApiError> {
    update_bucket_attrs(ctx, |attrs| {
        attrs.encryption = None;
        Ok(())
    })
    .await?;
    Ok(response::no_content())
}

use http::Response;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_documents() {
        let doc = |alg: &str, key: &str| {
            format!(
                "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm>{key}</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
            )
        };
        let c = parse_configuration(doc("aws:kms", "<KMSMasterKeyID>alias/x</KMSMasterKeyID>").as_bytes()).expect("ok");
        assert_eq!(
            (c.algorithm.as_str(), c.kms_key_id.as_deref(), c.bucket_key_enabled),
            ("aws:kms", Some("alias/x"), true)
        );
        assert!(parse_configuration(doc("AES256", "").as_bytes()).is_ok());
        let code = |b: &str| parse_configuration(b.as_bytes()).err().map(|e| e.code);
        assert_eq!(code(&doc("AES256", "<KMSMasterKeyID>k</KMSMasterKeyID>")), Some(S3ErrorCode::InvalidArgument));
        assert_eq!(code(&doc("DES", "")), Some(S3ErrorCode::MalformedXML));
        assert_eq!(
            code("<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>"),
            Some(S3ErrorCode::MalformedXML)
        );
        assert_eq!(code("<ServerSideEncryptionConfiguration><Rule>"), Some(S3ErrorCode::MalformedXML));
    }
}
