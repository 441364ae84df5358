//! The in-process workers. Each one leases a job, marks the submission
//! `running` under the lease's attempt, runs it, stores the result with the
//! conditional [`Store::finish`](crate::store::Store::finish), and only then
//! acknowledges the job. A crash anywhere before the ack leaves the job in the
//! queue, and the next start runs it again; the conditional finish keeps the
//! result exactly-once. While a job runs, its worker renews the lease
//! ([`heartbeat`]), so a shared queue's lease can be short: a dead worker's
//! jobs are taken over within one lease, whatever their limits.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_engine::Report;

use crate::app::AppState;
use crate::metrics as m;
use crate::queue::Lease;
use crate::stages;

/// Counts a worker alive for `/health` while it exists.
struct Alive<'a>(&'a AppState);

impl<'a> Alive<'a> {
    fn new(app: &'a AppState) -> Self {
        app.workers_alive.fetch_add(1, Ordering::SeqCst);
        Alive(app)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.workers_alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One worker: runs until the server drains.
pub async fn run(app: Arc<AppState>, index: usize) {
    let _alive = Alive::new(&app);
    while !app.is_draining() {
        let lease = match app.queue.dequeue(Duration::from_millis(500)).await {
            Ok(Some(lease)) => lease,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(worker = index, error = %e, "dequeue failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if app.is_draining() {
            if let Err(e) = app.queue.requeue(&lease).await {
                tracing::error!(id = %lease.id, error = %e, "requeue failed; the job runs at the next start");
            }
            break;
        }
        if let Err(e) = process(&app, &lease).await {
            tracing::error!(id = %lease.id, error = %e, "job failed in the store or queue; requeueing it");
            if let Err(e) = app.queue.requeue(&lease).await {
                tracing::error!(id = %lease.id, error = %e, "requeue failed; the job runs at the next start");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Renews `lease` every third of the lease time while its job runs; returns
/// only when the lease was lost (the job was reclaimed by another worker after
/// this one failed to renew in time). A failed renewal (queue unreachable) is
/// retried at the next beat.
async fn heartbeat(app: &AppState, lease: &Lease) {
    let every = (app.config.lease / 3).max(Duration::from_millis(100));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        match app.queue.renew(lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %lease.id, attempt = lease.attempt, "lost the lease of a running job (it was reclaimed); stopping this run");
                return;
            }
            Err(e) => {
                tracing::warn!(id = %lease.id, error = %e, "renewing a job's lease failed; retrying at the next beat");
            }
        }
    }
}

async fn process(app: &AppState, lease: &Lease) -> anyhow::Result<()> {
    let Some(rec) = app.store.get(&lease.id).await? else {
        // Deleted by retention (or never stored): nothing to run.
        app.queue.ack(lease).await?;
        return Ok(());
    };
    if rec.status.is_final() {
        app.queue.ack(lease).await?;
        return Ok(());
    }
    let started = crate::now_ms();
    metrics::histogram!(m::QUEUE_WAIT)
        .record((started - lease.enqueued_at_ms).max(0) as f64 / 1000.0);
    let start_write = Instant::now();
    if !app
        .store
        .mark_running(&lease.id, lease.attempt, started)
        .await?
    {
        app.queue.ack(lease).await?;
        return Ok(());
    }
    let mut measured = stages::Measured {
        created_at_ms: rec.created_at_ms,
        enqueued_at_ms: lease.enqueued_at_ms,
        started_at_ms: started,
        start_write: start_write.elapsed(),
        engine: None,
    };
    let mut report = if lease.attempt > app.config.jobs.max_attempts {
        let reason = format!(
            "the job was interrupted {} times (a worker or server crashed, was killed or \
             outlived its lease while it ran); giving up",
            lease.attempt - 1
        );
        match app.queue.dead_letter(lease, &reason).await? {
            Some(note) => Report::internal_error(format!("{reason}; {note}")),
            None => Report::internal_error(reason),
        }
    } else {
        let gauge = metrics::gauge!(m::ACTIVE_JOBS);
        gauge.increment(1.0);
        let clock = Instant::now();
        let mut abort = app.abort.subscribe();
        // In a task of its own, so that a panic becomes a report, not a dead worker.
        let executor = app.executor.clone();
        let submission = rec.submission.clone();
        let deadline = run_deadline(&submission);
        let mut run = tokio::spawn(async move { executor.execute(submission).await });
        let outcome = tokio::select! {
            () = heartbeat(app, lease) => {
                // Another worker holds the job now; its result is the one stored.
                run.abort();
                gauge.decrement(1.0);
                return Ok(());
            }
            joined = &mut run => Some(joined.unwrap_or_else(|e| Report::internal_error(format!("the run failed: {e}")))),
            _ = tokio::time::sleep(deadline) => {
                run.abort();
                Some(Report::internal_error(format!(
                    "the run did not end within {} s although its wall-time limits had passed; it was stopped",
                    deadline.as_secs()
                )))
            }
            _ = abort.wait_for(|v| *v) => {
                run.abort();
                None
            }
        };
        gauge.decrement(1.0);
        let Some(report) = outcome else {
            app.store.release(&lease.id, lease.attempt).await?;
            app.queue.requeue(lease).await?;
            return Ok(());
        };
        metrics::histogram!(m::JOB_DURATION,
            "language" => rec.submission.language.clone(), "status" => report.status.as_str())
        .record(clock.elapsed().as_secs_f64());
        measured.engine = Some(clock.elapsed());
        report
    };
    let mut timings = stages::before_write(&measured, &report);
    report.stages = Some(timings);
    let write = Instant::now();
    let finished = app
        .store
        .finish(&lease.id, lease.attempt, &report, crate::now_ms())
        .await?;
    let written = Instant::now();
    app.queue.ack(lease).await?;
    timings.result_write_ms = Some(written.duration_since(write).as_millis() as u64);
    timings.notify_ms = Some(written.elapsed().as_millis() as u64);
    stages::record(&timings);
    if finished {
        app.stage_tails
            .put(&lease.id, written.duration_since(write), written.elapsed());
        // Its callback, if any, is now `pending` in the store: crate::callback::dispatch sends it.
        app.finished.publish(&lease.id);
    }
    Ok(())
}

/// How long a run may take before the worker gives up on the executor: every
/// test's wall-time limit, a compile step, and a margin. The engine enforces the
/// limits itself; this only guards the worker against a run that never returns.
fn run_deadline(sub: &kiln_engine::Submission) -> Duration {
    let runs = sub.tests.len().max(1) as u64;
    Duration::from_millis(sub.limits.wall_time_ms.saturating_mul(runs)) + Duration::from_secs(180)
}

/// Deletes finished submissions past the retention period, every minute.
pub async fn retention(app: Arc<AppState>) {
    let Some(keep) = app.config.jobs.retention() else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let cutoff = crate::now_ms() - keep.as_millis() as i64;
        match app.store.purge_finished_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "retention: deleted old results"),
            Err(e) => tracing::warn!(error = %e, "retention failed"),
        }
    }
}
