//! The figures of a finished phase and of a whole run, as written to
//! `results.json` and drawn by the reports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::health::{view_group, View};
pub use crate::health::{GeneratorHealth, Trust};
use crate::metrics_scrape::{analyse, MetricSample, QueueAnalysis};
use crate::runner::Raw;
use crate::scenario::{LoadModel, Metric, Phase, SubmitOptions};
use crate::stats::{Group, Percentiles};

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
    /// Whether the verdict can be trusted (see [`crate::health`]).
    pub trust: Trust,
    pub criteria: Vec<CriterionResult>,
    pub indicators: Vec<Indicator>,
    pub warnings: Vec<String>,
    /// All criteria passed and no failure indicator triggered (the target's verdict).
    pub passed: bool,
    /// The histograms and counts behind these figures (for `histograms.json`,
    /// the Locust and k6 shapes, and `merge`).
    #[serde(skip)]
    pub recorder: Option<std::sync::Arc<crate::stats::Recorder>>,
}

impl PhaseResult {
    /// "PASS", "FAIL" or "INCONCLUSIVE".
    pub fn verdict_label(&self) -> &'static str {
        if !self.trust.trustworthy {
            "INCONCLUSIVE"
        } else if self.passed {
            "PASS"
        } else {
            "FAIL"
        }
    }

    pub fn outcome_count(&self, key: &str) -> u64 {
        self.outcomes.get(key).copied().unwrap_or(0)
    }

    /// The figures of a raw run in a view, not judged yet
    /// ([`crate::health::judged`] fills in the verdicts).
    pub fn build(phase: &Phase, raw: &Raw, view: View) -> Self {
        let r = &raw.recorder;
        let timeout = phase.submit.timeout;
        let all = view_group(&r.all, view, timeout);
        let sent = r.sent + (all.count - r.all.count);
        let pct = |x: u64| {
            if sent == 0 {
                0.0
            } else {
                100.0 * x as f64 / sent as f64
            }
        };
        let errors = all.errors;
        let mut outcomes = r.outcomes.clone();
        if view == View::DroppedAsFailures && r.dropped > 0 {
            outcomes.insert("dropped".into(), r.dropped);
        }
        let groups = |m: &mut dyn Iterator<Item = (String, &Group)>| {
            m.map(|(k, g)| (k, view_group(g, view, timeout)))
                .filter(|(_, g)| g.count > 0)
                .map(|(k, g)| (k, Breakdown::from(&g)))
                .collect::<BTreeMap<String, Breakdown>>()
        };
        let scheduled = phase.load.duration();
        let window = scheduled.max(raw.elapsed).as_secs_f64().max(1e-9);
        let arrivals = r.sent + r.dropped;
        let seconds = second_rows(phase, raw, scheduled);
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
            sent,
            completed: all.count,
            late: r.late,
            dropped: r.dropped,
            errors,
            outcomes,
            success_rate: pct(all.success),
            error_rate: pct(errors),
            compilation_error_rate: pct(all.compilation_errors),
            achieved_rps: r.all.count as f64 / window,
            latency: Percentiles::of_us(&all.latency),
            service_time: Percentiles::of_us(&r.all.service),
            submit_latency: Percentiles::of_us(&r.submit),
            by_language: groups(&mut r.by_language.iter().map(|(k, g)| ((*k).to_owned(), g))),
            by_complexity: groups(
                &mut r
                    .by_complexity
                    .iter()
                    .map(|(k, g)| (k.as_str().to_owned(), g)),
            ),
            seconds,
            queue: analyse(&raw.metrics),
            stages: crate::analysis::Decomposition::build(&r.stage_rows),
            metrics: raw.metrics.clone(),
            generator: GeneratorHealth::default(),
            trust: Trust::default(),
            recorder: None,
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

/// The verdict of a whole run, which is also the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every criterion of every phase passed (exit 0).
    Pass,
    /// A criterion failed or a failure indicator triggered (exit 1).
    Fail,
    /// The figures cannot decide: the generator's lateness or the arrivals
    /// dropped at the in-flight cap could change a verdict (exit 3; see
    /// [`crate::health`]).
    Inconclusive,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => crate::EXIT_PASS,
            Verdict::Fail => crate::EXIT_FAIL,
            Verdict::Inconclusive => crate::EXIT_OVERLOADED,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
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
    /// k6's summary metrics over every phase (`.metrics.http_req_duration.values`).
    pub metrics: serde_json::Value,
    /// The options that shaped the schedule and the verdict.
    pub spec: crate::spec::RunSpec,
    /// This process's slice (`--shard I/N`), absent for a whole or merged run.
    pub shard: Option<crate::shard::Shard>,
}

impl RunResult {
    /// A run's result from its judged phases.
    pub fn assemble(
        scn: &crate::scenario::Scenario,
        spec: &crate::spec::RunSpec,
        target: &str,
        embedded_server: bool,
        started_at: String,
        shard: Option<crate::shard::Shard>,
        phases: Vec<PhaseResult>,
    ) -> RunResult {
        let verdict = RunResult::verdict_of(&phases);
        RunResult {
            answers: crate::analysis::answer(&phases, spec.scale.unwrap_or(1.0)),
            tool: format!("kiln-loadtest {}", env!("CARGO_PKG_VERSION")),
            scenario: scn.name.clone(),
            description: scn.description.clone(),
            target: target.to_owned(),
            embedded_server,
            started_at,
            scale: spec.scale.unwrap_or(1.0),
            seed: spec.seed,
            verdict,
            exit_code: verdict.exit_code(),
            metrics: crate::report::compat::k6_metrics(&phases),
            phases,
            spec: spec.clone(),
            shard,
        }
    }

    /// A phase that failed with trustworthy figures fails the run; else an
    /// untrustworthy phase makes it inconclusive; else it passes.
    pub fn verdict_of(phases: &[PhaseResult]) -> Verdict {
        if phases.iter().any(|p| p.trust.trustworthy && !p.passed) {
            Verdict::Fail
        } else if phases.iter().any(|p| !p.trust.trustworthy) {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        }
    }
}
