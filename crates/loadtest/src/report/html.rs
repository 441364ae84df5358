//! `report.html`: one self-contained page (no network): the verdict, the
//! criteria tables, and the plan's six dashboard panels per phase, drawn by
//! uPlot (embedded, `vendor/uplot/`) from inline JSON data.

use std::fmt::Write;

use serde_json::json;

use crate::results::{PhaseResult, RunResult};

const SCRIPT: &str = include_str!("report.js");
/// uPlot 1.6.32 (npm `uplot`, MIT): see `vendor/uplot/README.md`.
const UPLOT_JS: &str = include_str!("vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uplot/uPlot.min.css");
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

/// One line (or bar) series of a panel: its name, values aligned with the
/// panel's x, and how it is drawn. Colours are fixed per name, so a series
/// has the same colour in every panel and in its legend.
fn line(name: &str, values: Vec<Option<f64>>) -> serde_json::Value {
    let (color, width, dash, scale): (&str, f64, Option<[u32; 2]>, &str) = match name {
        "target" => ("#5f6368", 2.0, Some([6, 4]), "y"),
        // Wider than `completed`, which often runs on top of it.
        "sent" => ("#8ab4f8", 4.0, None, "y"),
        "completed" => ("#137333", 1.5, None, "y"),
        // Drawn widest first, so a lower percentile is never hidden under a higher one.
        "P99" => ("#c5221f", 4.0, None, "y"),
        "P95" => ("#e8710a", 3.0, None, "y"),
        "P90" => ("#9334e6", 2.0, None, "y"),
        "P50" => ("#1a73e8", 1.5, None, "y"),
        "errors %" => ("#c5221f", 1.5, None, "y"),
        "not successful %" => ("#e8710a", 1.5, Some([4, 3]), "y"),
        "queue depth" => ("#1a73e8", 1.5, None, "y"),
        "utilisation %" => ("#e8710a", 2.0, None, "y"),
        "busy workers" => ("#137333", 1.5, None, "count"),
        "workers" => ("#5f6368", 1.5, Some([6, 4]), "count"),
        "requests" => ("#8ab4f8", 1.0, None, "y"),
        "successful" => ("#137333", 1.0, None, "y"),
        _ => ("#12b5cb", 1.5, None, "y"),
    };
    json!({"name": name, "values": values, "color": color, "width": width, "dash": dash, "scale": scale})
}

fn panel(
    x: Vec<f64>,
    xlabel: &str,
    unit: &str,
    series: Vec<serde_json::Value>,
) -> serde_json::Value {
    json!({"x": x, "xlabel": xlabel, "unit": unit, "series": series})
}

