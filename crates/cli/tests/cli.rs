//! The `kiln run` and `kiln languages` contract: output shapes and exit codes.

use std::process::Command;

fn kiln(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn run_json_prints_one_object_with_the_result_fields() {
    let o = kiln(&["run", "--json", &example("hello.py")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("exactly one JSON object");
    for f in [
        "status",
        "stdout",
        "stderr",
        "compile_output",
        "exit_code",
        "signal",
        "time_ms",
        "wall_time_ms",
        "memory_kb",
    ] {
        assert!(v.get(f).is_some(), "missing field {f}: {v}");
    }
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["stdout"], "Hello, Kiln!\n");
}

#[test]
fn a_failing_program_still_exits_zero_with_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.c");
    std::fs::write(&p, "int main(void) { return oops; }").unwrap();
    let o = kiln(&["run", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "compilation_error");
    assert!(v["compile_output"].as_str().unwrap().contains("oops"));
}

#[test]
fn stdin_expected_and_limits_flags() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let expected = dir.path().join("out.txt");
    std::fs::write(&input, "2 40\n").unwrap();
    std::fs::write(&expected, "42\n").unwrap();
    let o = kiln(&[
        "run",
        "--stdin",
        input.to_str().unwrap(),
        "--expected",
        expected.to_str().unwrap(),
        &example("sum.py"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("status: accepted"), "{out}");
    std::fs::write(&expected, "41\n").unwrap();
    let o = kiln(&[
        "run",
        "--json",
        "--stdin",
        input.to_str().unwrap(),
        "--expected",
        expected.to_str().unwrap(),
        &example("sum.py"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "wrong_answer");
    let p = dir.path().join("spin.py");
    std::fs::write(&p, "while True: pass").unwrap();
    let o = kiln(&[
        "run",
        "--json",
        "--time-limit",
        "0.3",
        "--memory-limit",
        "64",
        p.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "time_limit_exceeded");
}

#[test]
fn kiln_errors_exit_non_zero_with_one_line_that_says_what_to_do() {
    let o = kiln(&["run", "--lang", "cobol", &example("hello.py")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown language") && err.contains("python"),
        "{err}"
    );
    let o = kiln(&["run", "/nonexistent/x.py"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot read source file /nonexistent/x.py")
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prog.xyz");
    std::fs::write(&p, "x").unwrap();
    let o = kiln(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --lang"));
    let o = kiln(&["run", "--time-limit", "-1", &example("hello.py")]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn languages_lists_versions_as_a_table_and_json() {
    let o = kiln(&["languages"]);
    assert_eq!(o.status.code(), Some(0));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("python") && table.contains("java"),
        "{table}"
    );
    let o = kiln(&["languages", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["available"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    for id in ["python", "javascript", "c", "cpp", "java", "rust", "go"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(v["available"][0]["version"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

/// Hostile suite (issue 11, item 10): a program's escape sequences (clear the
/// screen, OSC 52 to set the clipboard, a bell, a carriage return that hides a
/// line) never reach the caller's terminal raw from `kiln run`.
#[test]
fn run_never_writes_raw_control_sequences_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("esc.py");
    std::fs::write(&p, "import sys\nprint('\\x1b[2J\\x1b]52;c;cm0gLXJmIC8=\\x07ok\\rfake')\nsys.stderr.write('\\x1b[31mred\\u202e\\n')\n").unwrap();
    let o = kiln(&["run", p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        !out.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'
                || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{out:?}"
    );
    assert!(
        out.contains("\\x1b[2J\\x1b]52;c;cm0gLXJmIC8=\\x07ok\\rfake"),
        "{out}"
    );
    assert!(out.contains("\\x1b[31mred\\u{202e}"), "{out}");
    // --json keeps the exact text (JSON escapes it).
    let o = kiln(&["run", "--json", p.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["stdout"].as_str().unwrap().starts_with("\u{1b}[2J"));
}

/// `kiln run` waits for its box's teardown before it exits: no cgroup of the
/// process is left behind (the VM's cgroup v2 run found one after every run).
#[test]
fn run_leaves_no_cgroup_behind() {
    let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", &example("hello.py")])
        .output()
        .unwrap();
    assert_eq!(
        child.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "--json", &example("hello.py")])
        .spawn()
        .unwrap();
    let pid = c.id();
    assert!(c.wait().unwrap().success());
    let prefix = format!("kiln-{pid}-");
    let mut left = Vec::new();
    let mut dirs = vec![(std::path::PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    left.push(e.path());
                } else if depth < 4 {
                    dirs.push((e.path(), depth + 1));
                }
            }
        }
    }
    assert!(
        left.is_empty(),
        "cgroups of the exited kiln run {pid} left behind: {left:?}"
    );
}
