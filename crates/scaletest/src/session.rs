//! One run of the tests against a target: the target prepared, each test
//! run and its results written, then cleanup, the summary and the exit code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::harness::{self, Results, RunInfo};
use crate::plan::plan;
use crate::platform::Platform;
use crate::{
    cleanup, create, dashboard, error, manifest, report, target, traffic, traffic_setup, validate,
    RunArgs, ScaletestError, TargetArgs, Test, EXIT_ERROR, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS,
};

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

pub(crate) async fn run_tests(a: &RunArgs) -> Result<i32, ScaletestError> {
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
    let templates: Vec<String> = match a.test {
        _ if creates => vec![c.pod.template.clone(), c.ec2.template.clone()],
        // Traffic alone may have to create its workspaces (crate::traffic_setup).
        Test::WorkspaceTraffic => vec![c.pod.template.clone()],
        _ => vec![],
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
        .join(kiln_measure::time::dir_stamp(SystemTime::now()));
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
        started_at: kiln_measure::time::rfc3339(SystemTime::now()),
    }
    .write(&dir)?;
    let mut s = Session {
        a,
        cfg,
        platform,
        info,
        dir,
        stop,
        run_id,
        created: Arc::default(),
        done: Vec::new(),
    };
    if creates {
        s.create_workspaces().await?;
    }
    if matches!(a.test, Test::All | Test::Dashboard) && !s.stopped() {
        s.dashboard().await?;
    }
    let mut tool_error = None;
    if matches!(a.test, Test::All | Test::WorkspaceTraffic) && !s.stopped() {
        tool_error = s.traffic().await?;
    }
    s.finish(creates, tool_error).await
}

/// A run under way: where its results go and what has run.
struct Session<'a> {
    a: &'a RunArgs,
    cfg: &'a Config,
    platform: Arc<dyn Platform>,
    info: RunInfo,
    dir: PathBuf,
    stop: harness::Stop,
    run_id: String,
    /// The workspaces created, for cleanup.
    created: create::Created,
    /// Each test's results file and results.
    done: Vec<(&'static str, Results)>,
}

