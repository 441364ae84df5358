//! The plans' own commands, run as the plans write them, against the real
//! `kiln serve` on 127.0.0.1:0 (API keys on, so credentials must flow):
//! `./run-scaletest.sh` (dry run, bad flags, a tiny real create-workspaces
//! run reaching the server through the plan's `CODER_URL` and
//! `CODER_SESSION_TOKEN`, results in `./scaletest-results/<timestamp>`),
//! `scripts/validate-results.sh` on those results (PASS), on a tampered and a
//! garbled copy (FAIL, error), and
//! `scripts/execute-pre-production-validation.sh` end to end (PASS, and FAIL
//! against a target that is down).

#[path = "serve_common.rs"]
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;

const KEY: &str = "plan-scripts-key";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a script of the repository in `cwd` with `env`, killed after 120 s;
/// the exit code, stdout and stderr.
fn script(path: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(repo().join(path));
    c.args(args).current_dir(cwd);
    for v in [
        "CODER_URL",
        "CODER_SESSION_TOKEN",
        "KILN_TARGET",
        "KILN_API_KEY",
        "KILN_QUEUE",
        "KILN_STORE",
    ] {
        c.env_remove(v);
    }
    // No Kubernetes context, whatever the machine has: worker-pods SKIPs.
    c.env("KILN", env!("CARGO_BIN_EXE_kiln"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig");
    c.envs(env.iter().copied());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{path} {args:?} still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

/// `kiln serve` with API keys on; `first_uid`: a workspace uid range of the
/// test's own (tests run at once, in several processes).
fn server(dir: &Path, first_uid: u32) -> (Server, String) {
    let cfg = dir.join("kiln.toml");
    std::fs::write(
        &cfg,
        format!("[workspaces]\nfirst_uid = {first_uid}\nuid_count = 100\n"),
    )
    .unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let s = Server::start(
        &data,
        &[
            "--workers",
            "2",
            "--config",
            cfg.to_str().unwrap(),
            "--api-keys",
            KEY,
        ],
    );
    let url = format!("http://{}", s.addr);
    (s, url)
}

/// The one `<timestamp>/` directory under `parent`.
fn only_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap_or_else(|e| panic!("{}: {e}", parent.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn run_scaletest_dry_run_and_bad_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = script(
        "run-scaletest.sh",
        &["--test", "all", "--dry-run"],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("700 × template pod-swdev"), "{out}");
    assert!(out.contains("dry run: nothing created"), "{out}");
    assert!(err.contains("scaletest --test all --config"), "{err}");
    assert!(!tmp.path().join("scaletest-results").exists());

    for (args, says) in [
        (&["--bogus"][..], "unknown option '--bogus'"),
        (&["--test"][..], "--test needs a value"),
        (&["--test", "nope", "--dry-run"][..], "invalid value 'nope'"),
        (
            &["--config", "missing.yaml", "--dry-run"][..],
            "config file 'missing.yaml' not found",
        ),
    ] {
        let (code, out, err) = script("run-scaletest.sh", args, tmp.path(), &[]);
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, out, _) = script("run-scaletest.sh", &["--help"], tmp.path(), &[]);
    assert_eq!(code, 0);
    assert!(out.contains("CODER_SESSION_TOKEN"), "{out}");
}

#[test]
fn scaletest_run_then_validate_pass_tampered_and_garbled() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, url) = server(tmp.path(), 152_000);
    // The plan's way: the target and its token from the environment.
    let (code, out, err) = script(
        "run-scaletest.sh",
        &["--test", "create-workspaces", "--scale", "0.002"],
        tmp.path(),
        &[("CODER_URL", &url), ("CODER_SESSION_TOKEN", KEY)],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("platform kiln"), "{out}");
    let dir = only_dir(&tmp.path().join("scaletest-results"));
    for f in [
        "pod-workspaces.json",
        "ec2-workspaces.json",
        "summary-report.md",
        "run.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    assert!(
        err.contains("validate with: scripts/validate-results.sh"),
        "{err}"
    );

    let d = dir.to_str().unwrap();
    let (code, out, err) = script("scripts/validate-results.sh", &[d], tmp.path(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "PASS 14.6",
        "PASS 14.7",
        "NOT RUN 14.9",
        "PASS 14.11",
        "overall: PASS",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }

    // A copy whose pod P95 was pushed past twice its target.
    let bad = tmp.path().join("tampered");
    std::fs::create_dir(&bad).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    let pod = bad.join("pod-workspaces.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&pod).unwrap()).unwrap();
    v["duration"]["p95_ms"] = serde_json::json!(250_000.0);
    std::fs::write(&pod, v.to_string()).unwrap();
    let b = bad.to_str().unwrap();
    let (code, out, _) = script("scripts/validate-results.sh", &[b], tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL 14.6") && out.contains("overall: FAIL"),
        "{out}"
    );

    std::fs::write(bad.join("ec2-workspaces.json"), "{\"total_runs\": ").unwrap();
    let (code, _, err) = script("scripts/validate-results.sh", &[b], tmp.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ec2-workspaces.json"), "{err}");
    let (code, _, err) = script(
        "scripts/validate-results.sh",
        &["no-such-dir"],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a directory"), "{err}");
    let (code, _, _) = script("scripts/validate-results.sh", &[], tmp.path(), &[]);
    assert_eq!(code, 2);
}

/// A few Python submissions: `--scale 0.002` turns 2000 requests into 4.
const TINY_SCENARIO: &str = r#"name = "tiny"
description = "four python submissions"
[load]
model = "open"
spacing = "uniform"
late_threshold = "5s"
[[load.stages]]
duration = "4s"
requests = 2000
[languages]
python = 1
[complexity]
simple = 1
[submit]
mode = "wait"
timeout = "60s"
[[criteria]]
metric = "success_rate"
op = ">"
target = 95
"#;

#[test]
fn pre_production_validation_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, url) = server(tmp.path(), 152_100);
    let scenario = tmp.path().join("tiny.toml");
    std::fs::write(&scenario, TINY_SCENARIO).unwrap();
    let out_dir = tmp.path().join("pp");
    let (code, out, err) = script(
        "scripts/execute-pre-production-validation.sh",
        &[
            "--target",
            &url,
            "--scale",
            "0.002",
            "--loadtest-scenario",
            scenario.to_str().unwrap(),
            "--output",
            out_dir.to_str().unwrap(),
        ],
        tmp.path(),
        &[("KILN_API_KEY", KEY)],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.trim_end().ends_with("PRE-PRODUCTION VALIDATION: PASS"),
        "{out}"
    );
    for line in [
        "PASS api-health",
        "SKIP redis-ping",
        "PASS live-workers",
        "PASS queue-depth",
        "SKIP worker-pods",
        "overall: PASS",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let report = only_dir(&out_dir.join("pre-production-results")).join("report.md");
    let report = std::fs::read_to_string(report).unwrap();
    for part in [
        "## Pre-test checklist",
        "| SKIP | redis-ping |",
        "### Phase `tiny`: PASS",
        "| success_rate |",
        "PASS 14.11",
        "PRE-PRODUCTION VALIDATION: PASS",
    ] {
        assert!(report.contains(part), "{part}: {report}");
    }
    only_dir(&out_dir.join("loadtest-results"));
    only_dir(&out_dir.join("scaletest-results"));

    // A target that is down: the checklist fails, the suites are not run.
    let (code, out, err) = script(
        "scripts/execute-pre-production-validation.sh",
        &[
            "--target",
            "http://127.0.0.1:9",
            "--check-timeout",
            "3",
            "--output",
            out_dir.to_str().unwrap(),
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL api-health"), "{out}");
    assert!(out.contains("suites not run"), "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("PRE-PRODUCTION VALIDATION: FAIL"),
        "{out}"
    );
    let (code, _, err) = script(
        "scripts/execute-pre-production-validation.sh",
        &["--min-workers", "many"],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--min-workers wants a whole number"), "{err}");
}
