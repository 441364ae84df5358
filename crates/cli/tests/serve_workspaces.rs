//! Workspaces through the real `kiln serve` binary on 127.0.0.1:0: lifecycle
//! with timings, exec, files (symlinks refused), persistence across
//! stop/start and a server restart, quotas and capacity, the reconnecting
//! terminal, the idle reaper, and isolation between workspaces.
//! Each test gives its server its own workspace uid range (tests run at once).

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use std::time::{Duration, Instant};

use common::{request_raw, WebSocket};
use helpers::{create, exec, get, put, read_until, sh, start, wait_status};
use serde_json::{json, Value};

#[test]
fn lifecycle_exec_files_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), 110_000, "", &[]);
    let id = create(&s, "dev-1");
    let w = wait_status(&s, &id, "running");
    assert_eq!(w["agent"]["status"], "connected", "{w}");
    let steps: Vec<&str> = w["build"]["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["allocate", "home", "sandbox", "agent"]);
    assert!(
        w["build"]["duration_ms"].is_u64() && w["build"]["finished_at"].is_string(),
        "{w}"
    );
    let uid = w["uid"].as_u64().unwrap();

    // exec: output, exit code, stdin, argv form, timeout.
    let v = sh(&s, &id, "echo out; echo err >&2; exit 3");
    assert_eq!(
        (
            v["stdout"].as_str(),
            v["stderr"].as_str(),
            v["exit_code"].as_i64()
        ),
        (Some("out\n"), Some("err\n"), Some(3))
    );
    let (_, v) = exec(&s, &id, json!({"command": ["cat"], "stdin": "piped"}));
    assert_eq!(v["stdout"], "piped");
    let (_, v) = exec(&s, &id, json!({"command": "sleep 30", "timeout_ms": 300}));
    assert_eq!(v["timed_out"], true, "{v}");
    let (code, v) = exec(&s, &id, json!({"command": []}));
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("command"),
        "{v}"
    );

    // files: round trip, ownership, missing, outside the home.
    assert_eq!(
        put(&s, &id, "/home/kiln/src/a.txt", b"hello\x00bytes").0,
        204
    );
    assert_eq!(
        get(&s, &id, "/home/kiln/src/a.txt"),
        (200, b"hello\x00bytes".to_vec())
    );
    assert_eq!(
        sh(&s, &id, "stat -c %u src/a.txt")["stdout"],
        format!("{uid}\n")
    );
    assert_eq!(get(&s, &id, "/home/kiln/missing").0, 404);
    assert_eq!(get(&s, &id, "/etc/passwd").0, 400);

    // A symlink planted inside is never followed by the host side.
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    sh(
        &s,
        &id,
        &format!(
            "ln -s {p} link; ln -s {d} dirlink; ln -s /etc/passwd plink",
            p = secret.display(),
            d = dir.path().display()
        ),
    );
    assert_eq!(get(&s, &id, "/home/kiln/link").0, 400);
    assert_eq!(get(&s, &id, "/home/kiln/plink").0, 400);
    assert_eq!(put(&s, &id, "/home/kiln/link", b"pwned").0, 400);
    assert_eq!(put(&s, &id, "/home/kiln/dirlink/new.txt", b"pwned").0, 400);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret");
    assert!(!dir.path().join("new.txt").exists());

    // stop keeps the home; exec is refused while stopped; start brings it back.
    let (code, v) = s.request("POST", &format!("/api/v1/workspaces/{id}/stop"), None);
    assert_eq!(code, 202, "{v}");
    wait_status(&s, &id, "stopped");
    assert_eq!(exec(&s, &id, json!({"command": "true"})).0, 409);
    assert_eq!(
        s.request("POST", &format!("/api/v1/workspaces/{id}/stop"), None)
            .0,
        409
    );
    assert_eq!(
        s.request("POST", &format!("/api/v1/workspaces/{id}/start"), None)
            .0,
        202
    );
    let w = wait_status(&s, &id, "running");
    assert_eq!(w["uid"].as_u64(), Some(uid), "a workspace keeps its uid");
    assert_eq!(get(&s, &id, "/home/kiln/src/a.txt").1, b"hello\x00bytes");

    // A restarted server starts the running workspace again (pod-swdev
    // says autostart), home intact.
    s.kill9();
    s = start(dir.path(), 110_000, "", &[]);
    let w = wait_status(&s, &id, "running");
    assert_eq!(w["agent"]["status"], "connected");
    assert_eq!(
        sh(&s, &id, "cat src/a.txt; id -u")["stdout"],
        format!("hello\0bytes{uid}\n")
    );

    // delete removes the record and the home (and follows no link while at
    // it); the home is its own filesystem, mounted at `<id>/disk`.
    let ws_dir = dir.path().join("data/workspaces").join(&id);
    let home = ws_dir.join("disk/home");
    assert!(home.join("src/a.txt").exists());
    assert_eq!(
        s.request("DELETE", &format!("/api/v1/workspaces/{id}"), None)
            .0,
        202
    );
    let start_wait = Instant::now();
    while s
        .request("GET", &format!("/api/v1/workspaces/{id}"), None)
        .0
        != 404
    {
        assert!(
            start_wait.elapsed() < Duration::from_secs(60),
            "never deleted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!home.exists() && !ws_dir.exists());
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret");
    let (_, v) = s.request("GET", "/api/v1/workspaces", None);
    assert_eq!(v["workspaces"], json!([]));
}

#[test]
fn bad_requests_quotas_capacity_and_owners() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        dir.path(),
        110_200,
        "max_per_owner = 2\nmax_workspaces = 2\n",
        &["--api-keys", "key-one,key-two"],
    );
    let as_key = |key: &str, method: &str, path: &str, body: Option<Value>| -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (code, raw) = keyed(&s.addr, key, method, path, body.as_bytes());
        (code, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    };
    let (code, v) = as_key("key-one", "GET", "/api/v1/templates", None);
    assert_eq!(code, 200);
    let names: Vec<&str> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ec2-datasci", "pod-swdev"]);
    assert_eq!(v["templates"][1]["memory_mb"], 2048);
    assert_eq!(v["templates"][1]["network"], false);

    let make = |key: &str, name: &str, template: &str| {
        as_key(
            key,
            "POST",
            "/api/v1/workspaces",
            Some(json!({"name": name, "template": template})),
        )
    };
    let (code, v) = make("key-one", "x", "no-such-template");
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (400, Some("invalid_field")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("template"),
        "{v}"
    );
    let (code, v) = make("key-one", "Bad_Name", "pod-swdev");
    assert_eq!(code, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("name"),
        "{v}"
    );
    let (code, v) = as_key(
        "key-one",
        "POST",
        "/api/v1/workspaces",
        Some(json!({"name": "p", "template": "pod-swdev", "parameters": {"nope": "1"}})),
    );
    assert_eq!(code, 400, "{v}");
    let (code, a) = make("key-one", "ws-a", "pod-swdev");
    assert_eq!(code, 201, "{a}");
    assert_eq!(make("key-one", "ws-a", "pod-swdev").0, 409);
    assert_eq!(make("key-one", "ws-b", "ec2-datasci").0, 201);
    let (code, v) = make("key-one", "ws-c", "pod-swdev");
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (403, Some("quota_exceeded")),
        "{v}"
    );
    let (code, v) = make("key-two", "ws-a", "pod-swdev");
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (503, Some("at_capacity")),
        "{v}"
    );

    // Owners see only their own workspaces.
    let id = a["id"].as_str().unwrap();
    assert_eq!(
        as_key("key-two", "GET", &format!("/api/v1/workspaces/{id}"), None).0,
        404
    );
    assert_eq!(
        as_key(
            "key-two",
            "POST",
            &format!("/api/v1/workspaces/{id}/exec"),
            Some(json!({"command": "id"}))
        )
        .0,
        404
    );
    let (_, v) = as_key("key-two", "GET", "/api/v1/workspaces", None);
    assert_eq!(v["workspaces"], json!([]));
    let (_, v) = as_key("key-one", "GET", "/api/v1/workspaces?name_prefix=ws-", None);
    assert_eq!(v["workspaces"].as_array().unwrap().len(), 2);
    assert_eq!(
        as_key("key-one", "GET", "/api/v1/workspaces?status=bogus", None).0,
        400
    );
    assert_eq!(
        as_key("key-one", "GET", "/api/v1/workspaces/not-a-uuid", None).0,
        404
    );
    assert_eq!(
        keyed(&s.addr, "wrong", "GET", "/api/v1/workspaces", b"").0,
        401
    );
}

