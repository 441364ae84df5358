//! The figures of a finished phase and of a whole run, as written to
//! `results.json` and drawn by the reports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::metrics_scrape::{analyse, MetricSample, QueueAnalysis};
use crate::runner::Raw;
use crate::scenario::{LoadModel, Metric, Phase, SubmitOptions};
use crate::stats::{Group, Percentiles, Recorder};

/// Above this fraction of late + dropped arrivals the generator is overloaded.
pub const OVERLOAD_FRACTION: f64 = 0.01;

/// One criterion's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CriterionResult {
    pub label: String,
    pub metric: Metric,
    pub op: String,
    pub target: Option<f64>,
    pub measured: Option<f64>,
    pub unit: &'static str,
    pub passed: bool,
    pub note: String,
}

impl CriterionResult {
    /// The target as written: "< 3 s", "> 95 %", "stable".
    pub fn target_text(&self) -> String {
        self.target
            .map(|t| format!("{} {t} {}", self.op, self.unit))
            .unwrap_or_else(|| self.op.clone())
    }
}

/// One of the plan's failure indicators.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub name: String,
    pub triggered: bool,
    pub detail: String,
}

/// Counts and latency of one language or complexity.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub count: u64,
    pub success: u64,
    pub errors: u64,
    pub compilation_errors: u64,
    pub success_rate: f64,
    pub latency: Percentiles,
}

impl From<&Group> for Breakdown {
    fn from(g: &Group) -> Self {
        Breakdown {
            count: g.count,
            success: g.success,
            errors: g.errors,
            compilation_errors: g.compilation_errors,
            success_rate: if g.count == 0 {
                0.0
            } else {
                100.0 * g.success as f64 / g.count as f64
            },
            latency: Percentiles::of_us(&g.latency),
        }
    }
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct SecondRow {
    pub second: u64,
    pub target_rps: Option<f64>,
    pub sent: u64,
    pub late: u64,
    pub dropped: u64,
    pub completed: u64,
    pub success: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub queue_depth: Option<f64>,
    pub active_jobs: Option<f64>,
    pub workers: Option<f64>,
}

/// Whether the generator kept its schedule.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorHealth {
    pub overloaded: bool,
    pub late_fraction: f64,
    pub dropped_fraction: f64,
    pub max_lateness_ms: f64,
    pub threshold_fraction: f64,
}

/// Everything about one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub name: String,
    pub description: String,
    pub load: LoadModel,
    pub submit: SubmitOptions,
    pub started_at: String,
    pub scheduled_s: f64,
    pub elapsed_s: f64,
    pub expected_requests: Option<f64>,
    /// Scheduled arrivals (sent + dropped).
    pub arrivals: u64,
    pub sent: u64,
    pub completed: u64,
    pub late: u64,
    pub dropped: u64,
    pub errors: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub success_rate: f64,
    pub error_rate: f64,
    pub compilation_error_rate: f64,
    pub achieved_rps: f64,
    /// Completion − scheduled start (coordinated-omission corrected).
    pub latency: Percentiles,
    /// Completion − actual send.
    pub service_time: Percentiles,
    /// Response time of the submit call alone.
    pub submit_latency: Percentiles,
    pub by_language: BTreeMap<String, Breakdown>,
    pub by_complexity: BTreeMap<String, Breakdown>,
    pub seconds: Vec<SecondRow>,
    pub metrics: Vec<MetricSample>,
    pub queue: QueueAnalysis,
    /// Where the time went: API, queue, compile, run, store (crate::analysis).
    pub stages: crate::analysis::Decomposition,
    pub generator: GeneratorHealth,
    pub criteria: Vec<CriterionResult>,
    pub indicators: Vec<Indicator>,
    pub warnings: Vec<String>,
    /// All criteria passed and no failure indicator triggered.
    pub passed: bool,
}

