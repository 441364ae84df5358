//! kiln-loadtest: `kiln loadtest`, the code-execution load-test plan as a
//! built-in, honest load generator.
//!
//! Module map:
//! - [`scenario`]: scenario files (TOML) — stages, mixes, submission options,
//!   success criteria — and the built-ins embedded from `scenarios/`; the
//!   value types, the file layout and the parsing are its submodules.
//! - [`schedule`]: open-model arrival times (constant/ramping rates, Poisson or
//!   uniform spacing) by exact inversion of the cumulative rate.
//! - [`corpus`]: the embedded programs (12 languages × simple/medium/complex)
//!   with stdin and expected output; the language/complexity picker.
//! - [`client`]: the hyper client of the submission API (wait or poll) and the
//!   judging of each result.
//! - [`runner`]: runs a phase (open or closed model), counts late and dropped
//!   arrivals, measures latency from the scheduled start.
//! - [`stats`]: HdrHistogram recording — overall, per second, per language, per
//!   complexity.
//! - [`metrics_scrape`]: samples `/metrics` (queue depth, active jobs, workers)
//!   and fits the queue trend.
//! - [`criteria`]: criteria verdicts, the plan's failure indicators and warnings.
//! - [`analysis`]: the plan's three post-test questions answered: the stage
//!   decomposition, the bottleneck rules, the scaling recommendation.
//! - [`results`]: the figures of a phase and of a run (`results.json`).
//! - [`report`]: `results.json`, `timeseries.csv`, `summary-report.md`, `report.html`.
//! - [`timestamp`]: UTC timestamps of results and of the results directory.
//! - [`progress`]: the live progress line.
//! - [`serve`]: starts `kiln serve` as a child when no `--target` is given.
//! - [`stub`]: a loopback stand-in of the API for tests and benchmarks.
//! - [`error`]: the tool's own errors.
//!
//! Exit codes of [`run`]: [`EXIT_PASS`] 0, [`EXIT_FAIL`] 1 (a criterion failed
//! or a failure indicator triggered), [`EXIT_ERROR`] 2 (the tool could not
//! run), [`EXIT_OVERLOADED`] 3 (the generator could not keep its schedule, so
//! the figures do not describe the target).
#![forbid(unsafe_code)]
// Functions stay short enough to hold in one's head (80 lines, clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod analysis;
pub mod client;
pub mod corpus;
pub mod criteria;
pub mod error;
pub mod metrics_scrape;
pub mod progress;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod serve;
pub mod stats;
pub mod stub;
pub mod timestamp;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;

pub use error::LoadtestError;
use results::{PhaseResult, RunResult};
use scenario::{LoadModel, Overrides, SubmitMode};

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
pub const EXIT_OVERLOADED: i32 = 3;