fn keyed(addr: &str, key: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    c.write_all(body).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let code = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    (code, raw[split + 4..].to_vec())
}

/// Reads terminal output until `needle` appears; returns all of it.
#[test]
fn pty_echo_resize_and_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 110_400, "", &[]);
    let id = create(&s, "term");
    wait_status(&s, &id, "running");
    let path = format!("/api/v1/workspaces/{id}/pty?width=80&height=24&reconnect=0d3c7a52-1b7e-4a57-9d0c-5f0b3f1e2a11");
    let mut ws = WebSocket::connect(&s.addr, &path);
    ws.send(&json!({"data": "X=kept-$((6*7)); echo mark-$((40+2))\r"}));
    read_until(&mut ws, "mark-42");
    ws.send(&json!({"data": "stty size\r"}));
    read_until(&mut ws, "24 80");
    // The template's disk_mb (1024 MiB) caps file sizes in the terminal too (1 KiB blocks).
    ws.send(&json!({"data": "ulimit -f\r"}));
    read_until(&mut ws, "1048576");
    // The terminal belongs to the workspace's user: it can be reopened.
    ws.send(&json!({"data": "dd if=/dev/stdin of=/dev/null count=0 && test -w /dev/tty && echo reopen-$((40+2))\r"}));
    read_until(&mut ws, "reopen-42");
    ws.send(&json!({"height": 40, "width": 120}));
    ws.send_frame(0x2, json!({"data": "stty size\r"}).to_string().as_bytes());
    read_until(&mut ws, "40 120");
    drop(ws);

    // Same reconnect id: the recent output first, then the same shell.
    let mut ws = WebSocket::connect(&s.addr, &path);
    let replay = read_until(&mut ws, "40 120");
    assert!(replay.contains("mark-42"), "{replay}");
    ws.send(&json!({"data": "echo \"got:$X\"\r"}));
    read_until(&mut ws, "got:kept-42");
    drop(ws);

    // Another id is another shell.
    let mut other = WebSocket::connect(
        &s.addr,
        &format!("/api/v1/workspaces/{id}/pty?reconnect=another"),
    );
    other.send(&json!({"data": "echo \"other:[$X]\"\r"}));
    read_until(&mut other, "other:[]");
    // A program given as `command` runs instead of the shell; its exit closes the socket.
    let mut cmd = WebSocket::connect(
        &s.addr,
        &format!("/api/v1/workspaces/{id}/pty?command=echo%20one-shot"),
    );
    read_until(&mut cmd, "one-shot");
    while cmd.recv_frame().is_some() {}
}

