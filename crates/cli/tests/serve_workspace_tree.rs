//! The files API a file tree needs, through the real `kiln serve` over a
//! socket: list a directory, make one, rename, remove (a symlink itself,
//! never its target), and tar archives of a directory both ways (links and
//! `..` refused on upload, left out on download).

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use std::path::Path;
use std::process::Command;

use common::{request_raw, Server};
use helpers::{create, put, sh, start, wait_status};
use serde_json::{json, Value};

fn call(s: &Server, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    request_raw(&s.addr, method, path, body)
}

fn names(s: &Server, id: &str, dir: &str) -> Vec<(String, String, u64)> {
    let (code, body) = call(
        s,
        "GET",
        &format!("/api/v1/workspaces/{id}/files/list?path={dir}"),
        b"",
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code, 200, "{v}");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn list_mkdir_rename_and_remove_never_follow_links() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 113_000, "", &[]);
    let id = create(&s, "tree");
    wait_status(&s, &id, "running");
    let ws = format!("/api/v1/workspaces/{id}");
    let (code, _) = call(
        &s,
        "POST",
        &format!("{ws}/files/mkdir?path=/home/kiln/src/a&parents=true"),
        b"",
    );
    assert_eq!(code, 201);
    let (code, body) = call(
        &s,
        "POST",
        &format!("{ws}/files/mkdir?path=/home/kiln/src"),
        b"",
    );
    assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));
    assert_eq!(put(&s, &id, "/home/kiln/src/a/x.txt", b"hello").0, 204);
    sh(
        &s,
        &id,
        "ln -s /etc /home/kiln/link; echo secret > /tmp/keep; ln -s /tmp/keep /home/kiln/flink",
    );
    assert_eq!(
        names(&s, &id, "/home/kiln"),
        [
            ("flink".into(), "symlink".into(), 0),
            ("link".into(), "symlink".into(), 0),
            ("src".into(), "dir".into(), 0)
        ]
    );
    assert_eq!(
        names(&s, &id, "/home/kiln/src/a"),
        [("x.txt".into(), "file".into(), 5)]
    );
    // A listing through a link is refused, as is a path outside the home.
    let (code, _) = call(
        &s,
        "GET",
        &format!("{ws}/files/list?path=/home/kiln/link"),
        b"",
    );
    assert_eq!(code, 400);
    let (code, _) = call(&s, "GET", &format!("{ws}/files/list?path=/etc"), b"");
    assert_eq!(code, 400);
    let rename =
        json!({"from": "/home/kiln/src/a/x.txt", "to": "/home/kiln/src/y.txt"}).to_string();
    assert_eq!(
        call(&s, "POST", &format!("{ws}/files/rename"), rename.as_bytes()).0,
        204
    );
    let v = sh(
        &s,
        &id,
        "cat /home/kiln/src/y.txt; ls /home/kiln/src/a | wc -l",
    );
    assert_eq!(v["stdout"], "hello0\n", "{v}");
    // Removing a link removes the link, not what it points to.
    assert_eq!(
        call(
            &s,
            "DELETE",
            &format!("{ws}/files?path=/home/kiln/flink"),
            b""
        )
        .0,
        204
    );
    assert_eq!(sh(&s, &id, "cat /tmp/keep")["stdout"], "secret\n");
    let (code, _) = call(
        &s,
        "DELETE",
        &format!("{ws}/files?path=/home/kiln/src"),
        b"",
    );
    assert_eq!(code, 409, "a directory that is not empty needs recursive");
    let (code, _) = call(
        &s,
        "DELETE",
        &format!("{ws}/files?path=/home/kiln/src&recursive=true"),
        b"",
    );
    assert_eq!(code, 204);
    let (code, _) = call(
        &s,
        "DELETE",
        &format!("{ws}/files?path=/home/kiln/src"),
        b"",
    );
    assert_eq!(code, 404);
    assert_eq!(
        names(&s, &id, "/home/kiln/"),
        [("link".into(), "symlink".into(), 0)]
    );
}

