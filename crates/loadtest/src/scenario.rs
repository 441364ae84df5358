//! Scenario files: the load-test plan as data (TOML).
//!
//! A scenario is either one *phase* (a load model, a language and complexity
//! mix, submission options and success criteria) or a `sequence` of other
//! scenarios run one after the other with a `gap` between them (`all`).
//! Every malformed value is reported with its line, column and field: values
//! are checked while they are deserialised (so `toml` attaches the span) and
//! cross-field checks use [`toml::Spanned`] tables.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::LoadtestError;

/// The scenarios shipped with Kiln, embedded in the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("burst", include_str!("../scenarios/burst.toml")),
    ("sustained", include_str!("../scenarios/sustained.toml")),
    ("compilation", include_str!("../scenarios/compilation.toml")),
    ("soak", include_str!("../scenarios/soak.toml")),
    ("all", include_str!("../scenarios/all.toml")),
    ("smoke", include_str!("../scenarios/smoke.toml")),
];

/// Names of the built-in scenarios, comma separated (for messages).
pub fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- value types

/// A duration written as `"500ms"`, `"60s"`, `"10m"`, `"1h"` or `"1m30s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(Dur)
    }
}

/// Parses `500ms`, `60s`, `1.5s`, `10m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("invalid duration `{s}`: write e.g. \"500ms\", \"60s\", \"10m\", \"1m30s\"");
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// A non-negative, finite number (rates, weights, counts).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "f64")]
pub struct NonNeg(pub f64);

impl TryFrom<f64> for NonNeg {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(NonNeg(v))
        } else {
            Err(format!("invalid value {v}: must be a finite number >= 0"))
        }
    }
}

/// A language of the plan's mixes; `others` spreads over bash, ruby, php, perl, lua.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LangGroup {
    Python,
    Javascript,
    C,
    Cpp,
    Java,
    Rust,
    Go,
    Bash,
    Ruby,
    Php,
    Perl,
    Lua,
    Others,
}

impl LangGroup {
    /// The concrete languages this entry stands for.
    pub fn languages(self) -> &'static [&'static str] {
        match self {
            LangGroup::Python => &["python"],
            LangGroup::Javascript => &["javascript"],
            LangGroup::C => &["c"],
            LangGroup::Cpp => &["cpp"],
            LangGroup::Java => &["java"],
            LangGroup::Rust => &["rust"],
            LangGroup::Go => &["go"],
            LangGroup::Bash => &["bash"],
            LangGroup::Ruby => &["ruby"],
            LangGroup::Php => &["php"],
            LangGroup::Perl => &["perl"],
            LangGroup::Lua => &["lua"],
            LangGroup::Others => crate::corpus::OTHERS,
        }
    }
}

/// Complexity level of a corpus program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    Simple,
    Medium,
    Complex,
}

impl Complexity {
    pub const ALL: [Complexity; 3] = [Complexity::Simple, Complexity::Medium, Complexity::Complex];
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Medium => "medium",
            Complexity::Complex => "complex",
        }
    }
}

impl fmt::Display for Complexity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Open model: arrivals follow a schedule. Closed model: N users loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    #[default]
    Open,
    Closed,
}

/// How arrivals are spaced within the scheduled rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Spacing {
    /// Exponential gaps (a Poisson process), as real traffic arrives.
    #[default]
    Poisson,
    /// Equal gaps.
    Uniform,
}

/// How a submission's final result is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SubmitMode {
    /// `POST …?wait=true` (polling only if the server's wait maximum passes).
    #[default]
    Wait,
    /// `POST` then `GET /api/v1/submissions/{id}` until the status is final.
    Poll,
}

/// A measured quantity a criterion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// % of sent submissions that got the expected verdict and output.
    SuccessRate,
    /// % of sent submissions with an HTTP error, timeout, transport error or `internal_error`.
    ErrorRate,
    /// % of sent submissions answered `compilation_error`.
    CompilationErrorRate,
    P50LatencyS,
    P90LatencyS,
    P95LatencyS,
    P99LatencyS,
    P999LatencyS,
    MaxLatencyS,
    /// Completed submissions per second over the phase.
    AchievedRps,
    /// `code_execution_queue_depth` over the run; use with `op = "stable"`.
    QueueDepth,
}

impl Metric {
    /// Whether this is a latency metric (seconds), and which quantile.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Metric::P50LatencyS => Some(0.50),
            Metric::P90LatencyS => Some(0.90),
            Metric::P95LatencyS => Some(0.95),
            Metric::P99LatencyS => Some(0.99),
            Metric::P999LatencyS => Some(0.999),
            Metric::MaxLatencyS => Some(1.0),
            _ => None,
        }
    }
}

/// Comparison of a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    /// The value does not grow over the run (linear trend test).
    #[serde(rename = "stable")]
    Stable,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Stable => "stable",
        }
    }
    pub fn holds(self, measured: f64, target: f64) -> bool {
        match self {
            Op::Lt => measured < target,
            Op::Le => measured <= target,
            Op::Gt => measured > target,
            Op::Ge => measured >= target,
            Op::Stable => true,
        }
    }
}

