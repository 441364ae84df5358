//! Shared helpers of the integration tests: a stub target and a run with a
//! scenario written on the fly.

#![allow(dead_code)]

use std::path::PathBuf;

use clap::Parser;
use kiln_loadtest::stub::{self, StubConfig};
use kiln_loadtest::LoadtestArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: LoadtestArgs,
}

/// Parses `kiln loadtest` arguments as the CLI would.
pub fn args(argv: &[&str]) -> LoadtestArgs {
    Cli::parse_from(std::iter::once("loadtest").chain(argv.iter().copied())).args
}

/// Starts a stub on a free loopback port; returns its URL.
pub async fn stub_url(cfg: StubConfig) -> String {
    let (addr, _task) = stub::spawn(cfg, "127.0.0.1:0").await.expect("stub binds");
    format!("http://{addr}")
}

/// Runs `scenario_toml` against `target`; returns (exit code, results.json, dir).
pub async fn run(
    scenario_toml: &str,
    target: &str,
    extra: &[&str],
) -> (i32, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let scn: PathBuf = dir.path().join("scenario.toml");
    std::fs::write(&scn, scenario_toml).expect("write scenario");
    let out = dir.path().join("out");
    let mut argv = vec![
        "--quiet",
        "--scenario",
        scn.to_str().unwrap(),
        "--target",
        target,
        "--out-exact",
        out.to_str().unwrap(),
    ];
    argv.extend_from_slice(extra);
    let (code, results_dir) = kiln_loadtest::run_inner(&args(&argv))
        .await
        .expect("run succeeds");
    let json = std::fs::read_to_string(results_dir.join("results.json")).expect("results.json");
    (code, serde_json::from_str(&json).expect("valid json"), dir)
}

/// A constant-rate open scenario.
pub fn constant(rate: f64, duration: &str, spacing: &str, extra: &str) -> String {
    format!(
        "name = \"test\"\n[load]\nmodel = \"open\"\nspacing = \"{spacing}\"\n{extra}\n[[load.stages]]\nduration = \"{duration}\"\nrate = {rate}\n\n[languages]\npython = 1\n"
    )
}

pub fn ms(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {x}"))
}