fn tar_of(dir: &Path) -> Vec<u8> {
    let out = Command::new("tar")
        .args(["-C"])
        .arg(dir)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn archives_of_a_directory_go_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 113_100, "", &[]);
    let id = create(&s, "tars");
    wait_status(&s, &id, "running");
    let ws = format!("/api/v1/workspaces/{id}");
    // Upload: a tree made on the host with tar (a long name, an empty file,
    // a file of several parts).
    let src = tempfile::tempdir().unwrap();
    let long = "d".repeat(90) + "/" + &"f".repeat(90);
    std::fs::create_dir_all(src.path().join("d".repeat(90))).unwrap();
    std::fs::write(src.path().join(&long), b"long name").unwrap();
    std::fs::write(src.path().join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.path().join("big.bin"), &big).unwrap();
    let (code, body) = call(
        &s,
        "PUT",
        &format!("{ws}/files/archive?path=/home/kiln/up"),
        &tar_of(src.path()),
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code, 200, "{v}");
    assert_eq!(v, json!({"files": 3, "directories": 1, "bytes": 300_009}));
    let v = sh(
        &s,
        &id,
        &format!(
            "cat /home/kiln/up/{long}; wc -c < /home/kiln/up/big.bin; wc -c < /home/kiln/up/empty"
        ),
    );
    assert_eq!(v["stdout"], "long name300000\n0\n", "{v}");
    // Download: the same tree comes back (a link planted inside is left out).
    sh(&s, &id, "ln -s /etc /home/kiln/up/etc-link");
    let (code, tar) = call(
        &s,
        "GET",
        &format!("{ws}/files/archive?path=/home/kiln/up"),
        b"",
    );
    assert_eq!(code, 200);
    let back = tempfile::tempdir().unwrap();
    let mut child = Command::new("tar")
        .arg("-C")
        .arg(back.path())
        .args(["-xf", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &tar).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(back.path().join("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(back.path().join(&long)).unwrap(),
        b"long name"
    );
    assert!(back.path().join("empty").is_file());
    assert!(!back.path().join("etc-link").exists());
    // Not a directory: refused before any byte is sent.
    let (code, _) = call(
        &s,
        "GET",
        &format!("{ws}/files/archive?path=/home/kiln/up/big.bin"),
        b"",
    );
    assert_eq!(code, 400);
}

/// A tar made by Python's tarfile with one entry of the given type and name.
fn hostile_tar(kind: &str, name: &str) -> Vec<u8> {
    let script = format!(
        "import io, sys, tarfile\nb = io.BytesIO()\nt = tarfile.open(fileobj=b, mode='w', format=tarfile.GNU_FORMAT)\n\
         i = tarfile.TarInfo({name:?})\ni.type = tarfile.{kind}\ni.linkname = '/etc/passwd'\ni.size = 0\nt.addfile(i)\nt.close()\n\
         sys.stdout.buffer.write(b.getvalue())\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn hostile_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 113_200, "", &[]);
    let id = create(&s, "hostile");
    wait_status(&s, &id, "running");
    let at = format!("/api/v1/workspaces/{id}/files/archive?path=/home/kiln/x");
    for (kind, name) in [
        ("SYMTYPE", "link"),
        ("LNKTYPE", "hard"),
        ("CHRTYPE", "dev"),
        ("REGTYPE", "../escape"),
        ("REGTYPE", "/abs"),
    ] {
        let (code, body) = call(&s, "PUT", &at, &hostile_tar(kind, name));
        assert_eq!(
            code,
            400,
            "{kind} {name}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (code, _) = call(&s, "PUT", &at, b"not a tar archive at all");
    assert_eq!(code, 400);
    // Through a planted link: refused, nothing written where it points.
    sh(&s, &id, "mkdir -p /tmp/t && ln -s /tmp/t /home/kiln/via");
    let tar = hostile_tar("REGTYPE", "file");
    let (code, _) = call(
        &s,
        "PUT",
        &format!("/api/v1/workspaces/{id}/files/archive?path=/home/kiln/via"),
        &tar,
    );
    assert_eq!(code, 400);
    assert_eq!(sh(&s, &id, "ls /tmp/t | wc -l")["stdout"], "0\n");
}
