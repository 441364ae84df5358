//! Honesty tests: the generator reports what the target really did.

mod common;

use std::time::Duration;

use common::{constant, ms, run, stub_url};
use kiln_loadtest::stub::StubConfig;

/// Tests run in parallel on small shared machines: a send up to 200 ms late
/// is not counted late here, so only a real overload fails these runs.
const LENIENT: &str = "late_threshold = \"200ms\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_50ms_delay_gives_p50_of_50ms() {
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(50),
        workers: 4,
        ..Default::default()
    })
    .await;
    // Up to three tries: a host busy with parallel compiles can delay timers
    // once; a bias of the generator would fail every try.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (code, r, _d) = run(&constant(40.0, "3s", "uniform", LENIENT), &url, &[]).await;
        let p = &r["phases"][0];
        assert_eq!(p["sent"], 120);
        assert_eq!(p["outcomes"]["success"], 120);
        assert_eq!(
            code,
            0,
            "{}\n{}",
            p["generator"],
            serde_json::to_string_pretty(&p["criteria"]).unwrap()
        );
        let p50 = ms(p, &["latency", "p50_ms"]);
        if (50.0..=57.0).contains(&p50) {
            return;
        }
        seen.push(p50);
    }
    panic!("P50 {seen:?} ms for a fixed 50 ms server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_every_n_requests_shows_in_p99() {
    // The whole server freezes for 1 s at the 150th submission (like a GC pause).
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(2),
        stall_every: 150,
        stall_for: Duration::from_secs(1),
        workers: 4,
        ..Default::default()
    })
    .await;
    // Few connections in flight: a closed-loop tool would stop sending during the
    // freeze and hide it; latency from the scheduled start must not.
    let (_code, r, _d) = run(
        &constant(100.0, "3s", "uniform", "max_in_flight = 1000"),
        &url,
        &[],
    )
    .await;
    let p = &r["phases"][0];
    let p99 = ms(p, &["latency", "p99_ms"]);
    let p50 = ms(p, &["latency", "p50_ms"]);
    let p90 = ms(p, &["latency", "p90_ms"]);
    assert!(p99 >= 900.0, "P99 {p99} ms hides a 1 s stall");
    assert!(
        p90 >= 300.0,
        "P90 {p90} ms: ~1/3 of arrivals were scheduled during the freeze"
    );
    assert!(p50 < 100.0, "P50 {p50} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_rate_is_inconclusive() {
    // 50 in flight at 20 ms each carry at most 2,500 req/s: most of 50,000
    // arrivals are dropped, and counted as failures they would fail the phase.
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(20),
        workers: 4,
        ..Default::default()
    })
    .await;
    let (code, r, dir) = run(
        &constant(50_000.0, "1s", "uniform", "max_in_flight = 50"),
        &url,
        &[],
    )
    .await;
    let p = &r["phases"][0];
    assert!(p["dropped"].as_u64().unwrap() > 1000);
    assert_eq!(
        p["generator"]["drops_change_verdict"], true,
        "{}",
        p["generator"]
    );
    assert_eq!(p["trust"]["trustworthy"], false, "{}", p["trust"]);
    assert_eq!(r["verdict"], "inconclusive");
    assert_eq!(code, kiln_loadtest::EXIT_OVERLOADED);
    let md = std::fs::read_to_string(dir.path().join("out/summary-report.md")).unwrap();
    assert!(md.contains("**Inconclusive**"), "{md}");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("data-inconclusive=\"true\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_target_fails_and_is_never_an_overloaded_generator() {
    // The server freezes for 1.5 s at every 60th submission; 30 in flight at
    // most, so arrivals are dropped during each freeze. The generator itself
    // keeps its schedule: the target fails P99, and the run says so (exit 1).
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(2),
        stall_every: 60,
        stall_for: Duration::from_millis(1500),
        workers: 4,
        ..Default::default()
    })
    .await;
    let scenario = constant(
        60.0,
        "3s",
        "uniform",
        "max_in_flight = 30\nlate_threshold = \"200ms\"",
    ) + "[[criteria]]\nmetric = \"p99_latency_s\"\nop = \"<\"\ntarget = 0.5\n";
    let (code, r, _d) = run(&scenario, &url, &[]).await;
    let p = &r["phases"][0];
    assert!(p["dropped"].as_u64().unwrap() > 0, "{}", p["generator"]);
    assert_ne!(p["generator"]["grade"], "overloaded", "{}", p["generator"]);
    assert_eq!(p["generator"]["overloaded"], false);
    assert_eq!(p["passed"], false);
    assert_eq!(r["verdict"], "fail", "{}", p["trust"]);
    assert_eq!(code, kiln_loadtest::EXIT_FAIL);
}

