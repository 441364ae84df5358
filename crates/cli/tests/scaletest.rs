//! `kiln scaletest` end to end: the real binary against the loopback fake of
//! Kiln's workspace API and against the Coder replay server (both from
//! `kiln_scaletest::fake`): dry run, results files and their fields, exit
//! codes, cleanup after failures and after Ctrl-C, Coder mode, validate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kiln_scaletest::fake::coder::CoderReplay;
use kiln_scaletest::fake::kiln::FakeKiln;
use serde_json::Value;
use tokio::process::Command;

/// A config whose counts and durations `--scale 0.005` shrinks to pod 3,
/// EC2 2, one dashboard user for 1 s and 1 s of traffic.
fn config(dir: &Path, pod_template: &str, ec2_template: &str, timeout: &str) -> PathBuf {
    let p = dir.join("scaletest-config.yaml");
    std::fs::write(
        &p,
        format!(
            "create_workspaces:
  pod: {{template: {pod_template}, count: 600, concurrency: 200, timeout: {timeout}}}
  ec2: {{template: {ec2_template}, count: 400, concurrency: 0, timeout: {timeout}}}
  poll_interval: 20ms
dashboard: {{concurrency: 50, duration: 200s, think_time: 20ms, jitter: 20ms}}
workspace_traffic: {{bytes_per_tick: 128, tick_interval: 50ms, duration: 200s}}
"
        ),
    )
    .unwrap();
    p
}

/// A fake Kiln, a temporary directory with a config, and the results parent in it.
async fn setup(
    pod: &str,
    ec2: &str,
    timeout: &str,
) -> (FakeKiln, tempfile::TempDir, PathBuf, PathBuf) {
    let fake = FakeKiln::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), pod, ec2, timeout);
    let out = tmp.path().join("results");
    (fake, tmp, cfg, out)
}

