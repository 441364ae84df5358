//! The Redis Streams queue against a private `redis-server` (AOF on).

use std::time::Duration;

use kiln_server::queue::redis::{RedisQueue, DEAD_LETTER, GROUP, IDS, STREAM};
use kiln_server::queue::{Queue, QueueError};
use kiln_testsupport::RedisServer;

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Entries delivered and not acknowledged.
fn pending(redis: &RedisServer) -> i64 {
    let reply = redis.cmd(&["XPENDING", STREAM, GROUP]).unwrap();
    // *4\r\n:N\r\n…
    reply
        .lines()
        .nth(1)
        .and_then(|l| l.trim().strip_prefix(':')?.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn redis_queue_is_bounded_leases_in_order_and_acks_after_the_fact() {
    let redis = RedisServer::start();
    let q = RedisQueue::new(&redis.url(), 3, Duration::from_secs(60)).unwrap();
    assert_eq!(q.depth().await.unwrap(), 0);
    q.enqueue(&ids(&["a", "b"]), 100).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 2);
    assert!(matches!(
        q.enqueue(&ids(&["c", "d"]), 100).await,
        Err(QueueError::Full { capacity: 3 })
    ));
    assert_eq!(
        redis.int(&["XLEN", STREAM]),
        2,
        "a refused batch adds nothing"
    );

    let a = q
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.id.as_str(), a.attempt, a.enqueued_at_ms), ("a", 1, 100));
    assert_eq!(
        q.depth().await.unwrap(),
        1,
        "a delivered job is not waiting"
    );
    q.enqueue(&ids(&["c", "d"]), 200).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 3);

    q.ack(&a).await.unwrap();
    assert_eq!(redis.int(&["XLEN", STREAM]), 3, "acked entries are deleted");
    assert_eq!(redis.int(&["SISMEMBER", IDS, "a"]), 0);
    assert_eq!(pending(&redis), 0);
    for want in ["b", "c", "d"] {
        let l = q
            .dequeue(Duration::from_millis(100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.id, want);
        q.ack(&l).await.unwrap();
    }
    assert!(q
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .is_none());
    assert_eq!(redis.int(&["XLEN", STREAM]), 0);
}

#[tokio::test]
async fn a_renewed_lease_is_not_reclaimed_and_a_stale_holder_cannot_renew() {
    let redis = RedisServer::start();
    let lease = Duration::from_millis(400);
    let holder = RedisQueue::new(&redis.url(), 10, lease).unwrap();
    let other = RedisQueue::new(&redis.url(), 10, lease).unwrap();
    holder.enqueue(&ids(&["r"]), 1).await.unwrap();
    let held = holder
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    // Renewed every 100 ms for 5 leases: never taken over.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(holder.renew(&held).await.unwrap(), "the holder renews");
        assert!(
            other
                .dequeue(Duration::from_millis(1))
                .await
                .unwrap()
                .is_none(),
            "a renewed job was reclaimed"
        );
    }
    // Renewal stops (the worker died): the next lease takes it over.
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let taken = other
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .expect("reclaimed once renewal stopped");
    assert_eq!((taken.id.as_str(), taken.attempt), ("r", 2));
    assert!(
        !holder.renew(&held).await.unwrap(),
        "the old delivery no longer holds the job"
    );
    assert!(other.renew(&taken).await.unwrap());
    other.ack(&taken).await.unwrap();
    assert_eq!(pending(&redis), 0);
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_only_its_new_holder_can_ack() {
    let redis = RedisServer::start();
    let lease = Duration::from_millis(300);
    let dead = RedisQueue::new(&redis.url(), 10, lease).unwrap();
    let alive = RedisQueue::new(&redis.url(), 10, lease).unwrap();
    assert_ne!(dead.consumer(), alive.consumer());
    dead.enqueue(&ids(&["x"]), 1).await.unwrap();
    let first = dead
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempt, 1);
    let mut second = None;
    for _ in 0..100 {
        if let Some(l) = alive.dequeue(Duration::from_millis(50)).await.unwrap() {
            second = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = second.expect("the expired lease was not reclaimed");
    assert_eq!((second.id.as_str(), second.attempt), ("x", 2));
    dead.ack(&first).await.unwrap();
    assert_eq!(
        pending(&redis),
        1,
        "the stale holder must not ack the new holder's job"
    );

    // A requeue (a drain, a store outage) gives its attempt back: the next run
    // has the same number, so an outage cannot use up a job's attempts.
    alive.requeue(&second).await.unwrap();
    let third = dead
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((third.id.as_str(), third.attempt), ("x", 2));
    dead.ack(&third).await.unwrap();
    assert_eq!(redis.int(&["XLEN", STREAM]), 0);
    assert_eq!(pending(&redis), 0);
    // The consumer of a live worker (it announces itself) is kept, however idle.
    dead.announce(1).await.unwrap();
    assert_eq!(
        alive.forget_dead_consumers(Duration::ZERO).await.unwrap(),
        0,
        "a live worker's consumer was removed"
    );
    redis.cmd(&["DEL", "code-execution-jobs:workers"]).unwrap();
    // The consumer of an exited process is forgotten once idle (never our own).
    assert_eq!(
        alive.forget_dead_consumers(Duration::ZERO).await.unwrap(),
        1
    );
    assert_eq!(
        alive.forget_dead_consumers(Duration::ZERO).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn the_sweeper_repair_adds_only_missing_jobs_and_dead_letters_are_recorded() {
    let redis = RedisServer::start();
    let q = RedisQueue::new(&redis.url(), 1, Duration::from_secs(60)).unwrap();
    q.enqueue(&ids(&["a"]), 1).await.unwrap();
    assert_eq!(
        q.enqueue_missing(&ids(&["a", "b", "c"]), 2).await.unwrap(),
        2,
        "capacity does not apply to repairs"
    );
    assert_eq!(q.depth().await.unwrap(), 3);
    let l = q
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    let note = q.dead_letter(&l, "poison").await.unwrap().expect("a note");
    assert!(note.contains(DEAD_LETTER), "{note}");
    assert_eq!(redis.int(&["XLEN", DEAD_LETTER]), 1);
    let entry = redis.cmd(&["XRANGE", DEAD_LETTER, "-", "+"]).unwrap();
    assert!(
        entry.contains("poison") && entry.contains("\r\na\r\n"),
        "{entry}"
    );
}

#[tokio::test]
async fn the_queue_fails_while_redis_is_down_and_recovers_with_its_data() {
    let mut redis = RedisServer::start();
    let q = RedisQueue::new(&redis.url(), 10, Duration::from_secs(60)).unwrap();
    q.enqueue(&ids(&["before"]), 1).await.unwrap();
    redis.kill();
    assert!(q.enqueue(&ids(&["during"]), 2).await.is_err());
    assert!(q.depth().await.is_err());
    assert!(q.dequeue(Duration::from_millis(100)).await.is_err());
    redis.restart();
    let mut ok = false;
    for _ in 0..100 {
        if q.enqueue(&ids(&["after"]), 3).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the queue did not reconnect");
    assert_eq!(
        q.depth().await.unwrap(),
        2,
        "the AOF kept the acknowledged enqueue"
    );
    let l = q
        .dequeue(Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.id, "before");
}