#[test]
fn lateness_flags_parse() {
    let a = common::args(&["--late-threshold", "50ms", "--max-late-fraction", "0.05"]);
    assert_eq!(a.late_threshold, Some(Duration::from_millis(50)));
    assert_eq!(a.max_late_fraction, 0.05);
    assert_eq!(common::args(&[]).max_late_fraction, 0.01);
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: kiln_loadtest::LoadtestArgs,
    }
    assert!(Cli::try_parse_from(["x", "--max-late-fraction", "2"]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_verdicts_and_rejections_fail_the_criteria() {
    let url = stub_url(StubConfig {
        wrong_every: 5,
        reject_every: 7,
        workers: 4,
        ..Default::default()
    })
    .await;
    let scenario = constant(50.0, "2s", "poisson", LENIENT)
        + "[[criteria]]\nmetric = \"success_rate\"\nop = \">\"\ntarget = 95\n[[criteria]]\nmetric = \"error_rate\"\nop = \"<\"\ntarget = 5\n";
    let (code, r, _d) = run(&scenario, &url, &["--mode", "poll"]).await;
    let p = &r["phases"][0];
    assert_eq!(code, kiln_loadtest::EXIT_FAIL);
    assert!(
        p["outcomes"]["wrong_verdict:wrong_answer"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        p["outcomes"]
    );
    assert!(p["outcomes"]["http_503"].as_u64().unwrap() > 0);
    assert_eq!(p["criteria"][0]["passed"], false);
    assert_eq!(p["criteria"][1]["passed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_and_queue_samples() {
    // As many workers as users: the stub's queue stays empty, so "stable"
    // cannot be fooled by the first samples of the ramp-up (with 2 workers,
    // 4 samples over 3 s sometimes read as a queue growing by 2 jobs/s).
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(30),
        workers: 8,
        ..Default::default()
    })
    .await;
    let scenario = "name = \"closed\"\n[load]\nmodel = \"closed\"\nusers = 8\nspawn_rate = 100\nduration = \"3s\"\n\
        [[criteria]]\nmetric = \"queue_depth\"\nop = \"stable\"\n";
    let (code, r, _d) = run(scenario, &url, &[]).await;
    let p = &r["phases"][0];
    let done = p["completed"].as_u64().unwrap();
    assert!(
        (400..=850).contains(&done),
        "8 users x 3 s / 30 ms ≈ 800, got {done}"
    );
    assert!(
        p["queue"]["samples"].as_u64().unwrap() >= 2,
        "{}",
        p["queue"]
    );
    assert_eq!(p["queue"]["max_workers"], 8.0);
    assert_eq!(code, 0, "{}", p["criteria"]);
}

#[tokio::test]
async fn tool_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[load]\n[[load.stages]]\nduration = \"10s\"\nrate = \"fast\"\n",
    )
    .unwrap();
    let code = kiln_loadtest::run(common::args(&[
        "-q",
        "--scenario",
        bad.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
    ]))
    .await
    .unwrap();
    assert_eq!(code, kiln_loadtest::EXIT_ERROR);
    let err = kiln_loadtest::run_inner(&common::args(&["-q", "--scenario", bad.to_str().unwrap()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 5"), "{err}");
    // Nothing listening: a sentence at once, not a 10-minute wait for /health.
    let port = kiln_loadtest::serve::free_port().unwrap();
    let target = format!("http://127.0.0.1:{port}");
    let a = common::args(&[
        "-q",
        "--scenario",
        "smoke",
        "--target",
        &target,
        "--health-timeout",
        "600s",
    ]);
    let run = kiln_loadtest::run_inner(&a);
    let err = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("a refused connection fails at once, not after --health-timeout")
        .unwrap_err();
    assert!(
        err.to_string().contains("connection refused") && err.to_string().contains("--target"),
        "{err}"
    );
}

#[tokio::test]
async fn dry_run_sends_nothing() {
    // A target that is not there: a dry run never contacts it.
    let (code, dir) = kiln_loadtest::run_inner(&common::args(&[
        "--dry-run",
        "--scenario",
        "all",
        "--target",
        "http://127.0.0.1:9",
    ]))
    .await
    .unwrap();
    assert_eq!((code, dir), (0, std::path::PathBuf::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k6_and_locust_shapes_are_written() {
    let url = stub_url(StubConfig {
        delay: Duration::from_millis(20),
        workers: 4,
        ..Default::default()
    })
    .await;
    let (_code, r, dir) = run(&constant(40.0, "1s", "uniform", LENIENT), &url, &[]).await;
    let v = &r["metrics"]["http_req_duration"]["values"];
    let p95 = v["p(95)"].as_f64().unwrap();
    assert!(
        (p95 - ms(&r["phases"][0], &["latency", "p95_ms"])).abs() < 0.01,
        "{v}"
    );
    assert_eq!(r["metrics"]["http_reqs"]["values"]["count"], 40);
    let csv = std::fs::read_to_string(dir.path().join("out/results_stats.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("Type,Name,Request Count,Failure Count,Median Response Time"));
    assert!(
        lines[1].starts_with("POST,/api/v1/submissions [test],40,0,"),
        "{csv}"
    );
    assert!(lines[2].starts_with(",Aggregated,40,0,"), "{csv}");
}

#[test]
fn cli_arguments_parse() {
    let a = common::args(&[
        "--scenario",
        "compilation",
        "--scale",
        "0.1",
        "--duration",
        "30s",
        "--mode",
        "poll",
        "--unique-sources",
    ]);
    assert_eq!(a.scenario, "compilation");
    assert_eq!(a.scale, Some(0.1));
    assert_eq!(a.duration, Some(Duration::from_secs(30)));
    assert!(a.unique_sources);
}
