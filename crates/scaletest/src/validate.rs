//! `kiln scaletest validate DIR`: the seed's acceptance criteria applied to a
//! results directory.
//!
//! | id    | measured                                        | PASS      | WARN              | FAIL           |
//! |-------|-------------------------------------------------|-----------|-------------------|----------------|
//! | 14.6  | P95 of pod workspace durations (create → ready) | < 120 s   | 120 s ≤ x < 240 s | ≥ 240 s        |
//! | 14.7  | P95 of EC2 workspace durations                  | < 300 s   | 300 s ≤ x < 600 s | ≥ 600 s        |
//! | 14.9  | dashboard API latency P95                       | < 500 ms  | < 1000 ms         | ≥ 1000 ms      |
//! | 14.10 | dashboard API latency P99                       | < 1000 ms | < 2000 ms         | ≥ 2000 ms      |
//! | 14.11 | error rate of all workspace creations (pod+EC2) | < 1 %     | 1 % ≤ x ≤ 5 %     | > 5 %          |
//!
//! The error-rate rule (< 1 % PASS, ≤ 5 % WARN, > 5 % FAIL) also applies to
//! the operations behind each latency criterion (workspace jobs, dashboard
//! requests); a criterion's verdict is the worse of the two. 14.11 also FAILs
//! when fewer workspaces were attempted than 1000 × the run's `--scale`
//! (the requirement is 1000 concurrent provisioning operations). A missing
//! results file, a test with no successful run, or an interrupted test
//! FAILs (the test could not complete).
//!
//! A run's `run.json` ([`crate::manifest`]) says which tests it was asked
//! for; the criteria of the other tests are SKIP (not measured, not failed).
//! A run whose tests no criterion covers (`--test workspace-traffic` alone)
//! has nothing to validate and does not pass.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::ScaletestError;
use crate::manifest::{RunManifest, CREATE_WORKSPACES, DASHBOARD};

pub const POD_FILE: &str = "pod-workspaces.json";
pub const EC2_FILE: &str = "ec2-workspaces.json";
pub const DASHBOARD_FILE: &str = "dashboard-results.json";
pub const TRAFFIC_FILE: &str = "workspace-traffic-results.json";
pub const SUMMARY_FILE: &str = "summary-report.md";

/// The requirement 14.11 counts.
pub const CAPACITY: f64 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    /// Not judged: the run did not include the criterion's test.
    Skip,
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Skip => "SKIP",
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// A "lower is better" figure against its target: PASS below it, FAIL at
/// twice it or more, WARN between.
pub fn judge_target(measured: f64, target: f64) -> Verdict {
    if measured < target {
        Verdict::Pass
    } else if measured < 2.0 * target {
        Verdict::Warn
    } else {
        Verdict::Fail
    }
}

/// An error rate in percent: PASS below 1 %, FAIL over 5 %, WARN between.
pub fn judge_errors(percent: f64) -> Verdict {
    if percent < 1.0 {
        Verdict::Pass
    } else if percent <= 5.0 {
        Verdict::Warn
    } else {
        Verdict::Fail
    }
}

/// One criterion's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub name: &'static str,
    pub measured: Option<f64>,
    pub unit: &'static str,
    pub target: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl Check {
    pub fn line(&self) -> String {
        let m = self
            .measured
            .map(|v| format!("{v:.3} {}", self.unit))
            .unwrap_or_else(|| "n/a".into());
        format!(
            "{} {:<5} {:<38} measured {:>14}  target {:<10} {}",
            self.verdict.label(),
            self.id,
            self.name,
            m,
            self.target,
            self.detail
        )
    }
}

fn read(dir: &Path, file: &str) -> Result<Option<Value>, ScaletestError> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ScaletestError::ReadResults {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ScaletestError::ReadResults {
            path,
            message: e.to_string(),
        }),
    }
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0)
}

fn missing(
    id: &'static str,
    name: &'static str,
    unit: &'static str,
    target: String,
    file: &str,
) -> Check {
    Check {
        id,
        name,
        measured: None,
        unit,
        target,
        verdict: Verdict::Fail,
        detail: format!("not measured: {file} missing"),
    }
}

/// A latency-type criterion over one results file.
#[allow(clippy::too_many_arguments)]
fn latency_check(
    id: &'static str,
    name: &'static str,
    doc: Option<&Value>,
    file: &str,
    pointer: &str,
    scale_to_unit: f64,
    unit: &'static str,
    target: f64,
    errors_pointer: &str,
) -> Check {
    let target_text = format!("< {target} {unit}");
    let Some(doc) = doc else {
        return missing(id, name, unit, target_text, file);
    };
    let measured = num(doc, pointer) / scale_to_unit;
    let errors = num(doc, errors_pointer);
    let mut verdict = judge_target(measured, target).max(judge_errors(errors));
    let mut detail = format!("errors {errors:.2} %");
    if num(doc, "/total_pass") == 0.0 {
        verdict = Verdict::Fail;
        detail.push_str("; no successful run");
    }
    if doc["interrupted"] == true {
        verdict = Verdict::Fail;
        detail.push_str("; interrupted");
    }
    Check {
        id,
        name,
        measured: Some(measured),
        unit,
        target: target_text,
        verdict,
        detail,
    }
}

