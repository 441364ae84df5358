//! The compile cache in `kiln serve`: results say whether the compile came
//! from the cache, `/metrics` counts hits, misses and bytes, the cache lives
//! in the data directory, and `--compile-cache false` turns it off.

#[path = "serve_common.rs"]
mod common;

use serde_json::{json, Value};

use common::Server;

fn wait(server: &Server, body: &Value) -> Value {
    let (code, v) = server.request("POST", "/api/v1/submissions?wait=true", Some(body));
    assert_eq!(code, 200, "{v}");
    v
}

fn program() -> Value {
    json!({
        "language": "c",
        "source": "#include <stdio.h>\nint main(void){int x;scanf(\"%d\",&x);printf(\"%d\\n\",x*2);}\n",
        "stdin": "21",
    })
}

#[test]
fn results_and_metrics_show_the_compile_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let first = wait(&server, &program());
    assert_eq!(
        (&first["status"], &first["stdout"], &first["compile_cached"]),
        (&json!("accepted"), &json!("42\n"), &json!(false)),
        "{first}"
    );
    let second = wait(&server, &program());
    assert_eq!(
        (
            &second["status"],
            &second["stdout"],
            &second["compile_cached"]
        ),
        (&json!("accepted"), &json!("42\n"), &json!(true)),
        "{second}"
    );
    assert_eq!(second["compile_time_ms"], first["compile_time_ms"]);
    let py = wait(
        &server,
        &json!({"language": "python", "source": "print(1)"}),
    );
    assert_eq!(py["compile_cached"], Value::Null, "{py}");
    assert!(dir.path().join("compile-cache/entries").is_dir());

    let (code, metrics) = server.request("GET", "/metrics", None);
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    for line in [
        "code_execution_compile_cache_hits_total{language=\"c\"} 1",
        "code_execution_compile_cache_misses_total{language=\"c\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    let bytes: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("code_execution_compile_cache_bytes "))
        .expect("the bytes gauge")
        .parse()
        .unwrap();
    assert!(bytes > 1000.0, "{bytes}");
}

#[test]
fn the_cache_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1", "--compile-cache", "false"]);
    for _ in 0..2 {
        let v = wait(&server, &program());
        assert_eq!(
            (&v["stdout"], &v["compile_cached"]),
            (&json!("42\n"), &json!(false)),
            "{v}"
        );
    }
    assert!(!dir.path().join("compile-cache").exists());
}
