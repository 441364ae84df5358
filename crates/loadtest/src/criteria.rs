//! Judging a phase: the scenario's success criteria (PASS/FAIL, measured value
//! beside the target), the plan's failure indicators and warning signs, and
//! whether the generator itself kept its schedule.

use crate::results::PhaseResult;
pub use crate::results::{CriterionResult, Indicator};
use crate::scenario::{Criterion, Metric, Op};

/// Judges a phase's figures: each criterion, the failure indicators, the
/// warning signs, and whether it passed.
pub fn judge(criteria: &[Criterion], result: &mut PhaseResult) {
    result.criteria = criteria.iter().map(|c| evaluate(c, result)).collect();
    result.indicators = indicators(criteria, result);
    result.warnings = warnings(result);
    result.passed =
        result.criteria.iter().all(|c| c.passed) && !result.indicators.iter().any(|i| i.triggered);
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Evaluates one criterion against a phase result.
pub fn evaluate(c: &Criterion, r: &PhaseResult) -> CriterionResult {
    let group = match (&c.language, c.complexity) {
        (Some(l), _) => r.by_language.get(l.as_str()),
        (None, Some(cx)) => r.by_complexity.get(cx.as_str()),
        (None, None) => None,
    };
    let scoped = c.language.is_some() || c.complexity.is_some();
    let (count, success, errors, compile_errors, latency) = match group {
        Some(g) => (
            g.count,
            g.success,
            g.errors,
            g.compilation_errors,
            g.latency,
        ),
        None if scoped => (0, 0, 0, 0, Default::default()),
        None => (
            r.sent,
            r.outcome_count("success"),
            r.errors,
            r.outcome_count("compilation_error"),
            r.latency,
        ),
    };
    let (measured, unit, note) = match c.metric {
        Metric::SuccessRate => (Some(pct(success, count)), "%", String::new()),
        Metric::ErrorRate => (Some(pct(errors, count)), "%", String::new()),
        Metric::CompilationErrorRate => (Some(pct(compile_errors, count)), "%", String::new()),
        Metric::AchievedRps => (Some(r.achieved_rps), "req/s", String::new()),
        Metric::QueueDepth => match &r.queue.trend {
            Some(t) => (
                Some(t.slope),
                "jobs/s",
                format!(
                    "trend {:+.3} jobs/s (t = {:.1}) over {} samples",
                    t.slope, t.t_stat, t.points
                ),
            ),
            None => (
                None,
                "jobs/s",
                "no code_execution_queue_depth samples from /metrics".into(),
            ),
        },
        m => (
            Some(latency.at(m.quantile().unwrap_or(0.5)) / 1000.0),
            "s",
            String::new(),
        ),
    };
    let passed = match (c.op, measured) {
        (Op::Stable, Some(_)) => !r.queue.growing,
        (_, Some(m)) if count > 0 || matches!(c.metric, Metric::AchievedRps) => {
            c.op.holds(m, c.target.unwrap_or(0.0))
        }
        _ => false,
    };
    let note = if count == 0 && scoped {
        "no submissions in this group".into()
    } else {
        note
    };
    CriterionResult {
        label: c.display_label(),
        metric: c.metric,
        op: c.op.symbol().into(),
        target: c.target,
        measured,
        unit,
        passed,
        note,
    }
}

/// The plan's failure indicators.
pub fn indicators(criteria: &[Criterion], r: &PhaseResult) -> Vec<Indicator> {
    let mut out = Vec::new();
    for c in criteria.iter().filter(|c| c.metric == Metric::P95LatencyS) {
        let target = c.target.unwrap_or(f64::INFINITY);
        let m = evaluate(c, r).measured.unwrap_or(0.0);
        out.push(Indicator {
            name: format!("P95 latency over 10 × its target ({})", c.display_label()),
            triggered: m > 10.0 * target,
            detail: format!("{m:.3} s vs 10 x {target} s"),
        });
    }
    out.push(Indicator {
        name: "Error rate over 20 %".into(),
        triggered: r.error_rate > 20.0,
        detail: format!("{:.2}%", r.error_rate),
    });
    out.push(Indicator {
        name: "Queue depth growing exponentially".into(),
        triggered: r.queue.accelerating,
        detail: match &r.queue.trend {
            Some(t) => format!(
                "slope {:+.3} jobs/s, growing: {}, accelerating: {}",
                t.slope, r.queue.growing, r.queue.accelerating
            ),
            None => "no queue samples".into(),
        },
    });
    out.push(Indicator {
        name: "Workers crashing or restarting (the workers gauge dropped)".into(),
        triggered: r.queue.workers_dropped,
        detail: match (r.queue.min_workers, r.queue.max_workers) {
            (Some(a), Some(b)) => format!("workers gauge between {a} and {b}"),
            _ => "no worker samples".into(),
        },
    });
    out
}

/// Samples in a row a warning needs: one busy second is not a trend.
pub const SUSTAINED_SAMPLES: usize = 5;

/// The longest stretch of `/metrics` samples with worker utilisation over
/// 90 %, when it has at least [`SUSTAINED_SAMPLES`]: (its length in
/// seconds, when it started).
fn sustained_utilisation(r: &PhaseResult) -> Option<(f64, f64)> {
    let busy = |m: &crate::metrics_scrape::MetricSample| match (m.active_jobs, m.workers) {
        (Some(a), Some(w)) if w > 0.0 => a / w > 0.9,
        _ => false,
    };
    let (mut best, mut run): (Option<(usize, usize)>, Option<usize>) = (None, None);
    for (i, m) in r.metrics.iter().enumerate() {
        match (busy(m), run) {
            (true, None) => run = Some(i),
            (false, Some(start)) => {
                best = best.max(Some((i - start, start)));
                run = None;
            }
            _ => {}
        }
    }
    if let Some(start) = run {
        best = best.max(Some((r.metrics.len() - start, start)));
    }
    let (n, start) = best.filter(|(n, _)| *n >= SUSTAINED_SAMPLES)?;
    let (t0, t1) = (r.metrics[start].t, r.metrics[start + n - 1].t);
    Some(((t1 - t0).max(n as f64 - 1.0), t0))
}

/// The plan's warning signs (reported, never failing the run).
pub fn warnings(r: &PhaseResult) -> Vec<String> {
    let mut w = Vec::new();
    if r.error_rate > 5.0 {
        w.push(format!("error rate {:.2}% > 5%", r.error_rate));
    }
    if r.queue.growing {
        w.push("queue depth growing continuously".into());
    }
    if let Some((secs, from)) = sustained_utilisation(r) {
        w.push(format!(
            "worker utilisation above 90 % for {secs:.0} s in a row (from second {from:.0})"
        ));
    }
    let p95: Vec<(f64, f64)> = r
        .seconds
        .iter()
        .filter(|s| s.completed > 0)
        .map(|s| (s.second as f64, s.p95_ms))
        .collect();
    if let Some(t) = crate::metrics_scrape::trend(&p95) {
        let rise = t.slope * p95.len() as f64;
        if t.t_stat > 3.0 && rise > 0.5 * r.latency.p50_ms.max(1.0) {
            w.push(format!(
                "P95 latency increasing over time ({:+.1} ms/s)",
                t.slope
            ));
        }
    }
    if r.generator.grade == crate::health::Grade::Strained {
        w.push(format!("load generator strained: {}", r.generator.detail));
    }
    if r.dropped > 0 && !r.generator.drops_change_verdict {
        w.push(format!(
            "{} arrivals dropped at the in-flight cap; counted as failures they would not change the verdict",
            r.dropped
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics_scrape::MetricSample;

    fn with_busy(flags: &[bool]) -> Option<(f64, f64)> {
        let mut r = crate::health::tests_support::empty_phase();
        r.metrics = flags
            .iter()
            .enumerate()
            .map(|(i, b)| MetricSample {
                t: i as f64,
                queue_depth: Some(0.0),
                active_jobs: Some(if *b { 4.0 } else { 1.0 }),
                workers: Some(4.0),
            })
            .collect();
        sustained_utilisation(&r)
    }

    #[test]
    fn utilisation_warns_only_when_sustained() {
        // One second (or four) at 100 % is not "over 90 %".
        assert_eq!(with_busy(&[false, true, false, false]), None);
        assert_eq!(with_busy(&[true, true, true, true, false, true]), None);
        assert_eq!(
            with_busy(&[false, true, true, true, true, true, true, false]),
            Some((5.0, 1.0))
        );
        assert_eq!(
            with_busy(&[false, false, true, true, true, true, true]),
            Some((4.0, 2.0))
        );
    }
}
