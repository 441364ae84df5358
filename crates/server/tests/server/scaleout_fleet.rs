//! Scale-out leases and the fleet: jobs of dying workers end in the
//! dead-letter stream, a long run keeps its lease, and the fleet is visible
//! from an API node (the rest of scale-out mode is in `scaleout.rs`).

use crate::common::{fake, FakeExecutor, TestServer};
use crate::scaleout::{api, args, final_result, worker};
use kiln_server::queue::redis::{DEAD_LETTER, GROUP, STREAM};
use kiln_testsupport::Services;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_job_whose_workers_keep_dying_lands_in_the_dead_letter_stream() {
    let c = Services::start();
    let api = api(&c).await;
    let (code, v, _) = api
        .post("/api/v1/submissions", fake("echo", "poison"))
        .await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    // Two workers took the job and died without renewing its lease (a run
    // that kills its worker every time): two deliveries that never ended.
    let read = c
        .redis
        .cmd(&[
            "XREADGROUP",
            "GROUP",
            GROUP,
            "ghost-1",
            "COUNT",
            "1",
            "STREAMS",
            STREAM,
            ">",
        ])
        .unwrap();
    let entry = read
        .split("\r\n")
        .find(|t| {
            t.split_once('-').is_some_and(|(a, b)| {
                !a.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
        })
        .unwrap_or_else(|| panic!("no entry id in {read:?}"))
        .to_string();
    c.redis
        .cmd(&["XCLAIM", STREAM, GROUP, "ghost-2", "0", &entry])
        .unwrap();
    // The next holder sees the third delivery of a job allowed two attempts.
    let worker = worker(&c, 1, |a| {
        a.backend.lease_secs = Some(1);
        a.jobs.max_attempts = Some(2);
    })
    .await;
    let v = final_result(&api, &id).await;
    assert_eq!(v["status"], "internal_error", "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("dead-letter") && message.contains("interrupted 2 times"),
        "{message}"
    );
    assert_eq!(c.redis.int(&["XLEN", DEAD_LETTER]), 1);
    let entry = c.redis.cmd(&["XRANGE", DEAD_LETTER, "-", "+"]).unwrap();
    assert!(entry.contains(&id), "{entry}");
    worker.shutdown();
    worker.wait().await.unwrap();
}

#[tokio::test]
async fn a_job_running_longer_than_the_lease_is_renewed_not_taken_over() {
    let c = Services::start();
    let api = api(&c).await;
    // Runs of 3 s under a 1 s lease, with a second worker waiting to steal.
    let worker = worker(&c, 2, |a| a.backend.lease_secs = Some(1)).await;
    let (code, v, _) = api
        .post("/api/v1/submissions", fake("sleep 3000", "long"))
        .await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let v = final_result(&api, &id).await;
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "long");
    let store = kiln_server::store::postgres::PgStore::connect(&c.pg.url())
        .await
        .unwrap();
    let rec = kiln_server::store::Store::get(&store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.attempt, 1,
        "the heartbeat kept the lease: one run, no takeover"
    );
    worker.shutdown();
    worker.wait().await.unwrap();
}

/// Polls the API node's /health until `ok` holds for it.
async fn health_until(api: &TestServer, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (_, v) = api.get("/health").await;
        if ok(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_fleet_is_visible_from_an_api_node_and_prefixed_deployments_do_not_mix() {
    let c = Services::start();
    let api = api(&c).await;
    let v = health_until(&api, "degraded without workers", |v| {
        v["status"] == "degraded"
    })
    .await;
    assert_eq!(v["workers"]["fleet"]["workers"], 0, "{v}");
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no live worker"),
        "{v}"
    );
    assert_eq!(
        v["queue"]["persistent"], true,
        "the test Redis runs with AOF"
    );

    let w = worker(&c, 2, |_| {}).await;
    let v = health_until(&api, "the worker's heartbeat", |v| v["status"] == "ok").await;
    assert_eq!(v["workers"]["fleet"]["workers"], 2, "{v}");
    assert_eq!(v["workers"]["fleet"]["processes"], 1, "{v}");
    assert_eq!(v["workers"]["fleet"]["live"][0]["pid"], std::process::id());
    let start = Instant::now();
    loop {
        let metrics = reqwest::get(api.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "code_execution_workers 2") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "API node's gauge: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A Redis that would lose accepted jobs in a crash is said so.
    c.redis.cmd(&["CONFIG", "SET", "appendonly", "no"]).unwrap();
    let v = health_until(&api, "AOF off reported", |v| {
        v["queue"]["persistent"] == false
    })
    .await;
    assert_eq!(v["status"], "degraded");
    assert!(v["warnings"].to_string().contains("appendonly"), "{v}");
    c.redis
        .cmd(&["CONFIG", "SET", "appendonly", "yes"])
        .unwrap();

    // A second deployment on the same Redis, with a prefix: its jobs are not
    // run by the first deployment's workers, and its fleet is its own.
    let mut other = args(&c, 0);
    other.backend.queue_prefix = Some("other:".into());
    let other_api = TestServer::start_with(other, Arc::new(FakeExecutor::default())).await;
    let (code, v, _) = other_api
        .post("/api/v1/submissions", fake("echo", "mine"))
        .await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, v) = other_api.get(&format!("/api/v1/submissions/{id}")).await;
    assert_eq!(
        v["status"], "queued",
        "the other deployment's worker ran it: {v}"
    );
    let v = health_until(&other_api, "own fleet", |v| v["status"] == "degraded").await;
    assert_eq!(v["workers"]["fleet"]["workers"], 0, "{v}");
    assert_eq!(
        c.redis
            .int(&["XLEN", "other:code-execution-jobs:container"]),
        1
    );
    let ow = worker(&c, 1, |a| a.backend.queue_prefix = Some("other:".into())).await;
    let v = final_result(&other_api, &id).await;
    assert_eq!(v["stdout"], "mine");
    for w in [w, ow] {
        w.shutdown();
        w.wait().await.unwrap();
    }
}
