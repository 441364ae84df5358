//! The interactive WebSocket run of the real `kiln serve`: stdin goes in as
//! the client sends it, output comes back as the program writes it.

#[path = "serve_common.rs"]
mod common;

use serde_json::json;

use common::{Server, WebSocket};

#[test]
fn interactive_python_echoes_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let mut ws = WebSocket::connect(&server.addr, "/api/v1/run/ws");
    let source = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\nprint('bye', file=sys.stderr)\n";
    ws.send(&json!({ "language": "python", "source": source }));
    ws.send(&json!({ "stdin": "one\n" }));
    assert_eq!(
        ws.recv().unwrap(),
        json!({ "type": "stdout", "data": "got one\n" })
    );
    ws.send(&json!({ "stdin": "two\n" }));
    assert_eq!(
        ws.recv().unwrap(),
        json!({ "type": "stdout", "data": "got two\n" })
    );
    ws.send(&json!({ "eof": true }));
    assert_eq!(
        ws.recv().unwrap(),
        json!({ "type": "stderr", "data": "bye\n" })
    );
    let result = ws.recv().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "accepted", "{result}");
    assert_eq!(result["stdout"], "got one\ngot two\n");
    assert!(ws.recv().is_none(), "the server closes after the result");
}

#[test]
fn a_bad_first_message_gets_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let mut ws = WebSocket::connect(&server.addr, "/api/v1/run/ws");
    ws.send(&json!({ "language": "klingon", "source": "x" }));
    let v = ws.recv().unwrap();
    assert_eq!(v["type"], "error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("python"),
        "{v}"
    );
}
