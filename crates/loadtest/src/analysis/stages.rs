//! Where the time went: each submission's stages as the target reported them
//! (the `stages` object of Kiln's result, docs/api.md) beside what the client
//! saw (the submit call, the rest), decomposed into the parts of
//! [`PARTS`] per phase, per second and per language, with percentiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stats::Percentiles;

/// The parts of the end-to-end time (from the send to the final result).
/// `api` is what the server's stages do not cover: HTTP, validation, the
/// notice back to the client, the network, and the poll interval when polling.
pub const PARTS: [&str; 5] = ["api", "queue", "compile", "run", "store"];

/// One submission's stages, in milliseconds, as its result reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSample {
    pub accept: Option<f64>,
    pub queue: Option<f64>,
    pub start_write: Option<f64>,
    pub compile: Option<f64>,
    pub run: Option<f64>,
    pub result_write: Option<f64>,
    pub notify: Option<f64>,
    /// `compile_cached` of the result (`None` without a compile step).
    pub cached: Option<bool>,
}

impl StageSample {
    /// The `stages` of a final result, when it has any.
    pub fn from_result(doc: &Value) -> Option<StageSample> {
        let s = doc.get("stages")?.as_object()?;
        let f = |k: &str| s.get(k).and_then(Value::as_f64);
        Some(StageSample {
            accept: f("accept_ms"),
            queue: f("queue_ms"),
            start_write: f("start_write_ms"),
            compile: f("compile_ms"),
            run: f("run_ms"),
            result_write: f("result_write_ms"),
            notify: f("notify_ms"),
            cached: doc.get("compile_cached").and_then(Value::as_bool),
        })
    }

    /// Store writes: the submission's insert, the running mark, the result.
    pub fn store(&self) -> f64 {
        [self.accept, self.start_write, self.result_write]
            .iter()
            .flatten()
            .sum()
    }

    /// How long a worker held the job: from its running mark to the notice.
    pub fn occupancy(&self) -> f64 {
        [
            self.start_write,
            self.compile,
            self.run,
            self.result_write,
            self.notify,
        ]
        .iter()
        .flatten()
        .sum()
    }

    /// The parts of [`PARTS`] for an end-to-end time of `service_ms`.
    pub fn parts(&self, service_ms: f64) -> [f64; 5] {
        let queue = self.queue.unwrap_or(0.0);
        let compile = self.compile.unwrap_or(0.0);
        let run = self.run.unwrap_or(0.0);
        let store = self.store();
        let api = (service_ms - queue - compile - run - store).max(0.0);
        [api, queue, compile, run, store]
    }
}

/// One finished submission, as the decomposition needs it (serialised
/// with a shard's recording, so a merged run is decomposed too).
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// The second of the phase it completed in.
    pub second: u32,
    pub language: &'static str,
    /// From the send to the final result (ms).
    pub service_ms: f64,
    /// The submit call alone (ms).
    pub submit_ms: Option<f64>,
    pub stages: Option<StageSample>,
}

/// A [`StageRow`] as read, its language not yet the corpus's.
#[derive(Deserialize)]
struct ReadRow {
    second: u32,
    language: String,
    service_ms: f64,
    submit_ms: Option<f64>,
    stages: Option<StageSample>,
}

// By hand: a derived impl would borrow the `&'static str` from the input.
impl<'de> Deserialize<'de> for StageRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StageRow, D::Error> {
        let r = ReadRow::deserialize(d)?;
        Ok(StageRow {
            second: r.second,
            language: crate::merge::ser::corpus_language(&r.language)
                .map_err(serde::de::Error::custom)?,
            service_ms: r.service_ms,
            submit_ms: r.submit_ms,
            stages: r.stages,
        })
    }
}

/// Percentiles of a list of values (exact, by sorting).
pub fn percentiles(values: &mut [f64]) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let q = |x: f64| values[((x * n as f64).ceil() as usize).clamp(1, n) - 1];
    Percentiles {
        count: n as u64,
        min_ms: values[0],
        mean_ms: values.iter().sum::<f64>() / n as f64,
        p50_ms: q(0.50),
        p90_ms: q(0.90),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: values[n - 1],
    }
}