// ------------------------------------------------------------- file layout

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sequence: Vec<String>,
    gap: Option<Dur>,
    load: Option<Spanned<LoadFile>>,
    languages: Option<Spanned<BTreeMap<LangGroup, NonNeg>>>,
    complexity: Option<Spanned<BTreeMap<Complexity, NonNeg>>>,
    #[serde(default)]
    submit: SubmitFile,
    #[serde(default)]
    criteria: Vec<Spanned<Criterion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    #[serde(default)]
    model: Model,
    #[serde(default)]
    spacing: Spacing,
    start_rate: Option<NonNeg>,
    #[serde(default)]
    stages: Vec<Spanned<StageFile>>,
    max_in_flight: Option<usize>,
    late_threshold: Option<Dur>,
    users: Option<usize>,
    spawn_rate: Option<NonNeg>,
    duration: Option<Dur>,
    think_time: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    duration: Dur,
    rate: Option<NonNeg>,
    requests: Option<NonNeg>,
    from: Option<NonNeg>,
    to: Option<NonNeg>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitFile {
    mode: Option<SubmitMode>,
    poll_interval: Option<Dur>,
    timeout: Option<Dur>,
    unique_sources: Option<bool>,
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

// ------------------------------------------------------------ resolved form

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
}

// ------------------------------------------------------------------ loading

/// Loads `--scenario NAME|FILE`: a built-in name or a path to a TOML file.
pub fn load(name_or_path: &str) -> Result<Scenario, LoadtestError> {
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("built-in `{name_or_path}`"), None);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(LoadtestError::UnknownScenario(
            name_or_path.to_owned(),
            builtin_names(),
        ));
    }
    load_file(path)
}

fn load_file(path: &Path) -> Result<Scenario, LoadtestError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadtestError::ReadScenario {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string(), path.parent())
}

