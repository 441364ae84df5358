//! The "Answers" section: Markdown for `summary-report.md`, HTML for
//! `report.html` (the same content).

use std::fmt::Write;

use super::bottleneck::dur;
use super::scaling::Need;
use super::Answers;

const CONCURRENCY_HINT: &str = "not measured by this run; `kiln loadtest --sweep workers` against an embedded target measures it";

fn services_line(a: &Answers) -> String {
    let r = &a.recommendation;
    let list: Vec<String> = r
        .services
        .iter()
        .map(|s| {
            let mut t = format!("{} {}", s.language, dur(s.service_ms));
            if let Some(h) = s.hit_rate {
                t.push_str(&format!(" (cache hits {:.0} %)", 100.0 * h));
            }
            t
        })
        .collect();
    if list.is_empty() {
        r.method.clone()
    } else {
        format!("{}; from the {}", list.join(", "), r.method)
    }
}

fn wait(n: &Need) -> String {
    if n.predicted_queue_wait_ms.is_finite() {
        dur(n.predicted_queue_wait_ms)
    } else {
        "unbounded".into()
    }
}

fn need_cells(n: &Need) -> [String; 7] {
    [
        n.scenario.clone(),
        format!("{:.1}", n.rate_rps),
        dur(n.service_ms),
        format!("{:.1}", n.offered_load),
        format!("{} / **{}** / {}", n.workers_min, n.workers, n.workers_max),
        wait(n),
        n.workers_without_cache
            .map(|w| w.to_string())
            .unwrap_or_else(|| "—".into()),
    ]
}

/// The two tables of needs (this run, the plan), without the empty ones.
fn tables(a: &Answers) -> Vec<(&'static str, Vec<[String; 7]>)> {
    let r = &a.recommendation;
    [
        ("This run", &r.this_run),
        ("The plan at full rates", &r.plan),
    ]
    .into_iter()
    .filter(|(_, needs)| !needs.is_empty())
    .map(|(title, needs)| (title, needs.iter().map(need_cells).collect()))
    .collect()
}

const HEAD: [&str; 7] = [
    "scenario",
    "rate (req/s)",
    "worker time per job",
    "busy workers",
    "workers at 80 / 70 / 60 %",
    "M/M/c queue wait",
    "without cache",
];

/// The Markdown section (starts with `## Answers`).
pub fn markdown(a: &Answers) -> String {
    let mut out = String::from("\n## Answers\n\n");
    let _ = writeln!(
        out,
        "1. **SLOs met: {}.**{}",
        if a.slos_met { "yes" } else { "no" },
        if a.slo_failures.is_empty() {
            String::new()
        } else {
            format!(" Failing: {}.", a.slo_failures.join("; "))
        }
    );
    out.push_str("2. **Bottleneck.**");
    for b in &a.bottlenecks {
        let _ = write!(out, " `{}`: {}.", b.phase, b.summary);
    }
    let _ = writeln!(
        out,
        "\n3. **Scaling.** Worker time per job: {}. Concurrency per worker: {}.\n",
        services_line(a),
        a.concurrency.as_deref().unwrap_or(CONCURRENCY_HINT)
    );
    let r = &a.recommendation;
    for (title, rows) in tables(a) {
        let _ = writeln!(
            out,
            "{title}:\n\n| {} |\n|---|---:|---:|---:|---:|---:|---:|",
            HEAD.join(" | ")
        );
        for cells in rows {
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "- {n}");
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML section (a `<section id="answers">`).
pub fn html(a: &Answers) -> String {
    let mut out = String::from("<section id=\"answers\"><h2>Answers</h2><ol>");
    let _ = write!(
        out,
        "<li><b>SLOs met: <span class=\"{}\">{}</span>.</b>{}</li>",
        if a.slos_met { "pass" } else { "fail" },
        if a.slos_met { "yes" } else { "no" },
        if a.slo_failures.is_empty() {
            String::new()
        } else {
            format!(" Failing: {}.", esc(&a.slo_failures.join("; ")))
        }
    );
    out.push_str("<li><b>Bottleneck.</b><ul>");
    for b in &a.bottlenecks {
        let _ = write!(
            out,
            "<li><code>{}</code>: {}</li>",
            esc(&b.phase),
            esc(&b.summary)
        );
    }
    let _ = write!(
        out,
        "</ul></li><li><b>Scaling.</b> Worker time per job: {}. Concurrency per worker: {}.",
        esc(&services_line(a)),
        esc(a.concurrency.as_deref().unwrap_or(CONCURRENCY_HINT))
    );
    let r = &a.recommendation;
    for (title, rows) in tables(a) {
        let _ = write!(out, "<p>{title}:</p><table><tr>");
        for h in HEAD {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>");
        for cells in rows {
            out.push_str("<tr>");
            for c in cells {
                let _ = write!(out, "<td>{}</td>", esc(&c).replace("**", ""));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    for n in &r.notes {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    out.push_str("</li></ol></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::scaling::need;
    use crate::analysis::{Bottleneck, Layer};

    fn answers() -> Answers {
        Answers {
            slos_met: false,
            slo_failures: vec!["`burst`: P95 latency 4.213 s, target < 3 s".into()],
            bottlenecks: vec![Bottleneck {
                phase: "burst".into(),
                layer: Some(Layer::Workers),
                summary: "workers: utilisation 97 %".into(),
                evidence: vec![],
            }],
            recommendation: crate::analysis::Recommendation {
                method: "stages".into(),
                this_run: vec![need("burst", 16.7, 120.0, Some(300.0))],
                ..Default::default()
            },
            concurrency: None,
        }
    }

    #[test]
    fn markdown_answers_all_three() {
        let md = markdown(&answers());
        assert!(
            md.starts_with("\n## Answers\n\n1. **SLOs met: no.** Failing: `burst`: P95"),
            "{md}"
        );
        assert!(
            md.contains("2. **Bottleneck.** `burst`: workers: utilisation 97 %."),
            "{md}"
        );
        assert!(
            md.contains("| burst | 16.7 | 120 ms | 2.0 | 3 / **3** / 4 |"),
            "{md}"
        );
        assert!(md.contains("--sweep workers"), "{md}");
    }

    #[test]
    fn html_is_escaped() {
        let h = html(&answers());
        assert!(h.contains("target &lt; 3 s"), "{h}");
        assert!(h.contains("<td>3 / 3 / 4</td>"), "{h}");
    }
}
