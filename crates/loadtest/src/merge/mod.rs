//! Distributed runs: every run writes `histograms.json` (its [`RunSpec`], its
//! shard, and per phase every count and HdrHistogram it recorded, see
//! [`ser`]); `kiln loadtest merge DIR…` reads the shards' files, checks that
//! they are the N slices of one run, adds them up phase by phase, and judges
//! the merged figures exactly as one process would have (criteria, failure
//! indicators, generator health), writing the usual reports.

pub mod ser;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::Args;
use serde::Deserialize;
use serde_json::json;

use crate::error::LoadtestError;
use crate::metrics_scrape::MetricSample;
use crate::results::RunResult;
use crate::runner::Raw;
use crate::shard::Shard;
use crate::spec::RunSpec;
use crate::stats::Recorder;

/// Beside `results.json` in every results directory.
pub const HIST_FILE: &str = "histograms.json";
const FORMAT: &str = "kiln-loadtest-histograms/1";

/// `histograms.json` as read back.
#[derive(Debug, Deserialize)]
pub struct HistFile {
    pub format: String,
    pub spec: RunSpec,
    pub shard: Shard,
    pub target: String,
    pub started_at: String,
    pub phases: Vec<HistPhase>,
}

/// One phase's raw recording.
#[derive(Debug, Deserialize)]
pub struct HistPhase {
    pub name: String,
    pub started_at: String,
    pub elapsed_s: f64,
    pub metrics: Vec<MetricSample>,
    pub recorder: Recorder,
}

/// The `histograms.json` of a run (phases without a recorder are left out).
pub fn hist_file(run: &RunResult) -> String {
    let phases: Vec<serde_json::Value> = run
        .phases
        .iter()
        .filter_map(|p| {
            Some(json!({
                "name": p.name, "started_at": p.started_at, "elapsed_s": p.elapsed_s,
                "metrics": p.metrics, "recorder": p.recorder.as_deref()?,
            }))
        })
        .collect();
    json!({
        "format": FORMAT, "spec": run.spec, "shard": run.shard.unwrap_or(Shard::WHOLE),
        "target": run.target, "started_at": run.started_at, "phases": phases,
    })
    .to_string()
}

/// `kiln loadtest merge DIR…`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' results directories (each with `histograms.json`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged reports go (default `loadtest-results/<timestamp>-merged`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only the final verdict line.
    #[arg(long, short)]
    pub quiet: bool,
}

fn bad(msg: String) -> LoadtestError {
    LoadtestError::Merge(msg)
}

fn read(dir: &Path) -> Result<HistFile, LoadtestError> {
    let path = dir.join(HIST_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let f: HistFile =
        serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if f.format != FORMAT {
        return Err(bad(format!(
            "{}: format `{}`, this kiln reads `{FORMAT}`",
            path.display(),
            f.format
        )));
    }
    Ok(f)
}

/// Checks that `files` are the N shards of one run, each once; returns them
/// in shard order.
fn check(mut files: Vec<(PathBuf, HistFile)>) -> Result<Vec<HistFile>, LoadtestError> {
    files.sort_by_key(|(_, f)| f.shard.index);
    let (dir0, first) = &files[0];
    let n = first.shard.count;
    for (dir, f) in &files {
        if f.spec != first.spec {
            return Err(bad(format!(
                "{} ran {:?}, but {} ran {:?}: not shards of one run",
                dir.display(),
                f.spec,
                dir0.display(),
                first.spec
            )));
        }
        if f.shard.count != n {
            return Err(bad(format!(
                "{} is shard {}/{}, {} is of {n}",
                dir.display(),
                f.shard.index,
                f.shard.count,
                dir0.display()
            )));
        }
    }
    let have: Vec<u64> = files.iter().map(|(_, f)| f.shard.index).collect();
    if have != (0..n).collect::<Vec<_>>() {
        return Err(bad(format!(
            "need each of the {n} shards 0..{} once, got shards {have:?}",
            n - 1
        )));
    }
    Ok(files.into_iter().map(|(_, f)| f).collect())
}

/// The phase `i` of every shard, added up.
fn merged_raw(shards: &[HistFile], i: usize, name: &str) -> Result<Raw, LoadtestError> {
    let mut recorder = Recorder::default();
    let (mut elapsed, mut started, mut metrics) = (0.0f64, None::<String>, Vec::new());
    for f in shards {
        let p = f.phases.get(i).filter(|p| p.name == name).ok_or_else(|| {
            bad(format!(
                "shard {} has no phase `{name}` at position {i}",
                f.shard.index
            ))
        })?;
        recorder.merge(&p.recorder);
        elapsed = elapsed.max(p.elapsed_s);
        started = Some(match started {
            Some(s) if s <= p.started_at => s,
            _ => p.started_at.clone(),
        });
        // The target's gauges are the same for every shard: the first that sampled them.
        if metrics.is_empty() {
            metrics = p.metrics.clone();
        }
    }
    let started_at = started
        .and_then(|s| crate::shard::parse_start_at(&s).ok())
        .unwrap_or_else(SystemTime::now);
    Ok(Raw {
        recorder,
        metrics,
        elapsed: std::time::Duration::from_secs_f64(elapsed),
        started_at,
    })
}

/// Merges the shards in `args.dirs`, judges, writes the reports; returns
/// the exit code and the merged directory.
pub async fn merge(args: &MergeArgs) -> Result<(i32, PathBuf), LoadtestError> {
    let mut files = Vec::new();
    for d in &args.dirs {
        files.push((d.clone(), read(d)?));
    }
    let shards = check(files)?;
    let first = &shards[0];
    let scn = first.spec.scenario()?;
    let mut phases = Vec::new();
    for (i, phase) in scn.phases.iter().enumerate() {
        let raw = merged_raw(&shards, i, &phase.name)?;
        phases.push(crate::health::judged(
            phase,
            raw,
            first.spec.max_late_fraction,
        ));
    }
    let run = RunResult::assemble(
        &scn,
        &first.spec,
        &first.target,
        false,
        first.started_at.clone(),
        None,
        phases,
    );
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("loadtest-results").join(format!(
            "{}-merged",
            crate::report::dir_stamp(SystemTime::now())
        ))
    });
    crate::report::write_all(&dir, &run)?;
    crate::report::print_summary(&run, &dir, args.quiet);
    Ok((run.exit_code, dir))
}
