//! Reed-Solomon coding of one 1 MiB stripe, single-threaded.
//!
//! `erasure_encode`: compute the m parity blocks of a stripe cut into k data
//! blocks (what every PUT pays per stripe).
//! `erasure_reconstruct`: rebuild m lost data blocks from the k survivors
//! (what a degraded GET or a heal pays per stripe). Losing data blocks rather
//! than parity blocks is the expensive case: the decode matrix must be
//! inverted (the library caches it per loss pattern, as it would be in a
//! long-running server) and every lost block is recomputed from k others.
//!
//! Throughput is bytes of stripe data (k blocks), not bytes of data + parity.
//! Neither the library nor this bench uses more than one thread, so the
//! figures are per core.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::RngCore;
use reed_solomon_erasure::galois_8::ReedSolomon;
use std::hint::black_box;

const STRIPE_BYTES: usize = 1 << 20;

/// (k data shards, m parity shards).
const GEOMETRIES: [(usize, usize); 2] = [(4, 2), (2, 1)];

/// k data blocks of a random stripe followed by m parity blocks, encoded.
fn encoded_stripe(rs: &ReedSolomon, k: usize, m: usize) -> Vec<Vec<u8>> {
    let block_bytes = STRIPE_BYTES.div_ceil(k);
    let mut rng = rand::rng();
    let mut shards: Vec<Vec<u8>> = (0..k + m)
        .map(|i| {
            let mut block = vec![0u8; block_bytes];
            if i < k {
                rng.fill_bytes(&mut block);
            }
            block
        })
        .collect();
    rs.encode(&mut shards).expect("invariant: k + m blocks of equal length");
    shards
}

fn label(k: usize, m: usize) -> String {
    format!("RS({k},{m})")
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("erasure_encode");
    group.throughput(Throughput::Bytes(STRIPE_BYTES as u64));
    for (k, m) in GEOMETRIES {
        let rs = ReedSolomon::new(k, m).expect("invariant: valid geometry");
        let mut shards = encoded_stripe(&rs, k, m);
        group.bench_function(BenchmarkId::new(label(k, m), "1MiB"), |b| {
            b.iter(|| {
                rs.encode(black_box(&mut shards)).expect("invariant: k + m blocks of equal length");
            })
        });
    }
    group.finish();
}

fn bench_reconstruct(c: &mut Criterion) {
    let mut group = c.benchmark_group("erasure_reconstruct");
    group.throughput(Throughput::Bytes(STRIPE_BYTES as u64));
    for (k, m) in GEOMETRIES {
        let rs = ReedSolomon::new(k, m).expect("invariant: valid geometry");
        let original = encoded_stripe(&rs, k, m);
        // The first m data blocks are lost; the buffers are reused so that the
        // loop measures decoding, not allocation.
        let mut shards: Vec<(Vec<u8>, bool)> = original.iter().map(|s| (s.clone(), true)).collect();

        // The measured operation really restores the stripe. (The library
        // leaves the `present` flags as they were; the loop below resets them
        // anyway so that every iteration is a loss of m blocks.)
        for (block, present) in shards.iter_mut().take(m) {
            block.fill(0);
            *present = false;
        }
        rs.reconstruct(&mut shards).expect("invariant: k blocks survive");
        assert!(shards.iter().zip(&original).all(|((got, _), want)| got == want));

        group.bench_function(BenchmarkId::new(label(k, m), format!("1MiB/lose{m}data")), |b| {
            b.iter(|| {
                for (_, present) in shards.iter_mut().take(m) {
                    *present = false;
                }
                rs.reconstruct(black_box(&mut shards)).expect("invariant: k blocks survive");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_encode, bench_reconstruct);
criterion_main!(benches);
