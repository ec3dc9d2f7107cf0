//! Server-side encryption: SSE-S3, SSE-KMS (a local keyring) and SSE-C.
//!
//! Envelope encryption: every object (or multipart upload) gets a fresh
//! random 256-bit data key and a random 128-bit object id. The data is
//! encrypted in blocks (`blocks`), streamed (`stream`); the data key is kept
//! only wrapped by a key-encryption key (KEK):
//! - SSE-S3: the current master key version of the keyring (`keyring`);
//! - SSE-KMS: the named (or default `aws/s3`) KMS key of the keyring;
//! - SSE-C: a key derived from the customer's key and a random salt; a
//!   keyed hash of the customer key (with the salt) tells a wrong key on read.
//!
//! The wrapped key and how to unwrap it are an [`SseRecord`] inside the
//! object's attributes; the engine stores ciphertext and never sees a key,
//! so healing and scrubbing work without keys. Master key rotation (`rotate`)
//! re-wraps the records and leaves the data alone.

pub mod admin;
pub mod blocks;
pub mod keyring;
pub mod request;
pub mod rotate;
pub mod stream;

use std::sync::Arc;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use md5::Digest;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use storage_engine::{Engine, ObjectInfo};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use self::keyring::{KeyError, Keyring, KmsError};
use self::request::{CustomerKey, Requested};
use self::stream::{ByteStream, Layout, Sealer};
use crate::error::{ApiError, S3ErrorCode};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How a stored data key is wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode")]
pub enum Kek {
    /// SSE-S3: master key version `master`.
    S3 { master: u32 },
    /// SSE-KMS: the keyring's KMS key `key_id`, with the request's encryption context (JSON).
    Kms {
        key_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        #[serde(default)]
        bucket_key: bool,
    },
    /// SSE-C: KEK = HMAC(customer key, "kek" ‖ salt); `check` = HMAC(customer key, "check" ‖ salt).
    C { salt: String, check: String, key_md5: String },
}

/// The encryption of one stored object or multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseRecord {
    pub kek: Kek,
    /// Hex of the random object id bound into every block.
    pub object_id: String,
    /// The wrapped data key (base64).
    pub wrapped: String,
    /// For an object completed from parts: each part's number, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_numbers: Vec<u32>,
}

/// A bucket's default encryption (PutBucketEncryption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDefault {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// The keys of an object being written, before its record is committed.
pub struct NewKeys {
    kek: Kek,
    data_key: Zeroizing<[u8; 32]>,
    object_id: [u8; 16],
    /// SSE-C: the KEK derived from the customer key (the key itself is not kept).
    customer_kek: Option<Zeroizing<[u8; 32]>>,
}

impl NewKeys {
    pub fn sealer(&self, part_number: u32) -> Sealer {
        Sealer::new(&self.data_key, self.object_id, part_number)
    }

    /// The ETag of a single-part object or a part.
    pub fn etag(&self, md5: &[u8; 16]) -> String {
        etag_for(&self.kek, &self.object_id, md5)
    }
}

/// The ETag of encrypted data: the plaintext MD5 for SSE-S3 (as AWS),
/// otherwise a digest that does not reveal it (AWS: "not an MD5 of the data").
pub fn etag_for(kek: &Kek, object_id: &[u8; 16], md5: &[u8; 16]) -> String {
    match kek {
        Kek::S3 { .. } => crate::handlers::object::md5_etag(md5),
        _ => {
            let mut h = md5::Md5::new();
            h.update(md5);
            h.update(object_id);
            let d: [u8; 16] = h.finalize().into();
            crate::handlers::object::md5_etag(&d)
        }
    }
}

/// The data key of a stored object or upload, unwrapped.
pub struct OpenKeys {
    pub data_key: Zeroizing<[u8; 32]>,
    pub object_id: [u8; 16],
    pub kek: Kek,
}

impl OpenKeys {
    /// Encrypts a part of the upload these keys belong to.
    pub fn sealer(&self, part_number: u32) -> Sealer {
        Sealer::new(&self.data_key, self.object_id, part_number)
    }

    pub fn etag(&self, md5: &[u8; 16]) -> String {
        etag_for(&self.kek, &self.object_id, md5)
    }
}

/// Held from wrapping a data key with the master key until the record is
/// committed, so that a master key rotation sees every record it must re-wrap.
pub type CommitGuard = tokio::sync::OwnedRwLockReadGuard<()>;

pub struct Encryption {
    pub keyring: Keyring,
    rotation: Arc<tokio::sync::RwLock<()>>,
    default_sse_s3: bool,
    allow_sse_c_over_http: bool,
    kms_arn_prefix: String,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption").field("keyring", &self.keyring).finish_non_exhaustive()
    }
}

