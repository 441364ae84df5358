use super::*;
use serde_json::{json, Value};

#[test]
fn target_boundaries() {
    assert_eq!(judge_target(119.999, 120.0), Verdict::Pass);
    assert_eq!(judge_target(120.0, 120.0), Verdict::Warn);
    assert_eq!(judge_target(239.999, 120.0), Verdict::Warn);
    assert_eq!(judge_target(240.0, 120.0), Verdict::Fail);
    assert_eq!(judge_target(499.0, 500.0), Verdict::Pass);
    assert_eq!(judge_target(1000.0, 500.0), Verdict::Fail);
}

#[test]
fn error_rate_boundaries() {
    assert_eq!(judge_errors(0.0), Verdict::Pass);
    assert_eq!(judge_errors(0.999), Verdict::Pass);
    assert_eq!(judge_errors(1.0), Verdict::Warn);
    assert_eq!(judge_errors(5.0), Verdict::Warn);
    assert_eq!(judge_errors(5.001), Verdict::Fail);
}

fn group(p95_s: f64, runs: u64, fails: u64, scale: f64) -> Value {
    json!({"total_runs": runs, "total_pass": runs - fails, "total_fail": fails, "scale": scale,
           "error_rate_percent": 100.0 * fails as f64 / runs as f64, "interrupted": false,
           "duration": {"p95_ms": p95_s * 1000.0}})
}

fn write(dir: &Path, pod: Value, ec2: Value, dash: Value) {
    std::fs::write(dir.join(POD_FILE), pod.to_string()).unwrap();
    std::fs::write(dir.join(EC2_FILE), ec2.to_string()).unwrap();
    std::fs::write(dir.join(DASHBOARD_FILE), dash.to_string()).unwrap();
}

fn verdicts(dir: &Path) -> Vec<(&'static str, Verdict)> {
    evaluate(dir)
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.verdict))
        .collect()
}

#[test]
fn all_pass_warn_and_fail() {
    let d = tempfile::tempdir().unwrap();
    let dash = |p95: f64, p99: f64, err: f64| {
        json!({"total_runs": 5, "total_pass": 5, "total_fail": 0, "request_error_rate_percent": err,
               "latency": {"p95_ms": p95, "p99_ms": p99}})
    };
    write(
        d.path(),
        group(60.0, 700, 0, 1.0),
        group(200.0, 300, 0, 1.0),
        dash(100.0, 400.0, 0.0),
    );
    // No run.json and no traffic results: the traffic criterion is NOT RUN.
    let v = verdicts(d.path());
    assert!(v[..5].iter().all(|(_, v)| *v == Verdict::Pass), "{v:?}");
    assert_eq!(v[5], ("traffic", Verdict::NotRun));
    assert_eq!(run(d.path()).unwrap(), 0);

    // Exactly at the targets → WARN; at twice → FAIL.
    write(
        d.path(),
        group(120.0, 700, 0, 1.0),
        group(600.0, 300, 0, 1.0),
        dash(500.0, 1999.0, 0.0),
    );
    assert_eq!(
        verdicts(d.path()),
        vec![
            ("14.6", Verdict::Warn),
            ("14.7", Verdict::Fail),
            ("14.9", Verdict::Warn),
            ("14.10", Verdict::Warn),
            ("14.11", Verdict::Pass),
            ("traffic", Verdict::NotRun)
        ]
    );
    assert_eq!(run(d.path()).unwrap(), 1);

    // Errors: 2 % of creations → WARN on 14.6/14.11; 6 % of requests → FAIL on 14.9/14.10.
    write(
        d.path(),
        group(10.0, 700, 14, 1.0),
        group(10.0, 300, 6, 1.0),
        dash(10.0, 20.0, 6.0),
    );
    assert_eq!(
        verdicts(d.path()),
        vec![
            ("14.6", Verdict::Warn),
            ("14.7", Verdict::Warn),
            ("14.9", Verdict::Fail),
            ("14.10", Verdict::Fail),
            ("14.11", Verdict::Warn),
            ("traffic", Verdict::NotRun)
        ]
    );
}

