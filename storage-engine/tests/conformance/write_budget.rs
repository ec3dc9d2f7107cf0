//! The engine-wide write budget: writers past the inline threshold share a
//! bounded amount of stripe buffers; one that cannot get its share in time
//! fails with `WriteBuffersBusy` and leaves nothing behind.

use std::time::{Duration, Instant};

use bytes::Bytes;
use storage_engine::{CommitCondition, Engine, EngineError};

use crate::common::*;

const WAIT: Duration = Duration::from_millis(1500);

async fn in_use_reaches(e: &Engine, bytes: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.stats().write_buffers_in_use_bytes != bytes {
        assert!(Instant::now() < deadline, "write buffers in use stay at {}", e.stats().write_buffers_in_use_bytes);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_wait_for_a_bounded_write_budget() {
    let c = Cluster::new();
    let mut config = c.config();
    // Less than one writer's share: the budget is then exactly one share.
    config.write_buffer_bytes = 1;
    config.write_buffer_wait = WAIT;
    let share = storage_engine::per_writer_bytes(&config);
    let e = Engine::open(config).await.expect("open");
    e.create_bucket("b", vec![]).await.expect("bucket");
    let limit = e.stats().write_buffers_limit_bytes;
    assert!(limit >= share && limit < share + 1024, "one share of {share} bytes: limit {limit}");
    assert_eq!(e.stats().write_buffers_in_use_bytes, 0);

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
    in_use_reaches(&e, 0).await;

    assert_eq!(get(&e, "b", "a").await, first);
    assert_eq!(get(&e, "b", "c").await, third);
    assert_eq!(get(&e, "b", "small").await, small);
    assert!(matches!(e.head_object("b", "b").await, Err(EngineError::NoSuchKey { .. })));
    e.shutdown().await.expect("shutdown");
}