/// Applies every criterion to the results in `dir`.
pub fn evaluate(dir: &Path) -> Result<Vec<Check>, ScaletestError> {
    if !dir.is_dir() {
        return Err(ScaletestError::ReadResults {
            path: dir.into(),
            message: "not a directory".into(),
        });
    }
    let manifest = RunManifest::read(dir)?;
    let pod = read(dir, POD_FILE)?;
    let ec2 = read(dir, EC2_FILE)?;
    let dash = read(dir, DASHBOARD_FILE)?;
    let mut checks = vec![
        latency_check(
            "14.6",
            "Pod workspace provisioning P95",
            pod.as_ref(),
            POD_FILE,
            "/duration/p95_ms",
            1000.0,
            "s",
            120.0,
            "/error_rate_percent",
        ),
        latency_check(
            "14.7",
            "EC2 workspace provisioning P95",
            ec2.as_ref(),
            EC2_FILE,
            "/duration/p95_ms",
            1000.0,
            "s",
            300.0,
            "/error_rate_percent",
        ),
        latency_check(
            "14.9",
            "API response time P95",
            dash.as_ref(),
            DASHBOARD_FILE,
            "/latency/p95_ms",
            1.0,
            "ms",
            500.0,
            "/request_error_rate_percent",
        ),
        latency_check(
            "14.10",
            "API response time P99",
            dash.as_ref(),
            DASHBOARD_FILE,
            "/latency/p99_ms",
            1.0,
            "ms",
            1000.0,
            "/request_error_rate_percent",
        ),
    ];
    // 14.11: every creation of the run, pod and EC2 together.
    let groups: Vec<&Value> = [pod.as_ref(), ec2.as_ref()].into_iter().flatten().collect();
    let name = "Concurrent provisioning (error rate)";
    let target = "< 1 %".to_string();
    if groups.is_empty() {
        checks.push(missing(
            "14.11",
            name,
            "%",
            target,
            &format!("{POD_FILE} and {EC2_FILE}"),
        ));
    } else {
        let runs: f64 = groups.iter().map(|g| num(g, "/total_runs")).sum();
        let fails: f64 = groups.iter().map(|g| num(g, "/total_fail")).sum();
        let scale = groups
            .iter()
            .map(|g| num(g, "/scale"))
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let required = (CAPACITY * scale).round().max(1.0);
        let rate = if runs == 0.0 {
            100.0
        } else {
            100.0 * fails / runs
        };
        let mut verdict = judge_errors(rate);
        let mut detail = format!(
            "{} of {} workspaces ready; {} attempted of {} required (1000 × scale {scale})",
            runs - fails,
            runs,
            runs,
            required
        );
        if runs < required {
            verdict = Verdict::Fail;
            detail.push_str("; too few attempted");
        }
        if groups.len() < 2 {
            verdict = Verdict::Fail;
            detail.push_str(&format!(
                "; {} missing",
                if pod.is_none() { POD_FILE } else { EC2_FILE }
            ));
        }
        if groups.iter().any(|g| g["interrupted"] == true) {
            verdict = Verdict::Fail;
            detail.push_str("; interrupted");
        }
        checks.push(Check {
            id: "14.11",
            name,
            measured: Some(rate),
            unit: "%",
            target,
            verdict,
            detail,
        });
    }
    if let Some(m) = manifest {
        for c in checks.iter_mut().filter(|c| !m.covers(test_of(c.id))) {
            c.measured = None;
            c.verdict = Verdict::Skip;
            c.detail = format!(
                "not run: this run's tests were {} ({})",
                m.tests.join(", "),
                crate::manifest::RUN_FILE
            );
        }
    }
    Ok(checks)
}

/// The test whose results a criterion judges.
fn test_of(id: &str) -> &'static str {
    match id {
        "14.9" | "14.10" => DASHBOARD,
        _ => CREATE_WORKSPACES,
    }
}

/// The overall verdict: the worst judged criterion; `Skip` when none was
/// judged (which does not pass).
pub fn overall(checks: &[Check]) -> Verdict {
    checks
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Skip)
}

/// `kiln scaletest validate DIR`: prints each verdict; 0 when every judged
/// criterion passes, 1 otherwise (also when none could be judged).
pub fn run(dir: &Path) -> Result<i32, ScaletestError> {
    let checks = evaluate(dir)?;
    println!("acceptance criteria for {}:", dir.display());
    for c in &checks {
        println!("  {}", c.line());
    }
    let worst = overall(&checks);
    if worst == Verdict::Skip {
        println!("overall: FAIL (no acceptance criterion covers the tests of this run)");
        return Ok(1);
    }
    println!("overall: {}", worst.label());
    Ok(if worst == Verdict::Pass { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert!(
            verdicts(d.path()).iter().all(|(_, v)| *v == Verdict::Pass),
            "{:?}",
            verdicts(d.path())
        );
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
                ("14.11", Verdict::Pass)
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
                ("14.11", Verdict::Warn)
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
    fn criteria_of_tests_the_run_did_not_ask_for_are_skipped() {
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
                ("14.9", Verdict::Skip),
                ("14.10", Verdict::Skip),
                ("14.11", Verdict::Pass)
            ]
        );
        assert_eq!(run(d.path()).unwrap(), 0);

        // Asked for, but its results are missing: still FAIL.
        manifest(d.path(), Test::All);
        assert_eq!(verdicts(d.path())[2], ("14.9", Verdict::Fail));
        assert_eq!(run(d.path()).unwrap(), 1);

        // Only traffic: no criterion judged, so no pass.
        manifest(d.path(), Test::WorkspaceTraffic);
        assert!(verdicts(d.path()).iter().all(|(_, v)| *v == Verdict::Skip));
        assert_eq!(run(d.path()).unwrap(), 1);
    }
}
