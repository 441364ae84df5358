//! Coder's `scaletest/harness`, in Rust: run N jobs with a concurrency limit
//! (0 = all at once), a per-job timeout and a whole-run timeout, each job
//! with its own log; collect [`Results`] shaped like Coder's `harness.Results`
//! JSON (`total_runs`, `total_pass`, `total_fail`, `elapsed`, `elapsed_ms`,
//! `runs` keyed by full id with `logs`, `error`, `started_at`, `duration`).
//!
//! A Ctrl-C flips the [`Stop`] signal: jobs not started never start, running
//! jobs end with the error `interrupted`, and the results still come back.
//!
//! Layout: this module runs the jobs; `results` shapes their [`Results`].

mod results;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use kiln_measure::Percentiles;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use crate::config::fmt_dur;
pub use results::{Results, RunInfo};

/// `true` once the run was interrupted.
pub type Stop = watch::Receiver<bool>;

/// A stop signal that never fires (cleanup must not be interrupted by the
/// interrupt that started it).
pub fn never_stop() -> Stop {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

/// The log of one job: timestamped lines, echoed to stderr with `--verbose`.
#[derive(Clone)]
pub struct Logs {
    buf: Arc<Mutex<String>>,
    id: Arc<str>,
    start: Instant,
    verbose: bool,
}

impl Logs {
    pub fn new(id: &str, verbose: bool) -> Self {
        Logs {
            buf: Arc::default(),
            id: id.into(),
            start: Instant::now(),
            verbose,
        }
    }
    pub fn log(&self, msg: impl AsRef<str>) {
        let line = format!(
            "{:>9.3}s {}\n",
            self.start.elapsed().as_secs_f64(),
            msg.as_ref()
        );
        if self.verbose {
            eprint!("[{}] {line}", self.id);
        }
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&line);
    }
    pub fn text(&self) -> String {
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One job's result (Coder's `harness.RunResult`; `error` is null on success).
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub full_id: String,
    pub test_name: String,
    pub id: String,
    pub logs: String,
    pub error: Option<String>,
    pub started_at: String,
    pub duration: String,
    pub duration_ms: u64,
    /// Test-specific figures of this run (traffic: bytes and latencies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
}

/// How jobs are run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most jobs at once; 0 = all at once.
    pub concurrency: usize,
    pub job_timeout: Duration,
    pub run_timeout: Duration,
}

/// Runs one job per id and returns their results (in id order) and the elapsed time.
/// A job returns its metrics or an error text.
pub async fn run_jobs<F, Fut>(
    test_name: &str,
    ids: Vec<String>,
    limits: Limits,
    stop: Stop,
    verbose: bool,
    job: F,
) -> (Vec<RunResult>, Duration)
where
    F: Fn(usize, String, Logs) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Value>, String>> + Send + 'static,
{
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limits.run_timeout;
    let permits = if limits.concurrency == 0 {
        ids.len().max(1)
    } else {
        limits.concurrency
    };
    let sem = Arc::new(Semaphore::new(permits));
    let job = Arc::new(job);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in ids.into_iter().enumerate() {
        let (sem, job, mut stop, test_name) = (
            sem.clone(),
            job.clone(),
            stop.clone(),
            test_name.to_string(),
        );
        tasks.spawn(async move {
            let logs = Logs::new(&id, verbose);
            let mut result = RunResult::new(test_name, id.clone());
            let permit = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => None,
                _ = tokio::time::sleep_until(deadline) => None,
                p = sem.acquire_owned() => p.ok(),
            };
            // A slot freed by the deadline or the interrupt does not start a job.
            let permit =
                permit.filter(|_| !*stop.borrow() && tokio::time::Instant::now() < deadline);
            let outcome = match permit {
                None if *stop.borrow() => Err("interrupted before start".to_string()),
                None => Err(format!(
                    "run timeout ({}) reached before start",
                    fmt_dur(limits.run_timeout)
                )),
                Some(_permit) => {
                    result.started_at = kiln_measure::time::rfc3339(SystemTime::now());
                    let t0 = Instant::now();
                    let fut = job(i, id, logs.clone());
                    let r = run_started(fut, &limits, deadline, &mut stop).await;
                    let d = t0.elapsed();
                    result.duration = fmt_dur(d);
                    result.duration_ms = d.as_millis() as u64;
                    r
                }
            };
            match outcome {
                Ok(m) => result.metrics = m,
                Err(e) => {
                    logs.log(format!("FAIL: {e}"));
                    result.error = Some(e);
                }
            }
            result.logs = logs.text();
            (i, result)
        });
    }
    let mut out: Vec<(usize, RunResult)> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(x) => out.push(x),
            Err(e) => tracing::error!("scaletest job panicked: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    (out.into_iter().map(|(_, r)| r).collect(), started.elapsed())
}

/// A started job to its end, its timeout, the run's deadline or the interrupt.
async fn run_started(
    fut: impl Future<Output = Result<Option<Value>, String>>,
    limits: &Limits,
    deadline: tokio::time::Instant,
    stop: &mut Stop,
) -> Result<Option<Value>, String> {
    tokio::select! {
        r = tokio::time::timeout(limits.job_timeout, fut) => match r {
            Ok(r) => r,
            Err(_) => Err(format!("job timeout: not done after {}", fmt_dur(limits.job_timeout))),
        },
        _ = stop.wait_for(|s| *s) => Err("interrupted".to_string()),
        _ = tokio::time::sleep_until(deadline) => Err(format!("run timeout ({}) reached", fmt_dur(limits.run_timeout))),
    }
}

impl RunResult {
    /// A run not started yet (no error, no duration).
    fn new(test_name: String, id: String) -> RunResult {
        RunResult {
            full_id: format!("{test_name}/{id}"),
            test_name,
            id,
            logs: String::new(),
            error: None,
            started_at: kiln_measure::time::rfc3339(SystemTime::now()),
            duration: "0s".into(),
            duration_ms: 0,
            metrics: None,
        }
    }
}

/// Polling delays: 20 ms, doubling up to `max` — fast builds are timed
/// closely, slow ones are not read more often than `max`.
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff {
            next: Duration::from_millis(20).min(max),
            max,
        }
    }
    /// Sleeps the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }
}

/// A histogram of microseconds (1 µs … 1 h, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// Records a duration (clamped to the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).clamp(1, 3_600_000_000));
}

/// Percentiles (ms) of a set of durations.
pub fn percentiles_of(ds: impl IntoIterator<Item = Duration>) -> Percentiles {
    let mut h = histogram();
    for d in ds {
        record(&mut h, d);
    }
    Percentiles::of_us(&h)
}
