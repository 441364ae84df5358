//! kiln-scaletest: `kiln scaletest`, Coder's scale tests (the seed's
//! `run-scaletest.sh`) as a command, against Kiln or against Coder.
//!
//! Module map:
//! - [`config`]: `scaletest-config.yaml` (`create_workspaces`, `dashboard`,
//!   `workspace_traffic`), the seed's defaults, `--scale`.
//! - [`platform`]: the [`platform::Platform`] trait the runners speak, the
//!   `scaletest-` name prefix, WebSocket request helpers.
//! - [`kiln`]: the platform for Kiln's workspace API (`/api/v1/workspaces`).
//! - [`coder`]: the platform for Coder's REST API v2 (`CODER_URL`,
//!   `CODER_SESSION_TOKEN`).
//! - [`http`]: the JSON HTTP client both platforms use.
//! - [`harness`]: jobs with concurrency (0 = all), per-job and whole-run
//!   timeouts, per-job logs, Ctrl-C; Coder-shaped results JSON; percentiles.
//! - [`create`]: `create-workspaces` (create → build finished → agent ready).
//! - [`dashboard`]: simulated dashboard users, per-endpoint latency.
//! - [`traffic`]: `workspace-traffic` through the terminal WebSocket.
//! - [`traffic_setup`]: `--test workspace-traffic` alone creates the
//!   workspaces it needs when none is running (or fails with a sentence).
//! - [`target`]: `--platform auto|kiln|coder`, `--target`, `CODER_URL` and
//!   `CODER_SESSION_TOKEN` → platform, URL and credential (`auto` asks the target).
//! - `session`: one run against a target — each test, its results, cleanup,
//!   the summary and the exit code; `plan` says what a run will do.
//! - [`manifest`]: `run.json`, the tests a run was asked for.
//! - [`cleanup`]: deletes every `scaletest-` workspace and waits until gone.
//! - [`validate`]: the acceptance criteria 14.6–14.11 (PASS/WARN/FAIL).
//! - [`report`]: writes `summary-report.md`.
//! - [`fake`]: loopback stand-ins of Kiln's workspace API and of a Coder
//!   deployment (replaying recorded responses), for tests.
//! - [`error`]: the tool's errors.
//!
//! Exit codes of [`run`]: 0 every job passed; 1 a job (or cleanup) failed, or
//! `validate` found a criterion not passing; 2 the tool could not run;
//! 130 interrupted (after writing results and cleaning up).
#![forbid(unsafe_code)]
// Functions stay short enough to hold in one's head (80 lines, clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod cleanup;
pub mod coder;
pub mod config;
pub mod create;
pub mod dashboard;
pub mod error;
pub mod fake;
pub mod harness;
pub mod http;
pub mod kiln;
pub mod manifest;
mod plan;
pub mod platform;
pub mod report;
mod session;
pub mod target;
pub mod traffic;
pub mod traffic_setup;
pub mod validate;

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

pub use error::ScaletestError;

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

/// Which tests to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Test {
    All,
    CreateWorkspaces,
    Dashboard,
    WorkspaceTraffic,
}

/// Which platform the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    /// With a URL, whatever the target says it is; without, an embedded Kiln.
    Auto,
    Kiln,
    Coder,
}

/// Where the tests run.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Base URL of the target (default: `CODER_URL`). Without either, `kiln
    /// serve` is started on a free loopback port.
    #[arg(long, env = "KILN_TARGET")]
    pub target: Option<String>,
    /// Kiln API key (`Authorization: Bearer KEY`; `CODER_SESSION_TOKEN` when
    /// unset), or the Coder session token (`CODER_SESSION_TOKEN` when set, else this).
    #[arg(long, env = "KILN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The kind of target. `auto`: with a URL (`--target` or `CODER_URL`),
    /// asks it (`GET /api/v2/buildinfo` answers on Coder); without, an
    /// embedded Kiln.
    #[arg(long, value_enum, default_value = "auto")]
    pub platform: PlatformKind,
    /// Log every job's steps to stderr.
    #[arg(long)]
    pub verbose: bool,
}

/// `kiln scaletest`: Coder-style scale tests against Kiln or Coder.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScaletestArgs {
    #[command(subcommand)]
    pub command: Option<ScaletestCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ScaletestCommand {
    /// Judge a results directory against the acceptance criteria 14.6–14.11.
    Validate {
        /// A `scaletest-results/<timestamp>/` directory.
        dir: PathBuf,
    },
    /// Delete every `scaletest-` workspace of the caller (orphans of an earlier run).
    Cleanup {
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Which test(s) to run.
    #[arg(long, value_enum, default_value = "all")]
    pub test: Test,
    /// Print what would run; create nothing, contact nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the workspaces after the test (for debugging).
    #[arg(long)]
    pub no_cleanup: bool,
    /// Configuration file (defaults: the seed's parameters).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Multiplies workspace counts, concurrencies, dashboard users and the
    /// dashboard and traffic durations (e.g. 0.01); timeouts are not scaled.
    #[arg(long)]
    pub scale: Option<f64>,
    /// Parent directory of the results; a `<timestamp>/` directory is created in it.
    #[arg(long, default_value = "scaletest-results")]
    pub output: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Runs `kiln scaletest …`; returns the exit code. Tool errors are printed
/// and give [`EXIT_ERROR`].
pub async fn run(args: ScaletestArgs) -> anyhow::Result<i32> {
    let r = match &args.command {
        Some(ScaletestCommand::Validate { dir }) => validate::run(dir),
        Some(ScaletestCommand::Cleanup { target }) => session::cleanup_only(target).await,
        None => session::run_tests(&args.run).await,
    };
    Ok(r.unwrap_or_else(|e| {
        eprintln!("kiln scaletest: error: {e}");
        EXIT_ERROR
    }))
}
