//! An exec's paths are resolved as the box user, inside the box.

use super::*;

fn with_cwd(argv: &[&str], cwd: &str) -> ExecSpec {
    let mut s = spec(argv, small());
    s.cwd = cwd.into();
    s
}

async fn refused(b: &SandboxBox, s: ExecSpec, what: &str) -> String {
    match b.exec(s).await {
        Err(SandboxError::Rejected(m)) => m,
        Ok(o) => panic!(
            "{what} ran: exit {:?}, stdout {:?}, stderr {:?}",
            o.exit_code,
            text(&o.stdout),
            text(&o.stderr)
        ),
        Err(e) => panic!("{what}: unexpected error {e}"),
    }
}

#[tokio::test]
async fn proc_paths_as_cwd_or_program_are_refused() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    for n in 0..8 {
        let cwd = format!("/proc/self/fd/{n}");
        let m = refused(
            &b,
            with_cwd(&["/bin/sh", "-c", "touch /kiln-escaped-fd; pwd"], &cwd),
            &cwd,
        )
        .await;
        assert!(m.contains("/proc"), "{cwd}: {m}");
    }
    for cwd in [
        "/proc/1/root",
        "/proc/1/cwd",
        "/proc/self/root",
        "/proc",
        "/box/../proc/1/root",
    ] {
        let m = refused(
            &b,
            with_cwd(&["/bin/sh", "-c", "touch kiln-escaped-cwd; pwd"], cwd),
            cwd,
        )
        .await;
        assert!(m.contains("/proc"), "{cwd}: {m}");
    }
    for prog in [
        "/proc/self/exe",
        "/proc/1/exe",
        "/proc/self/root/bin/sh",
        "/box/../proc/self/exe",
    ] {
        let m = refused(&b, spec(&[prog, "__box"], small()), prog).await;
        assert!(m.contains("/proc"), "{prog}: {m}");
    }
    assert!(!std::path::Path::new("/kiln-escaped-fd").exists());
    assert!(!std::path::Path::new("/kiln-escaped-cwd").exists());
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn symlinks_planted_in_the_box_do_not_lead_to_proc() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let o = sh(&b, "ln -s /proc/1/root r; ln -s /proc/self/exe x; ln -s /proc/self/exe sh; ln -s /proc/self/cwd c; ln -s /proc/self p; mkdir d; ln -s ../x d/y", small()).await;
    assert_eq!(o.exit_code, Some(0), "{}", text(&o.stderr));
    for cwd in ["/box/r", "/box/c", "/box/p", "/box/p/root"] {
        refused(
            &b,
            with_cwd(&["/bin/sh", "-c", "touch kiln-escaped-link; pwd"], cwd),
            cwd,
        )
        .await;
    }
    for prog in ["/box/x", "./x", "x", "d/y", "./p/exe"] {
        let mut s = spec(&[prog], small());
        s.env = vec!["PATH=/box:/usr/bin:/bin".into()];
        let m = refused(&b, s, prog).await;
        assert!(!m.contains("sandbox helper"), "{prog}: {m}");
    }
    // `sh` found in PATH at /box/sh (a link to /proc/self/exe) is refused too.
    let mut s = spec(&["sh", "-c", "echo ran"], small());
    s.env = vec!["PATH=/box:/usr/bin:/bin".into()];
    let m = refused(&b, s, "sh in PATH").await;
    assert!(
        m.contains("/proc") || m.contains("ELOOP") || m.contains("not found"),
        "{m}"
    );
    assert!(!std::path::Path::new("/kiln-escaped-link").exists());
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn scripts_and_path_lookup_still_work_after_resolution_in_the_box() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    b.write_file("s.sh", b"#!/bin/sh -e\necho \"$0 $1\"\n", 0o755)
        .await
        .unwrap();
    b.write_file("e.sh", b"#!/usr/bin/env sh\necho env-ok \"$@\"\n", 0o755)
        .await
        .unwrap();
    b.write_file("sub/t.sh", b"#!/bin/sh\npwd\n", 0o755)
        .await
        .unwrap();
    let o = b.exec(spec(&["./s.sh", "a"], small())).await.unwrap();
    assert_eq!(text(&o.stdout), "./s.sh a\n", "{}", text(&o.stderr));
    let o = b.exec(spec(&["./e.sh", "b", "c"], small())).await.unwrap();
    assert_eq!(text(&o.stdout), "env-ok b c\n", "{}", text(&o.stderr));
    let mut s = spec(&["s.sh", "d"], small());
    s.env = vec!["PATH=/box:/usr/bin:/bin".into()];
    let o = b.exec(s).await.unwrap();
    assert_eq!(text(&o.stdout), "/box/s.sh d\n", "{}", text(&o.stderr));
    let o = b.exec(with_cwd(&["./t.sh"], "/box/sub")).await.unwrap();
    assert_eq!(text(&o.stdout), "/box/sub\n", "{}", text(&o.stderr));
    let o = b
        .exec(with_cwd(&["../s.sh", "e"], "/box/sub"))
        .await
        .unwrap();
    assert_eq!(text(&o.stdout), "../s.sh e\n", "{}", text(&o.stderr));
    // A directory the box user may not enter is refused as the box user.
    let m = refused(&b, with_cwd(&["/bin/pwd"], "/root"), "cwd /root").await;
    assert!(m.contains("working directory"), "{m}");
    b.destroy().await;
}
