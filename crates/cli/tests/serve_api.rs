//! `kiln serve` end to end: the real binary, the real sandbox, real programs.

#[path = "serve_common.rs"]
mod common;

use std::time::Duration;

use serde_json::json;

use common::Server;

fn wait(server: &Server, body: serde_json::Value) -> serde_json::Value {
    let (code, v) = server.request("POST", "/api/v1/submissions?wait=true", Some(&body));
    assert_eq!(code, 200, "{v}");
    v
}

#[test]
fn real_programs_get_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);

    let (code, health) = server.request("GET", "/health", None);
    assert_eq!(code, 200, "{health}");
    // This machine allows user namespaces and Kiln runs as root here.
    assert_eq!(health["sandbox"]["user_namespaces"], true, "{health}");
    assert_eq!(health["sandbox"]["rootless"], false, "{health}");
    assert!(health["sandbox"]["cgroup_version"].is_string(), "{health}");

    let v = wait(
        &server,
        json!({ "language": "python", "source": "print('hello, world')" }),
    );
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "hello, world\n");
    assert!(
        v["queue_wait_ms"].is_u64() && v["memory_kb"].as_u64().unwrap() > 0,
        "{v}"
    );

    let c = "#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);return 0;}\n";
    let v = wait(
        &server,
        json!({ "language": "c", "source": c, "stdin": "2 40", "expected_output": "42" }),
    );
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(v["stdout"], "42\n");

    let v = wait(
        &server,
        json!({ "language": "python", "source": "print(int(input()) * 2)", "stdin": "2", "expected_output": "5" }),
    );
    assert_eq!(v["status"], "wrong_answer", "{v}");

    let v = wait(
        &server,
        json!({ "language": "c", "source": "int main(void) { return oops; }" }),
    );
    assert_eq!(v["status"], "compilation_error", "{v}");
    assert!(
        v["compile_output"].as_str().unwrap().contains("oops"),
        "{v}"
    );

    let v = wait(
        &server,
        json!({ "language": "python", "source": "raise SystemExit(3)" }),
    );
    assert_eq!(v["status"], "runtime_error", "{v}");
    assert_eq!(v["exit_code"], 3);

    let v = wait(
        &server,
        json!({
            "language": "python",
            "source": "print(sum(map(int, input().split())))",
            "tests": [
                { "stdin": "1 2", "expected_output": "3" },
                { "stdin": "2 2", "expected_output": "5" },
                { "stdin": "5 5", "expected_output": "10" }
            ]
        }),
    );
    assert_eq!(v["status"], "wrong_answer", "{v}");
    let verdicts: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["accepted", "wrong_answer", "accepted"]);

    // Asynchronous form, then GET; and the batch forms.
    let id = server.submit(&json!({ "language": "javascript", "source": "console.log(6*7)" }));
    assert_eq!(
        server.result(&id, Duration::from_secs(60))["stdout"],
        "42\n"
    );
    let (code, v) = server.request("POST", "/api/v1/submissions/batch", Some(&json!({ "submissions": [
        { "language": "python", "source": "print(1)" }, { "language": "python", "source": "print(2)" }
    ] })));
    assert_eq!(code, 202, "{v}");
    let ids: Vec<&str> = v["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        server.result(id, Duration::from_secs(60));
    }
    let (code, v) = server.request(
        "GET",
        &format!("/api/v1/submissions/batch?ids={}", ids.join(",")),
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(v["submissions"][1]["stdout"], "2\n");

    let (code, v) = server.request(
        "POST",
        "/api/v1/submissions",
        Some(&json!({ "language": "klingon", "source": "x" })),
    );
    assert_eq!(code, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("python"),
        "{v}"
    );

    let (code, metrics) = server.request("GET", "/metrics", None);
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("code_execution_job_duration_seconds_bucket{language=\"c\",status=\"compilation_error\""), "{metrics}");
}
