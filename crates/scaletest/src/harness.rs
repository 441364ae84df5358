//! Coder's `scaletest/harness`, in Rust: run N jobs with a concurrency limit
//! (0 = all at once), a per-job timeout and a whole-run timeout, each job
//! with its own log; collect [`Results`] shaped like Coder's `harness.Results`
//! JSON (`total_runs`, `total_pass`, `total_fail`, `elapsed`, `elapsed_ms`,
//! `runs` keyed by full id with `logs`, `error`, `started_at`, `duration`).
//!
//! A Ctrl-C flips the [`Stop`] signal: jobs not started never start, running
//! jobs end with the error `interrupted`, and the results still come back.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use kiln_loadtest::stats::Percentiles;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use crate::config::fmt_dur;

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
            let mut result = RunResult {
                full_id: format!("{test_name}/{id}"),
                test_name,
                id: id.clone(),
                logs: String::new(),
                error: None,
                started_at: kiln_loadtest::report::rfc3339(SystemTime::now()),
                duration: "0s".into(),
                duration_ms: 0,
                metrics: None,
            };
            let permit = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => None,
                _ = tokio::time::sleep_until(deadline) => None,
                p = sem.acquire_owned() => p.ok(),
            };
            // A slot freed by the deadline or the interrupt does not start a job.
            let permit = permit.filter(|_| !*stop.borrow() && tokio::time::Instant::now() < deadline);
            let outcome = match permit {
                None if *stop.borrow() => Err("interrupted before start".to_string()),
                None => Err(format!("run timeout ({}) reached before start", fmt_dur(limits.run_timeout))),
                Some(_permit) => {
                    result.started_at = kiln_loadtest::report::rfc3339(SystemTime::now());
                    let t0 = Instant::now();
                    let fut = job(i, id, logs.clone());
                    let r = tokio::select! {
                        r = tokio::time::timeout(limits.job_timeout, fut) => match r {
                            Ok(r) => r,
                            Err(_) => Err(format!("job timeout: not done after {}", fmt_dur(limits.job_timeout))),
                        },
                        _ = stop.wait_for(|s| *s) => Err("interrupted".to_string()),
                        _ = tokio::time::sleep_until(deadline) => Err(format!("run timeout ({}) reached", fmt_dur(limits.run_timeout))),
                    };
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

/// The JSON of one test (one results file).
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub test: String,
    pub platform: String,
    pub target: String,
    pub started_at: String,
    pub scale: f64,
    pub interrupted: bool,
    pub total_runs: usize,
    pub total_pass: usize,
    pub total_fail: usize,
    /// `total_fail / total_runs` in percent.
    pub error_rate_percent: f64,
    pub elapsed: String,
    pub elapsed_ms: u64,
    /// P50/P95/P99 (ms) of the durations of the passing runs.
    pub duration: Percentiles,
    /// Test-specific figures (template and count, per-endpoint latency, bytes, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
    pub runs: BTreeMap<String, RunResult>,
}

/// Where and how a test ran (the header of its results).
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub platform: String,
    pub target: String,
    pub scale: f64,
}

impl Results {
    pub fn build(
        test: &str,
        info: &RunInfo,
        started_at: String,
        runs: Vec<RunResult>,
        elapsed: Duration,
        interrupted: bool,
    ) -> Self {
        let total_runs = runs.len();
        let total_fail = runs.iter().filter(|r| r.error.is_some()).count();
        let duration = percentiles_of(
            runs.iter()
                .filter(|r| r.error.is_none())
                .map(|r| Duration::from_millis(r.duration_ms)),
        );
        Results {
            test: test.into(),
            platform: info.platform.clone(),
            target: info.target.clone(),
            started_at,
            scale: info.scale,
            interrupted,
            total_runs,
            total_pass: total_runs - total_fail,
            total_fail,
            error_rate_percent: if total_runs == 0 {
                0.0
            } else {
                100.0 * total_fail as f64 / total_runs as f64
            },
            elapsed: fmt_dur(elapsed),
            elapsed_ms: elapsed.as_millis() as u64,
            duration,
            extra: serde_json::Map::new(),
            runs: runs.into_iter().map(|r| (r.full_id.clone(), r)).collect(),
        }
    }

