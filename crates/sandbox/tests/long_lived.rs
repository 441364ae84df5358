//! Long-lived boxes (workspaces): a pinned uid, a host home bound read-write,
//! execs that leave the box running, and programs on a pseudo-terminal.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use kiln_sandbox::{BoxOptions, ExecLimits, PtyProcess, SandboxBox};

// Each test pins its own uid: nextest runs them at once, and a uid is held by one live box.
const UID: u32 = 99_321;

async fn home_box(home: &std::path::Path, uid: u32) -> SandboxBox {
    std::os::unix::fs::chown(home, Some(uid), Some(uid)).unwrap();
    let sb = common::sandbox();
    let opts = BoxOptions {
        uid: Some(uid),
        home: Some(home.to_path_buf()),
        work_dir: Some("/home/kiln".into()),
        ..Default::default()
    };
    sb.create_box_with(&opts).await.expect("box with a home")
}

fn shared(script: &str, wall_ms: u64) -> kiln_sandbox::ExecSpec {
    let mut s = common::spec(
        &["/bin/sh", "-c", script],
        ExecLimits {
            wall_ms,
            ..ExecLimits::default()
        },
    );
    s.cwd = "/home/kiln".into();
    s.shared_box = true;
    s
}

/// Reads terminal output until `needle` shows up.
async fn read_until(p: &PtyProcess, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let wait = async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = p.read(&mut buf).await.expect("read the terminal");
            assert!(
                n > 0,
                "terminal closed before {needle:?}; saw {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", String::from_utf8_lossy(&seen)));
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn home_is_bound_with_the_pinned_uid_and_persists() {
    let home = tempfile::tempdir().unwrap();
    let b = home_box(home.path(), UID).await;
    assert_eq!(b.uid(), UID);
    let out = b
        .exec(shared("id -u; echo kept > note.txt; pwd", 5000))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{UID}\n/home/kiln\n")
    );
    // The same uid cannot be held by a second live box.
    let sb = common::sandbox();
    assert!(sb
        .create_box_with(&BoxOptions {
            uid: Some(UID),
            ..Default::default()
        })
        .await
        .is_err());
    b.destroy().await;
    let note = home.path().join("note.txt");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "kept\n");
    assert_eq!(std::fs::metadata(&note).unwrap().uid(), UID);
    // A new box on the same home sees it, and the host's file API reads it.
    let b = home_box(home.path(), UID).await;
    assert_eq!(b.read_file("note.txt", 100).await.unwrap(), b"kept\n");
    b.destroy().await;
}

#[tokio::test]
async fn shared_execs_leave_other_processes_running() {
    let home = tempfile::tempdir().unwrap();
    let b = home_box(home.path(), UID + 1).await;
    let out = b
        .exec(shared("sleep 30 >/dev/null 2>&1 & echo started", 5000))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"started\n");
    let timed = b.exec(shared("sleep 30", 300)).await.unwrap();
    assert_eq!(timed.limit, Some(kiln_sandbox::LimitHit::WallTime));
    let ps = b
        .exec(shared("pgrep -c sleep || true", 5000))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&ps.stdout).into_owned();
    assert_eq!(
        text.trim(),
        "1",
        "the background sleep survives, the timed-out one is gone: {text}"
    );
    assert!(b.is_alive());
    b.destroy().await;
}