impl Session<'_> {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// `create-workspaces`: the pod group, then the ec2 group.
    async fn create_workspaces(&mut self) -> Result<(), ScaletestError> {
        let c = &self.cfg.create_workspaces;
        for (label, g, file) in [
            ("pod", &c.pod, validate::POD_FILE),
            ("ec2", &c.ec2, validate::EC2_FILE),
        ] {
            if self.stopped() {
                break;
            }
            eprintln!(
                "kiln scaletest: create-workspaces: {} × {} …",
                g.count, g.template
            );
            let r = create::run_group(
                self.platform.clone(),
                label,
                g,
                c,
                &self.run_id,
                &self.info,
                self.stop.clone(),
                self.a.target.verbose,
                self.created.clone(),
            )
            .await;
            r.write(&self.dir, file)?;
            println!("{file}: {}", r.line());
            self.done.push((file, r));
        }
        Ok(())
    }

    /// `dashboard`: simulated users.
    async fn dashboard(&mut self) -> Result<(), ScaletestError> {
        eprintln!(
            "kiln scaletest: dashboard: {} users …",
            self.cfg.dashboard.concurrency
        );
        let r = dashboard::run(
            self.platform.clone(),
            &self.cfg.dashboard,
            &self.info,
            self.stop.clone(),
            self.a.target.verbose,
        )
        .await;
        r.write(&self.dir, validate::DASHBOARD_FILE)?;
        println!(
            "{}: {} (requests {}, latency P95 {:.1} ms P99 {:.1} ms)",
            validate::DASHBOARD_FILE,
            r.line(),
            r.extra["requests"],
            r.extra["latency"]["p95_ms"].as_f64().unwrap_or(0.0),
            r.extra["latency"]["p99_ms"].as_f64().unwrap_or(0.0)
        );
        self.done.push((validate::DASHBOARD_FILE, r));
        Ok(())
    }

    /// `workspace-traffic` alone: finds or creates the workspaces it needs;
    /// the sentence that says why there are none.
    async fn traffic_setup(&mut self) -> Result<Option<String>, ScaletestError> {
        let setup = traffic_setup::ensure_workspaces(
            self.platform.clone(),
            self.cfg,
            &self.run_id,
            &self.info,
            self.stop.clone(),
            self.a.target.verbose,
            self.created.clone(),
        )
        .await;
        match setup {
            Ok(traffic_setup::Setup::Found(n)) => {
                eprintln!(
                    "kiln scaletest: workspace-traffic: {n} running scaletest- workspace(s) found"
                );
                Ok(None)
            }
            Ok(traffic_setup::Setup::Created(r)) => {
                r.write(&self.dir, traffic_setup::SETUP_FILE)?;
                println!("{}: {}", traffic_setup::SETUP_FILE, r.line());
                self.done.push((traffic_setup::SETUP_FILE, *r));
                Ok(None)
            }
            Err(e) => Ok(Some(e)),
        }
    }

    /// `workspace-traffic`; returns the tool error that stopped it, if any.
    async fn traffic(&mut self) -> Result<Option<String>, ScaletestError> {
        if self.a.test == Test::WorkspaceTraffic {
            if let Some(e) = self.traffic_setup().await? {
                return Ok(Some(e));
            }
        }
        eprintln!("kiln scaletest: workspace-traffic …");
        match traffic::run(
            self.platform.clone(),
            &self.cfg.workspace_traffic,
            &self.info,
            self.stop.clone(),
            self.a.target.verbose,
        )
        .await
        {
            Ok(r) => {
                r.write(&self.dir, validate::TRAFFIC_FILE)?;
                println!(
                    "{}: {} (totals {})",
                    validate::TRAFFIC_FILE,
                    r.line(),
                    r.extra["totals"]
                );
                if r.total_runs == 0 {
                    eprintln!("kiln scaletest: workspace-traffic: no running scaletest- workspace to send traffic to");
                }
                self.done.push((validate::TRAFFIC_FILE, r));
                Ok(None)
            }
            Err(e) => Ok(Some(format!(
                "workspace-traffic: cannot list workspaces: {e}"
            ))),
        }
    }

    /// With the results on disk: cleanup, the summary, the exit code.
    async fn finish(
        self,
        creates: bool,
        tool_error: Option<String>,
    ) -> Result<i32, ScaletestError> {
        let (cleanup_text, cleanup_failed) = self.clean_up(creates).await;
        eprintln!("kiln scaletest: cleanup: {cleanup_text}");
        let header = format!(
            "platform {}, target {}, scale {}, test {:?}, run id {}{}",
            self.info.platform,
            self.info.target,
            self.info.scale,
            self.a.test,
            self.run_id,
            if self.stopped() { ", INTERRUPTED" } else { "" }
        );
        let refs: Vec<(&str, &Results)> = self.done.iter().map(|(f, r)| (*f, r)).collect();
        report::write_summary(&self.dir, &header, &refs, &cleanup_text)?;
        println!("results in {}", self.dir.display());
        if let Some(e) = tool_error {
            eprintln!("kiln scaletest: error: {e}");
            return Ok(EXIT_ERROR);
        }
        if self.stopped() {
            return Ok(EXIT_INTERRUPTED);
        }
        // A traffic test with no workspace to send traffic to measured nothing.
        let failed = self
            .done
            .iter()
            .any(|(f, r)| r.total_fail > 0 || (*f == validate::TRAFFIC_FILE && r.total_runs == 0));
        Ok(if failed || cleanup_failed {
            EXIT_FAIL
        } else {
            EXIT_PASS
        })
    }

    /// Deletes the run's workspaces (unless `--no-cleanup`); what happened,
    /// and whether a deletion failed.
    async fn clean_up(&self, creates: bool) -> (String, bool) {
        let c = &self.cfg.create_workspaces;
        let known = self
            .created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !creates && known.is_empty() {
            ("none: this run created no workspaces".to_string(), false)
        } else if self.a.no_cleanup {
            (format!("skipped (--no-cleanup): {} workspace(s) kept; `kiln scaletest cleanup` removes them", known.len()), false)
        } else {
            let cl = cleanup::cleanup(
                self.platform.clone(),
                known,
                c.cleanup_concurrency,
                c.cleanup_timeout.0,
                c.poll_interval.0,
                self.a.target.verbose,
            )
            .await;
            let mut t = format!("deleted {} scaletest workspace(s)", cl.deleted);
            for f in &cl.failed {
                t.push_str(&format!("\n- FAILED {f}"));
            }
            (t, !cl.failed.is_empty())
        }
    }
}

pub(crate) async fn cleanup_only(t: &TargetArgs) -> Result<i32, ScaletestError> {
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
