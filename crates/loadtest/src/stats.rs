//! Recording samples into HdrHistograms: overall, per second, per language and
//! per complexity. Memory is bounded per histogram; histograms merge.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::scenario::Complexity;

/// The outcome of one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The expected verdict (`accepted`) and output.
    Success,
    /// A final verdict other than the expected one (e.g. `wrong_answer`), or
    /// `accepted` with an output that differs from the expected one.
    WrongVerdict(String),
    /// `compilation_error`.
    CompilationError,
    /// `internal_error`: Kiln failed.
    InternalError,
    /// 503 (queue full) or 429 (rate limited).
    Rejected(u16),
    /// Any other non-2xx HTTP status.
    HttpError(u16),
    /// No final result within the submission timeout.
    Timeout,
    /// Connection refused/reset, unparsable response.
    Transport,
}

impl Outcome {
    /// A short key for counts ("success", "http_503", "wrong_verdict:runtime_error", …).
    pub fn key(&self) -> String {
        match self {
            Outcome::Success => "success".into(),
            Outcome::WrongVerdict(s) => format!("wrong_verdict:{s}"),
            Outcome::CompilationError => "compilation_error".into(),
            Outcome::InternalError => "internal_error".into(),
            Outcome::Rejected(c) | Outcome::HttpError(c) => format!("http_{c}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::Transport => "transport_error".into(),
        }
    }
    /// Errors of the system (as opposed to a program's wrong verdict).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            Outcome::InternalError
                | Outcome::Rejected(_)
                | Outcome::HttpError(_)
                | Outcome::Timeout
                | Outcome::Transport
        )
    }
}

/// One finished submission.
#[derive(Debug, Clone)]
pub struct Sample {
    pub language: &'static str,
    pub complexity: Complexity,
    pub outcome: Outcome,
    /// Scheduled start, from the start of the phase.
    pub scheduled: Duration,
    /// Completion − scheduled start (what the user saw, coordinated-omission correct).
    pub latency: Duration,
    /// Completion − actual send (service time, not corrected).
    pub service: Duration,
    /// Response time of the submit call alone.
    pub submit: Option<Duration>,
    /// The stages the result reported (Kiln's `stages`), if any.
    pub stages: Option<crate::analysis::StageSample>,
}

fn hist_us() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}
fn hist_ms() -> Histogram<u32> {
    Histogram::new_with_bounds(1, 3_600_000, 2).expect("valid bounds")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, 3_600_000_000)
}

/// Counts and latencies of a slice of the samples (a language, a complexity).
/// Serialised (for `histograms.json`) with each histogram in V2 base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub count: u64,
    pub success: u64,
    pub errors: u64,
    pub compilation_errors: u64,
    /// Completion − scheduled start (µs).
    #[serde(with = "crate::merge::ser::b64")]
    pub latency: Histogram<u64>,
    /// Completion − actual send (µs).
    #[serde(with = "crate::merge::ser::b64")]
    pub service: Histogram<u64>,
    /// Arrivals of this group dropped at the in-flight cap (never sent).
    pub dropped: u64,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            count: 0,
            success: 0,
            errors: 0,
            compilation_errors: 0,
            latency: hist_us(),
            service: hist_us(),
            dropped: 0,
        }
    }
}

impl Group {
    fn add(&mut self, s: &Sample) {
        self.count += 1;
        self.success += u64::from(s.outcome == Outcome::Success);
        self.errors += u64::from(s.outcome.is_error());
        self.compilation_errors += u64::from(s.outcome == Outcome::CompilationError);
        let _ = self.latency.record(us(s.latency));
        let _ = self.service.record(us(s.service));
    }
}

/// One second of the phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Second {
    /// Arrivals scheduled in this second that were sent.
    pub sent: u64,
    pub late: u64,
    pub dropped: u64,
    /// Completions in this second.
    pub completed: u64,
    pub success: u64,
    pub errors: u64,
    /// Latency (ms) of the completions in this second.
    #[serde(with = "crate::merge::ser::b64")]
    pub latency_ms: Histogram<u32>,
}

impl Default for Second {
    fn default() -> Self {
        Second {
            sent: 0,
            late: 0,
            dropped: 0,
            completed: 0,
            success: 0,
            errors: 0,
            latency_ms: hist_ms(),
        }
    }
}

/// Everything recorded during one phase; mergeable across shards
/// ([`Recorder::merge`]) and serialisable (`histograms.json`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Recorder {
    pub all: Group,
    #[serde(with = "crate::merge::ser::b64")]
    pub submit: Histogram<u64>,
    /// How late each sent arrival left (µs; 0 recorded as 1).
    #[serde(with = "crate::merge::ser::b64")]
    pub lateness: Histogram<u64>,
    #[serde(deserialize_with = "crate::merge::ser::languages")]
    pub by_language: BTreeMap<&'static str, Group>,
    pub by_complexity: BTreeMap<Complexity, Group>,
    pub outcomes: BTreeMap<String, u64>,
    pub seconds: Vec<Second>,
    pub sent: u64,
    pub late: u64,
    pub dropped: u64,
    /// Largest lateness of a sent arrival.
    pub max_lateness: Duration,
    /// Every completion's stages, for the decomposition (crate::analysis).
    pub stage_rows: Vec<crate::analysis::StageRow>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            all: Group::default(),
            submit: hist_us(),
            lateness: hist_us(),
            by_language: BTreeMap::new(),
            by_complexity: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            seconds: Vec::new(),
            sent: 0,
            late: 0,
            dropped: 0,
            max_lateness: Duration::ZERO,
            stage_rows: Vec::new(),
        }
    }
}

