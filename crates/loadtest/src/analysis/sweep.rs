//! `kiln loadtest --sweep`: short runs of the scenario at rising rates (the
//! knee: the highest rate that meets the criteria) or, against the embedded
//! server, at rising worker counts (the concurrency per worker that gives
//! the most throughput). Each step is a whole `kiln loadtest` run, its
//! reports in `step-N/`; `sweep.json` and `sweep.md` sum them up.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

use crate::error::LoadtestError;
use crate::LoadtestArgs;

/// What a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SweepKind {
    /// Multiples of the scenario's rates (`--sweep-steps`, default 0.25 … 4).
    Rates,
    /// `--workers` of the embedded server (`--sweep-steps`, default 1, 2, 4,
    /// 8), each under a closed model of [`USERS_PER_WORKER`] users per worker.
    Workers,
}

/// Users per worker in a worker sweep: enough to keep every worker busy.
pub const USERS_PER_WORKER: usize = 3;
/// Length of each step when `--duration` is not given.
pub const STEP_DURATION: Duration = Duration::from_secs(20);
pub const RATE_STEPS: [f64; 7] = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0];
pub const WORKER_STEPS: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

/// One step's figures (of its first phase).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// The rate multiple or the worker count.
    pub value: f64,
    pub target_rps: Option<f64>,
    pub achieved_rps: f64,
    pub p95_ms: f64,
    pub success_rate: f64,
    /// Exit code of the step's run (0 = every criterion met).
    pub exit_code: i32,
    pub bottleneck: String,
    pub dir: PathBuf,
}

/// The sweep's answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sweep {
    pub kind: SweepKind,
    pub scenario: String,
    pub steps: Vec<Step>,
    /// Rates: the highest step (before the first failure) that met the criteria.
    pub knee: Option<Step>,
    /// Workers: the step with the most throughput.
    pub best: Option<Step>,
    pub answer: String,
}

/// Runs the sweep; returns the exit code (0 a knee or best count was found,
/// 1 no step met the criteria) and the sweep's directory.
pub async fn run(args: &LoadtestArgs, kind: SweepKind) -> Result<(i32, PathBuf), LoadtestError> {
    if kind == SweepKind::Workers && args.target.is_some() {
        return Err(LoadtestError::BadArgument {
            flag: "--sweep workers",
            message: "sweeps the embedded server's --workers: leave out --target".into(),
        });
    }
    let values: Vec<f64> = if args.sweep_steps.is_empty() {
        match kind {
            SweepKind::Rates => RATE_STEPS.to_vec(),
            SweepKind::Workers => WORKER_STEPS.to_vec(),
        }
    } else {
        args.sweep_steps.clone()
    };
    let dir = args
        .out_exact
        .clone()
        .unwrap_or_else(|| args.out.join(crate::report::dir_stamp(SystemTime::now())));
    let mut steps = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let step_args = step_args(args, kind, *v, &dir.join(format!("step-{}", i + 1)))?;
        if !args.quiet {
            eprintln!(
                "kiln loadtest --sweep {kind:?}: step {} of {}: {v}",
                i + 1,
                values.len()
            );
        }
        let (code, step_dir) = crate::run_inner(&step_args).await?;
        let step = read_step(*v, code, &step_dir)?;
        let failed = step.exit_code != crate::EXIT_PASS;
        steps.push(step);
        if kind == SweepKind::Rates && failed {
            break;
        }
    }
    let sweep = summarise(kind, &args.scenario, steps);
    write(&dir, &sweep)?;
    println!("{}\nsweep reports in {}", sweep.answer, dir.display());
    let found = sweep.knee.is_some() || sweep.best.is_some();
    Ok((
        if found {
            crate::EXIT_PASS
        } else {
            crate::EXIT_FAIL
        },
        dir,
    ))
}

fn step_args(
    args: &LoadtestArgs,
    kind: SweepKind,
    v: f64,
    out: &Path,
) -> Result<LoadtestArgs, LoadtestError> {
    if !(v.is_finite() && v > 0.0) {
        return Err(LoadtestError::BadArgument {
            flag: "--sweep-steps",
            message: format!("{v} must be > 0"),
        });
    }
    let mut a = args.clone();
    a.sweep = None;
    a.quiet = true;
    a.out_exact = Some(out.to_owned());
    a.duration = Some(args.duration.unwrap_or(STEP_DURATION));
    match kind {
        SweepKind::Rates => a.scale = Some(args.scale.unwrap_or(1.0) * v),
        SweepKind::Workers => {
            let w = v.round().max(1.0) as usize;
            a.workers = Some(w);
            a.users = Some(USERS_PER_WORKER * w);
        }
    }
    Ok(a)
}

