//! `kiln scaletest` modes end to end: Coder mode from the environment, a
//! Kiln behind `CODER_URL`, `--no-cleanup` then `cleanup`, and refused
//! configurations (the main runs are in `scaletest.rs`).

#[path = "helpers/scaletest.rs"]
mod st;

use kiln_scaletest::fake::coder::CoderReplay;
use st::*;

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
    assert!(stdout.contains("NOT RUN 14.9"), "{stdout}");
    assert_none_left(fake.state.live());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_alone_creates_the_workspaces_it_needs_and_deletes_them() {
    let (fake, _tmp, cfg, out) = setup("pod-swdev", "pod-swdev", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out))
        .args(["--test", "workspace-traffic"]);
    let (code, stdout, stderr) = output(c).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("creating 3 × pod-swdev first"), "{stderr}");
    let dir = results_dir(&out);
    let setup = json(&dir, "workspace-traffic-setup.json");
    assert_eq!(setup["total_pass"], 3, "{setup}");
    let t = json(&dir, "workspace-traffic-results.json");
    assert_eq!(t["total_runs"], 3, "{t}");
    assert!(!dir.join("pod-workspaces.json").exists());
    assert_eq!(fake.state.created_count(), 3);
    assert_none_left(fake.state.live());
    // Validation judges what ran: traffic; the five others are NOT RUN.
    let (code, stdout) = validate(&dir).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("PASS traffic"), "{stdout}");
    assert_eq!(stdout.matches("NOT RUN").count(), 5, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_alone_fails_with_a_sentence_when_no_workspace_can_be_made() {
    // The fake fails every build of the template `broken`.
    let (fake, _tmp, cfg, out) = setup("broken", "pod-swdev", "1m").await;
    let mut c = kiln();
    c.args(run_args(&fake.url, &cfg, &out))
        .args(["--test", "workspace-traffic"]);
    let (code, stdout, stderr) = output(c).await;
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("workspace-traffic: none of the 3 workspaces it needs became ready"),
        "{stderr}"
    );
    assert_none_left(fake.state.live());
}
