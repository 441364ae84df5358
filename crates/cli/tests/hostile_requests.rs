//! Hostile requests against the real `kiln serve` (issue 11): what the
//! validator lets through must run and end within its limits; what it refuses
//! gets a 4xx naming the field, and nothing of it runs.

#[path = "serve_common.rs"]
mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::Server;

fn wait(server: &Server, body: &Value) -> (u16, Value) {
    server.request("POST", "/api/v1/submissions?wait=true", Some(body))
}

/// Item 7: files named `-wrapper` and `sh,-c,…;.c` once made gcc run user
/// code during compilation, outside the run limits. Names that read as
/// options are refused; names that merely contain option-like text are data.
#[test]
fn file_names_are_data_never_options() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let main = "int main(void){return 0;}\n";
    let attack = json!({ "language": "c", "files": [
        { "name": "main.c", "content": main },
        { "name": "-wrapper", "content": "" },
        { "name": "sh,-c,while :; do :; done;.c", "content": "" },
    ], "limits": { "cpu_time_ms": 500 } });
    let (code, v) = wait(&server, &attack);
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("files[1].name"),
        "{v}"
    );
    for name in ["@opts", "-o", "a\u{1b}[2J.c", "x\n.c"] {
        let body = json!({ "language": "c", "files": [{ "name": "main.c", "content": main }, { "name": name, "content": "" }] });
        let (code, v) = wait(&server, &body);
        assert_eq!(code, 400, "{name:?}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("files[1].name"),
            "{v}"
        );
    }
    // A name with commas and a shell command in it is a file like any other:
    // it is compiled as `./name`, and the compile stays within its limits.
    let helper = "int helper(void){return 7;}\n";
    let body = json!({ "language": "c", "files": [
        { "name": "main.c", "content": "int helper(void);\n#include <stdio.h>\nint main(void){printf(\"%d\\n\", helper());return 0;}\n" },
        { "name": "sh,-c,sleep 5;.c", "content": helper },
    ], "limits": { "cpu_time_ms": 500 } });
    let (code, v) = wait(&server, &body);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "7\n", "{v}");
}

/// Item 4: the largest arguments validation allows reach the program and the
/// submission ends; more than that is a 400 naming `args`, never a stuck job.
#[test]
fn the_largest_args_validation_allows_run_and_more_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let src = "import sys\na = sys.argv[1:]\nprint(len(a), sum(len(x) for x in a))\n";
    // 64 arguments of 128 control bytes: 8 KiB that JSON escapes six-fold.
    let args: Vec<String> = (0..64).map(|_| "\u{1}".repeat(128)).collect();
    let body = json!({ "language": "python", "source": src, "args": args });
    let (code, v) = wait(&server, &body);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "64 8192\n", "{v}");
    // The request that once wedged a worker: 40 × 4000 bytes.
    let args: Vec<String> = (0..40).map(|_| "a".repeat(4000)).collect();
    let body = json!({ "language": "python", "source": src, "args": args });
    let (code, v) = wait(&server, &body);
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("args"),
        "{v}"
    );
    // The worker is still there.
    let id = server.submit(&json!({ "language": "python", "source": "print(1)" }));
    let v = server.result(&id, Duration::from_secs(60));
    assert_eq!(v["status"], "accepted", "{v}");
}
