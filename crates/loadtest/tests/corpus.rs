//! Every corpus program, with a unique-source nonce appended (as
//! `--unique-sources` sends it), compiles and prints its expected output on
//! this host. Languages whose toolchain is missing are skipped with a notice.

use std::path::Path;
use std::process::{Command, Stdio};

use kiln_loadtest::corpus::{Program, CORPUS};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// (toolchain binary, compile command or "", run command), run by `sh -c` in the program's directory.
fn commands(language: &str) -> (&'static str, &'static str, &'static str) {
    match language {
        "python" => ("python3", "", "python3 main.py"),
        "javascript" => ("node", "", "node main.js"),
        "c" => ("gcc", "gcc -O1 -o prog main.c", "./prog"),
        "cpp" => ("g++", "g++ -std=c++20 -O1 -o prog main.cpp", "./prog"),
        "java" => ("javac", "javac Main.java", "java -cp . Main"),
        "rust" => ("rustc", "rustc --edition 2021 -o prog main.rs", "./prog"),
        "go" => (
            "go",
            "GOCACHE=$PWD/.gocache GOPATH=$PWD/.gopath go build -o prog main.go",
            "./prog",
        ),
        "bash" => ("bash", "", "bash main.sh"),
        "ruby" => ("ruby", "", "ruby main.rb"),
        "php" => ("php", "", "php main.php"),
        "perl" => ("perl", "", "perl main.pl"),
        "lua" => ("lua", "", "lua main.lua"),
        other => panic!("no commands for {other}"),
    }
}

fn sh(dir: &Path, cmd: &str, stdin: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "`{cmd}` failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(p: &Program) -> Result<(), String> {
    let (_, compile, run) = commands(p.language);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, content) in p.files_with(Some("0-test")) {
        std::fs::write(dir.path().join(name), content).map_err(|e| e.to_string())?;
    }
    if !compile.is_empty() {
        sh(dir.path(), compile, "")?;
    }
    let out = sh(dir.path(), run, p.stdin)?;
    if out.trim_end() != p.expected_output.trim_end() {
        return Err(format!("printed {out:?}, expected {:?}", p.expected_output));
    }
    Ok(())
}

#[test]
fn every_program_prints_its_expected_output() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for p in CORPUS {
        let (tool, _, _) = commands(p.language);
        if !have(tool) {
            eprintln!(
                "NOTICE: skipping {} {}: `{tool}` is not installed on this host",
                p.language, p.complexity
            );
            continue;
        }
        match check(p) {
            Ok(()) => checked += 1,
            Err(e) => failures.push(format!("{} {}: {e}", p.language, p.complexity)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 9, "only {checked} programs could be checked");
    eprintln!("{checked} corpus programs checked");
}