/// The parts of a set of rows with stages: percentiles of each, and each
/// one's share of the mean end-to-end time (%).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Parts {
    /// Rows with stages.
    pub count: u64,
    pub parts: BTreeMap<String, Percentiles>,
    pub share_pct: BTreeMap<String, f64>,
    /// Mean time a worker held a job (running mark to notice), ms.
    pub occupancy_ms: Option<f64>,
}

impl Parts {
    pub fn of<'a>(rows: impl Iterator<Item = &'a StageRow>) -> Parts {
        let mut cols: [Vec<f64>; 5] = Default::default();
        let mut occupancy = Vec::new();
        let mut service = 0.0;
        for r in rows {
            let Some(s) = r.stages else { continue };
            for (c, v) in cols.iter_mut().zip(s.parts(r.service_ms)) {
                c.push(v);
            }
            occupancy.push(s.occupancy());
            service += r.service_ms;
        }
        let count = occupancy.len();
        let mut out = Parts {
            count: count as u64,
            occupancy_ms: (count > 0).then(|| occupancy.iter().sum::<f64>() / count as f64),
            ..Parts::default()
        };
        if count == 0 {
            return out;
        }
        for (name, mut c) in PARTS.iter().zip(cols) {
            let p = percentiles(&mut c);
            let share = if service > 0.0 {
                100.0 * p.mean_ms * count as f64 / service
            } else {
                0.0
            };
            out.share_pct.insert((*name).to_owned(), share);
            out.parts.insert((*name).to_owned(), p);
        }
        out
    }

    /// Mean of a part (ms), 0 when absent.
    pub fn mean(&self, part: &str) -> f64 {
        self.parts.get(part).map_or(0.0, |p| p.mean_ms)
    }
    pub fn p95(&self, part: &str) -> f64 {
        self.parts.get(part).map_or(0.0, |p| p.p95_ms)
    }
    pub fn share(&self, part: &str) -> f64 {
        self.share_pct.get(part).copied().unwrap_or(0.0)
    }
}

/// One second of the phase: the mean and P95 of each part.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecondParts {
    pub second: u32,
    pub count: u64,
    pub mean_ms: BTreeMap<String, f64>,
    pub p95_ms: BTreeMap<String, f64>,
}

/// A language's parts, and what the scaling recommendation needs of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LanguageParts {
    #[serde(flatten)]
    pub parts: Parts,
    /// Results with a compile step, and those served from the compile cache.
    pub compiled: u64,
    pub cached: u64,
    /// Mean compile time of the results whose compiler ran (ms).
    pub compile_miss_ms: Option<f64>,
}

/// What the client saw, for any target: the submit call and the rest.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClientView {
    pub submit: Percentiles,
    /// From the submit call's answer to the final result (waiting or polling).
    pub result: Percentiles,
}

/// The decomposition of one phase.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Decomposition {
    /// Results that carried stages (0 against a target that reports none).
    pub with_stages: u64,
    pub client: ClientView,
    #[serde(flatten)]
    pub overall: Parts,
    pub by_language: BTreeMap<String, LanguageParts>,
    pub seconds: Vec<SecondParts>,
}

impl Decomposition {
    pub fn build(rows: &[StageRow]) -> Decomposition {
        let mut submit: Vec<f64> = rows.iter().filter_map(|r| r.submit_ms).collect();
        let mut result: Vec<f64> = rows
            .iter()
            .filter_map(|r| Some((r.service_ms - r.submit_ms?).max(0.0)))
            .collect();
        let overall = Parts::of(rows.iter());
        let mut languages: Vec<&'static str> = rows.iter().map(|r| r.language).collect();
        languages.sort_unstable();
        languages.dedup();
        let by_language = languages
            .into_iter()
            .map(|l| (l.to_owned(), language_parts(rows, l)))
            .filter(|(_, p)| p.parts.count > 0)
            .collect();
        Decomposition {
            with_stages: overall.count,
            client: ClientView {
                submit: percentiles(&mut submit),
                result: percentiles(&mut result),
            },
            overall,
            by_language,
            seconds: seconds(rows),
        }
    }
}