/// The six panels of a phase, as data for `report.js`.
fn chart_data(p: &PhaseResult) -> serde_json::Value {
    use crate::metrics_scrape::MetricSample;
    use crate::results::SecondRow;
    let secs: Vec<f64> = p.seconds.iter().map(|s| s.second as f64).collect();
    let per_s = |f: &dyn Fn(&SecondRow) -> Option<f64>| p.seconds.iter().map(f).collect::<Vec<_>>();
    let done = |f: fn(&SecondRow) -> f64| per_s(&move |s| (s.completed > 0).then(|| f(s)));
    let t: Vec<f64> = p.metrics.iter().map(|m| m.t).collect();
    let per_m = |f: fn(&MetricSample) -> Option<f64>| p.metrics.iter().map(f).collect::<Vec<_>>();
    let pct = |part: u64, s: &SecondRow| 100.0 * part as f64 / s.completed as f64;
    let mut workers = panel(
        t.clone(),
        "seconds",
        "%",
        vec![
            line(
                "utilisation %",
                per_m(|m| match (m.active_jobs, m.workers) {
                    (Some(a), Some(w)) if w > 0.0 => Some(100.0 * a / w),
                    _ => None,
                }),
            ),
            line("busy workers", per_m(|m| m.active_jobs)),
            line("workers", per_m(|m| m.workers)),
        ],
    );
    workers["range"] = json!([0, 100]);
    let names: Vec<&String> = p.by_language.keys().collect();
    let mut languages = panel(
        (0..names.len()).map(|i| i as f64).collect(),
        "language",
        "requests",
        vec![
            line(
                "requests",
                p.by_language
                    .values()
                    .map(|b| Some(b.count as f64))
                    .collect(),
            ),
            line(
                "successful",
                p.by_language
                    .values()
                    .map(|b| Some(b.success as f64))
                    .collect(),
            ),
        ],
    );
    languages["names"] = json!(names);
    json!({
        "rate": panel(secs.clone(), "seconds", "req/s", vec![
            line("target", per_s(&|s| s.target_rps)),
            line("sent", per_s(&|s| Some(s.sent as f64))),
            line("completed", per_s(&|s| Some(s.completed as f64))),
        ]),
        "latency": panel(secs.clone(), "seconds", "ms", vec![
            line("P99", done(|s| s.p99_ms)),
            line("P95", done(|s| s.p95_ms)),
            line("P90", done(|s| s.p90_ms)),
            line("P50", done(|s| s.p50_ms)),
        ]),
        "errors": panel(secs.clone(), "seconds", "%", vec![
            line("errors %", done(|s| 100.0 * s.errors as f64 / s.completed as f64)),
            line("not successful %", per_s(&|s| (s.completed > 0).then(|| pct(s.completed - s.success, s)))),
        ]),
        "queue": panel(t.clone(), "seconds", "jobs", vec![line("queue depth", per_m(|m| m.queue_depth))]),
        "workers": workers,
        "languages": languages,
    })
}

/// The target's verdict, the generator's grade, and why a phase is inconclusive.
fn trust_html(out: &mut String, p: &PhaseResult) {
    let _ = write!(
        out,
        "<p>Target: <span class=\"{}\">{}</span> · load generator: <b>{}</b> ({})</p>",
        if p.passed { "pass" } else { "fail" },
        if p.passed { "PASS" } else { "FAIL" },
        p.generator.grade.label(),
        esc(&p.generator.detail)
    );
    for r in &p.trust.reasons {
        let _ = write!(
            out,
            "<p class=\"banner\" data-inconclusive=\"true\">Inconclusive: {}.</p>",
            esc(r)
        );
    }
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
    trust_html(out, p);
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
            "<li class=\"{}\">{} {}</li>",
            if ind.triggered { "fail" } else { "pass" },
            if ind.triggered { "✗" } else { "✓" },
            esc(&crate::report::indicator_line(ind))
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
        (
            "workers",
            "Worker utilisation (left, %) and workers (right)",
            "",
        ),
        ("languages", "Language distribution", "requests"),
    ] {
        let _ = write!(
            out,
            "<div class=\"panel\"><h3>{title}</h3><div class=\"chart\" data-phase=\"{i}\" data-panel=\"{key}\" data-unit=\"{unit}\"></div></div>"
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
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kiln load test: {}</title><style>{UPLOT_CSS}{STYLE}</style></head><body>\
         <h1>Kiln load test: {} — <span class=\"{}\">{}</span></h1><p>{}</p><p>Target {} · started {} · scale {} · exit code {}</p>",
        esc(&run.scenario),
        esc(&run.scenario),
        if run.verdict == crate::results::Verdict::Pass { "pass" } else { "fail" },
        run.verdict.label(),
        esc(&run.description),
        esc(&run.target),
        run.started_at,
        run.scale,
        run.exit_code
    );
    if let Some(b) = crate::report::scale_banner(run) {
        let _ = write!(
            out,
            "<p class=\"banner scaled\" data-scaled=\"true\">{}</p>",
            esc(&b)
        );
    }
    // The plan's three questions, before the phases (crate::analysis).
    out.push_str(&crate::analysis::render::html(run));
    for (i, p) in run.phases.iter().enumerate() {
        phase_html(&mut out, i, p);
    }
    let _ = write!(
        out,
        "<script>{UPLOT_JS}</script><script>const KILN_DATA = {data};\n{SCRIPT}</script></body></html>"
    );
    out
}