fn kms_error(e: KmsError, arn: impl Fn(&str) -> String) -> ApiError {
    match e {
        KmsError::NotFound(id) => {
            ApiError::new(S3ErrorCode::KmsNotFound, format!("Invalid keyId {id}")).with_extra("KeyId", id)
        }
        KmsError::Disabled(id) => ApiError::new(S3ErrorCode::KmsDisabled, format!("{} is disabled.", arn(&id))),
    }
}

fn hex16(s: &str) -> Result<[u8; 16], ApiError> {
    let v = hex::decode(s).map_err(|_| ApiError::internal("damaged encryption record: object id"))?;
    v.try_into().map_err(|_| ApiError::internal("damaged encryption record: object id"))
}

fn derive(customer: &[u8; 32], label: &[u8], salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(customer).expect("invariant: HMAC takes any key");
    mac.update(label);
    mac.update(salt);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Associated data of a wrapped key: what it belongs to.
fn wrap_aad(kek: &Kek, bucket: &str, key: &str, object_id: &str) -> Vec<u8> {
    let kek_part = match kek {
        Kek::S3 { .. } => "S3".to_string(),
        Kek::Kms { key_id, context, .. } => format!("KMS\0{key_id}\0{}", context.as_deref().unwrap_or("")),
        Kek::C { salt, .. } => format!("C\0{salt}"),
    };
    format!("coffer-dk-1\0{kek_part}\0{bucket}\0{key}\0{object_id}").into_bytes()
}

fn sse_c_over_http() -> ApiError {
    ApiError::invalid_request(
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
    )
}

impl Encryption {
    pub fn new(
        keyring: Keyring,
        default_sse_s3: bool,
        allow_sse_c_over_http: bool,
        region: &str,
        account_id: &str,
    ) -> Encryption {
        Encryption {
            keyring,
            rotation: Arc::new(tokio::sync::RwLock::new(())),
            default_sse_s3,
            allow_sse_c_over_http,
            kms_arn_prefix: format!("arn:aws:kms:{region}:{account_id}:key/"),
        }
    }

    /// Opens (or creates) the keyring named by the configuration.
    pub fn load(config: &crate::config::Config, account_id: &str) -> std::io::Result<Encryption> {
        let env_master = match &config.sse_master_key {
            Some(k) => Some(
                keyring::parse_env_master(&k.0)
                    .map_err(|m| std::io::Error::new(std::io::ErrorKind::InvalidInput, m))?,
            ),
            None => None,
        };
        let keyring = Keyring::load_or_create(&config.keyring_file, env_master)?;
        Ok(Encryption::new(
            keyring,
            config.default_encryption_sse_s3,
            config.allow_sse_c_over_http,
            &config.region,
            account_id,
        ))
    }

    pub fn kms_arn(&self, id: &str) -> String {
        format!("{}{id}", self.kms_arn_prefix)
    }

    fn key_error(&self, e: KeyError) -> ApiError {
        match e {
            KeyError::Kms(k) => kms_error(k, |id| self.kms_arn(id)),
            // A rotation may have re-wrapped the record (and dropped the version)
            // since it was read: a retry reads the new record.
            KeyError::UnknownMasterVersion(v) if v < self.keyring.current_master() => {
                tracing::warn!(version = v, "data key wrapped by a master key version no longer in the keyring");
                ApiError::new(S3ErrorCode::SlowDown, "The object's key was rotated during the request; retry.")
            }
            KeyError::UnknownMasterVersion(v) => ApiError::internal(format!(
                "the object's data key is wrapped by master key version {v}, which is not in the keyring"
            )),
            KeyError::Rejected => {
                ApiError::internal("a wrapped data key did not open (wrong keyring or damaged record)")
            }
            KeyError::Io(m) => ApiError::internal(m),
        }
    }

    /// Whether the server encrypts objects that ask for nothing in buckets without a default.
    pub fn default_sse_s3(&self) -> bool {
        self.default_sse_s3
    }

    fn require_secure(&self, secure: bool) -> Result<(), ApiError> {
        if secure || self.allow_sse_c_over_http {
            Ok(())
        } else {
            Err(sse_c_over_http())
        }
    }

    /// Decides how a new object (or upload) is encrypted: its headers, else
    /// the bucket default, else the server default. `None`: stored in plaintext.
    pub fn plan_write(
        &self,
        requested: Requested,
        bucket_default: Option<&BucketDefault>,
        secure: bool,
    ) -> Result<Option<NewKeys>, ApiError> {
        let requested = match requested {
            Requested::Unspecified => match bucket_default {
                Some(d) if d.algorithm == "aws:kms" => {
                    Requested::Kms { key_id: d.kms_key_id.clone(), context: None, bucket_key: d.bucket_key_enabled }
                }
                Some(_) => Requested::S3,
                None if self.default_sse_s3 => Requested::S3,
                None => return Ok(None),
            },
            other => other,
        };
        let mut data_key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(data_key.as_mut());
        let mut object_id = [0u8; 16];
        rand::rng().fill_bytes(&mut object_id);
        let kek = match requested {
            Requested::Unspecified | Requested::S3 => Kek::S3 { master: 0 },
            Requested::Kms { key_id, context, bucket_key } => {
                let id =
                    self.keyring.resolve_kms(key_id.as_deref()).map_err(|e| kms_error(e, |id| self.kms_arn(id)))?;
                Kek::Kms { key_id: id, context, bucket_key }
            }
            Requested::Customer(c) => {
                self.require_secure(secure)?;
                let mut salt = [0u8; 16];
                rand::rng().fill_bytes(&mut salt);
                let check = derive(&c.key, b"coffer-ssec-check", &salt);
                let customer_kek = Some(derive(&c.key, b"coffer-ssec-kek", &salt));
                let kek = Kek::C { salt: B64.encode(salt), check: B64.encode(check.as_ref()), key_md5: c.key_md5 };
                return Ok(Some(NewKeys { kek, data_key, object_id, customer_kek }));
            }
        };
        Ok(Some(NewKeys { kek, data_key, object_id, customer_kek: None }))
    }

    /// Waits out a master key rotation that is switching versions; hold the
    /// guard from [`Encryption::record`] until the record is committed.
    pub async fn commit_guard(&self) -> CommitGuard {
        self.rotation.clone().read_owned().await
    }

    /// Wraps the data key into the record to commit with the object or upload.
    pub fn record(&self, keys: &NewKeys, bucket: &str, key: &str, _guard: &CommitGuard) -> Result<SseRecord, ApiError> {
        let object_id = hex::encode(keys.object_id);
        let mut kek = keys.kek.clone();
        if let Kek::S3 { master } = &mut kek {
            *master = self.keyring.current_master();
        }
        let aad = wrap_aad(&kek, bucket, key, &object_id);
        let wrapped = match (&kek, &keys.customer_kek) {
            (Kek::S3 { master }, _) => self.keyring.wrap_master(*master, &keys.data_key, &aad),
            (Kek::Kms { key_id, .. }, _) => self.keyring.wrap_kms(key_id, &keys.data_key, &aad),
            (Kek::C { .. }, Some(ckek)) => Ok(keyring::wrap_with(ckek, &keys.data_key, &aad)),
            (Kek::C { .. }, None) => Err(KeyError::Io("SSE-C key missing".into())),
        }
        .map_err(|e| self.key_error(e))?;
        Ok(SseRecord { kek, object_id, wrapped, part_numbers: Vec::new() })
    }

    /// Re-wraps an SSE-S3 record under the current master version (rotation,
    /// completion of an upload); other records are returned as they are.
    pub fn rewrap(
        &self,
        rec: &SseRecord,
        bucket: &str,
        key: &str,
        _guard: &CommitGuard,
    ) -> Result<SseRecord, ApiError> {
        let Kek::S3 { master } = rec.kek else { return Ok(rec.clone()) };
        let current = self.keyring.current_master();
        if master == current {
            return Ok(rec.clone());
        }
        let data_key = self
            .keyring
            .unwrap_master(master, &rec.wrapped, &wrap_aad(&rec.kek, bucket, key, &rec.object_id))
            .map_err(|e| self.key_error(e))?;
        let kek = Kek::S3 { master: current };
        let wrapped = self
            .keyring
            .wrap_master(current, &data_key, &wrap_aad(&kek, bucket, key, &rec.object_id))
            .map_err(|e| self.key_error(e))?;
        Ok(SseRecord { kek, wrapped, ..rec.clone() })
    }

    /// Starts a master key rotation: new writes wrap with a new version from
    /// the moment this returns; records committed before it are re-wrapped by `rotate`.
    pub async fn switch_master(&self) -> Result<u32, ApiError> {
        let _exclusive = self.rotation.write().await;
        self.keyring.add_master_version().map_err(|e| self.key_error(e))
    }

    /// Checks the request's SSE-C headers against a stored object and unwraps
    /// its data key. `customer` comes from the headers with the right prefix
    /// (the object's own, or the copy source's).
    pub fn open(
        &self,
        rec: Option<&SseRecord>,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
        secure: bool,
    ) -> Result<Option<OpenKeys>, ApiError> {
        let Some(rec) = rec else {
            if customer.is_some() {
                return Err(ApiError::invalid_request("The encryption parameters are not applicable to this object."));
            }
            return Ok(None);
        };
        let aad = wrap_aad(&rec.kek, bucket, key, &rec.object_id);
        let data_key = match (&rec.kek, customer) {
            (Kek::C { .. }, None) => {
                return Err(ApiError::invalid_request(
                    "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
                ))
            }
            (Kek::C { salt, check, .. }, Some(c)) => {
                self.require_secure(secure)?;
                let salt = B64.decode(salt).map_err(|_| ApiError::internal("damaged SSE-C record"))?;
                let expected = B64.decode(check).map_err(|_| ApiError::internal("damaged SSE-C record"))?;
                let actual = derive(&c.key, b"coffer-ssec-check", &salt);
                if !bool::from(actual.as_ref().ct_eq(expected.as_slice())) {
                    return Err(ApiError::access_denied());
                }
                let ckek = derive(&c.key, b"coffer-ssec-kek", &salt);
                keyring::unwrap_with(&ckek, &rec.wrapped, &aad)
            }
            (_, Some(_)) => {
                return Err(ApiError::invalid_request("The encryption parameters are not applicable to this object."))
            }
            (Kek::S3 { master }, None) => self.keyring.unwrap_master(*master, &rec.wrapped, &aad),
            (Kek::Kms { key_id, .. }, None) => self.keyring.unwrap_kms(key_id, &rec.wrapped, &aad),
        }
        .map_err(|e| self.key_error(e))?;
        Ok(Some(OpenKeys { data_key, object_id: hex16(&rec.object_id)?, kek: rec.kek.clone() }))
    }

    /// The `x-amz-server-side-encryption*` response headers of an object.
    /// `write`: a write response, which also echoes the encryption context.
    pub fn write_headers(&self, rec: Option<&SseRecord>, headers: &mut HeaderMap, write: bool) {
        let Some(rec) = rec else { return };
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        match &rec.kek {
            Kek::S3 { .. } => put(request::SSE, "AES256"),
            Kek::Kms { key_id, context, bucket_key } => {
                put(request::SSE, "aws:kms");
                put(request::KMS_KEY_ID, &self.kms_arn(key_id));
                if *bucket_key {
                    put(request::BUCKET_KEY, "true");
                }
                if let (true, Some(c)) = (write, context) {
                    put(request::KMS_CONTEXT, &B64.encode(c));
                }
            }
            Kek::C { key_md5, .. } => {
                put("x-amz-server-side-encryption-customer-algorithm", "AES256");
                put("x-amz-server-side-encryption-customer-key-MD5", key_md5);
            }
        }
    }
}

/// How an object's streams lie (only for an encrypted object).
pub fn layout(info: &ObjectInfo, rec: &SseRecord) -> Result<Layout, ApiError> {
    let (sizes, numbers): (Vec<u64>, Vec<u32>) = if info.part_sizes.is_empty() {
        (vec![info.size_bytes], vec![0])
    } else if rec.part_numbers.is_empty() {
        (info.part_sizes.clone(), (1..=info.part_sizes.len() as u32).collect())
    } else {
        (info.part_sizes.clone(), rec.part_numbers.clone())
    };
    Layout::new(&sizes, &numbers).map_err(ApiError::from)
}

/// The plaintext size of an object (as listings show it).
pub fn plain_size(info: &ObjectInfo, rec: Option<&SseRecord>) -> Result<u64, ApiError> {
    match rec {
        None => Ok(info.size_bytes),
        Some(rec) => Ok(layout(info, rec)?.plain_size()),
    }
}

/// The object as its client sees it: plaintext size and part sizes.
pub fn plain_view(info: &ObjectInfo, rec: Option<&SseRecord>) -> Result<ObjectInfo, ApiError> {
    let Some(rec) = rec else { return Ok(info.clone()) };
    let layout = layout(info, rec)?;
    let mut view = info.clone();
    view.size_bytes = layout.plain_size();
    if !info.part_sizes.is_empty() {
        view.part_sizes = layout.plain_part_sizes();
    }
    Ok(view)
}

/// Reads plaintext `[start, end)` of an object (or one version of it) whose stored head is `stored`
/// (decrypting when `keys` is given). Returns the head the engine read, for
/// the caller to compare with `stored`.
pub async fn read_plain(
    engine: &Engine,
    (bucket, key, version): (&str, &str, Option<&str>),
    stored: &ObjectInfo,
    rec: Option<&SseRecord>,
    keys: Option<&OpenKeys>,
    (start, end): (u64, u64),
) -> Result<(ObjectInfo, ByteStream), ApiError> {
    match (rec, keys) {
        (Some(rec), Some(keys)) => {
            let layout = layout(stored, rec)?;
            let range = layout.stored_range(start, end);
            let (info, reader) = engine.read_object_version(bucket, key, version, Some(range)).await?;
            Ok((info, stream::open_range(Box::pin(reader), &keys.data_key, keys.object_id, &layout, start, end)))
        }
        (None, _) => {
            let (info, reader) = engine.read_object_version(bucket, key, version, Some((start, end))).await?;
            Ok((info, Box::pin(reader)))
        }
        (Some(_), None) => Err(ApiError::internal("encrypted object read without its key")),
    }
}
