//! Server-side encryption end to end: every mode (SSE-S3, SSE-KMS with the
//! default and a named key, SSE-C) over small, large, multipart, ranged and
//! copied objects; the errors for missing, wrong and unknown keys; bucket
//! default encryption; master key rotation; no plaintext at rest; healing
//! without keys.

mod at_rest;
mod bucket_default;
mod errors;
mod modes;
mod rotation;

use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use md5::Digest;

use crate::common::{Ctx, ServerOptions};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The smallest multipart part the test servers accept (AWS: 5 MiB).
pub const MIN_PART: usize = 256 * 1024;

/// Test servers: admin token, SSE-C over plain HTTP allowed, small parts.
pub fn sse_options(extra: &[&str]) -> ServerOptions {
    let mut args = vec!["--allow-sse-c-over-http", "--test-min-part-size-bytes", "262144"];
    args.extend_from_slice(extra);
    crate::ops::options(&args)
}

/// One way to encrypt a write.
#[derive(Debug, Clone)]
pub enum Mode {
    None,
    S3,
    /// SSE-KMS with the named key, or the default key.
    Kms(Option<String>),
    /// SSE-C with this key.
    C([u8; 32]),
}

impl Mode {
    pub fn customer(key: [u8; 32]) -> (String, String) {
        (B64.encode(key), B64.encode(md5::Md5::digest(key)))
    }

    /// The SSE-C headers as (algorithm, key, key MD5), for an SSE-C mode.
    pub fn c_headers(&self) -> Option<(String, String, String)> {
        match self {
            Mode::C(k) => {
                let (key, md5) = Mode::customer(*k);
                Some(("AES256".into(), key, md5))
            }
            _ => None,
        }
    }
}

/// PutObject with the mode's headers.
pub async fn put(ctx: &Ctx, key: &str, data: &[u8], mode: &Mode) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    let mut req = ctx.s3.put_object().bucket(&ctx.bucket).key(key).body(data.to_vec().into());
    req = match mode {
        Mode::None => req,
        Mode::S3 => req.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::Kms(k) => req.server_side_encryption(ServerSideEncryption::AwsKms).set_ssekms_key_id(k.clone()),
        Mode::C(_) => {
            let (alg, key, md5) = mode.c_headers().expect("sse-c");
            req.sse_customer_algorithm(alg).sse_customer_key(key).sse_customer_key_md5(md5)
        }
    };
    req.send().await.unwrap_or_else(|e| panic!("put {key} ({mode:?}): {e:?}"))
}

/// GetObject (optionally a range) with the mode's SSE-C headers; returns the body and the output.
pub async fn get(
    ctx: &Ctx,
    key: &str,
    mode: &Mode,
    range: Option<&str>,
) -> (Vec<u8>, aws_sdk_s3::operation::get_object::GetObjectOutput) {
    let mut req = ctx.s3.get_object().bucket(&ctx.bucket).key(key).set_range(range.map(str::to_string));
    if let Some((alg, k, md5)) = mode.c_headers() {
        req = req.sse_customer_algorithm(alg).sse_customer_key(k).sse_customer_key_md5(md5);
    }
    let mut out = req.send().await.unwrap_or_else(|e| panic!("get {key} ({mode:?}) {range:?}: {e:?}"));
    let body = std::mem::replace(&mut out.body, aws_sdk_s3::primitives::ByteStream::from_static(b""));
    (body.collect().await.expect("read body").into_bytes().to_vec(), out)
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
