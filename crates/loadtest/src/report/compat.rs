//! The shapes the plan's analysis commands expect: k6's end-of-test summary
//! (`jq '.metrics.http_req_duration.values' results.json` works on
//! `results.json`, which carries it as `metrics`) and Locust's
//! `results_stats.csv` (`head -20 results_stats.csv`). Both are computed
//! from the run's histograms, over every phase.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::results::{PhaseResult, RunResult};
use crate::stats::Percentiles;

/// The latency histogram (µs, from the scheduled start) of a phase.
fn latency(p: &PhaseResult) -> Option<&Histogram<u64>> {
    p.recorder.as_ref().map(|r| &r.all.latency)
}

fn merged(phases: &[PhaseResult]) -> Option<Histogram<u64>> {
    let mut it = phases.iter().filter_map(latency);
    let mut h = it.next()?.clone();
    for x in it {
        let _ = h.add(x);
    }
    Some(h)
}

fn ms_at(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// k6's summary `metrics`: `http_req_duration` (trend, ms: latency of each
/// submission from its scheduled start), `http_reqs`, `http_req_failed`
/// (errors: HTTP, timeouts, transport, `internal_error`), `iterations`
/// (completed), `checks` (success) and `dropped_iterations`.
pub fn k6_metrics(phases: &[PhaseResult]) -> Value {
    let sum = |f: fn(&PhaseResult) -> u64| phases.iter().map(f).sum::<u64>();
    let (sent, errors, done) = (sum(|p| p.sent), sum(|p| p.errors), sum(|p| p.completed));
    let success = sum(|p| p.outcome_count("success"));
    let secs: f64 = phases
        .iter()
        .map(|p| p.elapsed_s.max(p.scheduled_s))
        .sum::<f64>()
        .max(1e-9);
    let h = merged(phases).unwrap_or_else(|| Histogram::new(3).expect("histogram"));
    let p = Percentiles::of_us(&h);
    let rate = |x: u64, of: u64| if of == 0 { 0.0 } else { x as f64 / of as f64 };
    json!({
        "http_req_duration": {"type": "trend", "contains": "time", "values": {
            "avg": p.mean_ms, "min": p.min_ms, "med": ms_at(&h, 0.5), "max": p.max_ms,
            "p(90)": ms_at(&h, 0.9), "p(95)": ms_at(&h, 0.95), "p(99)": ms_at(&h, 0.99),
        }},
        "http_reqs": {"type": "counter", "contains": "default", "values": {"count": sent, "rate": sent as f64 / secs}},
        "http_req_failed": {"type": "rate", "contains": "default", "values": {
            "rate": rate(errors, sent), "passes": errors, "fails": sent - errors.min(sent)}},
        "iterations": {"type": "counter", "contains": "default", "values": {"count": done, "rate": done as f64 / secs}},
        "checks": {"type": "rate", "contains": "default", "values": {
            "rate": rate(success, done), "passes": success, "fails": done - success.min(done)}},
        "dropped_iterations": {"type": "counter", "contains": "default", "values": {
            "count": sum(|p| p.dropped), "rate": sum(|p| p.dropped) as f64 / secs}},
    })
}

const LOCUST_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
const LOCUST_QUANTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

fn locust_row(
    kind: &str,
    name: &str,
    h: &Histogram<u64>,
    count: u64,
    fails: u64,
    secs: f64,
) -> String {
    let p = Percentiles::of_us(h);
    let mut row = vec![
        kind.to_owned(),
        name.to_owned(),
        count.to_string(),
        fails.to_string(),
        format!("{:.0}", ms_at(h, 0.5)),
        format!("{:.2}", p.mean_ms),
        format!("{:.2}", p.min_ms),
        format!("{:.2}", p.max_ms),
        "0".to_owned(),
        format!("{:.2}", count as f64 / secs.max(1e-9)),
        format!("{:.2}", fails as f64 / secs.max(1e-9)),
    ];
    row.extend(
        LOCUST_QUANTILES
            .iter()
            .map(|q| format!("{:.0}", ms_at(h, *q))),
    );
    row.join(",")
}

/// Locust's `results_stats.csv`: one `POST` row per phase (its submissions,
/// failures = every result but success) and the `Aggregated` row.
pub fn locust_stats_csv(run: &RunResult) -> String {
    let mut out = format!("{LOCUST_HEADER}\n");
    let fails = |p: &PhaseResult| p.completed - p.outcome_count("success").min(p.completed);
    let empty = Histogram::new(3).expect("histogram");
    let (mut count, mut failed, mut secs) = (0, 0, 0.0);
    for p in &run.phases {
        let s = p.elapsed_s.max(p.scheduled_s);
        let name = format!("/api/v1/submissions [{}]", p.name);
        out.push_str(&locust_row(
            "POST",
            &name,
            latency(p).unwrap_or(&empty),
            p.completed,
            fails(p),
            s,
        ));
        out.push('\n');
        (count, failed, secs) = (count + p.completed, failed + fails(p), secs + s);
    }
    let all = merged(&run.phases).unwrap_or(empty);
    out.push_str(&locust_row("", "Aggregated", &all, count, failed, secs));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locust_header_has_the_columns_locust_writes() {
        let cols: Vec<&str> = LOCUST_HEADER.split(',').collect();
        assert_eq!(cols.len(), 11 + LOCUST_QUANTILES.len());
        assert_eq!(
            &cols[..4],
            &["Type", "Name", "Request Count", "Failure Count"]
        );
        let h = Histogram::<u64>::new(3).unwrap();
        let row = locust_row("", "Aggregated", &h, 0, 0, 1.0);
        assert_eq!(row.split(',').count(), cols.len());
    }
}
