//! The summary printed at the end of a run (or of a merge).

use crate::report::opt;
use crate::results::RunResult;

/// Prints each phase's figures, criteria and verdicts; with `quiet`, only
/// the verdict line.
pub fn print_summary(run: &RunResult, dir: &std::path::Path, quiet: bool) {
    let mut out = String::new();
    for p in &run.phases {
        out.push_str(&format!(
            "\n{} — sent {} (late {}, dropped {}), {:.2} req/s, success {:.2}%, errors {:.2}%, P50 {:.1} ms, P95 {:.1} ms, P99 {:.1} ms, max {:.1} ms\n",
            p.name, p.sent, p.late, p.dropped, p.achieved_rps, p.success_rate, p.error_rate,
            p.latency.p50_ms, p.latency.p95_ms, p.latency.p99_ms, p.latency.max_ms
        ));
        for c in &p.criteria {
            let target = c.target_text();
            out.push_str(&format!(
                "  {} {:<34} measured {:>10} {:<6} target {}\n",
                if c.passed { "PASS" } else { "FAIL" },
                c.label,
                opt(c.measured, 3),
                c.unit,
                target
            ));
        }
        for i in p.indicators.iter().filter(|i| i.triggered) {
            out.push_str(&format!(
                "  failure indicator {}\n",
                crate::report::indicator_line(i)
            ));
        }
        for w in &p.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        out.push_str(&format!(
            "  target: {}; load generator: {}\n",
            if p.passed { "PASS" } else { "FAIL" },
            p.generator.grade.label()
        ));
        for r in &p.trust.reasons {
            out.push_str(&format!("  INCONCLUSIVE: {r}\n"));
        }
    }
    if let Some(b) = crate::report::scale_banner(run) {
        out.push_str(&format!("\n{b}\n"));
    }
    out.push_str(&format!(
        "\nverdict: {} (exit {}); reports in {}\n",
        run.verdict.label(),
        run.exit_code,
        dir.display()
    ));
    if quiet {
        print!(
            "{}",
            out.lines()
                .last()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
    } else {
        print!("{out}");
    }
}
