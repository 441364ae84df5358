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