fn kiln() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.env_remove("CODER_URL")
        .env_remove("CODER_SESSION_TOKEN")
        .env_remove("KILN_TARGET")
        .env_remove("KILN_API_KEY");
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn output(mut c: Command) -> (i32, String, String) {
    let o = tokio::time::timeout(Duration::from_secs(120), c.output())
        .await
        .expect("kiln scaletest finished")
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// The one `<timestamp>/` directory under `out`.
fn results_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn json(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")))
        .unwrap()
}

/// `kiln scaletest validate DIR`: exit code and stdout.
async fn validate(dir: &Path) -> (i32, String) {
    let mut v = kiln();
    v.args(["scaletest", "validate", dir.to_str().unwrap()]);
    let (code, stdout, _) = output(v).await;
    (code, stdout)
}

fn assert_none_left(live: Vec<String>) {
    assert!(live.is_empty(), "left behind: {live:?}");
}

fn run_args<'a>(url: &'a str, cfg: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "scaletest",
        "--target",
        url,
        "--config",
        cfg.to_str().unwrap(),
        "--scale",
        "0.005",
        "--output",
        out.to_str().unwrap(),
    ]
}

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
            && stdout.contains("SKIP 14.9"),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coder_mode_from_the_environment_follows_builds_and_deletes() {
    let coder = CoderReplay::start("s3cret").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (cfg, out) = (
        config(tmp.path(), "ec2-datasci", "stuck", "2s"),
        tmp.path().join("results"),
    );
    let mut c = kiln();
    c.env("CODER_URL", &coder.url)
        .env("CODER_SESSION_TOKEN", "s3cret");
    c.args([
        "scaletest",
        "--test",
        "create-workspaces",
        "--config",
        cfg.to_str().unwrap(),
        "--scale",
        "0.005",
        "--output",
        out.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("platform coder"), "{stdout}");
    let dir = results_dir(&out);
    let pod = json(&dir, "pod-workspaces.json");
    assert_eq!(
        (pod["platform"].as_str(), pod["total_pass"].as_u64()),
        (Some("coder"), Some(3)),
        "{pod}"
    );
    let log = pod["runs"].as_object().unwrap().values().next().unwrap()["logs"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        log.contains("job pending")
            && log.contains("agent main connecting/created")
            && log.contains("agent ready"),
        "{log}"
    );
    let ec2 = json(&dir, "ec2-workspaces.json");
    assert_eq!(ec2["total_fail"], 2);
    assert!(
        ec2["runs"]
            .as_object()
            .unwrap()
            .values()
            .all(|r| r["error"].as_str().unwrap().contains("job timeout")),
        "{ec2}"
    );
    assert_eq!(coder.state.created_count(), 5);
    assert_none_left(coder.state.live());
    assert_eq!(*coder.state.unauthorized.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cleanup_keeps_workspaces_until_scaletest_cleanup() {
    let (fake, _tmp, cfg, out) = setup("pod-swdev", "pod-swdev", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out))
        .args(["--test", "create-workspaces", "--no-cleanup"]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(fake.state.live().len(), 5);
    let mut c = kiln();
    c.args(["scaletest", "cleanup", "--target", &fake.url]);
    let (code, stdout, _) = output(c).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("deleted 5 scaletest workspace(s)"),
        "{stdout}"
    );
    assert!(fake.state.live().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_and_arguments_exit_2_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.yaml");
    std::fs::write(&cfg, "dashboard:\n  users: 5\n").unwrap();
    let mut c = kiln();
    c.args([
        "scaletest",
        "--dry-run",
        "--target",
        "http://127.0.0.1:9",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let (code, _, stderr) = output(c).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown field `users`") && stderr.contains("bad.yaml"),
        "{stderr}"
    );
    let mut c = kiln();
    c.args([
        "scaletest",
        "--dry-run",
        "--target",
        "http://127.0.0.1:9",
        "--scale=-1",
    ]);
    let (code, _, stderr) = output(c).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--scale"), "{stderr}");
    let mut c = kiln();
    c.args(["scaletest", "--dry-run", "--platform", "coder"])
        .env("CODER_URL", "http://127.0.0.1:9");
    let (code, _, stderr) = output(c).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("CODER_SESSION_TOKEN"), "{stderr}");
    // `auto` with a URL asks the target; one that does not answer is exit 2.
    let mut c = kiln();
    c.args(["scaletest", "--test", "dashboard"])
        .env("CODER_URL", "http://127.0.0.1:9")
        .env("CODER_SESSION_TOKEN", "t");
    let (code, _, stderr) = output(c).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("http://127.0.0.1:9/api/v2/buildinfo"),
        "{stderr}"
    );
}

/// The plan's `CODER_URL`/`CODER_SESSION_TOKEN` naming a Kiln: the target is
/// asked what it is and the run is a Kiln run; `run.json` records its tests,
/// so `validate` skips the dashboard criteria it did not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coder_url_naming_a_kiln_runs_in_kiln_mode() {
    let (fake, _tmp, cfg, out) = setup("pod-swdev", "ec2-datasci", "1m").await;
    let mut c = kiln();
    c.env("CODER_URL", &fake.url)
        .env("CODER_SESSION_TOKEN", "k1");
    c.args([
        "scaletest",
        "--test",
        "create-workspaces",
        "--config",
        cfg.to_str().unwrap(),
        "--scale",
        "0.005",
        "--output",
        out.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("platform kiln"), "{stdout}");
    let dir = results_dir(&out);
    assert_eq!(json(&dir, "pod-workspaces.json")["platform"], "kiln");
    let run = json(&dir, "run.json");
    assert_eq!(run["tests"], serde_json::json!(["create-workspaces"]));
    let (code, stdout) = validate(&dir).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("SKIP 14.9"), "{stdout}");
    assert_none_left(fake.state.live());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_with_no_running_workspace_fails_and_creates_nothing() {
    let (fake, _tmp, cfg, out) = setup("pod-swdev", "pod-swdev", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out))
        .args(["--test", "workspace-traffic"]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("no running scaletest- workspace"),
        "{stderr}"
    );
    let t = json(&results_dir(&out), "workspace-traffic-results.json");
    assert_eq!(t["total_runs"], 0);
    assert_eq!(fake.state.created_count(), 0);
}