/// `kiln loadtest`: run a load-test scenario against Kiln and judge it.
///
/// Exit codes: 0 all criteria pass; 1 a criterion failed; 2 the tool failed;
/// 3 the generator itself was overloaded (results not trustworthy).
#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// Built-in scenario (burst, sustained, compilation, soak, all, smoke) or a TOML file.
    #[arg(long, default_value = "burst")]
    pub scenario: String,
    /// Base URL of the Kiln API; without it, `kiln serve` is started on a free loopback port.
    #[arg(long, env = "KILN_TARGET")]
    pub target: Option<String>,
    /// API key, sent as `Authorization: Bearer KEY`.
    #[arg(long, env = "KILN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Multiplies arrival rates, user counts and `achieved_rps` targets (e.g. 0.1 for a small machine).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Length of each phase (e.g. 30s, 2m); stages and gaps shrink or stretch proportionally.
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Duration>,
    /// Parent directory of the results; a `<timestamp>/` directory is created in it.
    #[arg(long, default_value = "loadtest-results")]
    pub out: PathBuf,
    /// No progress line, only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// How results are obtained: `wait` (?wait=true) or `poll`.
    #[arg(long, value_enum)]
    pub mode: Option<SubmitMode>,
    /// Make every request's source unique (defeats compile caches).
    #[arg(long, conflicts_with = "reuse_sources")]
    pub unique_sources: bool,
    /// Reuse the same sources (lets compile caches work).
    #[arg(long)]
    pub reuse_sources: bool,
    /// Closed model: this many users looping (overrides the scenario's load model).
    #[arg(long)]
    pub users: Option<usize>,
    /// Closed model: users started per second (default: all at once).
    #[arg(long, requires = "users")]
    pub spawn_rate: Option<f64>,
    /// Open model: most submissions in flight; arrivals beyond it are dropped and counted.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Per-submission timeout (e.g. 60s).
    #[arg(long, value_parser = parse_dur)]
    pub timeout: Option<Duration>,
    /// Random seed (arrivals, mixes); the same seed gives the same schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How long to wait for the target's `GET /health` to answer 200.
    #[arg(long, value_parser = parse_dur, default_value = "60s")]
    pub health_timeout: Duration,
    /// Embedded server: `--workers` passed to `kiln serve`.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Embedded server: the binary to start instead of this executable.
    #[arg(long, hide = true)]
    pub kiln_bin: Option<PathBuf>,
    /// Write the results into exactly this directory (no timestamp).
    #[arg(long, hide = true)]
    pub out_exact: Option<PathBuf>,
    /// Sweep instead of one run: `rates` (the default: the scenario at rising
    /// multiples of its rate; reports the knee) or `workers` (the embedded
    /// server at rising `--workers`; reports the best concurrency per worker).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "rates")]
    pub sweep: Option<analysis::sweep::SweepKind>,
    /// Steps of a sweep: rate multiples (default 0.25,0.5,1,1.5,2,3,4) or worker counts (default 1,2,4,8).
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    pub sweep_steps: Vec<f64>,
}

fn parse_dur(s: &str) -> Result<Duration, String> {
    scenario::parse_duration(s)
}

/// Runs `kiln loadtest`; returns the process exit code. Tool errors are
/// printed and give [`EXIT_ERROR`].
pub async fn run(args: LoadtestArgs) -> anyhow::Result<i32> {
    let outcome = match args.sweep {
        Some(kind) => analysis::sweep::run(&args, kind).await,
        None => run_inner(&args).await,
    };
    match outcome {
        Ok((code, _)) => Ok(code),
        Err(e) => {
            eprintln!("kiln loadtest: error: {e}");
            Ok(EXIT_ERROR)
        }
    }
}

/// Like [`run`], but returns the tool error and the results directory.
pub async fn run_inner(args: &LoadtestArgs) -> Result<(i32, PathBuf), LoadtestError> {
    let mut scn = scenario::load(&args.scenario)?;
    if let Some(s) = args.scale {
        if !(s.is_finite() && s > 0.0) {
            return Err(LoadtestError::BadArgument {
                flag: "--scale",
                message: format!("{s} must be > 0"),
            });
        }
    }
    scn.apply(&Overrides {
        scale: args.scale,
        duration: args.duration,
        mode: args.mode,
        unique_sources: if args.unique_sources {
            Some(true)
        } else if args.reuse_sources {
            Some(false)
        } else {
            None
        },
        max_in_flight: args.max_in_flight,
        timeout: args.timeout,
    });
    if let Some(users) = args.users {
        for p in &mut scn.phases {
            let duration = p.load.duration();
            p.load = LoadModel::Closed {
                users,
                spawn_rate: args.spawn_rate.unwrap_or(users as f64),
                duration,
                think_time: Duration::ZERO,
            };
        }
    }
    let progress = progress::Progress::detect(args.quiet);
    let (target, embedded) = match &args.target {
        Some(t) => (client::Target::parse(t)?, None),
        None => {
            progress.say("kiln loadtest: starting `kiln serve` on a free loopback port …");
            let e =
                serve::Embedded::start(args.kiln_bin.as_deref(), args.workers, args.health_timeout)
                    .await?;
            (client::Target::parse(&e.url)?, Some(e))
        }
    };
    let result = run_scenario(&scn, &target, args, progress, embedded.is_some()).await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    let run = result?;
    let started = SystemTime::now();
    let dir = args
        .out_exact
        .clone()
        .unwrap_or_else(|| args.out.join(report::dir_stamp(started)));
    report::write_all(&dir, &run)?;
    print_summary(&run, &dir, args.quiet);
    Ok((run.exit_code, dir))
}

