//! The layout of a scenario file, as deserialised (before the cross-field
//! checks of [`parse`](super::parse())).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::values::{Complexity, Dur, LangGroup, Metric, Model, NonNeg, Op, Spacing, SubmitMode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) sequence: Vec<String>,
    pub(super) gap: Option<Dur>,
    pub(super) load: Option<Spanned<LoadFile>>,
    pub(super) languages: Option<Spanned<BTreeMap<LangGroup, NonNeg>>>,
    pub(super) complexity: Option<Spanned<BTreeMap<Complexity, NonNeg>>>,
    #[serde(default)]
    pub(super) submit: SubmitFile,
    #[serde(default)]
    pub(super) criteria: Vec<Spanned<Criterion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoadFile {
    #[serde(default)]
    pub(super) model: Model,
    #[serde(default)]
    pub(super) spacing: Spacing,
    pub(super) start_rate: Option<NonNeg>,
    #[serde(default)]
    pub(super) stages: Vec<Spanned<StageFile>>,
    pub(super) max_in_flight: Option<usize>,
    pub(super) late_threshold: Option<Dur>,
    pub(super) users: Option<usize>,
    pub(super) spawn_rate: Option<NonNeg>,
    pub(super) duration: Option<Dur>,
    pub(super) think_time: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageFile {
    pub(super) duration: Dur,
    pub(super) rate: Option<NonNeg>,
    pub(super) requests: Option<NonNeg>,
    pub(super) from: Option<NonNeg>,
    pub(super) to: Option<NonNeg>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitFile {
    pub(super) mode: Option<SubmitMode>,
    pub(super) poll_interval: Option<Dur>,
    pub(super) timeout: Option<Dur>,
    pub(super) unique_sources: Option<bool>,
}

/// One success criterion, e.g. `{ metric = "p95_latency_s", op = "<", target = 3 }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub metric: Metric,
    pub op: Op,
    #[serde(default)]
    pub target: Option<f64>,
    /// Only submissions of this complexity.
    #[serde(default)]
    pub complexity: Option<Complexity>,
    /// Only submissions of this language (a concrete language id).
    #[serde(default)]
    pub language: Option<String>,
    /// Display label; defaults to a description built from the fields.
    #[serde(default)]
    pub label: Option<String>,
}

impl Criterion {
    pub fn display_label(&self) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        let mut s = serde_json::to_value(self.metric)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(c) = self.complexity {
            s.push_str(&format!(" ({c})"));
        }
        if let Some(l) = &self.language {
            s.push_str(&format!(" [{l}]"));
        }
        s
    }
}
