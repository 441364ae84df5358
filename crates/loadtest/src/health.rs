//! Whether a phase's figures describe the target. Two things can stand
//! between the generator and the truth, and each is asked one question:
//! *could it change the target's verdict?*
//!
//! - **Lateness** (the generator's own health): an arrival sent after its
//!   schedule adds its lateness to the latency measured from the schedule.
//!   The phase is judged again from the actual send (lateness removed); when
//!   that verdict is the same, a late start was small against the latencies
//!   measured and the generator is at most *strained*. Only when it differs,
//!   and more than `--max-late-fraction` of arrivals were later than
//!   `--late-threshold`, is the generator *overloaded*.
//! - **Arrivals dropped at the in-flight cap**: the target held
//!   `max_in_flight` submissions at once (a slow or stalled target, or a cap
//!   set too low). That is never the generator's overload. The phase is judged
//!   again with every dropped arrival counted as a failure at the submission
//!   timeout; when that changes the verdict (and more than the fraction were
//!   dropped) the phase is inconclusive.
//!
//! A phase that is inconclusive for either reason makes the run exit 3.

use std::time::Duration;

use serde::Serialize;

use crate::results::PhaseResult;
use crate::runner::Raw;
use crate::scenario::{LoadModel, Phase};
use crate::stats::{Group, Percentiles, Recorder};

/// Default of `--max-late-fraction`.
pub const DEFAULT_MAX_LATE_FRACTION: f64 = 0.01;

/// How a phase's figures are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Latency from the scheduled start; dropped arrivals left out (what is reported).
    Reported,
    /// Latency from the actual send: the generator's lateness removed.
    FromSend,
    /// Dropped arrivals counted as errors with the submission timeout as latency.
    DroppedAsFailures,
}

/// A group's figures in a view.
pub fn view_group(g: &Group, view: View, timeout: Duration) -> Group {
    let mut out = g.clone();
    match view {
        View::Reported => {}
        View::FromSend => out.latency = g.service.clone(),
        View::DroppedAsFailures => {
            out.count += g.dropped;
            out.errors += g.dropped;
            let us = (timeout.as_micros() as u64).clamp(1, 3_600_000_000);
            let _ = out.latency.record_n(us, g.dropped);
        }
    }
    out
}

/// The generator's grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// At most `max_late_fraction` of arrivals late.
    Healthy,
    /// More were late, but judged from the actual send every verdict is the same.
    Strained,
    /// More were late, and the lateness could change the verdict.
    Overloaded,
}

impl Grade {
    pub fn label(self) -> &'static str {
        match self {
            Grade::Healthy => "healthy",
            Grade::Strained => "strained",
            Grade::Overloaded => "overloaded",
        }
    }
}

/// Whether the generator kept its schedule, and whether that matters.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorHealth {
    pub grade: Grade,
    /// `grade == overloaded` (the figures do not describe the target).
    pub overloaded: bool,
    pub late_fraction: f64,
    pub dropped_fraction: f64,
    pub max_lateness_ms: f64,
    pub p99_lateness_ms: f64,
    pub late_threshold_ms: f64,
    pub max_late_fraction: f64,
    /// Judged from the actual send, the phase's verdict differs.
    pub lateness_changes_verdict: bool,
    /// With dropped arrivals counted as failures, the phase's verdict differs.
    pub drops_change_verdict: bool,
    /// One sentence for people.
    pub detail: String,
}

impl Default for GeneratorHealth {
    fn default() -> Self {
        GeneratorHealth {
            grade: Grade::Healthy,
            overloaded: false,
            late_fraction: 0.0,
            dropped_fraction: 0.0,
            max_lateness_ms: 0.0,
            p99_lateness_ms: 0.0,
            late_threshold_ms: 0.0,
            max_late_fraction: DEFAULT_MAX_LATE_FRACTION,
            lateness_changes_verdict: false,
            drops_change_verdict: false,
            detail: String::new(),
        }
    }
}

/// Whether a phase's verdict can be trusted; `reasons` say why not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trust {
    pub trustworthy: bool,
    pub reasons: Vec<String>,
}

