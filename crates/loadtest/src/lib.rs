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
//! - [`health`]: whether the figures describe the target: the generator's
//!   lateness and the arrivals dropped at the in-flight cap, each judged by
//!   whether it could change the verdict.
//! - [`analysis`]: the plan's three post-test questions answered: the stage
//!   decomposition, the bottleneck rules, the scaling recommendation.
//! - [`results`]: the figures of a phase and of a run (`results.json`).
//! - [`report`]: `results.json`, `timeseries.csv`, `summary-report.md`, `report.html`.
//! - [`spec`]: the options that shape a run's schedule and verdict (recorded
//!   with the results, resolved again by `merge`).
//! - [`shard`]: `--shard I/N` (interleaved slices of the schedule) and the
//!   `--start-at` barrier.
//! - [`merge`]: writes `histograms.json` (every count and HdrHistogram, V2
//!   base64) and runs `kiln loadtest merge DIR…`.
//! - [`timestamp`]: UTC timestamps of results and of the results directory.
//! - [`progress`]: the live progress line (a plain line every 5 s off a terminal).
//! - [`dry_run`]: `--dry-run`, the schedule printed without sending.
//! - [`serve`]: starts `kiln serve` as a child when no `--target` is given.
//! - [`stub`]: a loopback stand-in of the API for tests and benchmarks.
//! - [`error`]: the tool's own errors.
//!
//! Exit codes of [`run`]: [`EXIT_PASS`] 0, [`EXIT_FAIL`] 1 (a criterion failed
//! or a failure indicator triggered), [`EXIT_ERROR`] 2 (the tool could not
//! run), [`EXIT_OVERLOADED`] 3 (inconclusive: the generator's lateness or the
//! arrivals dropped at the in-flight cap could change a verdict).
#![forbid(unsafe_code)]
// Functions stay short enough to hold in one's head (80 lines, clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod analysis;
pub mod client;
pub mod corpus;
pub mod criteria;
pub mod dry_run;
pub mod error;
pub mod health;
pub mod merge;
pub mod metrics_scrape;
pub mod progress;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod serve;
pub mod shard;
pub mod spec;
pub mod stats;
pub mod stub;
pub mod timestamp;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;

pub use error::LoadtestError;
use results::{PhaseResult, RunResult};
use scenario::{LoadModel, SubmitMode};

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
pub const EXIT_OVERLOADED: i32 = 3;

/// `kiln loadtest`: run a load-test scenario against Kiln and judge it.
///
/// Exit codes: 0 all criteria pass; 1 a criterion failed; 2 the tool failed;
/// 3 inconclusive (the generator's lateness or dropped arrivals could change a verdict).
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
    /// Print the schedule (phases, rates, arrivals, duration) and exit; send nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    /// An arrival sent later than this after its scheduled time is late
    /// (default: the scenario's `late_threshold`, 10 ms in the built-ins).
    #[arg(long, value_parser = parse_dur)]
    pub late_threshold: Option<Duration>,
    /// Above this fraction of late (or dropped) arrivals, the phase is judged
    /// again without the lateness (or with the drops as failures); a verdict
    /// that changes makes the run inconclusive (exit 3).
    #[arg(long, default_value_t = health::DEFAULT_MAX_LATE_FRACTION, value_parser = parse_fraction)]
    pub max_late_fraction: f64,
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
    /// Run the I-th of N interleaved slices of the schedule (I from 0, as
    /// `JOB_COMPLETION_INDEX`); merge the shards with `kiln loadtest merge`.
    #[arg(long, env = "KILN_SHARD", value_parser = shard::parse_shard)]
    pub shard: Option<shard::Shard>,
    /// Start the first phase at this UTC time (`2026-11-29T21:30:00Z` or Unix
    /// seconds): the barrier that lines up the shards.
    #[arg(long, env = "KILN_START_AT", value_parser = shard::parse_start_at)]
    pub start_at: Option<SystemTime>,
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

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "{s}: must be a fraction between 0 and 1 (0.01 = 1 %)"
        )),
    }
}

/// `kiln loadtest [merge DIR…]`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadtestCli {
    #[command(subcommand)]
    pub command: Option<LoadtestCommand>,
    #[command(flatten)]
    pub run: LoadtestArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LoadtestCommand {
    /// Merge the results of `--shard` runs into one run's reports, judged on the merged figures.
    Merge(merge::MergeArgs),
}

/// `kiln loadtest …` from the command line; returns the exit code.
pub async fn main(cli: LoadtestCli) -> anyhow::Result<i32> {
    match cli.command {
        Some(LoadtestCommand::Merge(m)) => match merge::merge(&m).await {
            Ok((code, _)) => Ok(code),
            Err(e) => {
                eprintln!("kiln loadtest merge: error: {e}");
                Ok(EXIT_ERROR)
            }
        },
        None => run(cli.run).await,
    }
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
    let spec = spec::RunSpec::of(args);
    let scn = spec.scenario()?;
    if args.dry_run {
        let scale = args.scale.unwrap_or(1.0);
        let shard = args.shard.unwrap_or(shard::Shard::WHOLE);
        print!(
            "{}",
            dry_run::plan(&scn, args.seed, scale, &|k| shard.owns(k))
        );
        return Ok((EXIT_PASS, PathBuf::new()));
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
    report::print_summary(&run, &dir, args.quiet);
    if let Some(s) = run.shard {
        println!(
            "shard {}/{}: the verdict of the whole run is `kiln loadtest merge` of every shard's directory",
            s.index, s.count
        );
        return Ok((EXIT_PASS, dir));
    }
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
    let shard = args.shard.unwrap_or(shard::Shard::WHOLE);
    if let Some(at) = args.start_at {
        progress.say(&format!(
            "kiln loadtest: shard {}/{} waits for the start time {}",
            shard.index,
            shard.count,
            report::rfc3339(at)
        ));
        if let Some(late) = shard::wait_until(at).await {
            eprintln!(
                "kiln loadtest: warning: the start time passed {:.1} s ago; starting now, not aligned with the other shards",
                late.as_secs_f64()
            );
        }
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
        let seed = args.seed.wrapping_add(i as u64);
        let raw = runner::run_phase(phase, &client, seed, shard, &progress).await;
        phases.push(health::judged(phase, raw, args.max_late_fraction));
    }
    let shard = (!shard.is_whole()).then_some(shard);
    let spec = spec::RunSpec::of(args);
    Ok(RunResult::assemble(
        scn,
        &spec,
        &target.base,
        embedded,
        started_at,
        shard,
        phases,
    ))
}
