//! `summary-report.md`: the verdict, the criteria table and the breakdowns.

use std::fmt::Write;

use crate::report::opt;
use crate::results::{Breakdown, PhaseResult, RunResult};

fn breakdown_table(
    out: &mut String,
    title: &str,
    rows: &std::collections::BTreeMap<String, Breakdown>,
) {
    let _ = writeln!(out, "\n#### By {title}\n\n| {title} | Requests | Success | Errors | P50 (ms) | P95 (ms) | P99 (ms) | Max (ms) |\n|---|---:|---:|---:|---:|---:|---:|---:|");
    for (k, b) in rows {
        let _ = writeln!(
            out,
            "| {k} | {} | {:.1}% | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            b.count,
            b.success_rate,
            b.errors,
            b.latency.p50_ms,
            b.latency.p95_ms,
            b.latency.p99_ms,
            b.latency.max_ms
        );
    }
}

fn phase(out: &mut String, p: &PhaseResult) {
    phase_summary(out, p);
    judgement(out, p);
    measurements(out, p);
    breakdown_table(out, "language", &p.by_language);
    breakdown_table(out, "complexity", &p.by_complexity);
}

/// The phase's heading, counts and rates, and the generator's health.
fn phase_summary(out: &mut String, p: &PhaseResult) {
    let verdict = p.verdict_label();
    let _ = writeln!(
        out,
        "\n## Phase `{}`: {verdict}\n\n{}\n",
        p.name, p.description
    );
    let _ = writeln!(
        out,
        "- Started {}; scheduled {:.1} s, ran {:.1} s\n- Arrivals {} (expected {}), sent {}, completed {}, late {}, dropped {}\n- Achieved {:.2} req/s; success {:.2}%, errors {:.2}%, compilation errors {:.2}%",
        p.started_at,
        p.scheduled_s,
        p.elapsed_s,
        p.arrivals,
        opt(p.expected_requests, 0),
        p.sent,
        p.completed,
        p.late,
        p.dropped,
        p.achieved_rps,
        p.success_rate,
        p.error_rate,
        p.compilation_error_rate
    );
    let _ = writeln!(
        out,
        "\n- Target: **{}**; load generator: **{}** ({})",
        if p.passed { "PASS" } else { "FAIL" },
        p.generator.grade.label(),
        p.generator.detail
    );
    for r in &p.trust.reasons {
        let _ = writeln!(out, "\n> **Inconclusive**: {r}.");
    }
}

/// Success criteria, failure indicators and warning signs.
fn judgement(out: &mut String, p: &PhaseResult) {
    let _ = writeln!(out, "\n### Success criteria\n\n| Criterion | Target | Measured | Result | Note |\n|---|---|---|---|---|");
    for c in &p.criteria {
        let target = c.target_text();
        let _ = writeln!(
            out,
            "| {} | {target} | {} {} | {} | {} |",
            c.label,
            opt(c.measured, 3),
            c.unit,
            if c.passed { "PASS" } else { "FAIL" },
            c.note
        );
    }
    let _ = writeln!(out, "\n### Failure indicators\n");
    for i in &p.indicators {
        let mark = if i.triggered { "❌" } else { "✅" };
        let _ = writeln!(out, "- {mark} {}", crate::report::indicator_line(i));
    }
    if !p.warnings.is_empty() {
        let _ = writeln!(out, "\n### Warning signs\n");
        for w in &p.warnings {
            let _ = writeln!(out, "- ⚠️ {w}");
        }
    }
}

/// Latency percentiles, the queue and workers, and the outcomes.
fn measurements(out: &mut String, p: &PhaseResult) {
    let _ = writeln!(out, "\n### Latency (ms)\n\n| | P50 | P90 | P95 | P99 | P99.9 | Max |\n|---|---:|---:|---:|---:|---:|---:|");
    for (name, l) in [
        ("From scheduled start (corrected)", &p.latency),
        ("From actual send", &p.service_time),
        ("Submit call", &p.submit_latency),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
    }
    let q = &p.queue;
    let _ = writeln!(
        out,
        "\n### Queue and workers (from /metrics)\n\n- {} samples; depth mean {}, max {}; trend {} jobs/s (t = {}); growing: {}\n- Workers {}..{}; utilization mean {}%, max {}%",
        q.samples,
        opt(q.mean_depth, 1),
        opt(q.max_depth, 0),
        opt(q.trend.map(|t| t.slope), 3),
        opt(q.trend.map(|t| t.t_stat), 1),
        q.growing,
        opt(q.min_workers, 0),
        opt(q.max_workers, 0),
        opt(q.mean_utilization.map(|u| u * 100.0), 0),
        opt(q.max_utilization.map(|u| u * 100.0), 0)
    );
    let _ = writeln!(out, "\n### Outcomes\n");
    for (k, v) in &p.outcomes {
        let _ = writeln!(out, "- {}: {v}", crate::report::outcome_label(k));
    }
}

pub fn summary_markdown(run: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Kiln load test: `{}` — {}\n\n{}\n\n- Target: {}{}\n- Started: {}\n- Scale: {}; seed {}\n- Verdict: **{}** (exit code {})",
        run.scenario,
        run.verdict.label(),
        run.description,
        run.target,
        if run.embedded_server { " (embedded `kiln serve`)" } else { "" },
        run.started_at,
        run.scale,
        run.seed,
        run.verdict.label(),
        run.exit_code
    );
    if let Some(b) = crate::report::scale_banner(run) {
        let _ = writeln!(out, "\n> **{b}**");
    }
    // The plan's three questions, before the phases (crate::analysis).
    out.push_str(&crate::analysis::render::markdown(run));
    for p in &run.phases {
        phase(&mut out, p);
    }
    out
}