#[test]
fn idle_workspaces_stop() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 110_600, "idle_timeout_secs = 1\n", &[]);
    let id = create(&s, "idle");
    wait_status(&s, &id, "running");
    let w = wait_status(&s, &id, "stopped");
    assert_eq!(w["agent"]["status"], "disconnected");
    let (_, m) = request_raw(&s.addr, "GET", "/metrics", b"");
    let m = String::from_utf8_lossy(&m);
    assert!(m.contains("kiln_workspaces{status=\"stopped\"} 1"), "{m}");
    assert!(m.contains("kiln_workspace_build_seconds_bucket"), "{m}");
}

#[test]
fn workspaces_cannot_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 110_800, "", &[]);
    let a = create(&s, "alice");
    let b = create(&s, "bob");
    wait_status(&s, &a, "running");
    wait_status(&s, &b, "running");
    assert_eq!(put(&s, &a, "/home/kiln/private.txt", b"alice only").0, 204);
    sh(&s, &a, "sleep 300 > /dev/null 2>&1 &");
    assert_eq!(
        sh(&s, &a, "pgrep -c sleep")["stdout"],
        "1\n",
        "alice's background sleep runs"
    );
    let v = sh(&s, &b, "ls -a /home/kiln; ls /home; ps -eo comm | grep -c sleep; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'sleep 3[0]0'");
    let out = v["stdout"].as_str().unwrap();
    assert!(!out.contains("private.txt"), "{out}");
    assert_eq!(
        out.lines().filter(|l| *l == "0").count(),
        2,
        "bob sees no process of alice: {out}"
    );
    assert_eq!(get(&s, &b, "/home/kiln/private.txt").0, 404);
    let ids = sh(&s, &b, "id -u")["stdout"]
        .as_str()
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    let ida = sh(&s, &a, "id -u")["stdout"]
        .as_str()
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    assert_ne!(ids, ida, "each workspace has its own uid");
}
