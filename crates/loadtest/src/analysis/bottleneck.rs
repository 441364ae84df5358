//! Naming the limiting layer of a phase: rules that read the decomposition
//! (crate::analysis::stages) and the target's gauges (queue depth, active
//! jobs, workers) and say which layer — API, queue, workers or database —
//! limited the phase, with the figures that show it, or that none did.

use serde::Serialize;

use crate::metrics_scrape::MetricSample;
use crate::results::PhaseResult;
use crate::scenario::SubmitMode;

/// Worker utilisation (active jobs ÷ workers) at or above this is saturation.
pub const WORKERS_UTILISATION: f64 = 0.85;
/// … as is this fraction of the samples with every worker busy, while the
/// queue wait or depth grew.
pub const WORKERS_SATURATED_FRACTION: f64 = 0.5;
/// Store writes taking this share of the end-to-end time (%), with a P95 of
/// at least [`STORE_P95_MS`], limit the phase.
pub const STORE_SHARE_PCT: f64 = 25.0;
pub const STORE_P95_MS: f64 = 50.0;
/// The API's part (or the submit call, polling without stages) taking this
/// share (%), with a P95 of at least [`API_P95_MS`].
pub const API_SHARE_PCT: f64 = 40.0;
pub const API_P95_MS: f64 = 100.0;
/// Queue wait taking this share (%) while workers were free when jobs
/// waited (or, when no sample saw a job waiting, were this idle): the queue
/// (dispatch) itself is slow.
pub const QUEUE_SHARE_PCT: f64 = 40.0;
pub const QUEUE_IDLE_UTILISATION: f64 = 0.7;
/// Every worker busy in this fraction of the samples that saw jobs waiting,
/// with the queue wait at least [`QUEUE_WAIT_SHARE_PCT`] of the end-to-end
/// time: a backlog behind busy workers (a burst, slow compiles), even when
/// the mean utilisation over the phase is moderate.
pub const BUSY_WHEN_WAITING: f64 = 0.8;
/// Workers holding jobs this fraction of the time (throughput × worker time
/// per job ÷ workers, from the stages), with the queue wait at least
/// [`QUEUE_WAIT_SHARE_PCT`]: busy beyond what 1-second gauge samples see
/// (store writes and dequeues between runs are not "active").
pub const WORKERS_HELD: f64 = 0.75;
pub const QUEUE_WAIT_SHARE_PCT: f64 = 40.0;
/// Queue wait grew: its mean in the last fifth of the phase is at least twice
/// that of the first fifth and this much more.
pub const QUEUE_GROWTH_MS: f64 = 500.0;

/// A layer of the system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Api,
    Queue,
    Workers,
    Database,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Api => "API",
            Layer::Queue => "queue",
            Layer::Workers => "workers",
            Layer::Database => "database",
        }
    }
}

/// The verdict on one phase.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bottleneck {
    pub phase: String,
    /// `None`: no layer reached its limit.
    pub layer: Option<Layer>,
    /// One line: the layer and its evidence, or "none reached" and the headroom.
    pub summary: String,
    /// Every figure the rules read.
    pub evidence: Vec<String>,
}

/// What the rules read of a phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    pub utilisation: Option<f64>,
    /// Fraction of the samples with active jobs ≥ workers.
    pub saturated: Option<f64>,
    /// Of the samples with jobs waiting, the fraction with every worker busy.
    pub busy_when_waiting: Option<f64>,
    /// Fraction of the time the workers held jobs: throughput × mean worker
    /// time per job (stages) ÷ workers (gauge).
    pub held: Option<f64>,
    pub depth_growing: bool,
    pub max_depth: Option<f64>,
    /// Mean queue wait (ms) in the first and the last fifth of the phase.
    pub queue_wait: Option<(f64, f64)>,
    pub with_stages: bool,
    pub store_share: f64,
    pub store_p95: f64,
    pub api_share: f64,
    pub api_p95: f64,
    pub queue_share: f64,
    pub queue_p95: f64,
    /// Polling without stages: the submit call's share and P95.
    pub submit_share: Option<f64>,
    pub submit_p95: f64,
    /// Compile's share of the workers' time (%), and the language holding
    /// the largest share of it.
    pub compile_of_occupancy: Option<f64>,
    pub dominant: Option<(String, f64)>,
}

