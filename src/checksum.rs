//! The additional checksums of S3 (`x-amz-checksum-<alg>`): algorithm names
//! as they appear on the wire, and one incremental hasher for each.
//!
//! Values travel base64-encoded; CRCs are encoded big-endian (CRC32 and
//! CRC32C as 4 bytes, CRC64NVME as 8 bytes), exactly as AWS does.

use base64::Engine as _;
use sha1::Digest as _;

/// An S3 additional checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order AWS documents them.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The request/response header carrying a value, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm whose value header is `name` (case-insensitive).
    /// `x-amz-checksum-mode` and `x-amz-checksum-type` are not value headers.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm named `name` as in `x-amz-sdk-checksum-algorithm` or
    /// `<ChecksumAlgorithm>` ("CRC32", "crc32c", "CRC64NVME", "SHA1", "SHA256"),
    /// case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The AWS name, e.g. "CRC32".
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The length of a raw (not base64) checksum value in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// Decodes a base64 value sent by a client; `None` unless it is valid
    /// standard base64 of exactly `digest_len()` bytes.
    pub fn decode_value(self, value: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD.decode(value.trim().as_bytes()).ok()?;
        (raw.len() == self.digest_len()).then_some(raw)
    }

    /// A new incremental hasher.
    pub fn hasher(self) -> Checksummer {
        let inner = match self {
            ChecksumAlgorithm::Crc32 => Inner::Crc32(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc)),
            ChecksumAlgorithm::Crc32c => Inner::Crc32(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => Inner::Crc64(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)),
            ChecksumAlgorithm::Sha1 => Inner::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Inner::Sha256(sha2::Sha256::new()),
        };
        Checksummer { algorithm: self, inner }
    }
}

impl std::fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An incremental checksum over a stream of bytes.
#[derive(Clone)]
pub struct Checksummer {
    algorithm: ChecksumAlgorithm,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Crc32(crc_fast::Digest),
    Crc64(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl std::fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checksummer").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Checksummer {
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::Crc32(d) | Inner::Crc64(d) => d.update(data),
            Inner::Sha1(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
        }
    }

    /// The raw checksum (CRCs big-endian).
    pub fn finalize(self) -> Vec<u8> {
        match self.inner {
            Inner::Crc32(d) => {
                // invariant: a CRC-32 digest fits in the low 32 bits.
                let crc = (d.finalize() & 0xFFFF_FFFF) as u32;
                crc.to_be_bytes().to_vec()
            }
            Inner::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            Inner::Sha1(h) => h.finalize().as_slice().to_vec(),
            Inner::Sha256(h) => h.finalize().as_slice().to_vec(),
        }
    }

    /// The checksum as S3 sends it: base64 of the raw value.
    pub fn finalize_base64(self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut h = alg.hasher();
        h.update(data);
        h.finalize()
    }

    #[test]
    fn crc_check_values() {
        assert_eq!(raw(ChecksumAlgorithm::Crc32, b"123456789"), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(raw(ChecksumAlgorithm::Crc32c, b"123456789"), 0xE306_9283u32.to_be_bytes());
        assert_eq!(raw(ChecksumAlgorithm::Crc64Nvme, b"123456789"), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
    }

    #[test]
    fn sha_values_and_base64() {
        assert_eq!(hex::encode(raw(ChecksumAlgorithm::Sha1, b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex::encode(raw(ChecksumAlgorithm::Sha256, b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // The CRC32 that aws-sdk-rust sends for 65 KiB of 'a' (its own test data).
        let mut h = ChecksumAlgorithm::Crc32.hasher();
        h.update(&vec![b'a'; 66560]);
        assert_eq!(h.finalize_base64(), "sK4Y7A==");
        // Empty input: CRC32 of nothing is 0.
        assert_eq!(ChecksumAlgorithm::Crc32.hasher().finalize_base64(), "AAAAAA==");
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for alg in ChecksumAlgorithm::ALL {
            let mut h = alg.hasher();
            for piece in data.chunks(7) {
                h.update(piece);
            }
            assert_eq!(h.finalize(), raw(alg, &data), "{alg}");
        }
    }

    #[test]
    fn names() {
        for alg in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(alg.as_str()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_name(&alg.as_str().to_lowercase()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_header_name(alg.header_name()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_header_name(&alg.header_name().to_uppercase()), Some(alg));
            assert_eq!(raw(alg, b"x").len(), alg.digest_len());
        }
        assert_eq!(ChecksumAlgorithm::from_name("crc32c"), Some(ChecksumAlgorithm::Crc32c));
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-mode"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-type"), None);
    }

    #[test]
    fn decode_value_checks_length() {
        assert_eq!(ChecksumAlgorithm::Crc32.decode_value("sK4Y7A=="), Some(vec![0xb0, 0xae, 0x18, 0xec]));
        assert_eq!(ChecksumAlgorithm::Crc32.decode_value("sK4Y7A"), None);
        assert_eq!(ChecksumAlgorithm::Crc32.decode_value("AAAAAAAAAAA="), None);
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.decode_value("sK4Y7A=="), None);
        assert_eq!(ChecksumAlgorithm::Sha1.decode_value("not base64!"), None);
    }
}
