//! The Piston API v2 dialect of the real `kiln serve` with real languages:
//! limits as Piston reports them, and the `/api/v2/connect` WebSocket's
//! events for an interpreted and a compiled runtime (the close codes are
//! tested in crates/server/tests/server/piston.rs; the real Piston clients
//! run in scripts/client-piston.sh).

#[path = "serve_common.rs"]
mod common;

use serde_json::{json, Value};

use common::{Server, WebSocket};

fn execute(server: &Server, body: Value) -> Value {
    let (code, v) = server.request("POST", "/api/v2/execute", Some(&body));
    assert_eq!(code, 200, "{v}");
    v
}

#[test]
fn limits_read_as_piston_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);
    let v = execute(
        &server,
        json!({"language": "python3", "version": "3.x", "files": [{"content": "while True:\n    pass\n"}],
               "run_timeout": 3000, "run_cpu_time": 500}),
    );
    assert_eq!(v["language"], "python");
    let run = &v["run"];
    assert_eq!(
        (&run["status"], &run["signal"], &run["code"]),
        (&json!("TO"), &json!("SIGKILL"), &Value::Null),
        "{v}"
    );

    let v = execute(
        &server,
        json!({"language": "py", "version": "*", "files": [{"content": "x = bytearray(256 << 20)\nprint(len(x))\n"}],
               "run_memory_limit": 64 << 20}),
    );
    let run = &v["run"];
    assert_eq!(run["stdout"], "", "{v}");
    assert_eq!(run["signal"], "SIGKILL", "{v}");
    assert!(
        run["memory"].as_u64().unwrap() <= 70 << 20,
        "memory is bytes, within the limit: {v}"
    );

    // Piston allows sub-directories; Kiln's validator does not.
    let (code, v) = server.request(
        "POST",
        "/api/v2/execute",
        Some(&json!({"language": "python", "version": "*", "files": [{"name": "pkg/main.py", "content": "print(1)"}]})),
    );
    assert_eq!(code, 400);
    assert!(
        v["message"].as_str().unwrap().contains("pkg/main.py"),
        "{v}"
    );
}

#[test]
fn connect_streams_an_interactive_python_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let mut ws = WebSocket::connect(&server.addr, "/api/v2/connect");
    let source = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\n";
    ws.send(&json!({"type": "init", "language": "python", "version": "*", "files": [{"content": source}]}));
    let runtime = ws.recv().unwrap();
    assert_eq!(
        (&runtime["type"], &runtime["language"]),
        (&json!("runtime"), &json!("python")),
        "{runtime}"
    );
    assert_eq!(ws.recv().unwrap(), json!({"type": "stage", "stage": "run"}));
    ws.send(&json!({"type": "data", "stream": "stdin", "data": "one\n"}));
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "data", "stream": "stdout", "data": "got one\n"})
    );
    ws.send(&json!({"type": "data", "stream": "stdin", "data": "two\n"}));
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "data", "stream": "stdout", "data": "got two\n"})
    );
    // Piston has no EOF: a program that reads to the end is stopped by a signal.
    ws.send(&json!({"type": "signal", "signal": "SIGKILL"}));
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "exit", "stage": "run", "code": null, "signal": "SIGKILL"})
    );
    assert!(
        ws.recv().is_none(),
        "the server closes after the exit (4999)"
    );
}

#[test]
fn connect_compiles_then_runs_c() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let mut ws = WebSocket::connect(&server.addr, "/api/v2/connect");
    ws.send(&json!({"type": "init", "language": "gcc", "version": "*",
                    "files": [{"content": "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 2; }\n"}]}));
    assert_eq!(ws.recv().unwrap()["language"], "c");
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "stage", "stage": "compile"})
    );
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "exit", "stage": "compile", "code": 0, "signal": null})
    );
    assert_eq!(ws.recv().unwrap(), json!({"type": "stage", "stage": "run"}));
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "data", "stream": "stdout", "data": "hi\n"})
    );
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "exit", "stage": "run", "code": 2, "signal": null})
    );
    assert!(ws.recv().is_none());

    let mut ws = WebSocket::connect(&server.addr, "/api/v2/connect");
    ws.send(&json!({"type": "init", "language": "c", "version": "*", "files": [{"content": "int main(void) { return nope; }\n"}]}));
    assert_eq!(ws.recv().unwrap()["type"], "runtime");
    assert_eq!(
        ws.recv().unwrap(),
        json!({"type": "stage", "stage": "compile"})
    );
    let data = ws.recv().unwrap();
    assert_eq!(
        (&data["type"], &data["stream"]),
        (&json!("data"), &json!("stderr")),
        "{data}"
    );
    assert!(data["data"].as_str().unwrap().contains("nope"), "{data}");
    let exit = ws.recv().unwrap();
    assert_eq!(
        (&exit["type"], &exit["stage"]),
        (&json!("exit"), &json!("compile")),
        "{exit}"
    );
    assert_ne!(exit["code"], 0, "{exit}");
    assert!(ws.recv().is_none());
}

#[test]
fn a_client_that_stops_reading_does_not_hold_the_slot_past_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    // Writes without end; this client never reads a message.
    let mut stalled = WebSocket::connect(&server.addr, "/api/v2/connect");
    stalled.send(&json!({"type": "init", "language": "python", "version": "*", "run_timeout": 2000,
                         "files": [{"content": "while True:\n    print('x' * 4096, flush=True)\n"}]}));
    // The run's wall limit holds: the one slot is free again well within
    // the limit plus the stall deadline, while the stalled client is still connected.
    let start = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let mut ws = WebSocket::connect(&server.addr, "/api/v2/connect");
        ws.send(&json!({"type": "init", "language": "python", "version": "*", "files": [{"content": "print('free')"}]}));
        let first = ws.recv().unwrap();
        if first["type"] == "runtime" {
            break;
        }
        assert_eq!(first["type"], "error", "{first}");
        assert!(
            start.elapsed().as_secs() < 30,
            "the slot was not freed: {first}"
        );
    }
    drop(stalled);
}

#[test]
fn compile_limits_of_the_request_hold() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);
    let cpp = "#include <iostream>\nint main(){std::cout << \"ok\" << std::endl;}\n";
    // 30 ms of wall time cannot compile C++: the compile stage stops, no run.
    let v = execute(
        &server,
        json!({"language": "c++", "version": "*", "files": [{"content": cpp}], "compile_timeout": 30}),
    );
    let compile = &v["compile"];
    assert_ne!(compile["code"], 0, "{v}");
    assert!(
        compile["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("wall-clock")
            || compile["message"]
                .as_str()
                .unwrap_or("")
                .contains("wall-clock")
            || compile["status"] == "TO",
        "the compile's wall-clock limit must be what stopped it: {v}"
    );
    assert!(v["run"].is_null() || v["run"]["stdout"] == "", "{v}");
    // Generous compile limits change nothing.
    let v = execute(
        &server,
        json!({"language": "c++", "version": "*", "files": [{"content": cpp}],
               "compile_timeout": 60000, "compile_memory_limit": 512 << 20}),
    );
    assert_eq!(v["run"]["stdout"], "ok\n", "{v}");
}