async fn run_scenario(
    scn: &scenario::Scenario,
    target: &client::Target,
    args: &LoadtestArgs,
    progress: progress::Progress,
    embedded: bool,
) -> Result<RunResult, LoadtestError> {
    let pool = scn
        .phases
        .iter()
        .map(|p| match p.load {
            LoadModel::Open { max_in_flight, .. } => max_in_flight.min(4096),
            LoadModel::Closed { users, .. } => users,
        })
        .max()
        .unwrap_or(64);
    let client = client::ApiClient::new(target.clone(), args.api_key.as_deref(), pool);
    if !embedded {
        serve::wait_healthy(&client, args.health_timeout, None).await?;
    }
    let started_at = report::rfc3339(SystemTime::now());
    let mut phases: Vec<PhaseResult> = Vec::new();
    for (i, phase) in scn.phases.iter().enumerate() {
        if i > 0 && !scn.gap.is_zero() {
            progress.say(&format!(
                "kiln loadtest: pause {:.0} s before `{}`",
                scn.gap.as_secs_f64(),
                phase.name
            ));
            tokio::time::sleep(scn.gap).await;
        }
        progress.say(&format!(
            "kiln loadtest: phase `{}` against {} for {:.0} s{}",
            phase.name,
            target.base,
            phase.load.duration().as_secs_f64(),
            phase
                .load
                .expected_requests()
                .map(|n| format!(", ~{n:.0} submissions"))
                .unwrap_or_default()
        ));
        let raw =
            runner::run_phase(phase, &client, args.seed.wrapping_add(i as u64), &progress).await;
        let mut result = PhaseResult::build(phase, raw);
        criteria::judge(&phase.criteria, &mut result);
        phases.push(result);
    }
    let verdict = RunResult::verdict_of(&phases);
    Ok(RunResult {
        answers: analysis::answer(&phases, args.scale.unwrap_or(1.0)),
        tool: format!("kiln-loadtest {}", env!("CARGO_PKG_VERSION")),
        scenario: scn.name.clone(),
        description: scn.description.clone(),
        target: target.base.clone(),
        embedded_server: embedded,
        started_at,
        scale: args.scale.unwrap_or(1.0),
        seed: args.seed,
        phases,
        verdict,
        exit_code: verdict.exit_code(),
    })
}

fn print_summary(run: &RunResult, dir: &std::path::Path, quiet: bool) {
    let mut out = String::new();
    for p in &run.phases {
        out.push_str(&format!(
            "\n{} — sent {} (late {}, dropped {}), {:.2} req/s, success {:.2}%, errors {:.2}%, P50 {:.1} ms, P95 {:.1} ms, P99 {:.1} ms, max {:.1} ms\n",
            p.name, p.sent, p.late, p.dropped, p.achieved_rps, p.success_rate, p.error_rate,
            p.latency.p50_ms, p.latency.p95_ms, p.latency.p99_ms, p.latency.max_ms
        ));
        for c in &p.criteria {
            let target = c.target_text();
            out.push_str(&format!(
                "  {} {:<34} measured {:>10} {:<6} target {}\n",
                if c.passed { "PASS" } else { "FAIL" },
                c.label,
                report::opt(c.measured, 3),
                c.unit,
                target
            ));
        }
        for i in p.indicators.iter().filter(|i| i.triggered) {
            out.push_str(&format!("  FAILURE INDICATOR {}: {}\n", i.name, i.detail));
        }
        for w in &p.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    out.push_str(&format!(
        "\nverdict: {:?} (exit {}); reports in {}\n",
        run.verdict,
        run.exit_code,
        dir.display()
    ));
    if quiet {
        print!(
            "{}",
            out.lines()
                .last()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
    } else {
        print!("{out}");
    }
}
