//! `kiln loadtest` against the real embedded `kiln serve --workers 1`, loaded
//! beyond what one worker runs: the report names the workers as the
//! bottleneck, with the stages of every result, and sizes the fleet from them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Python programs at 40 a second for 8 s: far more than one sandboxed worker
/// runs (each job takes tens of milliseconds at least).
const SCENARIO: &str = r#"
name = "one-worker"
[load]
model = "open"
spacing = "uniform"
late_threshold = "200ms"
[[load.stages]]
duration = "8s"
rate = 40
[languages]
python = 1
[complexity]
simple = 1
[submit]
timeout = "120s"
"#;

fn loadtest(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["loadtest", "--quiet", "--scenario"])
        .arg(&scenario)
        .arg("--out-exact")
        .arg(&out)
        .args(extra)
        .status()
        .expect("run kiln loadtest");
    let json = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    (
        status.code().unwrap_or(-1),
        serde_json::from_str(&json).unwrap(),
    )
}

#[test]
fn one_embedded_worker_is_named_the_bottleneck() {
    let dir = tempfile::tempdir().unwrap();
    let (_code, r) = loadtest(dir.path(), &["--workers", "1"]);
    let phase = &r["phases"][0];
    assert!(
        phase["outcomes"]["success"].as_u64().unwrap_or(0) > 0,
        "nothing ran: {}",
        phase["outcomes"]
    );
    let b = &r["answers"]["bottlenecks"][0];
    assert_eq!(b["layer"], "workers", "{b}");
    // Kiln's results carry their stages, so the decomposition is the server's.
    assert_eq!(
        phase["stages"]["with_stages"], phase["completed"],
        "{}",
        phase["stages"]
    );
    let queue = phase["stages"]["parts"]["queue"]["p95_ms"]
        .as_f64()
        .unwrap();
    let run = phase["stages"]["parts"]["run"]["p95_ms"].as_f64().unwrap();
    assert!(
        queue > run,
        "queue wait P95 {queue} ms should dwarf run P95 {run} ms"
    );
    // More than one worker is recommended for the rate that saturated one.
    let need = &r["answers"]["recommendation"]["this_run"][0];
    assert!(need["workers"].as_u64().unwrap() > 1, "{need}");
}

/// `--sweep workers` starts the embedded server once per worker count, keeps
/// it busy (three users per worker) and reports the count with the most
/// throughput.
#[test]
fn a_worker_sweep_reports_the_best_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.path().join("sweep");
    let status = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["loadtest", "--quiet", "--scenario"])
        .arg(&scenario)
        .arg("--out-exact")
        .arg(&out)
        .args([
            "--sweep",
            "workers",
            "--sweep-steps",
            "1,2",
            "--duration",
            "4s",
        ])
        .status()
        .expect("run kiln loadtest --sweep workers");
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(status.code(), Some(0), "{sweep}");
    let steps = sweep["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{sweep}");
    let best = steps
        .iter()
        .map(|s| s["achieved_rps"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(best > 0.0, "{sweep}");
    assert_eq!(
        sweep["best"]["achieved_rps"].as_f64(),
        Some(best),
        "{sweep}"
    );
    assert!(sweep["answer"]
        .as_str()
        .unwrap()
        .starts_with("best concurrency per worker: "));
    // Each step ran the closed model with three users per worker.
    let step2: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("step-2/results.json")).unwrap())
            .unwrap();
    assert_eq!(
        step2["phases"][0]["load"]["users"], 6,
        "{}",
        step2["phases"][0]["load"]
    );
}
