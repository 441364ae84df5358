//! Helpers of the `kiln scaletest` end-to-end tests (included with `#[path]`):
//! config files, the `kiln` command, results and validation.
#![allow(dead_code)]

use kiln_scaletest::fake::kiln::FakeKiln;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
/// A config whose counts and durations `--scale 0.005` shrinks to pod 3,
/// EC2 2, one dashboard user for 1 s and 1 s of traffic.
pub fn config(dir: &Path, pod_template: &str, ec2_template: &str, timeout: &str) -> PathBuf {
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
pub async fn setup(
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

pub fn kiln() -> Command {
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

pub async fn output(mut c: Command) -> (i32, String, String) {
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
pub fn results_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

pub fn json(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")))
        .unwrap()
}

/// `kiln scaletest validate DIR`: exit code and stdout.
pub async fn validate(dir: &Path) -> (i32, String) {
    let mut v = kiln();
    v.args(["scaletest", "validate", dir.to_str().unwrap()]);
    let (code, stdout, _) = output(v).await;
    (code, stdout)
}

pub fn assert_none_left(live: Vec<String>) {
    assert!(live.is_empty(), "left behind: {live:?}");
}

pub fn run_args<'a>(url: &'a str, cfg: &'a Path, out: &'a Path) -> Vec<&'a str> {
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