#[test]
fn scaled_runs_need_1000_times_scale_and_missing_files_fail() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(POD_FILE), group(1.0, 7, 0, 0.01).to_string()).unwrap();
    std::fs::write(d.path().join(EC2_FILE), group(1.0, 3, 0, 0.01).to_string()).unwrap();
    let v = verdicts(d.path());
    assert_eq!(v[4], ("14.11", Verdict::Pass));
    assert_eq!(v[2], ("14.9", Verdict::Fail)); // dashboard missing
    std::fs::write(d.path().join(EC2_FILE), group(1.0, 2, 0, 0.01).to_string()).unwrap();
    assert_eq!(verdicts(d.path())[4], ("14.11", Verdict::Fail));
    let e = evaluate(&d.path().join("nope")).unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
}

fn manifest(dir: &Path, test: crate::Test) {
    crate::manifest::RunManifest {
        tests: test.names().iter().map(|t| t.to_string()).collect(),
        platform: "kiln".into(),
        target: "http://127.0.0.1:1".into(),
        scale: 0.01,
        run_id: "r".into(),
        started_at: "2026-11-23T12:00:00Z".into(),
    }
    .write(dir)
    .unwrap();
}

#[test]
fn criteria_of_tests_the_run_did_not_ask_for_are_not_run() {
    use crate::Test;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(POD_FILE), group(1.0, 7, 0, 0.01).to_string()).unwrap();
    std::fs::write(d.path().join(EC2_FILE), group(1.0, 3, 0, 0.01).to_string()).unwrap();
    manifest(d.path(), Test::CreateWorkspaces);
    let v = verdicts(d.path());
    assert_eq!(
        v,
        vec![
            ("14.6", Verdict::Pass),
            ("14.7", Verdict::Pass),
            ("14.9", Verdict::NotRun),
            ("14.10", Verdict::NotRun),
            ("14.11", Verdict::Pass),
            ("traffic", Verdict::NotRun)
        ]
    );
    assert_eq!(run(d.path()).unwrap(), 0);

    // Asked for, but its results are missing: still FAIL.
    manifest(d.path(), Test::All);
    assert_eq!(verdicts(d.path())[2], ("14.9", Verdict::Fail));
    assert_eq!(run(d.path()).unwrap(), 1);

    // Only traffic, asked for but no results: the five others NOT RUN, traffic FAILs.
    manifest(d.path(), Test::WorkspaceTraffic);
    let v = verdicts(d.path());
    assert!(v[..5].iter().all(|(_, v)| *v == Verdict::NotRun), "{v:?}");
    assert_eq!(v[5], ("traffic", Verdict::Fail));
    assert_eq!(run(d.path()).unwrap(), 1);
    // With its results: judged by the error-rate rule alone.
    let traffic = |runs: u64, fails: u64| {
        json!({"total_runs": runs, "total_pass": runs - fails, "total_fail": fails, "interrupted": false,
               "error_rate_percent": if runs == 0 { 0.0 } else { 100.0 * fails as f64 / runs as f64 },
               "totals": {"ticks": 20, "expected_ticks": 20}})
    };
    for (runs, fails, want, code) in [
        (7, 0, Verdict::Pass, 0),
        (50, 1, Verdict::Warn, 1),
        (10, 1, Verdict::Fail, 1),
        (0, 0, Verdict::Fail, 1),
    ] {
        std::fs::write(
            d.path().join(TRAFFIC_FILE),
            traffic(runs, fails).to_string(),
        )
        .unwrap();
        assert_eq!(verdicts(d.path())[5], ("traffic", want), "{runs} {fails}");
        assert_eq!(run(d.path()).unwrap(), code);
    }
}

#[test]
fn none_judged_does_not_pass() {
    assert_eq!(overall(&[]), Verdict::NotRun);
}
