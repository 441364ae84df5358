//! Scale-out with the real binaries and the real sandbox: `kiln serve --queue
//! --store` API nodes and `kiln worker` processes on a private Redis (AOF) and
//! PostgreSQL. A worker killed with -9 in the middle of jobs loses none: another
//! worker reclaims them when their lease runs out, and each ends with exactly
//! one final result. Redis killed under load: 503 while it is down, recovery
//! by itself, no accepted submission lost.

#[path = "serve_common.rs"]
mod common;

use std::time::{Duration, Instant};

use kiln_server::queue::redis::{GROUP, STREAM};
use kiln_server::store::{postgres::PgStore, Store};
use kiln_testsupport::Services;
use serde_json::{json, Value};

use common::{request, Server};

fn api(c: &Services) -> Server {
    let (q, s) = (c.redis.url(), c.pg.url());
    Server::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--queue",
        &q,
        "--store",
        &s,
    ])
}

/// A `kiln worker` process with default settings (lease included).
fn worker(c: &Services, workers: &str) -> Server {
    let (q, s) = (c.redis.url(), c.pg.url());
    Server::spawn(&[
        "worker",
        "--metrics-listen",
        "127.0.0.1:0",
        "--queue",
        &q,
        "--store",
        &s,
        "--workers",
        workers,
    ])
}

/// The stored attempt number of each submission (how many runs started).
fn attempts(c: &Services, ids: &[String]) -> Vec<u32> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = PgStore::connect(&c.pg.url()).await.unwrap();
        let recs = store.get_many(ids).await.unwrap();
        assert_eq!(recs.len(), ids.len());
        recs.iter().map(|r| r.attempt).collect()
    })
}

fn metric(addr: &str, name: &str) -> f64 {
    let (code, v) = request(addr, "GET", "/metrics", None);
    assert_eq!(code, 200);
    let text = v.as_str().unwrap_or_default().to_string();
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn serve_and_worker_binaries_run_python_and_c_through_redis_and_postgres() {
    let c = Services::start();
    let api = api(&c);
    let worker = worker(&c, "2");
    let (code, v) = request(
        &api.addr,
        "POST",
        "/api/v1/submissions?wait=true",
        Some(&json!({ "language": "python", "source": "print('hello, world')" })),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "hello, world\n");
    let c_src = "#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);return 0;}\n";
    let id = api.submit(
        &json!({ "language": "c", "source": c_src, "stdin": "2 40", "expected_output": "42" }),
    );
    let v = api.result(&id, Duration::from_secs(120));
    assert_eq!(v["status"], "accepted", "{v}");
    let (code, health) = request(&worker.addr, "GET", "/health", None);
    assert_eq!(code, 200, "{health}");
    assert!(metric(&worker.addr, "code_execution_job_duration_seconds_count") >= 2.0);
    assert_eq!(metric(&worker.addr, "code_execution_workers"), 2.0);
    let (code, _) = request(&worker.addr, "GET", "/api/v1/languages", None);
    assert_eq!(code, 404, "a worker serves no public API");
}

#[test]
fn kill_9_of_a_worker_mid_jobs_leaves_every_job_with_exactly_one_final_result() {
    // Default settings: the lease is short (30 s) because workers renew it
    // while a job runs, so a dead worker's jobs end within 90 s of its death.
    let c = Services::start();
    let api = api(&c);
    let doomed = worker(&c, "2");
    let job = |i: usize| -> Value {
        json!({ "language": "python", "source": "import time\ntime.sleep(1)\nprint(input())", "stdin": format!("job-{i}") })
    };
    let ids: Vec<String> = (0..6).map(|i| api.submit(&job(i))).collect();
    let start = Instant::now();
    while metric(&doomed.addr, "code_execution_active_jobs") < 1.0 {
        assert!(start.elapsed() < Duration::from_secs(60), "no job started");
        std::thread::sleep(Duration::from_millis(20));
    }
    doomed.kill9();
    let killed_at = Instant::now();
    let survivor = worker(&c, "2");
    for (i, id) in ids.iter().enumerate() {
        let left = Duration::from_secs(90).saturating_sub(killed_at.elapsed());
        let v = api.result(id, left);
        assert_eq!(v["status"], "accepted", "{v}");
        assert_eq!(v["stdout"], format!("job-{i}\n"));
    }
    assert!(
        killed_at.elapsed() < Duration::from_secs(90),
        "every job must end within 90 s of the kill"
    );
    let attempts = attempts(&c, &ids);
    assert!(
        attempts.iter().any(|&a| a >= 2),
        "the killed worker's jobs must have been run again: {attempts:?}"
    );
    // Every job acknowledged once its result was stored: nothing left pending.
    let start = Instant::now();
    while c.redis.int(&["XLEN", STREAM]) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "stream not drained"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pending = c.redis.cmd(&["XPENDING", STREAM, GROUP]).unwrap();
    assert!(pending.starts_with("*4\r\n:0\r\n"), "{pending:?}");
    drop(survivor);
}

#[test]
fn redis_killed_under_load_the_binaries_answer_503_recover_and_lose_nothing() {
    let mut c = Services::start();
    let api = api(&c);
    let _worker = worker(&c, "2");
    let job =
        |tag: String| json!({ "language": "python", "source": "print(input())", "stdin": tag });
    let mut ids: Vec<(String, String)> = Vec::new();
    for i in 0..6 {
        let tag = format!("pre-{i}");
        ids.push((api.submit(&job(tag.clone())), tag));
    }
    c.redis.kill();
    let (code, v) = request(
        &api.addr,
        "POST",
        "/api/v1/submissions",
        Some(&job("down".into())),
    );
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["error"]["code"], "queue_unavailable", "{v}");
    let (code, _) = request(&api.addr, "GET", "/health", None);
    assert_eq!(code, 503);
    c.redis.restart();
    let start = Instant::now();
    loop {
        let (code, v) = request(
            &api.addr,
            "POST",
            "/api/v1/submissions",
            Some(&job("after".into())),
        );
        if code == 202 {
            ids.push((v["id"].as_str().unwrap().to_string(), "after".into()));
            break;
        }
        assert_eq!(code, 503, "{v}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the API did not recover"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for (id, tag) in &ids {
        let v = api.result(id, Duration::from_secs(120));
        assert_eq!(v["status"], "accepted", "{v}");
        assert_eq!(v["stdout"], format!("{tag}\n"));
    }
}
