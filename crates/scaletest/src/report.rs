//! `summary-report.md`: what ran, each test's figures, the acceptance
//! criteria (the same verdicts as `kiln scaletest validate`) and cleanup.

use std::fmt::Write;
use std::path::Path;

use crate::error::ScaletestError;
use crate::harness::Results;
use crate::validate::{self, SUMMARY_FILE};

pub fn write_summary(
    dir: &Path,
    header: &str,
    results: &[(&str, &Results)],
    cleanup: &str,
) -> Result<(), ScaletestError> {
    let mut s = String::new();
    let _ = writeln!(s, "# Scale test summary\n\n{header}\n");
    let _ = writeln!(
        s,
        "| file | runs | pass | fail | errors % | elapsed | P50 | P95 | P99 |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---:|---:|---:|");
    for (file, r) in results {
        let (p50, p95, p99) = match r.extra.get("latency") {
            Some(l) => (
                l["p50_ms"].as_f64().unwrap_or(0.0),
                l["p95_ms"].as_f64().unwrap_or(0.0),
                l["p99_ms"].as_f64().unwrap_or(0.0),
            ),
            None => (r.duration.p50_ms, r.duration.p95_ms, r.duration.p99_ms),
        };
        let _ = writeln!(
            s,
            "| {file} | {} | {} | {} | {:.2} | {} | {p50:.0} ms | {p95:.0} ms | {p99:.0} ms |",
            r.total_runs, r.total_pass, r.total_fail, r.error_rate_percent, r.elapsed
        );
    }
    let _ = writeln!(s, "\nP50/P95/P99: workspace tests — duration of the passing runs (create → ready, or traffic session); dashboard — request latency.\n");
    let _ = writeln!(s, "## Acceptance criteria\n\n| verdict | id | criterion | measured | target | detail |\n|---|---|---|---:|---|---|");
    for c in validate::evaluate(dir)? {
        let m = c
            .measured
            .map(|v| format!("{v:.3} {}", c.unit))
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {m} | {} | {} |",
            c.verdict.label(),
            c.id,
            c.name,
            c.target,
            c.detail
        );
    }
    let _ = writeln!(s, "\n## Failed runs\n");
    let mut any = false;
    for (file, r) in results {
        for run in r.runs.values().filter(|r| r.error.is_some()).take(20) {
            any = true;
            let _ = writeln!(
                s,
                "- {file} `{}`: {}",
                run.id,
                run.error.as_deref().unwrap_or_default()
            );
        }
    }
    if !any {
        let _ = writeln!(s, "none");
    }
    let _ = writeln!(s, "\n## Cleanup\n\n{cleanup}");
    let path = dir.join(SUMMARY_FILE);
    std::fs::write(&path, s).map_err(|source| ScaletestError::WriteResults { path, source })
}
