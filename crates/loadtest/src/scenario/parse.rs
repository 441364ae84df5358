//! Loading a scenario: a built-in or a file, parsed and checked; every
//! error names the line, column and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::file::{Criterion, LoadFile, ScenarioFile, StageFile, SubmitFile};
use super::values::{Complexity, LangGroup, Metric, Model, NonNeg, Op};
use super::{builtin_names, LoadModel, Phase, Scenario, Stage, SubmitOptions, BUILTIN};
use crate::error::LoadtestError;

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
        return sequence(file, dir, &err);
    }
    let Some(load) = file.load else {
        return Err(err("missing field `load` (or `sequence`)".into()));
    };
    let model = load_model(load, &at)?;
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
    let criteria = criteria(file.criteria, &at)?;
    let submit = submit_options(&file.submit);
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

/// A `sequence` of one-phase scenarios (built-ins or files next to `dir`).
fn sequence(
    file: ScenarioFile,
    dir: Option<&Path>,
    err: &dyn Fn(String) -> LoadtestError,
) -> Result<Scenario, LoadtestError> {
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
    Ok(Scenario {
        name: file.name,
        description: file.description,
        phases,
        gap: file.gap.map(|d| d.0).unwrap_or(Duration::ZERO),
    })
}

/// The `[load]` table: an open model's stages, or a closed model's users.
fn load_model(load: Spanned<LoadFile>, at: &At<'_>) -> Result<LoadModel, LoadtestError> {
    let load_span = load.span();
    let load = load.into_inner();
    Ok(match load.model {
        Model::Open => {
            if load.stages.is_empty() {
                return Err(at(
                    load_span,
                    "field `load.stages`: an open model needs at least one [[load.stages]]",
                ));
            }
            let start_rate = load.start_rate.map(|r| r.0).unwrap_or(0.0);
            LoadModel::Open {
                spacing: load.spacing,
                stages: stages(load.stages, start_rate, at)?,
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
    })
}

/// An open model's stages; a ramp without `from` starts where the previous
/// stage ended (the first at `start_rate`).
fn stages(
    given: Vec<Spanned<StageFile>>,
    start_rate: f64,
    at: &At<'_>,
) -> Result<Vec<Stage>, LoadtestError> {
    let mut prev = start_rate;
    let mut stages = Vec::new();
    for (i, st) in given.into_iter().enumerate() {
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
    Ok(stages)
}

/// The success criteria, with the checks across their fields.
fn criteria(given: Vec<Spanned<Criterion>>, at: &At<'_>) -> Result<Vec<Criterion>, LoadtestError> {
    let mut criteria = Vec::new();
    for c in given {
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
    Ok(criteria)
}

/// The `[submit]` table with its defaults.
fn submit_options(submit: &SubmitFile) -> SubmitOptions {
    SubmitOptions {
        mode: submit.mode.unwrap_or_default(),
        poll_interval: submit
            .poll_interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_millis(200)),
        timeout: submit
            .timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(60)),
        unique_sources: submit.unique_sources.unwrap_or(false),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
