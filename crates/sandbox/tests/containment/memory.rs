//! Memory held by no process makes a program, never Kiln's helper or init,
//! the OOM killer's choice.

use super::*;

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
