//! Scenario files: the load-test plan as data (TOML).
//!
//! A scenario is either one *phase* (a load model, a language and complexity
//! mix, submission options and success criteria) or a `sequence` of other
//! scenarios run one after the other with a `gap` between them (`all`).
//! Every malformed value is reported with its line, column and field: values
//! are checked while they are deserialised (so `toml` attaches the span) and
//! cross-field checks use [`toml::Spanned`] tables.
//!
//! Layout: `values` holds the value types (durations, numbers, metrics; the
//! language groups and complexity levels come from [`crate::corpus`]),
//! `file` the TOML layout, `parse` the loading and checks; this
//! module holds the resolved form ([`Scenario`], [`Phase`], [`LoadModel`])
//! and the command-line [`Overrides`].

mod file;
mod parse;
mod values;

use std::time::Duration;

use serde::Serialize;

pub use file::Criterion;
pub use parse::{line_col, load, parse};
pub use values::{
    parse_duration, Complexity, Dur, LangGroup, Metric, Model, NonNeg, Op, Spacing, SubmitMode,
};

/// The scenarios shipped with Kiln, embedded in the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("burst", include_str!("../../scenarios/burst.toml")),
    ("sustained", include_str!("../../scenarios/sustained.toml")),
    (
        "compilation",
        include_str!("../../scenarios/compilation.toml"),
    ),
    ("soak", include_str!("../../scenarios/soak.toml")),
    ("all", include_str!("../../scenarios/all.toml")),
    ("smoke", include_str!("../../scenarios/smoke.toml")),
];

/// Names of the built-in scenarios, comma separated (for messages).
pub fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One stage of an open model: the rate goes linearly from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    #[serde(serialize_with = "ser_secs")]
    pub duration: Duration,
    pub from: f64,
    pub to: f64,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A resolved load model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum LoadModel {
    Open {
        spacing: Spacing,
        stages: Vec<Stage>,
        max_in_flight: usize,
        #[serde(serialize_with = "ser_secs")]
        late_threshold: Duration,
    },
    Closed {
        users: usize,
        spawn_rate: f64,
        #[serde(serialize_with = "ser_secs")]
        duration: Duration,
        #[serde(serialize_with = "ser_secs")]
        think_time: Duration,
    },
}

impl LoadModel {
    /// Total length of the phase.
    pub fn duration(&self) -> Duration {
        match self {
            LoadModel::Open { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            LoadModel::Closed { duration, .. } => *duration,
        }
    }
    /// Scheduled arrival rate at `t` (open model), `None` for a closed model.
    pub fn target_rate_at(&self, t: f64) -> Option<f64> {
        let LoadModel::Open { stages, .. } = self else {
            return None;
        };
        let mut start = 0.0;
        for s in stages {
            let d = s.duration.as_secs_f64();
            if t < start + d {
                let f = if d > 0.0 { (t - start) / d } else { 0.0 };
                return Some(s.from + (s.to - s.from) * f);
            }
            start += d;
        }
        Some(0.0)
    }
    /// Expected number of arrivals of an open model.
    pub fn expected_requests(&self) -> Option<f64> {
        let LoadModel::Open { stages, .. } = self else {
            return None;
        };
        Some(
            stages
                .iter()
                .map(|s| (s.from + s.to) / 2.0 * s.duration.as_secs_f64())
                .sum(),
        )
    }
}

/// Submission options of a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmitOptions {
    pub mode: SubmitMode,
    #[serde(serialize_with = "ser_secs")]
    pub poll_interval: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub timeout: Duration,
    pub unique_sources: bool,
}

/// One phase: what `kiln loadtest` runs and judges as a unit.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    pub description: String,
    pub load: LoadModel,
    pub languages: Vec<(LangGroup, f64)>,
    pub complexity: Vec<(Complexity, f64)>,
    pub submit: SubmitOptions,
    pub criteria: Vec<Criterion>,
}

/// A resolved scenario: phases run in order with `gap` between them.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub phases: Vec<Phase>,
    #[serde(serialize_with = "ser_secs")]
    pub gap: Duration,
}

