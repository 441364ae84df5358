//! Every request to a box is bounded and answered.

use super::*;

#[tokio::test]
async fn oversized_requests_fail_at_once_and_the_box_stays_usable() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let t = Instant::now();
    // The example: 40 arguments of 4000 bytes.
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
            root_uid: Some(99_430),
            rootless: false,
            proc_binds: vec![],
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