fn language_parts(rows: &[StageRow], language: &str) -> LanguageParts {
    let mine = || rows.iter().filter(move |r| r.language == language);
    let compiled: Vec<StageSample> = mine()
        .filter_map(|r| r.stages)
        .filter(|s| s.cached.is_some())
        .collect();
    let misses: Vec<f64> = compiled
        .iter()
        .filter(|s| s.cached == Some(false))
        .filter_map(|s| s.compile)
        .collect();
    LanguageParts {
        parts: Parts::of(mine()),
        compiled: compiled.len() as u64,
        cached: compiled.iter().filter(|s| s.cached == Some(true)).count() as u64,
        compile_miss_ms: (!misses.is_empty())
            .then(|| misses.iter().sum::<f64>() / misses.len() as f64),
    }
}

fn seconds(rows: &[StageRow]) -> Vec<SecondParts> {
    let last = rows
        .iter()
        .filter(|r| r.stages.is_some())
        .map(|r| r.second)
        .max();
    let Some(last) = last else {
        return Vec::new();
    };
    let mut by_second: Vec<Vec<&StageRow>> = vec![Vec::new(); last as usize + 1];
    for r in rows.iter().filter(|r| r.stages.is_some()) {
        by_second[r.second as usize].push(r);
    }
    by_second
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| {
            let p = Parts::of(v.into_iter());
            SecondParts {
                second: i as u32,
                count: p.count,
                mean_ms: PARTS.iter().map(|k| ((*k).to_owned(), p.mean(k))).collect(),
                p95_ms: PARTS.iter().map(|k| ((*k).to_owned(), p.p95(k))).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(second: u32, language: &'static str, service: f64, s: StageSample) -> StageRow {
        StageRow {
            second,
            language,
            service_ms: service,
            submit_ms: Some(service),
            stages: Some(s),
        }
    }

    #[test]
    fn reads_kiln_stages_and_splits_the_end_to_end_time() {
        let doc = json!({"status": "accepted", "compile_cached": false, "stages": {
            "accept_ms": 2, "queue_ms": 100, "start_write_ms": 1, "compile_ms": 300,
            "run_ms": 50, "result_write_ms": 3, "notify_ms": 0}});
        let s = StageSample::from_result(&doc).unwrap();
        assert_eq!(s.cached, Some(false));
        assert_eq!(s.store(), 6.0);
        assert_eq!(s.occupancy(), 354.0);
        assert_eq!(s.parts(500.0), [44.0, 100.0, 300.0, 50.0, 6.0]);
        // Never negative, whatever the clocks say.
        assert_eq!(s.parts(10.0)[0], 0.0);
        assert_eq!(
            StageSample::from_result(&json!({"status": "accepted"})),
            None
        );
    }

    #[test]
    fn exact_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = percentiles(&mut v);
        assert_eq!(
            (p.p50_ms, p.p95_ms, p.max_ms, p.mean_ms),
            (50.0, 95.0, 100.0, 50.5)
        );
        assert_eq!(percentiles(&mut []).count, 0);
    }

    #[test]
    fn decomposes_per_phase_second_and_language_with_cache_hits() {
        let compiled = |cached: bool, compile: f64| StageSample {
            queue: Some(10.0),
            compile: Some(compile),
            run: Some(20.0),
            cached: Some(cached),
            ..Default::default()
        };
        let rows = vec![
            row(0, "cpp", 100.0, compiled(false, 60.0)),
            row(0, "cpp", 40.0, compiled(true, 0.0)),
            row(
                1,
                "python",
                50.0,
                StageSample {
                    run: Some(30.0),
                    ..Default::default()
                },
            ),
            StageRow {
                stages: None,
                ..row(1, "python", 70.0, StageSample::default())
            },
        ];
        let d = Decomposition::build(&rows);
        assert_eq!(d.with_stages, 3);
        assert_eq!(d.client.submit.count, 4);
        assert_eq!(d.overall.mean("compile"), 20.0);
        // compile: 60 of 190 ms of end-to-end time.
        assert!((d.overall.share("compile") - 100.0 * 60.0 / 190.0).abs() < 1e-9);
        let cpp = &d.by_language["cpp"];
        assert_eq!(
            (cpp.compiled, cpp.cached, cpp.compile_miss_ms),
            (2, 1, Some(60.0))
        );
        assert_eq!(cpp.parts.occupancy_ms, Some(50.0));
        assert_eq!(d.by_language["python"].compiled, 0);
        assert_eq!(d.seconds.len(), 2);
        assert_eq!(d.seconds[1].mean_ms["run"], 30.0);
        assert_eq!(d.seconds[0].p95_ms["compile"], 60.0);
    }
}
