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
//! - [`target`]: `--platform auto|kiln|coder`, `--target`, `CODER_URL` and
//!   `CODER_SESSION_TOKEN` → platform, URL and credential (`auto` asks the target).
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
pub mod platform;
pub mod report;
pub mod target;
pub mod traffic;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};

use config::Config;
pub use error::ScaletestError;
use harness::{Results, RunInfo};

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
        Some(ScaletestCommand::Cleanup { target }) => cleanup_only(target).await,
        None => run_tests(&args.run).await,
    };
    Ok(r.unwrap_or_else(|e| {
        eprintln!("kiln scaletest: error: {e}");
        EXIT_ERROR
    }))
}

/// Ctrl-C: the first one stops the jobs (results are written, cleanup runs);
/// a second one exits at once.
fn stop_on_ctrl_c() -> harness::Stop {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("kiln scaletest: interrupted — stopping jobs, writing results, then cleaning up (Ctrl-C again to exit at once)");
        let _ = tx.send(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("kiln scaletest: second interrupt — exiting without cleanup; run `kiln scaletest cleanup` later");
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    rx
}

fn load_config(a: &RunArgs) -> Result<Config, ScaletestError> {
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    match a.scale {
        None => Ok(cfg),
        Some(s) if s.is_finite() && s > 0.0 => Ok(cfg.scaled(s)),
        Some(s) => Err(ScaletestError::BadArgument {
            flag: "--scale",
            message: format!("{s} must be a number > 0"),
        }),
    }
}

fn plan(a: &RunArgs, cfg: &Config, target: &str, kind: &str) -> String {
    let mut p = format!(
        "kiln scaletest plan: platform {kind}, target {target}, scale {}\n",
        a.scale.unwrap_or(1.0)
    );
    let c = &cfg.create_workspaces;
    if matches!(a.test, Test::All | Test::CreateWorkspaces) {
        for (g, file) in [(&c.pod, validate::POD_FILE), (&c.ec2, validate::EC2_FILE)] {
            p.push_str(&format!(
                "  create-workspaces: {} × template {} at concurrency {} (0 = all), job timeout {}, run timeout {} -> {file}\n",
                g.count, g.template, g.concurrency, config::fmt_dur(g.timeout.0), config::fmt_dur(c.run_timeout.0)
            ));
        }
    }
    if matches!(a.test, Test::All | Test::Dashboard) {
        let d = &cfg.dashboard;
        p.push_str(&format!(
            "  dashboard: {} users for {}, think time {} + jitter 0..{} -> {}\n",
            d.concurrency,
            config::fmt_dur(d.duration.0),
            config::fmt_dur(d.think_time.0),
            config::fmt_dur(d.jitter.0),
            validate::DASHBOARD_FILE
        ));
    }
    if matches!(a.test, Test::All | Test::WorkspaceTraffic) {
        let t = &cfg.workspace_traffic;
        p.push_str(&format!(
            "  workspace-traffic: every running scaletest- workspace, {} bytes every {} for {}, sink `{}` -> {}\n",
            t.bytes_per_tick, config::fmt_dur(t.tick_interval.0), config::fmt_dur(t.duration.0),
            traffic::sink_command(t.bytes_per_tick, t.echo), validate::TRAFFIC_FILE
        ));
    }
    let creates = matches!(a.test, Test::All | Test::CreateWorkspaces);
    p.push_str(&format!(
        "  results: {}/<timestamp>/ (+ {}); cleanup: {}\n",
        a.output.display(),
        validate::SUMMARY_FILE,
        if !creates {
            "none (no workspaces created)"
        } else if a.no_cleanup {
            "skipped (--no-cleanup)"
        } else {
            "delete every scaletest- workspace"
        }
    ));
    p
}

async fn run_tests(a: &RunArgs) -> Result<i32, ScaletestError> {
    let cfg = load_config(a)?;
    let chosen = target::choose(&a.target, !a.dry_run).await?;
    let kind = target::kind_name(chosen.kind);
    if a.dry_run {
        let target = chosen
            .url
            .clone()
            .unwrap_or_else(|| "an embedded `kiln serve` on a free loopback port".into());
        print!("{}", plan(a, &cfg, &target, kind));
        println!("dry run: nothing created.");
        return Ok(EXIT_PASS);
    }
    let (url, embedded) = match &chosen.url {
        Some(u) => (u.clone(), None),
        None => {
            eprintln!("kiln scaletest: starting `kiln serve` on a free loopback port …");
            let e = kiln_loadtest::serve::Embedded::start(None, None, Duration::from_secs(60))
                .await
                .map_err(|e| ScaletestError::Target {
                    target: "embedded kiln serve".into(),
                    source: error::PlatformError::Other(e.to_string()),
                })?;
            (e.url.clone(), Some(e))
        }
    };
    let r = run_against(a, &cfg, &chosen, &url).await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    r
}

async fn run_against(
    a: &RunArgs,
    cfg: &Config,
    chosen: &target::Chosen,
    url: &str,
) -> Result<i32, ScaletestError> {
    let c = &cfg.create_workspaces;
    let pool = [
        c.pod.concurrency,
        c.ec2.concurrency,
        cfg.dashboard.concurrency,
        16,
    ]
    .into_iter()
    .max()
    .unwrap_or(16);
    let platform = target::connect(chosen, url, pool)?;
    let info = RunInfo {
        platform: platform.kind().into(),
        target: url.into(),
        scale: a.scale.unwrap_or(1.0),
    };
    print!("{}", plan(a, cfg, url, platform.kind()));
    let creates = matches!(a.test, Test::All | Test::CreateWorkspaces);
    let templates: Vec<String> = if creates {
        vec![c.pod.template.clone(), c.ec2.template.clone()]
    } else {
        vec![]
    };
    platform
        .prepare(&templates)
        .await
        .map_err(|source| ScaletestError::Target {
            target: url.into(),
            source,
        })?;

    let dir = a
        .output
        .join(kiln_loadtest::report::dir_stamp(SystemTime::now()));
    std::fs::create_dir_all(&dir).map_err(|source| ScaletestError::WriteResults {
        path: dir.clone(),
        source,
    })?;
    let stop = stop_on_ctrl_c();
    let run_id: String = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
    manifest::RunManifest {
        tests: a.test.names().iter().map(|t| t.to_string()).collect(),
        platform: info.platform.clone(),
        target: info.target.clone(),
        scale: info.scale,
        run_id: run_id.clone(),
        started_at: kiln_loadtest::report::rfc3339(SystemTime::now()),
    }
    .write(&dir)?;
    let created: create::Created = Arc::default();
    let mut done: Vec<(&str, Results)> = Vec::new();
    let mut tool_error = None;

    if creates {
        for (label, g, file) in [
            ("pod", &c.pod, validate::POD_FILE),
            ("ec2", &c.ec2, validate::EC2_FILE),
        ] {
            if *stop.borrow() {
                break;
            }
            eprintln!(
                "kiln scaletest: create-workspaces: {} × {} …",
                g.count, g.template
            );
            let r = create::run_group(
                platform.clone(),
                label,
                g,
                c,
                &run_id,
                &info,
                stop.clone(),
                a.target.verbose,
                created.clone(),
            )
            .await;
            r.write(&dir, file)?;
            println!("{file}: {}", r.line());
            done.push((file, r));
        }
    }
    if matches!(a.test, Test::All | Test::Dashboard) && !*stop.borrow() {
        eprintln!(
            "kiln scaletest: dashboard: {} users …",
            cfg.dashboard.concurrency
        );
        let r = dashboard::run(
            platform.clone(),
            &cfg.dashboard,
            &info,
            stop.clone(),
            a.target.verbose,
        )
        .await;
        r.write(&dir, validate::DASHBOARD_FILE)?;
        println!(
            "{}: {} (requests {}, latency P95 {:.1} ms P99 {:.1} ms)",
            validate::DASHBOARD_FILE,
            r.line(),
            r.extra["requests"],
            r.extra["latency"]["p95_ms"].as_f64().unwrap_or(0.0),
            r.extra["latency"]["p99_ms"].as_f64().unwrap_or(0.0)
        );
        done.push((validate::DASHBOARD_FILE, r));
    }
    if matches!(a.test, Test::All | Test::WorkspaceTraffic) && !*stop.borrow() {
        eprintln!("kiln scaletest: workspace-traffic …");
        match traffic::run(
            platform.clone(),
            &cfg.workspace_traffic,
            &info,
            stop.clone(),
            a.target.verbose,
        )
        .await
        {
            Ok(r) => {
                r.write(&dir, validate::TRAFFIC_FILE)?;
                println!(
                    "{}: {} (totals {})",
                    validate::TRAFFIC_FILE,
                    r.line(),
                    r.extra["totals"]
                );
                if r.total_runs == 0 {
                    eprintln!("kiln scaletest: workspace-traffic: no running scaletest- workspace to send traffic to");
                }
                done.push((validate::TRAFFIC_FILE, r));
            }
            Err(e) => tool_error = Some(format!("workspace-traffic: cannot list workspaces: {e}")),
        }
    }

    // Results are on disk; now clean up.
    let known = created.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (cleanup_text, cleanup_failed) = if !creates {
        ("none: this run created no workspaces".to_string(), false)
    } else if a.no_cleanup {
        (format!("skipped (--no-cleanup): {} workspace(s) kept; `kiln scaletest cleanup` removes them", known.len()), false)
    } else {
        let cl = cleanup::cleanup(
            platform.clone(),
            known,
            c.cleanup_concurrency,
            c.cleanup_timeout.0,
            c.poll_interval.0,
            a.target.verbose,
        )
        .await;
        let mut t = format!("deleted {} scaletest workspace(s)", cl.deleted);
        for f in &cl.failed {
            t.push_str(&format!("\n- FAILED {f}"));
        }
        (t, !cl.failed.is_empty())
    };
    eprintln!("kiln scaletest: cleanup: {cleanup_text}");
    let header = format!(
        "platform {}, target {}, scale {}, test {:?}, run id {run_id}{}",
        info.platform,
        info.target,
        info.scale,
        a.test,
        if *stop.borrow() { ", INTERRUPTED" } else { "" }
    );
    let refs: Vec<(&str, &Results)> = done.iter().map(|(f, r)| (*f, r)).collect();
    report::write_summary(&dir, &header, &refs, &cleanup_text)?;
    println!("results in {}", dir.display());
    if let Some(e) = tool_error {
        eprintln!("kiln scaletest: error: {e}");
        return Ok(EXIT_ERROR);
    }
    if *stop.borrow() {
        return Ok(EXIT_INTERRUPTED);
    }
    // A traffic test with no workspace to send traffic to measured nothing.
    let failed = done
        .iter()
        .any(|(f, r)| r.total_fail > 0 || (*f == validate::TRAFFIC_FILE && r.total_runs == 0));
    Ok(if failed || cleanup_failed {
        EXIT_FAIL
    } else {
        EXIT_PASS
    })
}

async fn cleanup_only(t: &TargetArgs) -> Result<i32, ScaletestError> {
    let chosen = target::choose(t, true).await?;
    let url = chosen.url.clone().ok_or(ScaletestError::BadArgument {
        flag: "--target",
        message: "cleanup needs --target (or CODER_URL)".into(),
    })?;
    let platform = target::connect(&chosen, &url, 16)?;
    let cl = cleanup::cleanup(
        platform,
        vec![],
        16,
        Duration::from_secs(300),
        Duration::from_secs(1),
        t.verbose,
    )
    .await;
    println!("deleted {} scaletest workspace(s)", cl.deleted);
    for f in &cl.failed {
        println!("FAILED {f}");
    }
    Ok(if cl.failed.is_empty() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}