/// Adjustments from the command line, applied after loading.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Multiplies arrival rates, user counts and `achieved_rps` targets.
    pub scale: Option<f64>,
    /// Length of each phase; stages shrink or stretch proportionally (gaps too).
    pub duration: Option<Duration>,
    pub mode: Option<SubmitMode>,
    pub unique_sources: Option<bool>,
    pub max_in_flight: Option<usize>,
    pub timeout: Option<Duration>,
    /// An arrival sent later than this after its schedule is late.
    pub late_threshold: Option<Duration>,
}

impl Scenario {
    /// Applies command-line overrides.
    pub fn apply(&mut self, o: &Overrides) {
        if let (Some(d), Some(first)) = (o.duration, self.phases.first()) {
            let factor = d.as_secs_f64() / first.load.duration().as_secs_f64().max(1e-9);
            self.gap = self.gap.mul_f64(factor);
        }
        for p in &mut self.phases {
            let time_factor = o
                .duration
                .map(|d| d.as_secs_f64() / p.load.duration().as_secs_f64().max(1e-9));
            match &mut p.load {
                LoadModel::Open {
                    stages,
                    max_in_flight,
                    late_threshold,
                    ..
                } => {
                    for s in stages.iter_mut() {
                        if let Some(f) = o.scale {
                            s.from *= f;
                            s.to *= f;
                        }
                        if let Some(f) = time_factor {
                            s.duration = s.duration.mul_f64(f);
                        }
                    }
                    if let Some(m) = o.max_in_flight {
                        *max_in_flight = m;
                    }
                    if let Some(t) = o.late_threshold {
                        *late_threshold = t;
                    }
                }
                LoadModel::Closed {
                    users,
                    spawn_rate,
                    duration,
                    ..
                } => {
                    if let Some(f) = o.scale {
                        *users = ((*users as f64 * f).round() as usize).max(1);
                        *spawn_rate *= f;
                    }
                    if let Some(d) = o.duration {
                        *duration = d;
                    }
                }
            }
            // A rate target is the offered rate's: `--scale` scales it too.
            if let Some(f) = o.scale {
                for c in p.criteria.iter_mut() {
                    if let (Metric::AchievedRps, Some(t)) = (c.metric, c.target.as_mut()) {
                        *t *= f;
                    }
                }
            }
            if let Some(m) = o.mode {
                p.submit.mode = m;
            }
            if let Some(u) = o.unique_sources {
                p.submit.unique_sources = u;
            }
            if let Some(t) = o.timeout {
                p.submit.timeout = t;
            }
        }
    }

    /// Total scheduled time including gaps.
    pub fn total_duration(&self) -> Duration {
        let n = self.phases.len() as u32;
        self.phases
            .iter()
            .map(|p| p.load.duration())
            .sum::<Duration>()
            + self.gap * n.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let s = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!s.phases.is_empty());
        }
        let all = load("all").unwrap();
        assert_eq!(all.phases.len(), 4);
        let burst = load("burst").unwrap();
        let n = burst.phases[0].load.expected_requests().unwrap();
        assert!((n - 1000.0).abs() < 1e-6, "{n}");
    }

    #[test]
    fn overrides_scale_and_compress() {
        let mut s = load("compilation").unwrap();
        let before = s.phases[0].load.expected_requests().unwrap();
        s.apply(&Overrides {
            scale: Some(0.1),
            duration: Some(Duration::from_secs(48)),
            ..Default::default()
        });
        let after = s.phases[0].load.expected_requests().unwrap();
        assert!(
            (after - before * 0.1 / 10.0).abs() < 1e-6,
            "{before} {after}"
        );
        assert_eq!(s.phases[0].load.duration(), Duration::from_secs(48));
    }

    #[test]
    fn scale_scales_the_achieved_rps_target_only() {
        let mut s = load("sustained").unwrap();
        let targets = |s: &Scenario| -> Vec<(Metric, Option<f64>)> {
            s.phases[0]
                .criteria
                .iter()
                .map(|c| (c.metric, c.target))
                .collect()
        };
        let before = targets(&s);
        s.apply(&Overrides {
            scale: Some(0.1),
            ..Default::default()
        });
        for ((m, b), (_, a)) in before.iter().zip(targets(&s)) {
            match m {
                Metric::AchievedRps => assert!((a.unwrap() - b.unwrap() * 0.1).abs() < 1e-9),
                _ => assert_eq!(*b, a, "{m:?}"),
            }
        }
        assert!(before.iter().any(|(m, _)| *m == Metric::AchievedRps));
    }
}
