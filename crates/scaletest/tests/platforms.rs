//! Both platform implementations against their loopback stand-ins: the
//! Coder replay server (recorded API v2 responses) and the fake Kiln API.
//! Same runner code, two targets.

use std::sync::Arc;
use std::time::Duration;

use kiln_scaletest::coder::Coder;
use kiln_scaletest::config::{Config, Dur};
use kiln_scaletest::create::{self, Created};
use kiln_scaletest::fake::coder::CoderReplay;
use kiln_scaletest::fake::kiln::FakeKiln;
use kiln_scaletest::harness::{never_stop, Logs, RunInfo};
use kiln_scaletest::kiln::Kiln;
use kiln_scaletest::platform::Platform;
use kiln_scaletest::{cleanup, dashboard, traffic};

const POLL: Duration = Duration::from_millis(5);

async fn both() -> Vec<(Arc<dyn Platform>, Box<dyn Fn() -> Vec<String> + Send>)> {
    let coder = CoderReplay::start("tok-123").await.unwrap();
    let kiln = FakeKiln::start().await.unwrap();
    let (cs, ks) = (coder.state.clone(), kiln.state.clone());
    vec![
        (
            Arc::new(Coder::new(&coder.url, "tok-123", 4).unwrap()),
            Box::new(move || cs.live()),
        ),
        (
            Arc::new(Kiln::new(&kiln.url, None, 4).unwrap()),
            Box::new(move || ks.live()),
        ),
    ]
}

#[tokio::test]
async fn builds_succeed_fail_and_agents_connect_late_on_both_platforms() {
    for (p, live) in both().await {
        p.prepare(&["pod-swdev".into(), "ec2-datasci".into()])
            .await
            .unwrap();
        let created: Created = Arc::default();
        let logs = Logs::new("t", false);
        create::create_one(
            p.as_ref(),
            "scaletest-t-pod-0",
            "pod-swdev",
            POLL,
            &logs,
            &created,
        )
        .await
        .unwrap();
        create::create_one(
            p.as_ref(),
            "scaletest-t-ec2-0",
            "ec2-datasci",
            POLL,
            &logs,
            &created,
        )
        .await
        .unwrap();
        let text = logs.text();
        assert!(
            text.contains("build finished and agent ready"),
            "{}: {text}",
            p.kind()
        );
        // The late agent was seen built but not yet connected/ready before it was ready.
        let late = if p.kind() == "coder" {
            "agent main connected/starting"
        } else {
            "status running, agent connecting"
        };
        assert!(text.contains(late), "{}: {text}", p.kind());
        let e = create::create_one(
            p.as_ref(),
            "scaletest-t-bad-0",
            "broken",
            POLL,
            &logs,
            &created,
        )
        .await
        .unwrap_err();
        assert!(e.contains("fail"), "{}: {e}", p.kind());
        assert_eq!(created.lock().unwrap().len(), 3);
        let running = p.list("scaletest-", true).await.unwrap();
        assert_eq!(running.len(), 2, "{}: {running:?}", p.kind());
        let all = p.list("scaletest-", false).await.unwrap();
        assert_eq!(all.len(), 3, "{}", p.kind());
        let c = cleanup::cleanup(p.clone(), vec![], 0, Duration::from_secs(30), POLL, false).await;
        assert_eq!(
            (c.deleted, c.failed.len()),
            (3, 0),
            "{}: {:?}",
            p.kind(),
            c.failed
        );
        assert!(live().is_empty(), "{}: {:?}", p.kind(), live());
    }
}

