//! Server-side encryption per core: sealing 1 MiB of plaintext into
//! AES-256-GCM blocks of 64 KiB (random nonce, associated data per block) and
//! opening it again, as a PUT and a GET of an encrypted object do. Compare
//! with `checksum/md5` (every single-part PUT pays it too). The
//! `decrypt_aes_gcm_crate` case opens the same blocks with the `aes-gcm`
//! crate (which wraps the keys), to show what the data path gains from
//! `ring`'s interleaved AES-GCM.

use coffer::sse::blocks::{BlockCipher, BlockPlace, BLOCK_PLAIN};
use coffer::sse::stream::Sealer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::RngCore;
use std::hint::black_box;

const BODY_BYTES: usize = 1 << 20;

fn bench_encryption(c: &mut Criterion) {
    let mut body = vec![0u8; BODY_BYTES];
    rand::rng().fill_bytes(&mut body);
    let key = [7u8; 32];
    let id = [1u8; 16];

    // The sealed form of the body, block by block, to open in the decrypt bench.
    let mut sealer = Sealer::new(&key, id, 0);
    let mut blocks: Vec<Vec<u8>> = sealer.push(&body).into_iter().map(|b| b.to_vec()).collect();
    blocks.extend(sealer.finish().map(|b| b.to_vec()));
    let count = blocks.len() as u64;
    assert_eq!(count, BODY_BYTES as u64 / BLOCK_PLAIN);
    let cipher = BlockCipher::new(&key);

    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(BODY_BYTES as u64));
    group.bench_function(BenchmarkId::new("encrypt", "1MiB"), |b| {
        b.iter(|| {
            let mut s = Sealer::new(&key, id, 0);
            let mut n = 0;
            for piece in black_box(&body).chunks(16 * 1024) {
                n += s.push(piece).len();
            }
            n + usize::from(s.finish().is_some())
        })
    });
    group.bench_function(BenchmarkId::new("decrypt", "1MiB"), |b| {
        b.iter(|| {
            let mut total = 0;
            for (i, block) in blocks.iter().enumerate() {
                let mut buf = block.clone();
                let place = BlockPlace { object_id: id, part_number: 0, index: i as u64, last: i as u64 + 1 == count };
                total += cipher.open(place, black_box(&mut buf)).expect("authentic block");
            }
            total
        })
    });
    group.bench_function(BenchmarkId::new("decrypt_aes_gcm_crate", "1MiB"), |b| {
        use aes_gcm::aead::{AeadInOut, KeyInit};
        let reference = aes_gcm::Aes256Gcm::new((&key).into());
        b.iter(|| {
            let mut total = 0;
            for (i, block) in blocks.iter().enumerate() {
                let mut buf = block.clone();
                let place = BlockPlace { object_id: id, part_number: 0, index: i as u64, last: i as u64 + 1 == count };
                let (nonce, rest) = buf.split_at_mut(12);
                let (body, tag) = rest.split_at_mut(rest.len() - 16);
                let nonce: [u8; 12] = (&*nonce).try_into().expect("nonce");
                let tag: [u8; 16] = (&*tag).try_into().expect("tag");
                total += body.len();
                reference
                    .decrypt_inout_detached(&nonce.into(), &place.aad(), black_box(body).into(), &tag.into())
                    .expect("authentic block");
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_encryption);
criterion_main!(benches);
