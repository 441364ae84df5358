//! The plan of a run, printed before it starts (and alone by `--dry-run`).

use crate::config::{self, Config};
use crate::{traffic, validate, RunArgs, Test};

/// What `a` runs against `target` (a `kind` platform), test by test.
pub(crate) fn plan(a: &RunArgs, cfg: &Config, target: &str, kind: &str) -> String {
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
        if a.test == Test::WorkspaceTraffic {
            p.push_str(&format!(
                "  workspace-traffic setup: when none is running, first {} × template {} at concurrency {} -> {}\n",
                c.pod.count, c.pod.template, c.pod.concurrency, crate::traffic_setup::SETUP_FILE
            ));
        }
    }
    let creates = matches!(a.test, Test::All | Test::CreateWorkspaces);
    p.push_str(&format!(
        "  results: {}/<timestamp>/ (+ {}); cleanup: {}\n",
        a.output.display(),
        validate::SUMMARY_FILE,
        if a.test == Test::WorkspaceTraffic && !a.no_cleanup {
            "delete the workspaces the setup creates"
        } else if !creates {
            "none (no workspaces created)"
        } else if a.no_cleanup {
            "skipped (--no-cleanup)"
        } else {
            "delete every scaletest- workspace"
        }
    ));
    p
}
