//! The Judge0 dialect of `kiln serve` end to end: the real binary, the real
//! sandbox, real programs; each of Kiln's verdicts read as the Judge0 status
//! Judge0 itself would give (runtime errors by signal, memory limit as 12,
//! output limit as 8), in Judge0's units and with base64 as Judge0 writes it.

#[path = "serve_common.rs"]
mod common;

use serde_json::{json, Value};

use common::Server;

fn run(server: &Server, query: &str, body: Value) -> Value {
    let (code, v) = server.request(
        "POST",
        &format!("/submissions?wait=true{query}"),
        Some(&body),
    );
    assert_eq!(code, 201, "{v}");
    v
}

fn python(source: &str) -> Value {
    json!({ "language_id": 71, "source_code": source })
}

#[test]
fn real_programs_get_judge0_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);

    let v = run(
        &server,
        "&fields=*",
        json!({ "language_id": 71, "source_code": "print('hello, ' + input())", "stdin": "judge0", "expected_output": "hello, judge0" }),
    );
    assert_eq!(
        v["status"],
        json!({"id": 3, "description": "Accepted"}),
        "{v}"
    );
    assert_eq!(v["stdout"], "hello, judge0\n");
    assert_eq!(v["exit_code"], 0);
    assert!(v["time"].as_str().unwrap().parse::<f64>().unwrap() >= 0.0);
    assert!(v["memory"].as_u64().unwrap() > 0, "KB: {v}");
    assert_eq!(v["language"]["id"], 71);

    let cases: &[(&str, Value, u64)] = &[
        (
            "wrong answer",
            json!({ "language_id": 71, "source_code": "print(1)", "expected_output": "2" }),
            4,
        ),
        ("non-zero exit", python("import sys\nsys.exit(3)"), 11),
        (
            "SIGSEGV",
            python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
            7,
        ),
        (
            "SIGFPE",
            python("import os, signal\nos.kill(os.getpid(), signal.SIGFPE)"),
            9,
        ),
        ("SIGABRT", python("import os\nos.abort()"), 10),
        (
            "SIGKILL",
            python("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
            12,
        ),
        (
            "memory limit",
            json!({ "language_id": 71, "source_code": "x = bytearray(400 << 20)\nprint(len(x))", "memory_limit": 65536 }),
            12,
        ),
        (
            "output limit",
            json!({ "language_id": 71, "source_code": "import sys\nsys.stdout.write('x' * (1 << 20))", "max_file_size": 64 }),
            8,
        ),
        (
            "time limit",
            json!({ "language_id": 71, "source_code": "while True:\n    pass", "cpu_time_limit": 1, "wall_time_limit": 5 }),
            5,
        ),
        (
            "compile error",
            json!({ "language_id": 50, "source_code": "int main( {" }),
            6,
        ),
    ];
    for (what, body, want) in cases {
        let v = run(
            &server,
            "&fields=status,exit_code,exit_signal,message,compile_output,time",
            body.clone(),
        );
        assert_eq!(v["status"]["id"], *want, "{what}: {v}");
        match *what {
            "SIGSEGV" => assert_eq!(
                (v["exit_code"].as_i64(), v["exit_signal"].as_i64()),
                (Some(0), Some(11)),
                "{what}: {v}"
            ),
            "non-zero exit" => assert_eq!(v["message"], "Exited with error status 3", "{v}"),
            "memory limit" => assert!(v["message"].as_str().unwrap().contains("memory"), "{v}"),
            "compile error" => {
                assert!(v["compile_output"].is_string(), "{v}");
                assert_eq!(v["time"], Value::Null);
            }
            _ => {}
        }
    }

    // additional_files: a zip (always base64) whose files sit beside the source.
    let zip = kiln_server::judge0::zip::write(&[("data.txt", b"from the zip\n")], true);
    let zip = kiln_server::judge0::model::encode64(&zip);
    let v = run(
        &server,
        "",
        json!({ "language_id": 71, "source_code": "print(open('data.txt').read().strip())", "additional_files": zip }),
    );
    assert_eq!(
        (v["status"]["id"].as_u64(), v["stdout"].as_str()),
        (Some(3), Some("from the zip\n")),
        "{v}"
    );

    // Base64 both ways, wrapped as Ruby's Base64.encode64, exact bytes.
    let v = run(
        &server,
        "&base64_encoded=true",
        json!({ "language_id": 71, "source_code": "aW1wb3J0IHN5cwpzeXMuc3Rkb3V0LmJ1ZmZlci53cml0ZShiJ1x4ZmYnICogNTApCg==" }),
    );
    let out = v["stdout"].as_str().unwrap();
    assert_eq!(out.split('\n').next().unwrap().len(), 60, "{out:?}");
    assert!(out.ends_with('\n'));
    // The same output as text is Judge0's UTF-8 error.
    let token = v["token"].as_str().unwrap();
    let (code, e) = server.request("GET", &format!("/submissions/{token}"), None);
    assert_eq!(code, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("base64_encoded=true"));
}

#[test]
fn compiler_options_and_merged_stderr_work_as_in_judge0() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);
    // C (GCC) is language 50 in Judge0 CE 1.13.1.
    let c = "#include <stdio.h>\nint main(void){printf(\"%d\\n\", VALUE);return 0;}\n";
    let v = run(
        &server,
        "&fields=stdout,status,compiler_options",
        json!({ "language_id": 50, "source_code": c, "compiler_options": "-DVALUE=42 -Wall" }),
    );
    assert_eq!(v["status"]["id"], 3, "{v}");
    assert_eq!(v["stdout"], "42\n");
    assert_eq!(v["compiler_options"], "-DVALUE=42 -Wall");
    // Without the option the program does not compile: the option was used.
    let v = run(
        &server,
        "&fields=status",
        json!({ "language_id": 50, "source_code": c }),
    );
    assert_eq!(v["status"]["id"], 6, "compilation error: {v}");
    // Shell syntax is not an option; interpreted languages take none.
    for (body, want) in [
        (
            json!({ "language_id": 50, "source_code": c, "compiler_options": "-DVALUE=1; rm -rf /" }),
            "compiler_options",
        ),
        (
            json!({ "language_id": 71, "source_code": "print(1)", "compiler_options": "-O2" }),
            "only allowed for compiled languages",
        ),
    ] {
        let (code, v) = server.request("POST", "/submissions", Some(&body));
        assert_eq!(code, 422, "{v}");
        assert!(v.to_string().contains(want), "{v}");
    }
    // redirect_stderr_to_stdout: one stream, in the order written.
    let v = run(
        &server,
        "&fields=stdout,stderr,redirect_stderr_to_stdout",
        json!({
            "language_id": 71,
            "source_code": "import sys\nprint('out', flush=True)\nprint('err', file=sys.stderr, flush=True)\nprint('out2', flush=True)",
            "redirect_stderr_to_stdout": true
        }),
    );
    assert_eq!(v["stdout"], "out\nerr\nout2\n", "{v}");
    assert!(v["stderr"].is_null(), "{v}");
    assert_eq!(v["redirect_stderr_to_stdout"], true);
}