impl PhaseResult {
    /// "PASS", "FAIL" or "GENERATOR OVERLOADED".
    pub fn verdict_label(&self) -> &'static str {
        if self.generator.overloaded {
            "GENERATOR OVERLOADED"
        } else if self.passed {
            "PASS"
        } else {
            "FAIL"
        }
    }

    pub fn outcome_count(&self, key: &str) -> u64 {
        self.outcomes.get(key).copied().unwrap_or(0)
    }

    /// The figures of a raw run, not judged yet ([`crate::criteria::judge`]
    /// fills in the verdicts).
    pub fn build(phase: &Phase, raw: Raw) -> Self {
        let r = &raw.recorder;
        let pct = |x: u64| {
            if r.sent == 0 {
                0.0
            } else {
                100.0 * x as f64 / r.sent as f64
            }
        };
        let errors = r.all.errors;
        let scheduled = phase.load.duration();
        let window = scheduled.max(raw.elapsed).as_secs_f64().max(1e-9);
        let arrivals = r.sent + r.dropped;
        let open = matches!(phase.load, LoadModel::Open { .. });
        let seconds = second_rows(phase, &raw, scheduled);
        PhaseResult {
            name: phase.name.clone(),
            description: phase.description.clone(),
            load: phase.load.clone(),
            submit: phase.submit.clone(),
            started_at: crate::timestamp::rfc3339(raw.started_at),
            scheduled_s: scheduled.as_secs_f64(),
            elapsed_s: raw.elapsed.as_secs_f64(),
            expected_requests: phase.load.expected_requests(),
            arrivals,
            sent: r.sent,
            completed: r.all.count,
            late: r.late,
            dropped: r.dropped,
            errors,
            outcomes: r.outcomes.clone(),
            success_rate: pct(r.all.success),
            error_rate: pct(errors),
            compilation_error_rate: pct(r.all.compilation_errors),
            achieved_rps: r.all.count as f64 / window,
            latency: Percentiles::of_us(&r.all.latency),
            service_time: Percentiles::of_us(&r.service),
            submit_latency: Percentiles::of_us(&r.submit),
            by_language: r
                .by_language
                .iter()
                .map(|(k, g)| ((*k).to_owned(), g.into()))
                .collect(),
            by_complexity: r
                .by_complexity
                .iter()
                .map(|(k, g)| (k.as_str().to_owned(), g.into()))
                .collect(),
            seconds,
            queue: analyse(&raw.metrics),
            stages: crate::analysis::Decomposition::build(&r.stage_rows),
            metrics: raw.metrics.clone(),
            generator: GeneratorHealth::of(r, open),
            criteria: Vec::new(),
            indicators: Vec::new(),
            warnings: Vec::new(),
            passed: false,
        }
    }
}

/// One row per second of the run, with the metrics sampled in it.
fn second_rows(phase: &Phase, raw: &Raw, scheduled: Duration) -> Vec<SecondRow> {
    raw.recorder
        .seconds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = Percentiles::of_ms(&s.latency_ms);
            let m = raw
                .metrics
                .iter()
                .find(|m| m.t >= i as f64 && m.t < i as f64 + 1.0);
            SecondRow {
                second: i as u64,
                target_rps: phase
                    .load
                    .target_rate_at(i as f64 + 0.5)
                    .filter(|_| Duration::from_secs(i as u64) < scheduled),
                sent: s.sent,
                late: s.late,
                dropped: s.dropped,
                completed: s.completed,
                success: s.success,
                errors: s.errors,
                p50_ms: p.p50_ms,
                p90_ms: p.p90_ms,
                p95_ms: p.p95_ms,
                p99_ms: p.p99_ms,
                max_ms: p.max_ms,
                queue_depth: m.and_then(|m| m.queue_depth),
                active_jobs: m.and_then(|m| m.active_jobs),
                workers: m.and_then(|m| m.workers),
            }
        })
        .collect()
}

impl GeneratorHealth {
    /// Whether the generator kept its schedule (an open model's arrivals).
    fn of(r: &Recorder, open: bool) -> GeneratorHealth {
        let arrivals = r.sent + r.dropped;
        let (late_f, drop_f) = if arrivals == 0 {
            (0.0, 0.0)
        } else {
            (
                r.late as f64 / arrivals as f64,
                r.dropped as f64 / arrivals as f64,
            )
        };
        GeneratorHealth {
            // More than 1 % and more than 2 arrivals: one late send in a tiny run is noise.
            overloaded: open && late_f + drop_f > OVERLOAD_FRACTION && r.late + r.dropped > 2,
            late_fraction: late_f,
            dropped_fraction: drop_f,
            max_lateness_ms: r.max_lateness.as_secs_f64() * 1000.0,
            threshold_fraction: OVERLOAD_FRACTION,
        }
    }
}

/// The verdict of a whole run, which is also the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every criterion of every phase passed (exit 0).
    Pass,
    /// A criterion failed or a failure indicator triggered (exit 1).
    Fail,
    /// The generator could not keep its schedule: the figures are not
    /// trustworthy, whatever the criteria say (exit 3).
    GeneratorOverloaded,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => crate::EXIT_PASS,
            Verdict::Fail => crate::EXIT_FAIL,
            Verdict::GeneratorOverloaded => crate::EXIT_OVERLOADED,
        }
    }
}

/// Everything about one `kiln loadtest` run (`results.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The plan's three questions answered (crate::analysis), first.
    pub answers: crate::analysis::Answers,
    pub tool: String,
    pub scenario: String,
    pub description: String,
    pub target: String,
    pub embedded_server: bool,
    pub started_at: String,
    pub scale: f64,
    pub seed: u64,
    pub phases: Vec<PhaseResult>,
    pub verdict: Verdict,
    pub exit_code: i32,
}

impl RunResult {
    pub fn verdict_of(phases: &[PhaseResult]) -> Verdict {
        if phases.iter().any(|p| p.generator.overloaded) {
            Verdict::GeneratorOverloaded
        } else if phases.iter().all(|p| p.passed) {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}