impl Recorder {
    fn second(&mut self, at: Duration) -> &mut Second {
        let i = at.as_secs() as usize;
        if self.seconds.len() <= i {
            self.seconds.resize_with(i + 1, Second::default);
        }
        &mut self.seconds[i]
    }

    /// An arrival was sent `lateness` after its scheduled time.
    pub fn sent(&mut self, scheduled: Duration, lateness: Duration, late: bool) {
        self.sent += 1;
        self.max_lateness = self.max_lateness.max(lateness);
        self.late += u64::from(late);
        let _ = self.lateness.record(us(lateness));
        let sec = self.second(scheduled);
        sec.sent += 1;
        sec.late += u64::from(late);
    }

    /// An arrival of `language` and `complexity` could not be sent (in-flight cap reached).
    pub fn dropped(&mut self, scheduled: Duration, language: &'static str, complexity: Complexity) {
        self.dropped += 1;
        self.all.dropped += 1;
        self.by_language.entry(language).or_default().dropped += 1;
        self.by_complexity.entry(complexity).or_default().dropped += 1;
        self.second(scheduled).dropped += 1;
    }

    /// A submission finished (successfully or not).
    pub fn record(&mut self, s: &Sample) {
        self.all.add(s);
        if let Some(d) = s.submit {
            let _ = self.submit.record(us(d));
        }
        self.by_language.entry(s.language).or_default().add(s);
        self.by_complexity.entry(s.complexity).or_default().add(s);
        *self.outcomes.entry(s.outcome.key()).or_default() += 1;
        self.stage_rows.push(crate::analysis::StageRow {
            second: (s.scheduled + s.latency).as_secs() as u32,
            language: s.language,
            service_ms: s.service.as_secs_f64() * 1000.0,
            submit_ms: s.submit.map(|d| d.as_secs_f64() * 1000.0),
            stages: s.stages,
        });
        let sec = self.second(s.scheduled + s.latency);
        sec.completed += 1;
        sec.success += u64::from(s.outcome == Outcome::Success);
        sec.errors += u64::from(s.outcome.is_error());
        let _ = sec
            .latency_ms
            .record((s.latency.as_millis() as u64).clamp(1, 3_600_000));
    }
}

impl Group {
    /// Adds another process's counts and histograms (a shard of the same phase).
    pub fn merge(&mut self, o: &Group) {
        self.count += o.count;
        self.success += o.success;
        self.errors += o.errors;
        self.compilation_errors += o.compilation_errors;
        self.dropped += o.dropped;
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
    }
}

impl Recorder {
    /// Adds another shard's recording of the same phase: counts add,
    /// histograms add, second `i` adds to second `i`.
    pub fn merge(&mut self, o: &Recorder) {
        self.all.merge(&o.all);
        let _ = self.submit.add(&o.submit);
        let _ = self.lateness.add(&o.lateness);
        for (k, g) in &o.by_language {
            self.by_language.entry(k).or_default().merge(g);
        }
        for (k, g) in &o.by_complexity {
            self.by_complexity.entry(*k).or_default().merge(g);
        }
        for (k, n) in &o.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += n;
        }
        if self.seconds.len() < o.seconds.len() {
            self.seconds.resize_with(o.seconds.len(), Second::default);
        }
        for (mine, theirs) in self.seconds.iter_mut().zip(&o.seconds) {
            mine.sent += theirs.sent;
            mine.late += theirs.late;
            mine.dropped += theirs.dropped;
            mine.completed += theirs.completed;
            mine.success += theirs.success;
            mine.errors += theirs.errors;
            let _ = mine.latency_ms.add(&theirs.latency_ms);
        }
        self.sent += o.sent;
        self.late += o.late;
        self.dropped += o.dropped;
        self.max_lateness = self.max_lateness.max(o.max_lateness);
        self.stage_rows.extend(o.stage_rows.iter().cloned());
    }
}

pub use kiln_measure::Percentiles;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_goes_to_the_completion_second() {
        let mut r = Recorder::default();
        r.sent(Duration::from_millis(500), Duration::ZERO, false);
        r.record(&Sample {
            language: "c",
            complexity: Complexity::Simple,
            outcome: Outcome::Timeout,
            scheduled: Duration::from_millis(500),
            latency: Duration::from_millis(2000),
            service: Duration::from_millis(2000),
            submit: None,
            stages: None,
        });
        assert_eq!(r.seconds[0].sent, 1);
        assert_eq!(r.seconds[2].completed, 1);
        assert_eq!(r.seconds[2].errors, 1);
        assert_eq!(r.outcomes["timeout"], 1);
        let p = Percentiles::of_us(&r.all.latency);
        assert!((p.p50_ms - 2000.0).abs() < 2.0);
    }
}
