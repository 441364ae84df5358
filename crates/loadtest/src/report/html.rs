//! `report.html`: one self-contained page (no network): the verdict, the
//! criteria tables, and the plan's six dashboard panels per phase, drawn as
//! SVG by the page's own inline script from inline JSON data.

use std::fmt::Write;

use serde_json::json;

use crate::results::{PhaseResult, RunResult};

const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}\
.pass{color:#137333;font-weight:600}.fail{color:#c5221f;font-weight:600}.warn{color:#b06000}\
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}\
.panel{border:1px solid #ddd;border-radius:6px;padding:8px}.panel h3{font-size:14px;margin:0 0 4px}\
.banner{background:#fce8e6;border:1px solid #c5221f;padding:8px;border-radius:6px}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn chart_data(p: &PhaseResult) -> serde_json::Value {
    let secs = &p.seconds;
    let series = |f: &dyn Fn(&crate::results::SecondRow) -> Option<f64>| -> Vec<[f64; 2]> {
        secs.iter()
            .filter_map(|s| f(s).map(|y| [s.second as f64, y]))
            .collect()
    };
    let metric =
        |f: &dyn Fn(&crate::metrics_scrape::MetricSample) -> Option<f64>| -> Vec<[f64; 2]> {
            p.metrics
                .iter()
                .filter_map(|m| f(m).map(|y| [m.t, y]))
                .collect()
        };
    let with_done = |f: fn(&crate::results::SecondRow) -> f64| {
        move |s: &crate::results::SecondRow| (s.completed > 0).then(|| f(s))
    };
    json!({
        "rate": [
            {"name": "target", "points": series(&|s| s.target_rps)},
            {"name": "sent", "points": series(&|s| Some(s.sent as f64))},
            {"name": "completed", "points": series(&|s| Some(s.completed as f64))},
        ],
        "latency": [
            {"name": "p50", "points": series(&with_done(|s| s.p50_ms))},
            {"name": "p90", "points": series(&with_done(|s| s.p90_ms))},
            {"name": "p95", "points": series(&with_done(|s| s.p95_ms))},
            {"name": "p99", "points": series(&with_done(|s| s.p99_ms))},
        ],
        "errors": [
            {"name": "error %", "points": series(&with_done(|s| 100.0 * s.errors as f64 / s.completed as f64))},
            {"name": "not success %", "points": series(&with_done(|s| 100.0 * (s.completed - s.success) as f64 / s.completed as f64))},
        ],
        "queue": [{"name": "queue depth", "points": metric(&|m| m.queue_depth)}],
        "workers": [
            {"name": "utilization %", "points": metric(&|m| match (m.active_jobs, m.workers) {
                (Some(a), Some(w)) if w > 0.0 => Some(100.0 * a / w), _ => None })},
            {"name": "active jobs", "points": metric(&|m| m.active_jobs)},
            {"name": "workers", "points": metric(&|m| m.workers)},
        ],
        "languages": p.by_language.iter().map(|(k, b)| json!({"name": k, "count": b.count, "success": b.success})).collect::<Vec<_>>(),
    })
}

fn phase_html(out: &mut String, i: usize, p: &PhaseResult) {
    let verdict = p.verdict_label();
    let cls = if verdict == "PASS" { "pass" } else { "fail" };
    let _ = write!(
        out,
        "<h2>Phase {} — <span class=\"{cls}\">{verdict}</span></h2><p>{}</p>\
         <p>Arrivals {} · sent {} · completed {} · late {} · dropped {} · achieved {:.2} req/s · success {:.2}% · errors {:.2}% · \
         latency P50 {:.1} ms, P95 {:.1} ms, P99 {:.1} ms, P99.9 {:.1} ms, max {:.1} ms</p>",
        esc(&p.name),
        esc(&p.description),
        p.arrivals,
        p.sent,
        p.completed,
        p.late,
        p.dropped,
        p.achieved_rps,
        p.success_rate,
        p.error_rate,
        p.latency.p50_ms,
        p.latency.p95_ms,
        p.latency.p99_ms,
        p.latency.p999_ms,
        p.latency.max_ms
    );
    if p.generator.overloaded {
        let _ = write!(
            out,
            "<p class=\"banner\" data-overloaded=\"true\">The load generator was overloaded: {:.2}% of arrivals late, {:.2}% dropped. These figures do not describe the target.</p>",
            100.0 * p.generator.late_fraction,
            100.0 * p.generator.dropped_fraction
        );
    }
    out.push_str("<table><tr><th>Criterion</th><th>Target</th><th>Measured</th><th>Result</th><th>Note</th></tr>");
    for c in &p.criteria {
        let target = c.target_text();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&c.label),
            esc(&target),
            crate::report::opt(c.measured, 3),
            c.unit,
            if c.passed { "pass" } else { "fail" },
            if c.passed { "PASS" } else { "FAIL" },
            esc(&c.note)
        );
    }
    out.push_str("</table><ul>");
    for ind in &p.indicators {
        let _ = write!(
            out,
            "<li class=\"{}\">{} {}: {}</li>",
            if ind.triggered { "fail" } else { "pass" },
            if ind.triggered { "✗" } else { "✓" },
            esc(&ind.name),
            esc(&ind.detail)
        );
    }
    for w in &p.warnings {
        let _ = write!(out, "<li class=\"warn\">⚠ {}</li>", esc(w));
    }
    out.push_str("</ul><div class=\"panels\">");
    for (key, title, unit) in [
        ("rate", "Request rate vs target", "req/s"),
        ("latency", "Response time percentiles", "ms"),
        ("errors", "Error rate over time", "%"),
        ("queue", "Queue depth over time", "jobs"),
        ("workers", "Worker utilization", ""),
        ("languages", "Language distribution", "requests"),
    ] {
        let _ = write!(
            out,
            "<div class=\"panel\"><h3>{title}</h3><svg class=\"chart\" data-phase=\"{i}\" data-panel=\"{key}\" data-unit=\"{unit}\" width=\"520\" height=\"240\" viewBox=\"0 0 520 240\"></svg></div>"
        );
    }
    out.push_str("</div>");
}

pub fn report_html(run: &RunResult) -> String {
    let data: Vec<serde_json::Value> = run.phases.iter().map(chart_data).collect();
    let data = serde_json::to_string(&data)
        .expect("json")
        .replace("</", "<\\/");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kiln load test: {}</title><style>{STYLE}</style></head><body>\
         <h1>Kiln load test: {} — <span class=\"{}\">{:?}</span></h1><p>{}</p><p>Target {} · started {} · scale {} · exit code {}</p>",
        esc(&run.scenario),
        esc(&run.scenario),
        if run.verdict == crate::results::Verdict::Pass { "pass" } else { "fail" },
        run.verdict,
        esc(&run.description),
        esc(&run.target),
        run.started_at,
        run.scale,
        run.exit_code
    );
    // The plan's three questions, before the phases (crate::analysis).
    out.push_str(&crate::analysis::render::html(run));
    for (i, p) in run.phases.iter().enumerate() {
        phase_html(&mut out, i, p);
    }
    let _ = write!(
        out,
        "<script>const KILN_DATA = {data};\n{SCRIPT}</script></body></html>"
    );
    out
}
