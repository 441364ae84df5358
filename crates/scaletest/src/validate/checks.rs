//! Each criterion judged from its results file.

use std::path::Path;

use serde_json::Value;

use super::{
    judge_errors, judge_target, Check, Verdict, CAPACITY, EC2_FILE, POD_FILE, TRAFFIC_FILE,
    TRAFFIC_ID,
};
use crate::error::ScaletestError;

pub(super) fn read(dir: &Path, file: &str) -> Result<Option<Value>, ScaletestError> {
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
pub(super) fn latency_check(
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

/// 14.11: the error rate of every creation of the run, pod and EC2
/// together, with enough of them attempted.
pub(super) fn provisioning_check(pod: Option<&Value>, ec2: Option<&Value>) -> Check {
    let groups: Vec<&Value> = [pod, ec2].into_iter().flatten().collect();
    let name = "Concurrent provisioning (error rate)";
    let target = "< 1 %".to_string();
    if groups.is_empty() {
        return missing(
            "14.11",
            name,
            "%",
            target,
            &format!("{POD_FILE} and {EC2_FILE}"),
        );
    }
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
    Check {
        id: "14.11",
        name,
        measured: Some(rate),
        unit: "%",
        target,
        verdict,
        detail,
    }
}

/// The workspace-traffic criterion: the seed's error-rate rule over the
/// workspaces that received traffic.
pub(super) fn traffic_check(doc: Option<&Value>) -> Check {
    let name = "Workspace traffic (error rate)";
    let target = "< 1 %".to_string();
    let Some(doc) = doc else {
        return missing(TRAFFIC_ID, name, "%", target, TRAFFIC_FILE);
    };
    let (runs, fails) = (num(doc, "/total_runs"), num(doc, "/total_fail"));
    let rate = num(doc, "/error_rate_percent");
    let mut verdict = judge_errors(rate);
    let mut detail = format!(
        "{} of {runs} workspaces without errors; {} of {} ticks written",
        runs - fails,
        num(doc, "/totals/ticks"),
        num(doc, "/totals/expected_ticks")
    );
    if runs == 0.0 {
        verdict = Verdict::Fail;
        detail.push_str("; no workspace received traffic");
    }
    if doc["interrupted"] == true {
        verdict = Verdict::Fail;
        detail.push_str("; interrupted");
    }
    Check {
        id: TRAFFIC_ID,
        name,
        measured: Some(rate),
        unit: "%",
        target,
        verdict,
        detail,
    }
}
