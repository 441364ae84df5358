//! Containment, round two (issue 11): no host descriptor reaches a box;
//! an exec's paths are resolved as the box user inside the box; every
//! request to a box is bounded and answered; memory held by no process
//! makes a program, never Kiln's helper or init, the OOM killer's choice;
//! `/proc` shows the box, not the host. Each test checks the host side.

mod common;
use common::*;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use kiln_sandbox::protocol::{self, BoxSetup, Recv, Request, Response, MAX_PACKET};
use kiln_sandbox::{ExecLimits, ExecSpec, LimitHit, SandboxBox, SandboxError};

fn small() -> ExecLimits {
    ExecLimits {
        cpu_ms: 2000,
        wall_ms: 5000,
        memory_bytes: 64 << 20,
        processes: 32,
        output_bytes: 64 << 10,
        ..ExecLimits::default()
    }
}

async fn still_works(b: &SandboxBox) {
    let o = sh(b, "echo alive", ExecLimits::default()).await;
    assert_eq!(text(&o.stdout), "alive\n", "box unusable afterwards: {o:?}");
}

/// Every descriptor target of a host process (`readlink /proc/<pid>/fd/*`).
fn fd_targets(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// The host pid of a box's init (pid 1 in its own namespace).
fn init_pid(b: &SandboxBox) -> i32 {
    for pid in b.host_pids() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let nspid: Vec<&str> = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if nspid.len() == 2 && nspid[1] == "1" {
            return pid;
        }
    }
    panic!("no init among the box's processes {:?}", b.host_pids());
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

// ---- 1. no host descriptor reaches a box -----------------------------------

#[tokio::test]
async fn an_inherited_host_descriptor_reaches_no_process_of_the_box() {
    let secret = tempfile::Builder::new()
        .prefix("kiln-leaked-dir-")
        .tempdir()
        .unwrap();
    let path = std::ffi::CString::new(secret.path().to_str().unwrap()).unwrap();
    // SAFETY: open(2) of a directory, deliberately without O_CLOEXEC (a host
    // library or whoever started Kiln may leave such descriptors).
    let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(raw >= 0);
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    // A program that stays, so its descriptors can be checked from the host.
    let mut bg = spec(
        &[
            "/bin/sh",
            "-c",
            "sleep 30 >/dev/null 2>&1 & ls -l /proc/self/fd/ /proc/[0-9]*/fd/ 2>&1",
        ],
        small(),
    );
    bg.shared_box = true;
    let o = b.exec(bg).await.unwrap();
    let inside = text(&o.stdout);
    let name = secret.path().file_name().unwrap().to_str().unwrap();
    assert!(
        !inside.contains(name),
        "a box process holds the host directory:\n{inside}"
    );
    let pids = b.host_pids();
    assert!(pids.len() >= 3, "helper, init and sleep expected: {pids:?}");
    for pid in &pids {
        let targets = fd_targets(*pid);
        assert!(
            !targets.iter().any(|t| t.contains(name)),
            "box process {pid} holds the host directory: {targets:?}"
        );
    }
    // The only holder on the whole host is this test process.
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid != me {
            assert!(
                !fd_targets(pid).iter().any(|t| t.contains(name)),
                "host process {pid} holds the leaked directory"
            );
        }
    }
    b.destroy().await;
    // SAFETY: closes the descriptor this test opened.
    unsafe { libc::close(raw) };
}

// ---- 2. paths resolved as the box user, inside the box ---------------------

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

// ---- 4. every request is bounded and answered ------------------------------