fn read_step(value: f64, exit_code: i32, dir: &Path) -> Result<Step, LoadtestError> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|source| LoadtestError::WriteResults {
        path: path.clone(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let p = &v["phases"][0];
    let f = |x: &Value| x.as_f64().unwrap_or(0.0);
    let target = p["seconds"].as_array().and_then(|s| {
        s.iter()
            .filter_map(|r| r["target_rps"].as_f64())
            .reduce(f64::max)
    });
    Ok(Step {
        value,
        target_rps: target,
        achieved_rps: f(&p["achieved_rps"]),
        p95_ms: f(&p["latency"]["p95_ms"]),
        success_rate: f(&p["success_rate"]),
        exit_code,
        bottleneck: v["answers"]["bottlenecks"][0]["summary"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        dir: dir.to_owned(),
    })
}

fn exit_meaning(code: i32) -> &'static str {
    match code {
        crate::EXIT_FAIL => "a criterion failed",
        crate::EXIT_OVERLOADED => "the generator was overloaded, the figures are not the target's",
        _ => "the run failed",
    }
}

/// The knee (rates) or the best worker count (workers), and the answer line.
pub fn summarise(kind: SweepKind, scenario: &str, steps: Vec<Step>) -> Sweep {
    let (knee, best, answer) = match kind {
        SweepKind::Rates => {
            let knee = steps
                .iter()
                .take_while(|s| s.exit_code == crate::EXIT_PASS)
                .last()
                .cloned();
            let next = steps.iter().find(|s| s.exit_code != crate::EXIT_PASS);
            let mut answer = match &knee {
                Some(k) => format!(
                    "knee: {:.1} req/s (× {} of the scenario's rate) met every criterion (P95 {:.0} ms)",
                    k.target_rps.unwrap_or(k.achieved_rps), k.value, k.p95_ms
                ),
                None => "knee: not found — the lowest rate already failed a criterion".to_owned(),
            };
            if let Some(n) = next {
                let _ = write!(
                    answer,
                    "; × {} ({:.1} req/s) did not (exit {}: {}), bottleneck {}",
                    n.value,
                    n.target_rps.unwrap_or(n.achieved_rps),
                    n.exit_code,
                    exit_meaning(n.exit_code),
                    n.bottleneck
                );
            }
            (knee, None, answer)
        }
        SweepKind::Workers => {
            let best = steps
                .iter()
                .max_by(|a, b| a.achieved_rps.total_cmp(&b.achieved_rps))
                .cloned();
            let list: Vec<String> = steps
                .iter()
                .map(|s| format!("{}: {:.1} req/s", s.value, s.achieved_rps))
                .collect();
            let answer = match &best {
                Some(b) => format!(
                    "best concurrency per worker: {} ({:.1} req/s, P95 {:.0} ms); {}",
                    b.value,
                    b.achieved_rps,
                    b.p95_ms,
                    list.join(", ")
                ),
                None => "best concurrency per worker: no step ran".to_owned(),
            };
            (None, best, answer)
        }
    };
    Sweep {
        kind,
        scenario: scenario.to_owned(),
        steps,
        knee,
        best,
        answer,
    }
}

fn write(dir: &Path, s: &Sweep) -> Result<(), LoadtestError> {
    let io = |path: PathBuf| move |source| LoadtestError::WriteResults { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
    let mut md = format!(
        "# Kiln load-test sweep ({:?}): `{}`\n\n**{}**\n\n| step | target (req/s) | achieved (req/s) | P95 (ms) | success (%) | exit | bottleneck |\n|---:|---:|---:|---:|---:|---:|---|\n",
        s.kind, s.scenario, s.answer
    );
    for st in &s.steps {
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.0} | {:.1} | {} | {} |",
            st.value,
            st.target_rps
                .map(|t| format!("{t:.1}"))
                .unwrap_or_else(|| "—".into()),
            st.achieved_rps,
            st.p95_ms,
            st.success_rate,
            st.exit_code,
            st.bottleneck
        );
    }
    let files = [
        (
            "sweep.json",
            serde_json::to_string_pretty(s).expect("sweep serialises"),
        ),
        ("sweep.md", md),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(io(path.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(value: f64, rps: f64, exit_code: i32) -> Step {
        Step {
            value,
            target_rps: Some(rps),
            achieved_rps: rps,
            p95_ms: 100.0,
            success_rate: 100.0,
            exit_code,
            bottleneck: "workers: utilisation 97 %".into(),
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn the_knee_is_the_last_pass_before_the_first_failure() {
        let s = summarise(
            SweepKind::Rates,
            "burst",
            vec![step(0.5, 5.0, 0), step(1.0, 10.0, 0), step(2.0, 20.0, 1)],
        );
        assert_eq!(s.knee.as_ref().map(|k| k.value), Some(1.0));
        assert!(
            s.answer.starts_with("knee: 10.0 req/s (× 1 of"),
            "{}",
            s.answer
        );
        assert!(
            s.answer.contains(
                "× 2 (20.0 req/s) did not (exit 1: a criterion failed), bottleneck workers"
            ),
            "{}",
            s.answer
        );
        let none = summarise(SweepKind::Rates, "burst", vec![step(0.5, 5.0, 1)]);
        assert_eq!(none.knee, None);
    }

    #[test]
    fn the_best_worker_count_has_the_most_throughput() {
        let s = summarise(
            SweepKind::Workers,
            "burst",
            vec![step(1.0, 6.0, 1), step(2.0, 11.3, 1), step(4.0, 10.9, 1)],
        );
        assert_eq!(s.best.as_ref().map(|b| b.value), Some(2.0));
        assert!(
            s.answer
                .starts_with("best concurrency per worker: 2 (11.3 req/s"),
            "{}",
            s.answer
        );
    }
}
