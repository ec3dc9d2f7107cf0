//! Checksums of multipart uploads: the algorithm and type chosen at
//! CreateMultipartUpload, and the object checksum computed at completion from
//! the parts' checksums without re-reading data (composite `…-N`, or a
//! full-object CRC combined from the part CRCs).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checksum::ChecksumAlgorithm;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    Composite,
    FullObject,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }
}

/// Validates the algorithm/type pair of CreateMultipartUpload, as AWS:
/// CRC64NVME is full-object only, SHA1/SHA256 composite only, CRC32/CRC32C either
/// (composite by default).
pub fn choose(
    algorithm: Option<&str>,
    kind: Option<&str>,
) -> Result<Option<(ChecksumAlgorithm, ChecksumType)>, ApiError> {
    let algorithm = match algorithm {
        None => {
            if kind.is_some() {
                return Err(ApiError::invalid_request(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                ));
            }
            return Ok(None);
        }
        Some(a) => ChecksumAlgorithm::from_name(a)
            .ok_or_else(|| ApiError::invalid_request("Checksum algorithm provided is unsupported."))?,
    };
    let kind = match kind.map(str::to_ascii_uppercase).as_deref() {
        None => None,
        Some("COMPOSITE") => Some(ChecksumType::Composite),
        Some("FULL_OBJECT") => Some(ChecksumType::FullObject),
        Some(_) => return Err(ApiError::invalid_request("Value for x-amz-checksum-type header is invalid.")),
    };
    let kind = match (algorithm, kind) {
        (ChecksumAlgorithm::Crc64Nvme, None | Some(ChecksumType::FullObject)) => ChecksumType::FullObject,
        (ChecksumAlgorithm::Crc64Nvme, Some(ChecksumType::Composite)) => {
            return Err(ApiError::invalid_request(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ))
        }
        (ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256, Some(ChecksumType::FullObject)) => {
            return Err(ApiError::invalid_request(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                algorithm.as_str().to_ascii_lowercase()
            )))
        }
        (_, k) => k.unwrap_or(ChecksumType::Composite),
    };
    Ok(Some((algorithm, kind)))
}

fn crc_algorithm(alg: ChecksumAlgorithm) -> Option<crc_fast::CrcAlgorithm> {
    match alg {
        ChecksumAlgorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

fn decode(value: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| ApiError::internal(format!("stored part checksum {value:?} is not base64")))
}

/// The object checksum from the parts' checksums (base64) and sizes, in part order.
pub fn combine(algorithm: ChecksumAlgorithm, kind: ChecksumType, parts: &[(String, u64)]) -> Result<String, ApiError> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    match kind {
        ChecksumType::Composite => {
            let mut hasher = algorithm.hasher();
            for (value, _) in parts {
                hasher.update(&decode(value)?);
            }
            Ok(format!("{}-{}", hasher.finalize_base64(), parts.len()))
        }
        ChecksumType::FullObject => {
            let crc = crc_algorithm(algorithm)
                .ok_or_else(|| ApiError::internal("full-object checksum requested for a non-CRC algorithm"))?;
            let width = algorithm.digest_len();
            let mut combined: Option<u64> = None;
            for (value, size) in parts {
                let raw = decode(value)?;
                if raw.len() != width {
                    return Err(ApiError::internal("stored part checksum has the wrong length"));
                }
                let part = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                combined = Some(match combined {
                    None => part,
                    Some(acc) => crc_fast::checksum_combine(crc, acc, part, *size),
                });
            }
            let value = combined.unwrap_or_else(|| crc_fast::checksum(crc, b""));
            let bytes = value.to_be_bytes();
            Ok(b64.encode(&bytes[bytes.len() - width..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64_of(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = alg.hasher();
        h.update(data);
        h.finalize_base64()
    }

    #[test]
    fn full_object_crc_equals_crc_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let parts: Vec<(String, u64)> = data.chunks(30_000).map(|c| (b64_of(alg, c), c.len() as u64)).collect();
            assert_eq!(
                combine(alg, ChecksumType::FullObject, &parts).expect("combines"),
                b64_of(alg, &data),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn composite_is_checksum_of_checksums_with_count() {
        let p1 = b64_of(ChecksumAlgorithm::Sha256, b"hello ");
        let p2 = b64_of(ChecksumAlgorithm::Sha256, b"world");
        let mut raw = base64::engine::general_purpose::STANDARD.decode(&p1).expect("b64");
        raw.extend(base64::engine::general_purpose::STANDARD.decode(&p2).expect("b64"));
        let expected = format!("{}-2", b64_of(ChecksumAlgorithm::Sha256, &raw));
        assert_eq!(
            combine(ChecksumAlgorithm::Sha256, ChecksumType::Composite, &[(p1, 6), (p2, 5)]).expect("ok"),
            expected
        );
    }

    #[test]
    fn algorithm_and_type_rules() {
        assert_eq!(choose(None, None).expect("ok"), None);
        assert_eq!(
            choose(Some("CRC64NVME"), None).expect("ok"),
            Some((ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject))
        );
        assert_eq!(choose(Some("crc32"), None).expect("ok"), Some((ChecksumAlgorithm::Crc32, ChecksumType::Composite)));
        assert_eq!(
            choose(Some("CRC32C"), Some("FULL_OBJECT")).expect("ok"),
            Some((ChecksumAlgorithm::Crc32c, ChecksumType::FullObject))
        );
        assert!(choose(Some("SHA256"), Some("FULL_OBJECT")).is_err());
        assert!(choose(Some("CRC64NVME"), Some("COMPOSITE")).is_err());
        assert!(choose(Some("MD5"), None).is_err());
        assert!(choose(None, Some("COMPOSITE")).is_err());
    }
}