#[tokio::test]
async fn a_build_that_never_finishes_hits_the_job_timeout() {
    for (p, _) in both().await {
        let mut cfg = Config::default().scaled(0.001).create_workspaces;
        cfg.pod.template = "stuck".into();
        cfg.pod.count = 2;
        cfg.pod.concurrency = 0;
        cfg.pod.timeout = Dur(Duration::from_millis(300));
        cfg.poll_interval = Dur(POLL);
        let info = RunInfo {
            platform: p.kind().into(),
            target: "t".into(),
            scale: 1.0,
        };
        let created: Created = Arc::default();
        let r = create::run_group(
            p.clone(),
            "pod",
            &cfg.pod,
            &cfg,
            "abc123",
            &info,
            never_stop(),
            false,
            created.clone(),
        )
        .await;
        assert_eq!((r.total_runs, r.total_fail), (2, 2), "{}", p.kind());
        assert!(r
            .runs
            .values()
            .all(|x| x.error.as_deref().unwrap().contains("job timeout")));
        assert!(
            r.runs
                .values()
                .all(|x| x.logs.contains("job running") || x.logs.contains("provisioning")),
            "{:?}",
            r.runs
        );
        // Accepted workspaces are known for cleanup even though their jobs failed.
        assert_eq!(created.lock().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn coder_needs_its_token_and_known_templates() {
    let coder = CoderReplay::start("right").await.unwrap();
    let bad = Coder::new(&coder.url, "wrong", 1).unwrap();
    let e = bad.prepare(&[]).await.unwrap_err().to_string();
    assert!(e.contains("401") && e.contains("/api/v2/users/me"), "{e}");
    let good = Coder::new(&coder.url, "right", 1).unwrap();
    let e = good
        .prepare(&["nope".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("template `nope` not found"), "{e}");
    let kiln = FakeKiln::start().await.unwrap();
    let e = Kiln::new(&kiln.url, None, 1)
        .unwrap()
        .prepare(&["nope".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("template `nope` does not exist"), "{e}");
}

#[tokio::test]
async fn traffic_and_dashboard_on_both_platforms() {
    for (p, _) in both().await {
        let created: Created = Arc::default();
        let logs = Logs::new("t", false);
        create::create_one(
            p.as_ref(),
            "scaletest-t-pod-1",
            "pod-swdev",
            POLL,
            &logs,
            &created,
        )
        .await
        .unwrap();
        let mut cfg = Config::default();
        cfg.workspace_traffic.duration = Dur(Duration::from_millis(300));
        cfg.workspace_traffic.tick_interval = Dur(Duration::from_millis(20));
        cfg.workspace_traffic.bytes_per_tick = 64;
        let info = RunInfo {
            platform: p.kind().into(),
            target: "t".into(),
            scale: 1.0,
        };
        let r = traffic::run(
            p.clone(),
            &cfg.workspace_traffic,
            &info,
            never_stop(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            (r.total_runs, r.total_fail),
            (1, 0),
            "{}: {:?}",
            p.kind(),
            r.runs
        );
        let m = r.runs.values().next().unwrap().metrics.clone().unwrap();
        let written = m["bytes_written"].as_u64().unwrap();
        assert!(written >= 64 && written % 64 == 0, "{m}");
        // The stand-ins echo like a terminal: every byte comes back and the read latency is measured.
        assert_eq!(m["bytes_read"].as_u64().unwrap(), written, "{m}");
        assert_eq!(
            m["read_latency"]["count"].as_u64().unwrap(),
            m["ticks"].as_u64().unwrap(),
            "{m}"
        );

        cfg.dashboard.concurrency = 2;
        cfg.dashboard.duration = Dur(Duration::from_millis(300));
        cfg.dashboard.think_time = Dur(Duration::from_millis(5));
        cfg.dashboard.jitter = Dur(Duration::from_millis(5));
        let d = dashboard::run(p.clone(), &cfg.dashboard, &info, never_stop(), false).await;
        assert_eq!(
            (d.total_runs, d.total_fail),
            (2, 0),
            "{}: {:?}",
            p.kind(),
            d.runs
        );
        assert!(d.extra["requests"].as_u64().unwrap() > 2);
        assert_eq!(d.extra["request_errors"], 0);
        let endpoints = d.extra["endpoints"].as_object().unwrap();
        assert!(
            endpoints.contains_key("list_workspaces") && endpoints.contains_key("templates"),
            "{endpoints:?}"
        );
        cleanup::cleanup(p.clone(), vec![], 0, Duration::from_secs(30), POLL, false).await;
    }
}

#[tokio::test]
async fn rate_limited_creates_and_reads_are_retried_not_failed() {
    let kiln = FakeKiln::start().await.unwrap();
    kiln.state
        .throttle
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let p = Kiln::new(&kiln.url, None, 1).unwrap();
    let created: Created = Arc::default();
    let logs = Logs::new("t", false);
    create::create_one(&p, "scaletest-t-pod-9", "pod-swdev", POLL, &logs, &created)
        .await
        .unwrap();
    let text = logs.text();
    assert!(text.contains("create rate-limited, retrying"), "{text}");
    assert!(text.contains("poll rate-limited"), "{text}");
    assert!(text.contains("build finished and agent ready"), "{text}");
}