#[tokio::test]
async fn oversized_requests_fail_at_once_and_the_box_stays_usable() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let t = Instant::now();
    // The issue's example: 40 arguments of 4000 bytes.
    let mut argv = vec!["/bin/echo".to_string()];
    argv.extend((0..40).map(|_| "x".repeat(4000)));
    let e = b
        .exec(ExecSpec::new(argv, vec![PATH.into()], small()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SandboxError::TooLarge {
                kind: "Exec",
                limit: MAX_PACKET,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&MAX_PACKET.to_string()), "{e}");
    let big = "a".repeat(200_000);
    let e = b.write_file(&big, b"x", 0o644).await.unwrap_err();
    assert!(
        matches!(
            e,
            SandboxError::TooLarge {
                kind: "WriteFile",
                ..
            }
        ),
        "{e}"
    );
    let e = b.read_file(&big, 10).await.unwrap_err();
    assert!(
        matches!(
            e,
            SandboxError::TooLarge {
                kind: "ReadFile",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(b.is_alive());
    still_works(&b).await;
    b.destroy().await;
}

/// Starts the helper by hand and talks raw packets to its init.
struct RawBox {
    sock: OwnedFd,
    child: std::process::Child,
    _root: tempfile::TempDir,
    buf: Vec<u8>,
}

impl RawBox {
    fn start() -> RawBox {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (host, inner) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kiln-box"))
            .arg("__box")
            .stdin(std::process::Stdio::from(inner))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let root = tempfile::tempdir().unwrap();
        let binds = kiln_sandbox::SYSTEM_BINDS
            .iter()
            .map(|p| kiln_sandbox::BindSpec {
                host: p.to_string(),
                inside: p.to_string(),
            })
            .collect();
        let setup = BoxSetup {
            root_dir: root.path().display().to_string(),
            uid: 99_431,
            gid: 99_431,
            hostname: "raw".into(),
            cgroup_procs: vec![],
            run_procs: vec![],
            binds,
            tmp_bytes: 1 << 20,
            work_bytes: 1 << 20,
            shm_bytes: 1 << 20,
            files: vec![],
            work_dir: "/box".into(),
            work_host: None,
        };
        protocol::send(host.as_fd(), &setup, &[], &[]).unwrap();
        let mut raw = RawBox {
            sock: host,
            child,
            _root: root,
            buf: vec![0u8; MAX_PACKET],
        };
        assert!(matches!(raw.recv(), Response::Ready));
        raw
    }

    fn recv(&mut self) -> Response {
        let fd = self.sock.as_raw_fd();
        let mut pfd = [nix::poll::PollFd::new(
            self.sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let n = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16)).unwrap();
        assert_eq!(n, 1, "init did not answer within 10 s");
        let _ = fd;
        match protocol::recv::<Response>(self.sock.as_fd(), &mut self.buf) {
            Ok(Recv::Packet(p)) => p.header,
            Ok(Recv::Closed) => panic!("init closed the channel"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Sends bytes as one packet, bypassing the sender's checks.
    fn send_raw(&self, prefix_req: u64, header: &[u8], payload: &[u8]) {
        let mut pkt = prefix_req.to_le_bytes().to_vec();
        pkt.extend_from_slice(&(header.len() as u32).to_le_bytes());
        pkt.extend_from_slice(header);
        pkt.extend_from_slice(payload);
        let iov = [std::io::IoSlice::new(&pkt)];
        nix::sys::socket::sendmsg::<()>(
            self.sock.as_raw_fd(),
            &iov,
            &[],
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
        .unwrap();
    }
}

impl Drop for RawBox {
    fn drop(&mut self) {
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn init_answers_an_oversized_or_malformed_packet_with_its_request_id() {
    let mut raw = RawBox::start();
    let header = serde_json::to_vec(&Request::WriteFile {
        req: 42,
        path: "a".into(),
        mode: 0o644,
        append: false,
    })
    .unwrap();
    raw.send_raw(42, &header, &vec![7u8; MAX_PACKET + 20_000]);
    match raw.recv() {
        Response::Failed { req: 42, message } => {
            assert!(message.contains("larger than"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    raw.send_raw(44, b"{not json", &[]);
    assert!(matches!(raw.recv(), Response::Failed { req: 44, .. }));
    // Init goes on serving.
    protocol::send(
        raw.sock.as_fd(),
        &Request::WriteFile {
            req: 45,
            path: "b".into(),
            mode: 0o644,
            append: false,
        },
        b"ok",
        &[],
    )
    .unwrap();
    assert!(matches!(raw.recv(), Response::Done { req: 45 }));
}

/// A box whose init is stopped: it never answers again.
async fn wedged_box() -> (SandboxBox, Vec<i32>) {
    let sb = sandbox_with(|c| c.request_timeout = Duration::from_secs(1));
    let b = sb.create_box(&[]).await.unwrap();
    still_works(&b).await;
    let pids = b.host_pids();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init_pid(&b)),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    (b, pids)
}

/// After a request went unanswered: the box reads as gone and every one of
/// its processes (helper, stopped init, programs) is dead within a bound.
async fn assert_killed(b: SandboxBox, pids: &[i32], e: SandboxError, took: Duration) {
    assert!(
        matches!(e, SandboxError::Unanswered { .. } | SandboxError::Gone),
        "{e}"
    );
    assert!(took < Duration::from_secs(5), "the request took {took:?}");
    assert!(!b.is_alive());
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "box processes survive: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    b.destroy().await;
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "destroy took {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn an_unanswered_exec_fails_within_the_deadline_and_the_box_is_killed() {
    let (b, pids) = wedged_box().await;
    let t = Instant::now();
    let e = b.exec(spec(&["/bin/true"], small())).await.unwrap_err();
    assert_killed(b, &pids, e, t.elapsed()).await;
}

#[tokio::test]
async fn an_unanswered_write_fails_within_the_deadline_and_the_box_is_killed() {
    let (b, pids) = wedged_box().await;
    let t = Instant::now();
    let e = b.write_file("f", b"data", 0o644).await.unwrap_err();
    assert_killed(b, &pids, e, t.elapsed()).await;
}

#[tokio::test]
async fn an_unanswered_read_fails_within_the_deadline_and_the_box_is_killed() {
    let (b, pids) = wedged_box().await;
    let t = Instant::now();
    let e = b.read_file("f", 100).await.unwrap_err();
    assert_killed(b, &pids, e, t.elapsed()).await;
}

#[tokio::test]
async fn unanswered_kills_and_resizes_fail_within_the_deadline_and_the_box_is_killed() {
    for resize in [false, true] {
        let (b, pids) = wedged_box().await;
        // Fire-and-forget messages wait only for room in the channel: fill it.
        let t = Instant::now();
        let e = loop {
            let r = if resize {
                b.resize(1, 24, 80).await
            } else {
                b.kill_all().await
            };
            if let Err(e) = r {
                break e;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the channel never filled"
            );
        };
        let last = t.elapsed();
        assert_killed(b, &pids, e, Duration::from_secs(1).min(last)).await;
    }
}

// ---- 6. memory held by no process ------------------------------------------

const MEMORY_HOG: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>
static char page[65536];
int main(int argc, char **argv) {
    memset(page, 'x', sizeof page);
    if (!strcmp(argv[1], "alloc")) {
        size_t n = (size_t)atol(argv[2]) << 20;
        char *p = malloc(n);
        if (!p) return 3;
        memset(p, 1, n);
        puts("allocated");
        return 0;
    }
    if (!strcmp(argv[1], "pipes")) {
        for (;;) {
            int fd[2];
            if (pipe2(fd, O_NONBLOCK)) { perror("pipe"); return 2; }
            fcntl(fd[1], F_SETPIPE_SZ, 1 << 20);
            while (write(fd[1], page, sizeof page) > 0) {}
        }
    }
    if (!strcmp(argv[1], "sockets")) {
        for (;;) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)) { perror("socketpair"); return 2; }
            while (write(sv[0], page, sizeof page) > 0) {}
        }
    }
    if (!strcmp(argv[1], "msgs")) {
        struct { long type; char text[8192]; } m;
        m.type = 1;
        memset(m.text, 'x', sizeof m.text);
        for (;;) {
            int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
            if (q < 0) { perror("msgget"); return 2; }
            while (msgsnd(q, &m, sizeof m.text, IPC_NOWAIT) == 0) {}
            if (errno != EAGAIN) { perror("msgsnd"); return 2; }
        }
    }
    return 1;
}
"#;

fn hog_limits() -> ExecLimits {
    ExecLimits {
        memory_bytes: 32 << 20,
        open_files: 16_000,
        cpu_ms: 10_000,
        wall_ms: 20_000,
        ..small()
    }
}

/// Runs one attack; the verdict must be the memory limit, Kiln's helper and
/// init must live on, and the next program must get its whole limit.
async fn memory_attack(b: &SandboxBox, argv: &[&str]) {
    let init = init_pid(b);
    let kiln: Vec<i32> = b.host_pids();
    let o = b
        .exec(spec(argv, hog_limits()))
        .await
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert_eq!(
        o.limit,
        Some(LimitHit::Memory),
        "{argv:?}: {o:?} {}",
        text(&o.stderr)
    );
    assert!(alive(init), "{argv:?}: init was killed");
    for p in &kiln {
        assert!(alive(*p), "{argv:?}: Kiln's process {p} was killed");
    }
    assert!(b.is_alive());
    // Not poisoned: what the attack left behind no longer counts.
    let o = b
        .exec(spec(&["./hog", "alloc", "20"], hog_limits()))
        .await
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        "allocated\n",
        "{argv:?}: the next program did not get its memory: {o:?}"
    );
    assert_eq!(o.limit, None, "{o:?}");
}

/// The memory cgroup path of a host process.
fn memory_cgroup(pid: i32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
            (ctrls.split(',').any(|c| c == "memory") || ctrls.is_empty()).then(|| path.to_string())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn helper_and_init_stay_outside_the_limited_group_programs_inside() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let init = init_pid(&b);
    let mut s = spec(
        &[
            "/bin/sh",
            "-c",
            "sleep 30 >/dev/null 2>&1 & cat /proc/self/cgroup",
        ],
        small(),
    );
    s.shared_box = true;
    let o = b.exec(s).await.unwrap();
    // Inside, a program's cgroup namespace is rooted at its own group.
    for l in text(&o.stdout).lines() {
        assert!(l.ends_with(":/"), "a program sees a cgroup path: {l}");
    }
    let pids = b.host_pids();
    let helper = pids
        .iter()
        .copied()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{init}/stat"))
                .unwrap()
                .rsplit_once(')')
                .unwrap()
                .1
                .split_whitespace()
                .nth(1)
                == Some(&p.to_string())
        })
        .expect("the helper is init's parent");
    for (pid, want) in pids.iter().map(|p| {
        (
            *p,
            if *p == init || *p == helper {
                "/init"
            } else {
                "/run"
            },
        )
    }) {
        let path = memory_cgroup(pid);
        assert!(
            path.ends_with(want),
            "process {pid} is in {path}, not in the box's {want}"
        );
    }
    assert!(pids.len() >= 3, "{pids:?}");
    b.destroy().await;
}

async fn hog_box(shm_bytes: u64) -> SandboxBox {
    let sb = sandbox_with(|c| {
        c.shm_bytes = shm_bytes;
        c.tmp_bytes = 256 << 20;
    });
    let b = sb.create_box(&[]).await.unwrap();
    b.write_file("hog", &compile_c(MEMORY_HOG), 0o755)
        .await
        .unwrap();
    b
}

#[tokio::test]
async fn filling_tmp_and_dev_shm_past_the_memory_limit_is_memory_limit_exceeded() {
    let b = hog_box(256 << 20).await;
    memory_attack(
        &b,
        &[
            "/bin/sh",
            "-c",
            "head -c 200000000 /dev/zero > /tmp/fill; echo done",
        ],
    )
    .await;
    memory_attack(
        &b,
        &[
            "/bin/sh",
            "-c",
            "head -c 200000000 /dev/zero > /dev/shm/fill; echo done",
        ],
    )
    .await;
    let pids = b.host_pids();
    b.destroy().await;
    assert!(
        pids.iter().all(|p| !alive(*p)),
        "box processes outlived destroy"
    );
}

#[tokio::test]
async fn stuffing_pipe_and_socket_buffers_is_memory_limit_exceeded() {
    let b = hog_box(16 << 20).await;
    memory_attack(&b, &["./hog", "pipes"]).await;
    memory_attack(&b, &["./hog", "sockets"]).await;
    b.destroy().await;
}

#[tokio::test]
async fn sysv_message_queues_are_memory_limit_exceeded_and_removed_afterwards() {
    let b = hog_box(16 << 20).await;
    memory_attack(&b, &["./hog", "msgs"]).await;
    let o = sh(&b, "cat /proc/sysvipc/msg | wc -l", small()).await;
    assert_eq!(text(&o.stdout).trim(), "1", "queues left behind: {o:?}");
    b.destroy().await;
}

// ---- 9. /proc shows the box, not the host ----------------------------------

#[tokio::test]
async fn host_views_of_proc_are_masked_and_proc_sys_is_read_only() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let masked = [
        "kcore",
        "kallsyms",
        "keys",
        "key-users",
        "timer_list",
        "sched_debug",
        "sysrq-trigger",
        "config.gz",
        "cmdline",
        "kmsg",
        "interrupts",
        "iomem",
    ];
    for f in masked {
        let o = sh(&b, &format!("cat /proc/{f} 2>/dev/null | wc -c"), small()).await;
        assert_eq!(
            text(&o.stdout).trim(),
            "0",
            "/proc/{f} shows something: {o:?}"
        );
    }
    for d in ["acpi", "asound", "scsi", "driver"] {
        let o = sh(&b, &format!("ls -A /proc/{d} 2>/dev/null | wc -l"), small()).await;
        assert_eq!(
            text(&o.stdout).trim(),
            "0",
            "/proc/{d} lists something: {o:?}"
        );
    }
    // Reading the host's own view from outside the box is unaffected.
    assert!(!std::fs::read_to_string("/proc/cmdline").unwrap().is_empty());
    let mi = text(&sh(&b, "cat /proc/self/mountinfo", small()).await.stdout);
    for d in ["sys", "bus", "fs", "irq"] {
        if std::path::Path::new("/proc").join(d).exists() {
            assert!(
                mi.lines()
                    .any(|l| l.split(' ').nth(4) == Some(&format!("/proc/{d}"))
                        && l.split(' ').nth(5).is_some_and(|o| o.starts_with("ro"))),
                "/proc/{d} is not read-only:\n{mi}"
            );
        }
    }
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let o = sh(&b, "echo pwned > /proc/sys/kernel/hostname; echo pwned > /proc/sysrq-trigger; cat /proc/sys/kernel/hostname", small()).await;
    assert!(
        text(&o.stderr).contains("Read-only file system")
            || text(&o.stderr).contains("Permission denied"),
        "{o:?}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before
    );
    b.destroy().await;
}

#[tokio::test]
async fn mountinfo_names_no_host_path_of_a_toolchain_or_a_home() {
    // Like a rustup toolchain: under /root (mode 700), bound at /opt/tool.
    let tool = tempfile::Builder::new()
        .prefix("kiln-secret-toolchain-")
        .tempdir_in("/root")
        .unwrap();
    std::fs::create_dir(tool.path().join("bin")).unwrap();
    std::fs::write(tool.path().join("bin/tool"), "#!/bin/sh\necho tool-ran\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tool.path().join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(tool.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A workspace-like home: <data>/workspaces/<id>/home under a root-only parent.
    let data = tempfile::Builder::new()
        .prefix("kiln-secret-data-")
        .tempdir()
        .unwrap();
    let parent = data.path().join("workspaces").join("0b5e6c2a");
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = parent.join("home");
    std::fs::create_dir(&home).unwrap();
    let uid = 99_377;
    std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
    std::fs::write(home.join("kept.txt"), "from before\n").unwrap();
    let sb = sandbox();
    let opts = kiln_sandbox::BoxOptions {
        uid: Some(uid),
        home: Some(home.clone()),
        work_dir: Some("/home/kiln".into()),
        binds: vec![kiln_sandbox::BindSpec {
            host: tool.path().display().to_string(),
            inside: "/opt/tool".into(),
        }],
    };
    let b = sb.create_box_with(&opts).await.unwrap();
    let mut s = spec(&["/bin/sh", "-c", "cat /proc/self/mountinfo /proc/self/mounts; /opt/tool/bin/tool; cat kept.txt; echo new > made.txt; touch /opt/tool/x || echo tool-ro; id -u"], small());
    s.cwd = "/home/kiln".into();
    s.shared_box = true;
    let o = b.exec(s).await.unwrap();
    let out = text(&o.stdout);
    for secret in [
        "kiln-secret-toolchain-",
        "kiln-secret-data-",
        "workspaces",
        "0b5e6c2a",
        "/tmp/",
        "/root",
    ] {
        assert!(
            !out.contains(secret),
            "mountinfo names the host path {secret:?}:\n{out}"
        );
    }
    assert!(
        out.contains("tool-ran\n") && out.contains("from before\n") && out.contains("tool-ro\n"),
        "{out}\n{}",
        text(&o.stderr)
    );
    assert!(out.ends_with(&format!("{uid}\n")), "{out}");
    // The home is still the host directory: what the box wrote is there, owned by the box's user.
    b.destroy().await;
    assert_eq!(
        std::fs::read_to_string(home.join("made.txt")).unwrap(),
        "new\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(home.join("made.txt")).unwrap().uid(), uid);
    assert!(!tool.path().join("x").exists());
}

#[tokio::test]
async fn a_mount_below_a_read_only_bind_is_read_only_too() {
    // Bound at its own path (a plain bind), with a writable tmpfs mounted inside on the host.
    let dir = tempfile::Builder::new()
        .prefix("kiln-rec-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _guard = Unmount(sub.clone());
    std::fs::write(sub.join("f"), "host").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let at = dir.path().display().to_string();
    let sb = sandbox();
    let b = sb
        .create_box(&[kiln_sandbox::BindSpec {
            host: at.clone(),
            inside: at.clone(),
        }])
        .await
        .unwrap();
    let o = sh(&b, &format!("cat {at}/sub/f; echo x > {at}/sub/escaped && echo WROTE; echo x > {at}/sub/f && echo WROTE"), small()).await;
    let out = text(&o.stdout);
    assert!(
        out.starts_with("host") && !out.contains("WROTE"),
        "{out}\n{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
    assert!(!sub.join("escaped").exists());
    assert_eq!(std::fs::read_to_string(sub.join("f")).unwrap(), "host");
    b.destroy().await;
}

#[test]
fn the_startup_sweep_clears_a_dead_kiln_processs_init_and_run_groups() {
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let name = format!("kiln-{dead}-0");
    let parents = kiln_sandbox::cgroup::Cgroups::detect().unwrap().parents();
    let mut sleepers = Vec::new();
    for group in ["init", "run"] {
        let s = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        for p in &parents {
            let d = p.join(&name).join(group);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cgroup.procs"), s.id().to_string()).unwrap();
        }
        sleepers.push(s);
    }
    let _sb = sandbox();
    for s in &mut sleepers {
        let mut status = None;
        for _ in 0..500 {
            status = s.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if status.is_none() {
            let _ = s.kill();
            panic!("a process of the dead box's {name} survived the sweep");
        }
    }
    for p in &parents {
        assert!(
            !p.join(&name).exists(),
            "{} should be removed",
            p.join(&name).display()
        );
    }
}