/// Parses a scenario; `origin` names it in errors; `dir` resolves relative
/// `sequence` entries (None: only built-ins).
pub fn parse(text: &str, origin: &str, dir: Option<&Path>) -> Result<Scenario, LoadtestError> {
    let err = |message: String| LoadtestError::Scenario {
        origin: origin.to_owned(),
        message,
    };
    let file: ScenarioFile =
        toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
    let at = |span: std::ops::Range<usize>, msg: &str| {
        let (line, col) = line_col(text, span.start);
        err(format!("line {line}, column {col}: {msg}"))
    };
    if !file.sequence.is_empty() {
        if file.load.is_some() {
            return Err(err("`sequence` and `load` cannot both be given".into()));
        }
        let mut phases = Vec::new();
        for entry in &file.sequence {
            let sub = match BUILTIN.iter().find(|(n, _)| n == entry) {
                Some((_, t)) => parse(t, &format!("built-in `{entry}`"), None)?,
                None => {
                    let p: PathBuf = dir
                        .map(|d| d.join(entry))
                        .unwrap_or_else(|| PathBuf::from(entry));
                    if !p.exists() {
                        return Err(err(format!(
                            "field `sequence`: `{entry}` is neither a built-in ({}) nor a file",
                            builtin_names()
                        )));
                    }
                    load_file(&p)?
                }
            };
            if sub.phases.len() != 1 {
                return Err(err(format!(
                    "field `sequence`: `{entry}` is itself a sequence"
                )));
            }
            phases.extend(sub.phases);
        }
        return Ok(Scenario {
            name: file.name,
            description: file.description,
            phases,
            gap: file.gap.map(|d| d.0).unwrap_or(Duration::ZERO),
        });
    }
    let Some(load) = file.load else {
        return Err(err("missing field `load` (or `sequence`)".into()));
    };
    let load_span = load.span();
    let load = load.into_inner();
    let model = match load.model {
        Model::Open => {
            if load.stages.is_empty() {
                return Err(at(
                    load_span,
                    "field `load.stages`: an open model needs at least one [[load.stages]]",
                ));
            }
            let mut prev = load.start_rate.map(|r| r.0).unwrap_or(0.0);
            let mut stages = Vec::new();
            for (i, st) in load.stages.into_iter().enumerate() {
                let span = st.span();
                let st = st.into_inner();
                let secs = st.duration.0.as_secs_f64();
                if secs <= 0.0 {
                    return Err(at(
                        span,
                        &format!("field `load.stages[{i}].duration`: must be > 0"),
                    ));
                }
                let given = [st.rate.is_some(), st.requests.is_some(), st.to.is_some()]
                    .iter()
                    .filter(|b| **b)
                    .count();
                if given != 1 || (st.from.is_some() && st.to.is_none()) {
                    return Err(at(span, &format!(
                        "field `load.stages[{i}]`: give exactly one of `rate`, `requests`, or `to` (with optional `from`)"
                    )));
                }
                let (from, to) = if let Some(r) = st.rate {
                    (r.0, r.0)
                } else if let Some(n) = st.requests {
                    (n.0 / secs, n.0 / secs)
                } else {
                    (
                        st.from.map(|f| f.0).unwrap_or(prev),
                        st.to.map(|t| t.0).unwrap_or(0.0),
                    )
                };
                prev = to;
                stages.push(Stage {
                    duration: st.duration.0,
                    from,
                    to,
                });
            }
            LoadModel::Open {
                spacing: load.spacing,
                stages,
                max_in_flight: load.max_in_flight.unwrap_or(10_000),
                late_threshold: load
                    .late_threshold
                    .map(|d| d.0)
                    .unwrap_or(Duration::from_millis(10)),
            }
        }
        Model::Closed => {
            let (Some(users), Some(duration)) = (load.users, load.duration) else {
                return Err(at(
                    load_span,
                    "field `load`: a closed model needs `users` and `duration`",
                ));
            };
            LoadModel::Closed {
                users,
                spawn_rate: load.spawn_rate.map(|r| r.0).unwrap_or(users as f64),
                duration: duration.0,
                think_time: load.think_time.map(|d| d.0).unwrap_or(Duration::ZERO),
            }
        }
    };
    let languages = mix(
        file.languages,
        vec![(LangGroup::Python, 1.0)],
        "languages",
        &at,
    )?;
    let complexity = mix(
        file.complexity,
        vec![(Complexity::Simple, 1.0)],
        "complexity",
        &at,
    )?;
    let mut criteria = Vec::new();
    for c in file.criteria {
        let span = c.span();
        let c = c.into_inner();
        match (c.op, c.metric, c.target) {
            (Op::Stable, Metric::QueueDepth, _) => {}
            (Op::Stable, _, _) | (_, Metric::QueueDepth, _) => return Err(at(
                span,
                "field `criteria.op`: `stable` goes with metric `queue_depth` only, and only it",
            )),
            (_, _, None) => return Err(at(span, "field `criteria.target`: missing")),
            _ => {}
        }
        if let Some(l) = &c.language {
            if !crate::corpus::LANGUAGES.contains(&l.as_str()) {
                return Err(at(
                    span,
                    &format!("field `criteria.language`: unknown language `{l}`"),
                ));
            }
        }
        criteria.push(c);
    }
    let submit = SubmitOptions {
        mode: file.submit.mode.unwrap_or_default(),
        poll_interval: file
            .submit
            .poll_interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_millis(200)),
        timeout: file
            .submit
            .timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(60)),
        unique_sources: file.submit.unique_sources.unwrap_or(false),
    };
    Ok(Scenario {
        name: file.name.clone(),
        description: file.description.clone(),
        gap: Duration::ZERO,
        phases: vec![Phase {
            name: file.name,
            description: file.description,
            load: model,
            languages,
            complexity,
            submit,
            criteria,
        }],
    })
}

type At<'a> = dyn Fn(std::ops::Range<usize>, &str) -> LoadtestError + 'a;

fn mix<K: Copy>(
    table: Option<Spanned<BTreeMap<K, NonNeg>>>,
    default: Vec<(K, f64)>,
    field: &str,
    at: &At<'_>,
) -> Result<Vec<(K, f64)>, LoadtestError> {
    let Some(table) = table else {
        return Ok(default);
    };
    let span = table.span();
    let entries: Vec<(K, f64)> = table
        .into_inner()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    let total: f64 = entries.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return Err(at(
            span,
            &format!("field `{field}`: the weights must add up to more than 0"),
        ));
    }
    Ok(entries
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(k, w)| (k, w / total))
        .collect())
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, col)
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
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
    }

    fn err_of(text: &str) -> String {
        parse(text, "t.toml", None).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = err_of("name = \"x\"\n[load]\n[[load.stages]]\nduration = \"60s\"\nrat = 5\n");
        assert!(e.contains("line 5") && e.contains("rat"), "{e}");
        let e = err_of("name = \"x\"\n[load]\n[[load.stages]]\nduration = \"6x0s\"\nrate = 5\n");
        assert!(e.contains("line 4") && e.contains("duration"), "{e}");
        let e = err_of("name = \"x\"\n[load]\n[[load.stages]]\nduration = \"60s\"\n\n[languages]\npython = 1\ncobol = 2\n");
        assert!(e.contains("line 8") && e.contains("cobol"), "{e}");
        let e = err_of("name = \"x\"\n[load]\n[[load.stages]]\nduration = \"60s\"\nrate = -3\n");
        assert!(e.contains("line 5") && e.contains("rate"), "{e}");
        let e = err_of("name = \"x\"\n[load]\n\n[[load.stages]]\nduration = \"60s\"\n");
        assert!(e.contains("line 4") && e.contains("load.stages[0]"), "{e}");
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