impl Signals {
    pub fn of(p: &PhaseResult) -> Signals {
        let d = &p.stages;
        let (utilisation, saturated, busy_when_waiting) = gauges(&p.metrics);
        let rows: Vec<(f64, f64)> = d
            .seconds
            .iter()
            .filter_map(|s| Some((s.second as f64, *s.mean_ms.get("queue")?)))
            .collect();
        let occupancy: f64 = d
            .by_language
            .values()
            .map(|l| l.parts.occupancy_ms.unwrap_or(0.0) * l.parts.count as f64)
            .sum();
        let dominant = d
            .by_language
            .iter()
            .map(|(k, l)| {
                (
                    k.clone(),
                    l.parts.occupancy_ms.unwrap_or(0.0) * l.parts.count as f64,
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|_| occupancy > 0.0)
            .map(|(k, w)| (k, 100.0 * w / occupancy));
        let service = p.service_time.mean_ms.max(1e-9);
        Signals {
            utilisation,
            saturated,
            busy_when_waiting,
            held: match (p.queue.max_workers, d.overall.occupancy_ms) {
                (Some(w), Some(o)) if w > 0.0 => Some(p.achieved_rps * o / 1000.0 / w),
                _ => None,
            },
            depth_growing: p.queue.growing,
            max_depth: p.queue.max_depth,
            queue_wait: fifths(&rows),
            with_stages: d.with_stages > 0,
            store_share: d.overall.share("store"),
            store_p95: d.overall.p95("store"),
            api_share: d.overall.share("api"),
            api_p95: d.overall.p95("api"),
            queue_share: d.overall.share("queue"),
            queue_p95: d.overall.p95("queue"),
            submit_share: (d.with_stages == 0 && p.submit.mode == SubmitMode::Poll)
                .then(|| 100.0 * p.submit_latency.mean_ms / service),
            submit_p95: p.submit_latency.p95_ms,
            compile_of_occupancy: d
                .overall
                .occupancy_ms
                .filter(|o| *o > 0.0)
                .map(|o| 100.0 * d.overall.mean("compile") / o),
            dominant,
        }
    }

    fn queue_grew(&self) -> bool {
        self.queue_wait
            .is_some_and(|(a, b)| b >= 2.0 * a && b - a >= QUEUE_GROWTH_MS)
    }
}

/// Mean utilisation, the fraction of samples with every worker busy, and
/// that fraction among the samples with jobs waiting.
fn gauges(samples: &[MetricSample]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let u: Vec<(f64, bool)> = samples
        .iter()
        .filter_map(|s| match (s.active_jobs, s.workers) {
            (Some(a), Some(w)) if w > 0.0 => {
                Some(((a / w).min(1.0), s.queue_depth.is_some_and(|d| d >= 1.0)))
            }
            _ => None,
        })
        .collect();
    if u.is_empty() {
        return (None, None, None);
    }
    let busy = |x: f64| x >= 1.0 - 1e-9;
    let n = u.len() as f64;
    let waiting: Vec<f64> = u.iter().filter(|x| x.1).map(|x| x.0).collect();
    let busy_waiting = (!waiting.is_empty())
        .then(|| waiting.iter().filter(|x| busy(**x)).count() as f64 / waiting.len() as f64);
    (
        Some(u.iter().map(|x| x.0).sum::<f64>() / n),
        Some(u.iter().filter(|x| busy(x.0)).count() as f64 / n),
        busy_waiting,
    )
}

/// Means of the first and last fifth of a series (at least 5 points).
pub fn fifths(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 5 {
        return None;
    }
    let k = points.len() / 5;
    let mean = |s: &[(f64, f64)]| s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64;
    Some((mean(&points[..k]), mean(&points[points.len() - k..])))
}

/// "45 ms" or "1.2 s".
pub fn dur(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// The rules, in order: database, workers, API, queue; else none.
pub fn judge(phase: &str, s: &Signals) -> Bottleneck {
    let evidence = evidence(s);
    let found = if s.with_stages && s.store_share >= STORE_SHARE_PCT && s.store_p95 >= STORE_P95_MS
    {
        Some((
            Layer::Database,
            format!(
                "store writes are {:.0} % of the end-to-end time (P95 {})",
                s.store_share,
                dur(s.store_p95)
            ),
        ))
    } else if workers_saturated(s) {
        Some((Layer::Workers, workers_text(s)))
    } else if s.with_stages && s.api_share >= API_SHARE_PCT && s.api_p95 >= API_P95_MS {
        Some((Layer::Api, format!(
            "the API's part (HTTP, accept, notice) is {:.0} % of the end-to-end time (P95 {}) while workers wait for work",
            s.api_share,
            dur(s.api_p95)
        )))
    } else if s.submit_share.is_some_and(|x| x >= API_SHARE_PCT) && s.submit_p95 >= API_P95_MS {
        Some((
            Layer::Api,
            format!(
                "the submit call is {:.0} % of the end-to-end time (P95 {})",
                s.submit_share.unwrap_or(0.0),
                dur(s.submit_p95)
            ),
        ))
    } else if s.queue_share >= QUEUE_SHARE_PCT && workers_free_while_waiting(s) {
        Some((Layer::Queue, format!(
            "jobs wait in the queue ({:.0} % of the end-to-end time) while workers are free ({:.0} % busy)",
            s.queue_share,
            100.0 * s.utilisation.unwrap_or(0.0)
        )))
    } else {
        None
    };
    let summary = match &found {
        Some((layer, text)) => format!("{}: {text}", layer.name()),
        None => format!("none reached: {}", evidence.join("; ")),
    };
    Bottleneck {
        phase: phase.to_owned(),
        layer: found.map(|f| f.0),
        summary,
        evidence,
    }
}

/// Jobs waited while a worker was free (or, when no sample saw one wait,
/// the workers were mostly idle).
fn workers_free_while_waiting(s: &Signals) -> bool {
    if s.held.is_some_and(|h| h >= QUEUE_IDLE_UTILISATION) {
        return false;
    }
    match s.busy_when_waiting {
        Some(b) => b < 1.0 - BUSY_WHEN_WAITING,
        None => s.utilisation.is_some_and(|u| u < QUEUE_IDLE_UTILISATION),
    }
}

fn workers_saturated(s: &Signals) -> bool {
    let grew = s.queue_grew() || s.depth_growing;
    s.utilisation.is_some_and(|u| u >= WORKERS_UTILISATION)
        || (s.saturated.is_some_and(|f| f >= WORKERS_SATURATED_FRACTION) && grew)
        || s.held.is_some_and(|h| h >= WORKERS_UTILISATION)
        || ((s.busy_when_waiting.is_some_and(|b| b >= BUSY_WHEN_WAITING)
            || s.held.is_some_and(|h| h >= WORKERS_HELD))
            && s.queue_share >= QUEUE_WAIT_SHARE_PCT)
        // No worker gauges: a queue wait that grew and dominates.
        || (s.utilisation.is_none() && grew && s.queue_share >= QUEUE_SHARE_PCT)
}

fn workers_text(s: &Signals) -> String {
    let held = s.held.filter(|h| *h >= WORKERS_HELD);
    let mut t = match (s.utilisation, s.busy_when_waiting) {
        (Some(u), _) if u < WORKERS_UTILISATION && held.is_some() => format!(
            "workers held jobs {:.0} % of the time (throughput × worker time per job ÷ workers; the gauge saw {:.0} %); queue wait {:.0} % of the end-to-end time, P95 {}",
            100.0 * held.unwrap_or(0.0),
            100.0 * u,
            s.queue_share,
            dur(s.queue_p95)
        ),
        (Some(u), Some(b)) if u < WORKERS_UTILISATION => format!(
            "every worker busy in {:.0} % of the samples with jobs waiting (utilisation {:.0} % over the phase); queue wait {:.0} % of the end-to-end time, P95 {}",
            100.0 * b,
            100.0 * u,
            s.queue_share,
            dur(s.queue_p95)
        ),
        (Some(u), _) => format!("utilisation {:.0} %", 100.0 * u),
        (None, _) => "no worker gauges; the queue wait dominates".to_owned(),
    };
    if let Some((a, b)) = s.queue_wait.filter(|(a, b)| b > a) {
        t.push_str(&format!(
            " while queue wait went from {} to {}",
            dur(a),
            dur(b)
        ));
    } else if s.depth_growing {
        t.push_str(&format!(
            " while the queue grew (max {:.0})",
            s.max_depth.unwrap_or(0.0)
        ));
    }
    if let Some(c) = s.compile_of_occupancy {
        t.push_str(&format!("; compile is {c:.0} % of service time"));
    }
    if let Some((lang, share)) = &s.dominant {
        t.push_str(&format!(", {lang} dominant ({share:.0} % of worker time)"));
    }
    t
}

/// Every figure read, as short phrases.
fn evidence(s: &Signals) -> Vec<String> {
    let mut e = Vec::new();
    match (s.utilisation, s.saturated) {
        (Some(u), Some(f)) => e.push(format!(
            "worker utilisation {:.0} % (all busy in {:.0} % of samples)",
            100.0 * u,
            100.0 * f
        )),
        _ => e.push("no worker gauges in /metrics".to_owned()),
    }
    if let Some(h) = s.held {
        e.push(format!("workers held jobs {:.0} % of the time", 100.0 * h));
    }
    match (s.max_depth, s.depth_growing) {
        (Some(m), true) => e.push(format!("queue depth growing (max {m:.0})")),
        (Some(m), false) => e.push(format!("queue depth stable (max {m:.0})")),
        _ => {}
    }
    if let Some((a, b)) = s.queue_wait {
        e.push(format!("queue wait {} → {}", dur(a), dur(b)));
    }
    if s.with_stages {
        e.push(format!(
            "API part {:.0} % (P95 {}), queue {:.0} %, store {:.0} % (P95 {})",
            s.api_share,
            dur(s.api_p95),
            s.queue_share,
            s.store_share,
            dur(s.store_p95)
        ));
    } else {
        e.push(format!(
            "no stages in the results: submit call P95 {}",
            dur(s.submit_p95)
        ));
    }
    e
}

#[cfg(test)]
mod tests;