    /// Writes `dir/file` (pretty JSON).
    pub fn write(
        &self,
        dir: &std::path::Path,
        file: &str,
    ) -> Result<(), crate::error::ScaletestError> {
        let path = dir.join(file);
        let text = serde_json::to_string_pretty(self).expect("results serialize");
        std::fs::write(&path, text + "\n")
            .map_err(|source| crate::error::ScaletestError::WriteResults { path, source })
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "{}: {} runs, {} pass, {} fail ({:.2} % errors), elapsed {}, duration P50 {:.0} ms P95 {:.0} ms P99 {:.0} ms",
            self.test, self.total_runs, self.total_pass, self.total_fail, self.error_rate_percent, self.elapsed,
            self.duration.p50_ms, self.duration.p95_ms, self.duration.p99_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn limits(concurrency: usize, job_ms: u64, run_ms: u64) -> Limits {
        Limits {
            concurrency,
            job_timeout: Duration::from_millis(job_ms),
            run_timeout: Duration::from_millis(run_ms),
        }
    }

    #[tokio::test]
    async fn concurrency_limits_jobs_in_flight_and_zero_means_all() {
        for (concurrency, want) in [(2usize, 2usize), (0, 6)] {
            let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let ids: Vec<String> = (0..6).map(|i| format!("j{i}")).collect();
            let (n2, m2) = (now.clone(), max.clone());
            let gate = Arc::new(tokio::sync::Barrier::new(want));
            let (runs, _) = run_jobs(
                "t",
                ids,
                limits(concurrency, 60_000, 60_000),
                never_stop(),
                false,
                move |_, _, _| {
                    let (now, max, gate) = (n2.clone(), m2.clone(), gate.clone());
                    async move {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        gate.wait().await; // `want` jobs must be in flight together
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok(None)
                    }
                },
            )
            .await;
            assert_eq!(runs.len(), 6);
            assert!(runs.iter().all(|r| r.error.is_none()));
            assert_eq!(max.load(Ordering::SeqCst), want);
        }
    }

    #[tokio::test]
    async fn job_timeout_run_timeout_and_errors_fail_runs() {
        let ids = vec!["ok".to_string(), "err".into(), "hang".into()];
        let (runs, _) = run_jobs(
            "t",
            ids,
            limits(0, 50, 60_000),
            never_stop(),
            false,
            |_, id, logs| async move {
                logs.log(format!("job {id}"));
                match id.as_str() {
                    "ok" => Ok(Some(serde_json::json!({"x": 1}))),
                    "err" => Err("boom".into()),
                    _ => std::future::pending().await,
                }
            },
        )
        .await;
        assert_eq!(runs[0].error, None);
        assert_eq!(runs[0].metrics, Some(serde_json::json!({"x": 1})));
        assert_eq!(runs[1].error.as_deref(), Some("boom"));
        assert!(
            runs[2].error.as_deref().unwrap().contains("job timeout"),
            "{:?}",
            runs[2].error
        );
        assert!(runs[1].logs.contains("job err") && runs[1].logs.contains("FAIL: boom"));
        // Whole-run timeout: one slot, the first job hangs, the second never starts.
        let (runs, _) = run_jobs(
            "t",
            vec!["a".into(), "b".into()],
            limits(1, 60_000, 50),
            never_stop(),
            false,
            |_, _, _| async { std::future::pending::<Result<Option<Value>, String>>().await },
        )
        .await;
        assert!(runs[0].error.as_deref().unwrap().contains("run timeout"));
        assert!(runs[1].error.as_deref().unwrap().contains("before start"));
    }

    #[tokio::test]
    async fn stop_interrupts_running_and_pending_jobs() {
        let (tx, rx) = watch::channel(false);
        let started = Arc::new(tokio::sync::Notify::new());
        let s2 = started.clone();
        let h = tokio::spawn(run_jobs(
            "t",
            vec!["a".into(), "b".into()],
            limits(1, 60_000, 60_000),
            rx,
            false,
            move |_, _, _| {
                let s = s2.clone();
                async move {
                    s.notify_one();
                    std::future::pending::<Result<Option<Value>, String>>().await
                }
            },
        ));
        started.notified().await;
        tx.send(true).unwrap();
        let (runs, _) = h.await.unwrap();
        assert_eq!(runs[0].error.as_deref(), Some("interrupted"));
        assert_eq!(runs[1].error.as_deref(), Some("interrupted before start"));
    }

    #[test]
    fn results_count_and_percentiles() {
        let run = |id: &str, ms: u64, err: Option<&str>| RunResult {
            full_id: format!("t/{id}"),
            test_name: "t".into(),
            id: id.into(),
            logs: String::new(),
            error: err.map(Into::into),
            started_at: String::new(),
            duration: fmt_dur(Duration::from_millis(ms)),
            duration_ms: ms,
            metrics: None,
        };
        let mut runs: Vec<RunResult> = (1..=100)
            .map(|i| run(&format!("r{i}"), i * 1000, None))
            .collect();
        runs.push(run("bad", 999_000, Some("x")));
        let info = RunInfo {
            platform: "kiln".into(),
            target: "t".into(),
            scale: 1.0,
        };
        let r = Results::build(
            "t",
            &info,
            String::new(),
            runs,
            Duration::from_secs(5),
            false,
        );
        assert_eq!((r.total_runs, r.total_pass, r.total_fail), (101, 100, 1));
        assert!((r.error_rate_percent - 100.0 / 101.0).abs() < 1e-9);
        // Failed runs do not count in the duration percentiles.
        assert!(
            (r.duration.p95_ms - 95_000.0).abs() < 100.0,
            "{}",
            r.duration.p95_ms
        );
        assert!((r.duration.p50_ms - 50_000.0).abs() < 100.0);
        assert!((r.duration.max_ms - 100_000.0).abs() < 100.0);
        let v = serde_json::to_value(&r).unwrap();
        for k in [
            "total_runs",
            "total_pass",
            "total_fail",
            "elapsed",
            "elapsed_ms",
            "runs",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["runs"]["t/bad"]["error"], "x");
        assert!(v["runs"]["t/r1"]["error"].is_null());
    }
}
