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
//! `traffic` (workspace-traffic): the seed's error-rate rule over the
//! workspaces that received traffic (< 1 % PASS, ≤ 5 % WARN, > 5 % FAIL); no
//! workspace reached, or an interrupted test, FAILs.
//!
//! A run's `run.json` ([`crate::manifest`]) says which tests it was asked
//! for; the criteria of the other tests are NOT RUN (not measured, not
//! failed). A run with no judged criterion does not pass. A directory
//! without `run.json` (an older run) is judged on every criterion, the
//! traffic one only when its results file is there.
//!
//! Layout: this module holds the verdicts and applies the criteria; `checks`
//! judges each criterion from its results file.

mod checks;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde::Serialize;

use crate::error::ScaletestError;
use crate::manifest::WORKSPACE_TRAFFIC;
use crate::manifest::{RunManifest, CREATE_WORKSPACES, DASHBOARD};
use checks::{latency_check, provisioning_check, read, traffic_check};

pub const POD_FILE: &str = "pod-workspaces.json";
pub const EC2_FILE: &str = "ec2-workspaces.json";
pub const DASHBOARD_FILE: &str = "dashboard-results.json";
pub const TRAFFIC_FILE: &str = "workspace-traffic-results.json";
pub const SUMMARY_FILE: &str = "summary-report.md";

/// The id of the workspace-traffic criterion (the seed numbers none).
pub const TRAFFIC_ID: &str = "traffic";

/// The requirement 14.11 counts.
pub const CAPACITY: f64 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    /// Not judged: the run did not include the criterion's test.
    NotRun,
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NotRun => "NOT RUN",
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
    let traffic = read(dir, TRAFFIC_FILE)?;
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
    checks.push(provisioning_check(pod.as_ref(), ec2.as_ref()));
    let traffic_ran = traffic.is_some();
    checks.push(traffic_check(traffic.as_ref()));
    mark_not_run(&mut checks, manifest.as_ref(), traffic_ran);
    Ok(checks)
}

/// Marks NOT RUN the criteria of the tests the run did not ask for (per
/// `run.json`); without it, only the traffic criterion when its file is absent.
fn mark_not_run(checks: &mut [Check], manifest: Option<&RunManifest>, traffic_ran: bool) {
    let not_run = |c: &mut Check, why: String| {
        c.measured = None;
        c.verdict = Verdict::NotRun;
        c.detail = why;
    };
    match manifest {
        Some(m) => {
            for c in checks.iter_mut().filter(|c| !m.covers(test_of(c.id))) {
                let why = format!(
                    "this run's tests were {} ({})",
                    m.tests.join(", "),
                    crate::manifest::RUN_FILE
                );
                not_run(c, why);
            }
        }
        None if !traffic_ran => {
            for c in checks.iter_mut().filter(|c| c.id == TRAFFIC_ID) {
                let why = format!(
                    "{TRAFFIC_FILE} absent (and no {} here)",
                    crate::manifest::RUN_FILE
                );
                not_run(c, why);
            }
        }
        None => {}
    }
}

/// The test whose results a criterion judges.
fn test_of(id: &str) -> &'static str {
    match id {
        "14.9" | "14.10" => DASHBOARD,
        TRAFFIC_ID => WORKSPACE_TRAFFIC,
        _ => CREATE_WORKSPACES,
    }
}

/// The overall verdict: the worst judged criterion; `NotRun` when none was
/// judged (which does not pass).
pub fn overall(checks: &[Check]) -> Verdict {
    checks
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::NotRun)
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
    if worst == Verdict::NotRun {
        println!("overall: FAIL (no criterion was judged: none covers the tests of this run)");
        return Ok(1);
    }
    println!("overall: {}", worst.label());
    Ok(if worst == Verdict::Pass { 0 } else { 1 })
}
