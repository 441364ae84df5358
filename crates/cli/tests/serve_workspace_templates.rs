//! `GET /api/v1/templates` tells the truth, through the real `kiln serve`:
//! every toolchain and Python package a template lists works inside one of
//! its workspaces, a template's own tool directory is there (read-only, on
//! `PATH`), and what the host has is listed (Rust from rustup included).

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use common::Server;
use helpers::{create_from, exec, start, wait_status};
use serde_json::{json, Value};

fn run_ok(s: &Server, id: &str, argv: Value, what: &str) -> String {
    let (code, v) = exec(s, id, json!({"command": argv, "timeout_ms": 60000}));
    assert_eq!(code, 200, "{what}: {v}");
    assert_eq!(v["exit_code"], 0, "{what} failed inside the workspace: {v}");
    format!(
        "{}{}",
        v["stdout"].as_str().unwrap(),
        v["stderr"].as_str().unwrap()
    )
}

fn host_has(argv: &[&str]) -> bool {
    std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_listed_tool_runs_inside_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("hello-tool");
    std::fs::create_dir_all(tool.join("bin")).unwrap();
    std::fs::write(
        tool.join("bin/hello"),
        "#!/bin/sh\necho hello from the tool\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&tool)
        .arg(tool.join("bin"))
        .arg(tool.join("bin/hello"))
        .status()
        .unwrap();
    let templates = dir.path().join("templates.toml");
    std::fs::write(
        &templates,
        format!(
            "[[template]]\nname = \"tooled\"\ncpu = 1\nmemory_mb = 256\ndisk_mb = 16\nlanguages = [\"bash\"]\n\
             tools = [{{ host = {:?}, inside = \"/opt/hello\" }}]\n",
            tool.display().to_string()
        ),
    )
    .unwrap();
    let s = start(
        dir.path(),
        114_000,
        &format!("templates_file = {:?}\n", templates.display().to_string()),
        &[],
    );
    let (code, v) = s.request("GET", "/api/v1/templates", None);
    assert_eq!(code, 200, "{v}");
    let all = v["templates"].as_array().unwrap().clone();
    for t in &all {
        let name = t["name"].as_str().unwrap();
        let id = create_from(&s, &format!("t-{name}"), name);
        wait_status(&s, &id, "running");
        for c in t["toolchains"].as_array().unwrap() {
            let out = run_ok(&s, &id, c["check"].clone(), &format!("{name}: {}", c["id"]));
            eprintln!(
                "{name}: {} -> {}",
                c["id"],
                out.lines().next().unwrap_or("")
            );
        }
        for p in t["python_packages"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            run_ok(
                &s,
                &id,
                json!(["python3", "-c", format!("import {p}")]),
                &format!("{name}: import {p}"),
            );
        }
        if name == "tooled" {
            assert_eq!(t["tool_dirs"], json!(["/opt/hello"]));
            let out = run_ok(&s, &id, json!(["hello"]), "the template's tool");
            assert_eq!(out, "hello from the tool\n");
            let (_, v) = exec(&s, &id, json!({"command": "touch /opt/hello/x"}));
            assert_ne!(v["exit_code"], 0, "a tool directory is read-only: {v}");
        }
    }
    // What the host has is listed: Rust (rustup or Debian) in pod-swdev, and
    // the data packages in ec2-datasci when the host's python3 has them.
    let by_name = |n: &str| all.iter().find(|t| t["name"] == n).unwrap().clone();
    let pod = by_name("pod-swdev");
    let langs: Vec<&str> = pod["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let rustc = ["/root/.cargo/bin/rustc", "/usr/bin/rustc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if let Some(rustc) = rustc {
        assert!(host_has(&[rustc, "--version"]));
        assert!(
            langs.contains(&"rust"),
            "the host has {rustc}, pod-swdev lists {langs:?}"
        );
    }
    for want in ["python", "c", "bash", "git"] {
        assert!(langs.contains(&want), "{want} missing from {langs:?}");
    }
    let ec2 = by_name("ec2-datasci");
    for p in ["numpy", "pandas", "scipy", "matplotlib"] {
        if host_has(&["/usr/bin/python3", "-c", &format!("import {p}")]) {
            assert!(
                ec2["python_packages"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(p)),
                "{p}: {ec2}"
            );
        }
    }
}
