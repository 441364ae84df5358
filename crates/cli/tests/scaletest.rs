//! `kiln scaletest` end to end: the real binary against the loopback fake of
//! Kiln's workspace API and against the Coder replay server (both from
//! `kiln_scaletest::fake`): dry run, results files and their fields, exit
//! codes, cleanup after failures and after Ctrl-C, Coder mode, validate.

#[path = "helpers/scaletest.rs"]
mod st;

use kiln_scaletest::fake::kiln::FakeKiln;
use st::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_creates_nothing() {
    let fake = FakeKiln::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let mut c = kiln();
    c.args([
        "scaletest",
        "--dry-run",
        "--target",
        &fake.url,
        "--output",
        out.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("700 × template pod-swdev at concurrency 100"),
        "{stdout}"
    );
    assert!(
        stdout.contains("300 × template ec2-datasci at concurrency 50"),
        "{stdout}"
    );
    assert!(stdout.contains("dashboard: 50 users for 5m"), "{stdout}");
    assert!(
        stdout.contains("1024 bytes every 100ms for 10m"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: nothing created"), "{stdout}");
    assert_eq!(fake.state.created_count(), 0);
    assert!(
        fake.state.hits.lock().unwrap().is_empty(),
        "dry run contacted the target"
    );
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_run_against_kiln_writes_every_result_and_cleans_up() {
    let (fake, _tmp, cfg, out) = setup("pod-swdev", "ec2-datasci", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out));
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let dir = results_dir(&out);
    for (file, runs) in [
        ("pod-workspaces.json", 3),
        ("ec2-workspaces.json", 2),
        ("dashboard-results.json", 1),
        ("workspace-traffic-results.json", 5),
    ] {
        let v = json(&dir, file);
        assert_eq!(v["total_runs"], runs, "{file}: {v}");
        assert_eq!(v["total_fail"], 0, "{file}: {v}");
        assert_eq!(v["total_pass"], runs, "{file}");
        assert!(
            v["elapsed"].is_string() && v["elapsed_ms"].is_u64(),
            "{file}"
        );
        for p in ["p50_ms", "p95_ms", "p99_ms"] {
            assert!(v["duration"][p].as_f64().unwrap() > 0.0, "{file} {p}");
        }
        for (id, r) in v["runs"].as_object().unwrap() {
            assert!(
                r["error"].is_null() && r["duration_ms"].is_u64() && r["id"].is_string(),
                "{file} {id}: {r}"
            );
            assert!(!r["logs"].as_str().unwrap().is_empty(), "{file} {id}");
        }
    }
    let d = json(&dir, "dashboard-results.json");
    assert!(
        d["requests"].as_u64().unwrap() >= 2 && d["latency"]["p99_ms"].as_f64().unwrap() > 0.0,
        "{d}"
    );
    let t = json(&dir, "workspace-traffic-results.json");
    assert!(
        t["totals"]["bytes_written"].as_u64().unwrap() >= 5 * 128,
        "{t}"
    );
    assert_eq!(t["totals"]["read_errors"], 0, "{t}");
    assert!(
        t["totals"]["write_latency"]["count"].as_u64().unwrap() >= 5,
        "{t}"
    );
    assert!(
        t["totals"]["read_latency"]["p99_ms"].as_f64().unwrap() > 0.0,
        "{t}"
    );
    assert!(*fake.state.pty_bytes.lock().unwrap() >= 5 * 128);
    let summary = std::fs::read_to_string(dir.join("summary-report.md")).unwrap();
    assert!(
        summary.contains("| PASS | 14.6 |") && summary.contains("deleted 5 scaletest workspace(s)"),
        "{summary}"
    );
    assert_eq!(fake.state.created_count(), 5);
    assert_none_left(fake.state.live());

    let (code, stdout) = validate(&dir).await;
    assert_eq!(code, 0, "{stdout}");
    for id in ["14.6", "14.7", "14.9", "14.10", "14.11"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("PASS {id} "))),
            "{id}: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_builds_exit_1_and_are_still_cleaned_up() {
    let (fake, _tmp, cfg, out) = setup("broken", "pod-swdev", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out))
        .args(["--test", "create-workspaces"]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let dir = results_dir(&out);
    let pod = json(&dir, "pod-workspaces.json");
    assert_eq!(
        (pod["total_runs"].as_u64(), pod["total_fail"].as_u64()),
        (Some(3), Some(3))
    );
    for r in pod["runs"].as_object().unwrap().values() {
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("no space left on device"),
            "{r}"
        );
    }
    assert_eq!(json(&dir, "ec2-workspaces.json")["total_fail"], 0);
    assert!(!dir.join("dashboard-results.json").exists());
    assert_none_left(fake.state.live());

    let (code, stdout) = validate(&dir).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL 14.6")
            && stdout.contains("FAIL 14.11")
            // --test create-workspaces: the dashboard criteria are not judged.
            && stdout.contains("NOT RUN 14.9"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_writes_results_then_cleans_up() {
    let (fake, _tmp, cfg, out) = setup("stuck", "stuck", "10m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out));
    let child = c.spawn().unwrap();
    // Pod concurrency is 1 at this scale: wait until the first workspace is accepted and followed.
    for _ in 0..600 {
        if fake.state.created_count() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.state.created_count(), 1);
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let dir = results_dir(&out);
    let pod = json(&dir, "pod-workspaces.json");
    assert_eq!(pod["interrupted"], true);
    assert_eq!(pod["total_fail"], 3);
    // Which of the three jobs got the one slot first is up to the scheduler.
    let mut errors: Vec<&str> = pod["runs"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "interrupted",
            "interrupted before start",
            "interrupted before start"
        ],
        "{pod}"
    );
    assert!(
        !dir.join("ec2-workspaces.json").exists(),
        "the EC2 group started after Ctrl-C"
    );
    assert!(dir.join("summary-report.md").exists());
    assert_none_left(fake.state.live());
}
