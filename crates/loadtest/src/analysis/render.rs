//! The "Answers" section: Markdown for `summary-report.md`, HTML for
//! `report.html` (the same content).

use std::fmt::Write;

use super::bottleneck::dur;
use super::scaling::Need;
use super::stages::PARTS;
use super::Answers;
use crate::results::{PhaseResult, RunResult};

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

/// "Where the time went" of a phase: a row per part (share, mean,
/// percentiles), then the client's view; empty without completions.
fn time_rows(p: &PhaseResult) -> Vec<[String; 6]> {
    let d = &p.stages;
    let row = |name: String, share: String, q: &crate::stats::Percentiles| {
        [
            name,
            share,
            dur(q.mean_ms),
            dur(q.p50_ms),
            dur(q.p95_ms),
            dur(q.p99_ms),
        ]
    };
    let mut rows: Vec<[String; 6]> = PARTS
        .iter()
        .filter_map(|k| Some((k, d.overall.parts.get(*k)?)))
        .map(|(k, q)| row((*k).to_owned(), format!("{:.0} %", d.overall.share(k)), q))
        .collect();
    if d.client.submit.count > 0 {
        rows.push(row(
            "client: submit call".into(),
            "—".into(),
            &d.client.submit,
        ));
        rows.push(row(
            "client: until the result".into(),
            "—".into(),
            &d.client.result,
        ));
    }
    rows
}

const TIME_HEAD: [&str; 6] = ["part", "share", "mean", "P50", "P95", "P99"];

/// Per language: its count and the P95 of each part.
fn language_rows(p: &PhaseResult) -> Vec<Vec<String>> {
    p.stages
        .by_language
        .iter()
        .map(|(lang, l)| {
            let mut r = vec![lang.clone(), l.parts.count.to_string()];
            r.extend(PARTS.iter().map(|k| dur(l.parts.p95(k))));
            r.push(if l.compiled > 0 {
                format!("{} of {}", l.cached, l.compiled)
            } else {
                "—".into()
            });
            r
        })
        .collect()
}

fn md_table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(
        out,
        "| {} |\n|---|{}",
        head.join(" | "),
        "---:|".repeat(head.len() - 1)
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

/// Where the time went, per phase (Markdown).
fn time_markdown(out: &mut String, phases: &[PhaseResult]) {
    for p in phases {
        let rows = time_rows(p);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "Where the time went in `{}` (send → result; {} of {} results carried stages):\n",
            p.name, p.stages.with_stages, p.completed
        );
        md_table(out, &TIME_HEAD, rows.into_iter().map(Vec::from));
        let langs = language_rows(p);
        if !langs.is_empty() {
            md_table(out, &LANG_HEAD, langs.into_iter());
        }
    }
}

const LANG_HEAD: [&str; 8] = [
    "language",
    "results",
    "api P95",
    "queue P95",
    "compile P95",
    "run P95",
    "store P95",
    "cache hits",
];

/// The Markdown section (starts with `## Answers`).
pub fn markdown(run: &RunResult) -> String {
    let a = &run.answers;
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
        let _ = writeln!(out, "{title}:\n");
        md_table(&mut out, &HEAD, rows.into_iter().map(Vec::from));
    }
    for n in &r.notes {
        let _ = writeln!(out, "- {n}\n");
    }
    time_markdown(&mut out, &run.phases);
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(&c).replace("**", ""));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// The HTML section (a `<section id="answers">`).
pub fn html(run: &RunResult) -> String {
    let a = &run.answers;
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
        let _ = write!(out, "<p>{title}:</p>");
        html_table(&mut out, &HEAD, rows.into_iter().map(Vec::from));
    }
    for n in &r.notes {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    out.push_str("</li></ol>");
    for p in &run.phases {
        let rows = time_rows(p);
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<p>Where the time went in <code>{}</code> (send → result; {} of {} results carried stages):</p>",
            esc(&p.name),
            p.stages.with_stages,
            p.completed
        );
        html_table(&mut out, &TIME_HEAD, rows.into_iter().map(Vec::from));
        html_table(&mut out, &LANG_HEAD, language_rows(p).into_iter());
    }
    out.push_str("</section>");
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

    fn run() -> RunResult {
        RunResult {
            answers: answers(),
            tool: "t".into(),
            scenario: "s".into(),
            description: String::new(),
            target: "http://x".into(),
            embedded_server: false,
            started_at: String::new(),
            scale: 1.0,
            seed: 1,
            phases: Vec::new(),
            verdict: crate::results::Verdict::Fail,
            exit_code: 1,
            metrics: serde_json::Value::Null,
            spec: crate::spec::RunSpec {
                scenario: "s".into(),
                scale: None,
                duration_s: None,
                mode: None,
                unique_sources: None,
                users: None,
                spawn_rate: None,
                max_in_flight: None,
                timeout_s: None,
                late_threshold_s: None,
                max_late_fraction: 0.01,
                seed: 1,
            },
            shard: None,
        }
    }

    #[test]
    fn markdown_answers_all_three() {
        let md = markdown(&run());
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
        let h = html(&run());
        assert!(h.contains("target &lt; 3 s"), "{h}");
        assert!(h.contains("<td>3 / 3 / 4</td>"), "{h}");
    }
}