fn pass_fail(passed: bool) -> &'static str {
    if passed {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Builds a phase's figures, judges them, and grades the generator and the
/// dropped arrivals by whether they could change the verdict.
pub fn judged(phase: &Phase, raw: Raw, max_late_fraction: f64) -> PhaseResult {
    let view = |v: View| {
        let mut r = PhaseResult::build(phase, &raw, v);
        crate::criteria::judge(&phase.criteria, &mut r);
        r
    };
    let from_send = view(View::FromSend).passed;
    let worst = view(View::DroppedAsFailures).passed;
    let mut r = PhaseResult::build(phase, &raw, View::Reported);
    crate::criteria::judge(&phase.criteria, &mut r);
    let (passed, p50) = (r.passed, r.latency.p50_ms);
    let rec = &raw.recorder;
    let mut g = health_figures(rec, &phase.load, max_late_fraction);
    g.lateness_changes_verdict = from_send != passed;
    g.drops_change_verdict = worst != passed;
    let late_over = g.late_fraction > max_late_fraction && rec.late > 2;
    let drops_over = g.dropped_fraction > max_late_fraction && rec.dropped > 2;
    g.grade = match (late_over, g.lateness_changes_verdict) {
        (false, _) => Grade::Healthy,
        (true, false) => Grade::Strained,
        (true, true) => Grade::Overloaded,
    };
    g.overloaded = g.grade == Grade::Overloaded;
    g.detail = health_detail(&g, rec, p50, passed);
    let mut reasons = Vec::new();
    if g.overloaded {
        reasons.push(format!("the load generator was overloaded: {}", g.detail));
    }
    if drops_over && g.drops_change_verdict {
        reasons.push(format!(
            "{} of {} arrivals ({:.2} %) were dropped because {} submissions were already in flight (the target was not answering fast enough, or --max-in-flight is too low); counted as failures the phase would {} instead of {}, so the verdict cannot be decided: raise --max-in-flight",
            rec.dropped,
            rec.sent + rec.dropped,
            100.0 * g.dropped_fraction,
            max_in_flight(&phase.load),
            pass_fail(worst),
            pass_fail(passed)
        ));
    }
    r.generator = g;
    r.trust = Trust {
        trustworthy: reasons.is_empty(),
        reasons,
    };
    // Warnings mention the generator's grade: judged again with it in place.
    r.warnings = crate::criteria::warnings(&r);
    r.recorder = Some(std::sync::Arc::new(raw.recorder));
    r
}

fn max_in_flight(load: &LoadModel) -> usize {
    match load {
        LoadModel::Open { max_in_flight, .. } => *max_in_flight,
        LoadModel::Closed { users, .. } => *users,
    }
}

/// The counts and fractions, not graded yet.
fn health_figures(r: &Recorder, load: &LoadModel, max_late_fraction: f64) -> GeneratorHealth {
    let arrivals = r.sent + r.dropped;
    let frac = |x: u64| {
        if arrivals == 0 {
            0.0
        } else {
            x as f64 / arrivals as f64
        }
    };
    let threshold = match load {
        LoadModel::Open { late_threshold, .. } => *late_threshold,
        LoadModel::Closed { .. } => Duration::ZERO,
    };
    GeneratorHealth {
        late_fraction: frac(r.late),
        dropped_fraction: frac(r.dropped),
        max_lateness_ms: r.max_lateness.as_secs_f64() * 1000.0,
        p99_lateness_ms: Percentiles::of_us(&r.lateness).p99_ms,
        late_threshold_ms: threshold.as_secs_f64() * 1000.0,
        max_late_fraction,
        ..Default::default()
    }
}

fn health_detail(g: &GeneratorHealth, r: &Recorder, p50_ms: f64, passed: bool) -> String {
    let head = format!(
        "{} of {} sent arrivals ({:.2} %) left more than {:.0} ms after their scheduled time (at most {:.1} ms, P99 {:.1} ms), against a P50 latency of {:.1} ms",
        r.late,
        r.sent,
        100.0 * g.late_fraction,
        g.late_threshold_ms,
        g.max_lateness_ms,
        g.p99_lateness_ms,
        p50_ms
    );
    match g.grade {
        Grade::Healthy => format!(
            "{head}; within the limit of {:.1} %",
            100.0 * g.max_late_fraction
        ),
        Grade::Strained => format!(
            "{head}; over the limit of {:.1} %, but judged from the actual send the verdict is the same ({})",
            100.0 * g.max_late_fraction,
            pass_fail(passed)
        ),
        Grade::Overloaded => format!(
            "{head}; judged from the actual send the phase would {} instead of {}, so these figures do not describe the target",
            pass_fail(!passed),
            pass_fail(passed)
        ),
    }
}

/// A judged phase with no arrivals, for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn empty_phase() -> crate::results::PhaseResult {
        let toml = "name = \"t\"\n[load]\n[[load.stages]]\nduration = \"1s\"\nrate = 0\n";
        let phase = crate::scenario::parse(toml, "test", None)
            .unwrap()
            .phases
            .remove(0);
        let raw = crate::runner::Raw {
            recorder: Default::default(),
            metrics: Vec::new(),
            elapsed: std::time::Duration::from_secs(1),
            started_at: std::time::SystemTime::now(),
        };
        super::judged(&phase, raw, super::DEFAULT_MAX_LATE_FRACTION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Complexity;
    use crate::stats::{Outcome, Sample};

    fn phase() -> Phase {
        let toml = "name = \"t\"\n[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"10s\"\nrate = 100\n\
                    [languages]\npython = 1\n[[criteria]]\nmetric = \"p95_latency_s\"\nop = \"<\"\ntarget = 3\n";
        crate::scenario::parse(toml, "test", None)
            .unwrap()
            .phases
            .remove(0)
    }

    /// 1000 arrivals of `latency_ms`, the first `late` of them sent `lateness_ms` late.
    fn raw(latency_ms: u64, late: u64, lateness_ms: u64, dropped: u64) -> Raw {
        let mut rec = Recorder::default();
        for i in 0..1000u64 {
            let scheduled = Duration::from_millis(i * 10);
            let lateness = Duration::from_millis(if i < late { lateness_ms } else { 0 });
            rec.sent(scheduled, lateness, i < late);
            rec.record(&Sample {
                language: "python",
                complexity: Complexity::Simple,
                outcome: Outcome::Success,
                scheduled,
                latency: Duration::from_millis(latency_ms),
                service: Duration::from_millis(latency_ms) - lateness,
                submit: None,
                stages: None,
            });
        }
        for i in 0..dropped {
            rec.dropped(Duration::from_millis(i), "python", Complexity::Simple);
        }
        Raw {
            recorder: rec,
            metrics: Vec::new(),
            elapsed: Duration::from_secs(10),
            started_at: std::time::SystemTime::now(),
        }
    }

    #[test]
    fn small_lateness_against_large_latencies_is_strained_not_overloaded() {
        // The case: every criterion passes, 2 % of arrivals up to 63 ms late, P95 ≈ 1 s.
        let r = judged(&phase(), raw(1000, 20, 63, 0), DEFAULT_MAX_LATE_FRACTION);
        assert!(r.passed);
        assert_eq!(r.generator.grade, Grade::Strained, "{}", r.generator.detail);
        assert!(r.trust.trustworthy, "{:?}", r.trust);
        assert_eq!(r.verdict_label(), "PASS");
    }

    #[test]
    fn lateness_that_decides_a_criterion_is_overloaded() {
        // Every arrival 3.05 s from its schedule, 100 ms of it the generator's.
        let r = judged(&phase(), raw(3050, 1000, 100, 0), DEFAULT_MAX_LATE_FRACTION);
        assert!(!r.passed);
        assert_eq!(r.generator.grade, Grade::Overloaded);
        assert!(!r.trust.trustworthy);
        assert_eq!(r.verdict_label(), "INCONCLUSIVE");
        // A looser limit on the fraction: the same figures are judged as they are.
        let r = judged(&phase(), raw(3050, 1000, 100, 0), 1.0);
        assert_eq!(r.generator.grade, Grade::Healthy);
        assert_eq!(r.verdict_label(), "FAIL");
    }

    #[test]
    fn drops_are_never_generator_overload() {
        // 10 % dropped at the cap: counted as failures at the 60 s timeout,
        // P95 would fail, so the phase is inconclusive, but the generator is healthy.
        let r = judged(&phase(), raw(100, 0, 0, 100), DEFAULT_MAX_LATE_FRACTION);
        assert!(r.passed);
        assert_eq!(r.generator.grade, Grade::Healthy);
        assert!(r.generator.drops_change_verdict);
        assert!(!r.trust.trustworthy);
        assert!(
            r.trust.reasons[0].contains("--max-in-flight"),
            "{:?}",
            r.trust
        );
        // A few drops that cannot move P95: a warning, not a verdict.
        let r = judged(&phase(), raw(100, 0, 0, 5), DEFAULT_MAX_LATE_FRACTION);
        assert!(r.trust.trustworthy);
        assert!(
            r.warnings.iter().any(|w| w.contains("dropped")),
            "{:?}",
            r.warnings
        );
    }
}
