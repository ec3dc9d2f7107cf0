//! The checksums the server computes while streaming an object body, over
//! 1 MiB, single-threaded: MD5 (Content-MD5 and the single-part ETag),
//! SHA-256 (SigV4 payload hash, x-amz-checksum-sha256), and the CRCs of
//! x-amz-checksum-crc32 / -crc32c / -crc64nvme (crc-fast, which picks the
//! widest carry-less multiply the CPU offers at run time).
//!
//! A PUT with SigV4 signed payload pays MD5 + SHA-256 on every byte, plus one
//! CRC when the client asks for a flexible checksum.

use crc_fast::CrcAlgorithm;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::hint::black_box;

const BODY_BYTES: usize = 1 << 20;

fn bench_checksums(c: &mut Criterion) {
    let mut body = vec![0u8; BODY_BYTES];
    rand::rng().fill_bytes(&mut body);

    // Known-answer checks, so that a wrong algorithm cannot be benchmarked.
    assert_eq!(crc_fast::checksum(CrcAlgorithm::Crc32IsoHdlc, b"123456789"), 0xCBF4_3926);
    assert_eq!(crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, b"123456789"), 0xE306_9283);
    assert_eq!(crc_fast::checksum(CrcAlgorithm::Crc64Nvme, b"123456789"), 0xAE8B_1486_0A79_9888);

    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(BODY_BYTES as u64));
    let size = "1MiB";

    group.bench_function(BenchmarkId::new("md5", size), |b| b.iter(|| Md5::digest(black_box(&body))));
    group.bench_function(BenchmarkId::new("sha256", size), |b| b.iter(|| Sha256::digest(black_box(&body))));
    for (name, algorithm) in [
        ("crc32", CrcAlgorithm::Crc32IsoHdlc),
        ("crc32c", CrcAlgorithm::Crc32Iscsi),
        ("crc64nvme", CrcAlgorithm::Crc64Nvme),
    ] {
        group.bench_function(BenchmarkId::new(name, size), |b| {
            b.iter(|| crc_fast::checksum(algorithm, black_box(&body)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_checksums);
criterion_main!(benches);
