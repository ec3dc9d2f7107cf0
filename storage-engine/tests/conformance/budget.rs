//! The engine-wide budgets of stripe buffers: writers past the inline
//! threshold share a bounded amount, and so do readers of erasure-coded data;
//! one that cannot get its share in time fails with `WriteBuffersBusy` (and
//! leaves nothing behind) or `ReadBuffersBusy`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use storage_engine::{CommitCondition, Engine, EngineError, EngineStats};

use crate::common::*;

const WAIT: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy)]
enum Side {
    Writing,
    Reading,
}

impl Side {
    fn in_use(self, s: &EngineStats) -> usize {
        match self {
            Side::Writing => s.write_buffers_in_use_bytes,
            Side::Reading => s.read_buffers_in_use_bytes,
        }
    }
}

/// An engine (with bucket "b") whose budget on `side` is exactly one share,
/// and that limit; the cluster keeps its directories.
async fn one_share(side: Side) -> (Cluster, Engine, usize) {
    let c = Cluster::new();
    let mut config = c.config();
    config.buffer_wait = WAIT;
    // Less than one share: the budget is then exactly one share.
    let share = match side {
        Side::Writing => {
            config.write_buffer_bytes = 1;
            storage_engine::per_writer_bytes(&config)
        }
        Side::Reading => {
            config.read_buffer_bytes = 1;
            storage_engine::per_reader_bytes(&config)
        }
    };
    let e = Engine::open(config).await.expect("open");
    e.create_bucket("b", vec![]).await.expect("bucket");
    let stats = e.stats();
    let limit = match side {
        Side::Writing => stats.write_buffers_limit_bytes,
        Side::Reading => stats.read_buffers_limit_bytes,
    };
    assert!(limit >= share && limit < share + 1024, "one share of {share} bytes: limit {limit}");
    assert_eq!(side.in_use(&stats), 0);
    (c, e, limit)
}

/// Waits until the buffers in use on `side` are `bytes`.
async fn in_use_reaches(e: &Engine, side: Side, bytes: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while side.in_use(&e.stats()) != bytes {
        assert!(Instant::now() < deadline, "buffers in use stay at {}", side.in_use(&e.stats()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_wait_for_a_bounded_write_budget() {
    let (_cluster, e, limit) = one_share(Side::Writing).await;

    // A writer past the inline threshold takes the one share and keeps it
    // between stripes.
    let first = data(1, 3 * STRIPE + 17);
    let mut a = e.object_writer("b", "a").await.expect("writer");
    a.write(Bytes::copy_from_slice(&first[..2 * STRIPE])).await.expect("write");
    assert_eq!(e.stats().write_buffers_in_use_bytes, limit);

    // Objects under the inline threshold need none.
    let small = data(2, INLINE - 1);
    put(&e, "b", "small", &small).await;

    // A second large writer waits for the whole wait, then is refused.
    let mut b = e.object_writer("b", "b").await.expect("writer");
    let started = Instant::now();
    let refused = b.write(Bytes::from(data(3, 2 * STRIPE))).await;
    assert!(matches!(refused, Err(EngineError::WriteBuffersBusy { .. })), "{refused:?}");
    assert!(started.elapsed() >= WAIT, "refused after {:?}", started.elapsed());
    assert_eq!(e.stats().writes_refused_busy, 1);
    drop(b);

    // A third one waits and goes on as soon as the first commits.
    let third = data(4, 2 * STRIPE + 5);
    let e2 = e.clone();
    let body = third.clone();
    let waiting = tokio::spawn(async move { try_put(&e2, "b", "c", &body, CommitCondition::None).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the third writer waits for the share");
    a.write(Bytes::copy_from_slice(&first[2 * STRIPE..])).await.expect("write");
    a.commit("\"a\"".into(), vec![], CommitCondition::None).await.expect("commit a");
    waiting.await.expect("task").expect("the third writer got the share");
    assert_eq!(e.stats().writes_refused_busy, 1);

    // A writer dropped without commit gives its share back, also with a
    // stripe still being written.
    let mut d = e.object_writer("b", "d").await.expect("writer");
    d.write(Bytes::from(data(5, 4 * STRIPE))).await.expect("write");
    drop(d);
    in_use_reaches(&e, Side::Writing, 0).await;

    assert_eq!(get(&e, "b", "a").await, first);
    assert_eq!(get(&e, "b", "c").await, third);
    assert_eq!(get(&e, "b", "small").await, small);
    assert!(matches!(e.head_object("b", "b").await, Err(EngineError::NoSuchKey { .. })));
    e.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_wait_for_a_bounded_read_budget() {
    let (_cluster, e, limit) = one_share(Side::Reading).await;
    let large = data(1, 3 * STRIPE + 17);
    let other = data(2, 2 * STRIPE);
    let small = data(3, INLINE - 1);
    put(&e, "b", "large", &large).await;
    put(&e, "b", "other", &other).await;
    put(&e, "b", "small", &small).await;
    assert_eq!(e.stats().read_buffers_in_use_bytes, 0, "writing takes no read share");

    // An open reader of erasure-coded data holds the one share, read or not.
    let (_, mut held) = e.read_object("b", "large", None).await.expect("open");
    assert_eq!(e.stats().read_buffers_in_use_bytes, limit);
    let first = held.next().await.expect("a piece").expect("read");

    // Inline data needs no share; a reader of stripes, even of a few bytes of
    // them, waits for the whole wait and is refused.
    assert_eq!(get(&e, "b", "small").await, small);
    let started = Instant::now();
    let refused = e.read_object("b", "other", Some((10, 20))).await;
    assert!(matches!(refused, Err(EngineError::ReadBuffersBusy { .. })), "{refused:?}");
    assert!(started.elapsed() >= WAIT, "refused after {:?}", started.elapsed());
    assert_eq!(e.stats().reads_refused_busy, 1);

    // A reader that waits goes on as soon as the holder is dropped.
    let e2 = e.clone();
    let waiting = tokio::spawn(async move { read_all(&e2, "b", "other", None).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the second reader waits for the share");
    let mut rest = first.to_vec();
    while let Some(piece) = held.next().await {
        rest.extend_from_slice(&piece.expect("read"));
    }
    assert_eq!(rest, large, "the holder reads its object whole");
    drop(held);
    assert_eq!(waiting.await.expect("task").expect("the waiting reader got the share"), other);
    in_use_reaches(&e, Side::Reading, 0).await;
    assert_eq!(e.stats().reads_refused_busy, 1);

    // A copy-style reader and writer at once: a read share and a write share are separate.
    let (_, reader) = e.read_object("b", "large", None).await.expect("open");
    put(&e, "b", "copy", &large).await;
    drop(reader);
    in_use_reaches(&e, Side::Reading, 0).await;
    assert_eq!(get(&e, "b", "copy").await, large);
    e.shutdown().await.expect("shutdown");
}
