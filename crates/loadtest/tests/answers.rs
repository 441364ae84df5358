//! The report answers the plan's three questions: targets built to saturate
//! one layer each are named by the bottleneck rules, and the scaling
//! recommendation for a target of known service time matches queueing theory.

mod common;

use std::time::Duration;

use common::{constant, run, stub_url};
use kiln_loadtest::analysis::scaling::workers_for;
use kiln_loadtest::stub::StubConfig;
use serde_json::Value;

/// Tests share a small machine: sends up to 200 ms late are not "late".
const LENIENT: &str = "late_threshold = \"200ms\"";

fn layer(r: &Value) -> &str {
    r["answers"]["bottlenecks"][0]["layer"]
        .as_str()
        .unwrap_or("none")
}

fn summary(r: &Value) -> String {
    r["answers"]["bottlenecks"][0]["summary"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_handles_one_call_at_a_time_is_named() {
    // 40 ms per submit call, one at a time: at most 25 calls/s, sent 40/s.
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(5),
        api_delay: Duration::from_millis(40),
        workers: 8,
        ..Default::default()
    })
    .await;
    let (_code, r, _d) = run(&constant(40.0, "4s", "uniform", LENIENT), &url, &[]).await;
    assert_eq!(layer(&r), "api", "{}", summary(&r));
    let api = &r["phases"][0]["stages"]["parts"]["api"];
    assert!(api["p95_ms"].as_f64().unwrap() > 500.0, "{api}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_workers_are_named() {
    // One worker, 50 ms a job: at most 20 jobs/s, sent 30/s.
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(50),
        capacity: 1,
        workers: 1,
        ..Default::default()
    })
    .await;
    let (_code, r, _d) = run(&constant(30.0, "5s", "uniform", LENIENT), &url, &[]).await;
    assert_eq!(layer(&r), "workers", "{}", summary(&r));
    let s = summary(&r);
    assert!(
        s.contains("utilisation") && s.contains("queue wait went from"),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_is_named_not_the_workers_it_holds() {
    // Three writes of 15 ms per submission, one at a time: at most 22/s, sent 30/s.
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(5),
        store_delay: Duration::from_millis(15),
        workers: 64,
        ..Default::default()
    })
    .await;
    let (_code, r, _d) = run(&constant(30.0, "4s", "uniform", LENIENT), &url, &[]).await;
    assert_eq!(layer(&r), "database", "{}", summary(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_target_reaches_no_limit_and_every_report_answers() {
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(10),
        capacity: 8,
        workers: 8,
        ..Default::default()
    })
    .await;
    let (code, r, dir) = run(&constant(10.0, "3s", "uniform", LENIENT), &url, &[]).await;
    assert_eq!(code, 0);
    assert_eq!(layer(&r), "none", "{}", summary(&r));
    assert_eq!(r["answers"]["slos_met"], true);
    let out = dir.path().join("out");
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(json.starts_with("{\n  \"answers\": {"), "answers first");
    let md = std::fs::read_to_string(out.join("summary-report.md")).unwrap();
    let answers = md.find("## Answers").expect("Answers in summary-report.md");
    assert!(
        answers < md.find("## Phase").unwrap(),
        "Answers before the phases"
    );
    assert!(
        md.contains("1. **SLOs met: yes.**") && md.contains("The plan at full rates"),
        "{md}"
    );
    assert!(
        md.contains("Where the time went in `test`") && md.contains("| run | "),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"answers\"><h2>Answers</h2>"));
}

/// A stub of known service time S and c workers at rate λ: the recommended
/// workers are those of the offered load λ·S at 70 % (queueing theory:
/// utilisation = λ·S / c), within 10 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recommendation_matches_queueing_theory() {
    let (service_s, c, rate) = (0.1, 4, 20.0);
    let url = stub_url(StubConfig {
        delay: Duration::from_secs_f64(service_s),
        capacity: c,
        workers: c as u64,
        ..Default::default()
    })
    .await;
    let theory = rate * service_s; // 2 busy workers: 50 % of 4
    let mut seen = Vec::new();
    // Up to three tries: a host busy with parallel builds can stretch sleeps once.
    for _ in 0..3 {
        let (_code, r, _d) = run(&constant(rate, "4s", "uniform", LENIENT), &url, &[]).await;
        let need = &r["answers"]["recommendation"]["this_run"][0];
        let offered = need["offered_load"].as_f64().unwrap();
        let workers = need["workers"].as_u64().unwrap() as u32;
        if (offered - theory).abs() / theory <= 0.10 && workers == workers_for(theory, 0.7) {
            assert_eq!(need["workers_min"], workers_for(theory, 0.8));
            assert_eq!(need["workers_max"], workers_for(theory, 0.6));
            return;
        }
        seen.push((offered, workers));
    }
    panic!(
        "offered load and workers {seen:?}; theory {theory} busy, {} workers at 70 %",
        workers_for(theory, 0.7)
    );
}

/// `--sweep rates` against one 50 ms worker (20 jobs/s at most): × 0.5 and
/// × 1 of 8 req/s meet P95 < 300 ms, × 4 (32 req/s) cannot; the knee is × 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_sweep_finds_the_knee() {
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(50),
        capacity: 1,
        workers: 1,
        ..Default::default()
    })
    .await;
    let criteria = "\n[[criteria]]\nmetric = \"p95_latency_s\"\nop = \"<\"\ntarget = 0.3\n";
    let toml = constant(8.0, "3s", "uniform", LENIENT) + criteria;
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("scenario.toml");
    std::fs::write(&scn, toml).unwrap();
    let out = dir.path().join("sweep");
    let argv = [
        "--quiet",
        "--scenario",
        scn.to_str().unwrap(),
        "--target",
        &url,
        "--out-exact",
        out.to_str().unwrap(),
        "--sweep",
        "--sweep-steps",
        "0.5,1,4",
        "--duration",
        "3s",
    ];
    let code = kiln_loadtest::run(common::args(&argv)).await.unwrap();
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(code, 0, "{sweep}");
    assert_eq!(sweep["knee"]["value"], 1.0, "{sweep}");
    assert_eq!(sweep["steps"].as_array().unwrap().len(), 3);
    assert_eq!(sweep["steps"][2]["exit_code"], 1, "{sweep}");
    assert!(out.join("step-3/summary-report.md").exists());
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("knee: 8.0 req/s"), "{md}");
}
