//! Never lose, finish once: state left by a crashed process is recovered at
//! start; SIGTERM drains. (The `kill -9` of the real binary is in
//! crates/cli/tests/serve_durability.rs.)

use std::sync::Arc;

use kiln_engine::Report;
use kiln_server::queue::{sqlite::SqliteQueue, Queue};
use kiln_server::store::{sqlite::SqliteStore, Store};

use crate::common::{
    args, error_code, fake, new_submission as submission, FakeExecutor, TestServer,
};

#[tokio::test]
async fn a_crashed_process_leaves_nothing_unfinished_or_finished_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        // What a process killed with -9 can leave behind.
        let pool = kiln_server::sqlite::open(dir.path(), Default::default())
            .await
            .unwrap();
        let store = SqliteStore::new(pool.clone());
        let queue = SqliteQueue::new(pool.clone(), 100);
        let subs: Vec<_> = [
            "running1", "running2", "queued1", "queued2", "done", "orphan",
        ]
        .map(submission)
        .into();
        store.insert(&subs).await.unwrap();
        let ids: Vec<String> = subs[..5].iter().map(|s| s.id.clone()).collect();
        queue.enqueue(&ids, kiln_server::now_ms()).await.unwrap();
        // Two jobs were running when it died; one had finished but was not acked.
        for _ in 0..2 {
            let lease = queue
                .dequeue(std::time::Duration::ZERO)
                .await
                .unwrap()
                .unwrap();
            assert!(store
                .mark_running(&lease.id, lease.attempt, 1)
                .await
                .unwrap());
        }
        let done = queue
            .dequeue(std::time::Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.id, "id-queued1");
        store
            .mark_running(&done.id, done.attempt, kiln_server::now_ms())
            .await
            .unwrap();
        let mut report = Report::internal_error("x");
        report.status = kiln_engine::Status::Accepted;
        assert!(store
            .finish(&done.id, done.attempt, &report, kiln_server::now_ms())
            .await
            .unwrap());
        // "orphan" was stored but its job never enqueued.
        pool.close().await;
    }
    let exec = Arc::new(FakeExecutor::default());
    let s = TestServer::start_with(args(dir.path()), exec.clone()).await;
    for name in ["running1", "running2", "queued2", "orphan", "queued1"] {
        let r = s.result(&format!("id-{name}")).await;
        assert!(r["status"] == "accepted", "{name}: {r}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let runs = exec.runs.lock().unwrap().clone();
    for name in ["running1", "running2", "queued2", "orphan"] {
        assert_eq!(
            runs.get(name),
            Some(&1),
            "{name} ran {:?} times",
            runs.get(name)
        );
    }
    assert_eq!(
        runs.get("queued1"),
        None,
        "a finished job must not run again"
    );
    let (_, health) = s.get("/health").await;
    assert_eq!(health["queue"]["depth"], 0);
}

#[tokio::test]
async fn sigterm_drains_finishing_what_fits_in_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.jobs.workers = Some(2);
    a.jobs.shutdown_grace_secs = Some(1);
    let exec = Arc::new(FakeExecutor::default());
    let s = TestServer::start_with(a.clone(), exec.clone()).await;
    let (_, short, _) = s
        .post("/api/v1/submissions", fake("sleep 300", "short"))
        .await;
    let (_, long, _) = s
        .post("/api/v1/submissions", fake("sleep 5000", "long"))
        .await;
    for job in [&short, &long] {
        s.wait_running(job["id"].as_str().unwrap()).await;
    }
    let (_, queued, _) = s.post("/api/v1/submissions", fake("echo", "queued")).await;
    s.app.shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (code, v, h) = s.post("/api/v1/submissions", fake("echo", "late")).await;
    assert_eq!((code, error_code(&v)), (503, "shutting_down"));
    assert!(h.get("retry-after").is_some());
    let (code, _) = s.get("/health").await;
    assert_eq!(code, 503);
    let started = std::time::Instant::now();
    let TestServer { app, .. } = s;
    app.wait().await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the drain waits for the grace period, not the job"
    );

    // Restart: the short job had finished; the long one and the queued one run now.
    let s = TestServer::start_with(a, exec.clone()).await;
    assert_eq!(
        s.result(short["id"].as_str().unwrap()).await["status"],
        "accepted"
    );
    assert_eq!(
        s.result(long["id"].as_str().unwrap()).await["stdout"],
        "long"
    );
    assert_eq!(
        s.result(queued["id"].as_str().unwrap()).await["stdout"],
        "queued"
    );
    let runs = exec.runs.lock().unwrap().clone();
    assert_eq!(runs.get("short"), Some(&1));
    assert_eq!(runs.get("queued"), Some(&1));
    assert_eq!(
        runs.get("long"),
        Some(&2),
        "interrupted by the drain, then run again"
    );
}

#[tokio::test]
async fn a_data_directory_serves_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let _s = TestServer::start_with(args(dir.path()), Arc::new(FakeExecutor::default())).await;
    let config = kiln_server::Config::resolve(&args(dir.path())).unwrap();
    let err = kiln_server::App::start(config, Arc::new(FakeExecutor::default()))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("in use"), "{err}");
}