#[tokio::test]
async fn pty_echoes_resizes_and_keeps_the_shell() {
    let home = tempfile::tempdir().unwrap();
    let b = home_box(home.path(), UID + 2).await;
    let env = vec![
        common::PATH.into(),
        "HOME=/home/kiln".into(),
        "TERM=xterm".into(),
    ];
    let mut p = b
        .spawn_pty(vec!["/bin/sh".into()], env, "/home/kiln", 24, 80)
        .await
        .unwrap();
    p.write_all(b"X=remembered; echo one-$((40+2))\n")
        .await
        .unwrap();
    read_until(&p, "one-42").await;
    p.write_all(b"stty size\n").await.unwrap();
    read_until(&p, "24 80").await;
    b.resize(p.pid, 40, 120).await.unwrap();
    p.write_all(b"stty size; echo \"$X\"\n").await.unwrap();
    let out = read_until(&p, "remembered\r\n").await;
    assert!(out.contains("40 120"), "{out}");
    p.write_all(b"exit 3\n").await.unwrap();
    let exit = p.wait().await.unwrap();
    assert_eq!(exit.code, Some(3));
    // The box stays up after its terminal's program is gone.
    let out = b.exec(shared("echo still-here", 5000)).await.unwrap();
    assert_eq!(out.stdout, b"still-here\n");
    b.destroy().await;
}

#[tokio::test]
async fn pty_can_be_reopened_by_the_boxs_user() {
    let home = tempfile::tempdir().unwrap();
    let b = home_box(home.path(), UID + 3).await;
    let env = vec![
        common::PATH.into(),
        "HOME=/home/kiln".into(),
        "TERM=xterm".into(),
    ];
    let mut p = b
        .spawn_pty(vec!["/bin/sh".into()], env, "/home/kiln", 24, 80)
        .await
        .unwrap();
    // The slave belongs to the box's user, owner rw + group w, like a login's.
    p.write_all(b"stat -c 'mode-%a-owner-%u' \"$(tty)\"\n")
        .await
        .unwrap();
    read_until(&p, &format!("mode-620-owner-{}", UID + 3)).await;
    // Reopening stdin (the pts itself) works.
    p.write_all(b"dd if=/dev/stdin of=/dev/null count=0 && echo reopen-$((40+2))\n")
        .await
        .unwrap();
    let out = read_until(&p, "reopen-42").await;
    assert!(!out.contains("Permission denied"), "{out}");
    // /dev/tty is the controlling terminal: writable, and reads what is typed.
    p.write_all(b"test -w /dev/tty && read x </dev/tty && echo \"typed-$x-$((1+1))\"\n")
        .await
        .unwrap();
    p.write_all(b"abc\n").await.unwrap();
    read_until(&p, "typed-abc-2").await;
    p.write_all(b"exit 0\n").await.unwrap();
    assert_eq!(p.wait().await.unwrap().code, Some(0));
    b.destroy().await;
}

/// CPU time of this whole process so far, in clock ticks (utime + stime).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name (ends at the last ')'): utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A guard on the write path, not a reproduction of the livelock seen with
/// 1000 busy terminals (the writer woken again and again while every write got
/// EAGAIN): a write the terminal refuses must wait, not burn CPU.
#[tokio::test]
async fn a_full_terminal_makes_the_writer_wait_not_spin() {
    let home = tempfile::tempdir().unwrap();
    let b = home_box(home.path(), UID + 4).await;
    let env = vec![common::PATH.into(), "HOME=/home/kiln".into()];
    // `sleep` never reads its terminal: the input queue (and the echo nobody
    // drains) fills after a few KiB of lines.
    let p = std::sync::Arc::new(
        b.spawn_pty(
            vec!["/bin/sleep".into(), "60".into()],
            env,
            "/home/kiln",
            24,
            80,
        )
        .await
        .unwrap(),
    );
    let writer = {
        let p = p.clone();
        let lines = "x".repeat(63) + "\n";
        tokio::spawn(async move { p.write_all(lines.repeat(16 * 1024).as_bytes()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks() - before;
    if writer.is_finished() {
        panic!(
            "1 MiB of lines cannot fit a terminal nobody reads: {:?}",
            writer.await
        );
    }
    // Spinning on the refused write burns the whole second (about 100 ticks).
    assert!(
        used < 30,
        "the blocked writer used {used} ticks of CPU in 1 s"
    );
    writer.abort();
    b.kill(p.pid).await.unwrap();
    b.destroy().await;
}
