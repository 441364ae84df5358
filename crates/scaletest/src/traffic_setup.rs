//! `--test workspace-traffic` alone: the workspaces it needs. Traffic goes to
//! every running `scaletest-` workspace; when there is none, the pod group of
//! `create_workspaces` (its template, count and concurrency) is created
//! first, its results written to [`SETUP_FILE`] (not `pod-workspaces.json`:
//! these are not a create-workspaces test, and 14.6 stays NOT RUN), and the
//! run's cleanup deletes them. A setup in which no workspace became ready is
//! an error with a sentence, never a silent exit 0.

use std::sync::Arc;

use crate::config::Config;
use crate::create::{self, Created};
use crate::harness::{Results, RunInfo, Stop};
use crate::platform::{Platform, NAME_PREFIX};

/// The results of the workspaces created for a traffic-only run.
pub const SETUP_FILE: &str = "workspace-traffic-setup.json";

/// What a traffic-only run found or made.
pub(crate) enum Setup {
    /// Running `scaletest-` workspaces were there already.
    Found(usize),
    /// They were created (results to write to [`SETUP_FILE`]).
    Created(Box<Results>),
}

/// Finds running `scaletest-` workspaces, or creates the pod group; `Err`
/// says why there is nothing to send traffic to.
pub(crate) async fn ensure_workspaces(
    platform: Arc<dyn Platform>,
    cfg: &Config,
    run_id: &str,
    info: &RunInfo,
    stop: Stop,
    verbose: bool,
    created: Created,
) -> Result<Setup, String> {
    let running = platform
        .list(NAME_PREFIX, true)
        .await
        .map_err(|e| format!("workspace-traffic: cannot list workspaces: {e}"))?;
    if !running.is_empty() {
        return Ok(Setup::Found(running.len()));
    }
    let c = &cfg.create_workspaces;
    eprintln!(
        "kiln scaletest: workspace-traffic: no running scaletest- workspace; creating {} × {} first -> {SETUP_FILE}",
        c.pod.count, c.pod.template
    );
    let r = create::run_group(
        platform, "wt", &c.pod, c, run_id, info, stop, verbose, created,
    )
    .await;
    if r.total_pass == 0 {
        let first = r
            .runs
            .values()
            .find_map(|run| run.error.clone())
            .unwrap_or_else(|| "no workspace was attempted".into());
        return Err(format!(
            "workspace-traffic: none of the {} workspaces it needs became ready (template {}): {first}",
            c.pod.count, c.pod.template
        ));
    }
    Ok(Setup::Created(Box::new(r)))
}
