//! Cleanup: deletes every workspace of the caller whose name starts with
//! `scaletest-` (listed on the platform, plus every workspace this run
//! created, in case the listing misses one) and waits until each is gone.
//! It runs after the results are written, also after failures and Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use crate::harness::{never_stop, run_jobs, Backoff, Limits};
use crate::platform::{Platform, WorkspaceRef, NAME_PREFIX};

/// What cleanup did.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub deleted: usize,
    /// `name: error` of each workspace that could not be deleted.
    pub failed: Vec<String>,
}

pub async fn cleanup(
    platform: Arc<dyn Platform>,
    known: Vec<WorkspaceRef>,
    concurrency: usize,
    timeout: Duration,
    poll: Duration,
    verbose: bool,
) -> Cleaned {
    let mut all = known;
    let mut failed = Vec::new();
    match platform.list(NAME_PREFIX, false).await {
        Ok(listed) => {
            for w in listed {
                if !all.iter().any(|k| k.id == w.id) {
                    all.push(w);
                }
            }
        }
        Err(e) => failed.push(format!("list {NAME_PREFIX}* workspaces: {e}")),
    }
    all.retain(|w| w.name.starts_with(NAME_PREFIX));
    if all.is_empty() {
        return Cleaned { deleted: 0, failed };
    }
    eprintln!(
        "kiln scaletest: cleanup: deleting {} scaletest workspace(s) …",
        all.len()
    );
    let ids: Vec<String> = (0..all.len()).map(|i| i.to_string()).collect();
    let all = Arc::new(all);
    let list = all.clone();
    let limits = Limits {
        concurrency,
        job_timeout: timeout,
        run_timeout: timeout.saturating_mul(4 + all.len() as u32),
    };
    let (runs, _) = run_jobs(
        "cleanup",
        ids,
        limits,
        never_stop(),
        verbose,
        move |i, _, logs| {
            let (platform, ws) = (platform.clone(), list[i].clone());
            async move {
                logs.log(format!("delete {} ({})", ws.name, ws.id));
                let d = platform
                    .delete(&ws)
                    .await
                    .map_err(|e| format!("delete: {e}"))?;
                let mut backoff = Backoff::new(poll);
                loop {
                    if platform
                        .deleted(&d)
                        .await
                        .map_err(|e| format!("follow deletion: {e}"))?
                    {
                        return Ok(None);
                    }
                    backoff.wait().await;
                }
            }
        },
    )
    .await;
    let mut deleted = 0;
    for (r, ws) in runs.iter().zip(all.iter()) {
        match &r.error {
            None => deleted += 1,
            Some(e) => failed.push(format!("{}: {e}", ws.name)),
        }
    }
    Cleaned { deleted, failed }
}
