//! Hostile programs: each must be contained, with the exact limit reported,
//! the host untouched, and the box still usable afterwards.

mod common;
use common::*;
use kiln_sandbox::{ExecLimits, LimitHit};
use std::time::{Duration, Instant};

fn small() -> ExecLimits {
    let k = common::time_scale();
    ExecLimits {
        cpu_ms: 1000 * k,
        wall_ms: 3000 * k,
        memory_bytes: 64 << 20,
        processes: 32,
        output_bytes: 64 << 10,
        ..ExecLimits::default()
    }
}

#[tokio::test]
async fn fork_bomb_is_contained_by_the_pids_limit() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let host_before = std::fs::read_dir("/proc").unwrap().count();
    let o = sh(&b, "b() { b | b & }; b; sleep 5", small()).await;
    assert!(
        matches!(o.limit, Some(LimitHit::WallTime) | Some(LimitHit::CpuTime)),
        "{o:?}"
    );
    let host_after = std::fs::read_dir("/proc").unwrap().count();
    assert!(
        host_after < host_before + 50,
        "host process count jumped {host_before} -> {host_after}"
    );
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn memory_bomb_is_memory_limit_exceeded() {
    let sb = sandbox();
    let b = with_c_program(&sb, r#"
        #include <stdlib.h>
        #include <string.h>
        int main(void) { for (;;) { char *p = malloc(1 << 20); if (!p) return 1; memset(p, 1, 1 << 20); } }
    "#).await;
    let o = b.exec(spec(&["./prog"], small())).await.unwrap();
    assert_eq!(o.limit, Some(LimitHit::Memory), "{o:?}");
    assert!(
        o.memory_peak_kb >= 60 * 1024,
        "peak {} KiB",
        o.memory_peak_kb
    );
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn infinite_loop_is_cpu_time_exceeded() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let t = Instant::now();
    let o = sh(&b, "while :; do :; done", small()).await;
    assert_eq!(o.limit, Some(LimitHit::CpuTime), "{o:?}");
    assert!(
        o.cpu_ms >= 1000 * common::time_scale(),
        "cpu {} ms",
        o.cpu_ms
    );
    assert!(
        t.elapsed() < Duration::from_secs(3 * common::time_scale()),
        "took {:?}",
        t.elapsed()
    );
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn sleeping_past_the_wall_limit_is_stopped() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let lim = ExecLimits {
        wall_ms: 500,
        ..small()
    };
    let t = Instant::now();
    let o = sh(&b, "sleep 30", lim).await;
    assert_eq!(o.limit, Some(LimitHit::WallTime), "{o:?}");
    assert!(
        t.elapsed() < Duration::from_secs(2 * common::time_scale()),
        "took {:?}",
        t.elapsed()
    );
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn double_forked_children_die_with_the_run() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let t = Instant::now();
    let o = sh(
        &b,
        "(setsid sh -c 'sleep 2; echo late > /box/late' &) ; echo parent done",
        small(),
    )
    .await;
    assert_eq!(text(&o.stdout), "parent done\n");
    assert!(
        t.elapsed() < Duration::from_secs(2 * common::time_scale()),
        "the run waited for the orphan: {:?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        b.read_file("late", 10).await.is_err(),
        "the orphan survived and wrote its file"
    );
    let o = sh(&b, "ps -e -o pid= | wc -l", ExecLimits::default()).await;
    // Only the shell and `ps`/`wc` themselves are visible (init is hidden).
    assert!(
        text(&o.stdout).trim().parse::<u32>().unwrap() <= 4,
        "leftover processes: {}",
        text(&o.stdout)
    );
    b.destroy().await;
}

#[tokio::test]
async fn a_gigabyte_of_output_is_output_limit_exceeded() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let t = Instant::now();
    let o = sh(&b, "head -c 1000000000 /dev/zero", small()).await;
    assert_eq!(o.limit, Some(LimitHit::Output), "{:?}", o.limit);
    assert_eq!(o.stdout.len(), 64 << 10);
    assert!(t.elapsed() < Duration::from_secs(3 * common::time_scale()));
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn filling_tmp_hits_the_tmpfs_cap() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let lim = ExecLimits {
        memory_bytes: 256 << 20,
        ..small()
    };
    let o = sh(
        &b,
        "head -c 200000000 /dev/zero > /tmp/fill; echo rc=$?; du -m /tmp/fill | cut -f1",
        lim,
    )
    .await;
    let out = text(&o.stdout);
    assert!(
        out.starts_with("rc=1"),
        "writing past the cap must fail: {out} {}",
        text(&o.stderr)
    );
    let mb: u32 = out.lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(mb <= 64, "tmpfs grew to {mb} MiB");
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn the_host_loopback_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let script = format!("python3 -c \"import socket; s=socket.socket(); s.settimeout(1); s.connect(('127.0.0.1', {port}))\"");
    let o = sh(&b, &script, small()).await;
    assert_ne!(o.exit_code, Some(0), "connect succeeded: {o:?}");
    assert!(
        listener.accept().is_err(),
        "the host listener saw a connection"
    );
    b.destroy().await;
}

#[tokio::test]
async fn secrets_of_the_host_are_invisible() {
    std::env::set_var("KILN_TEST_SECRET", "hunter2");
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let o = sh(&b, "cat /etc/shadow; ls /root /home /var; cat /proc/1/environ; env; cat /proc/*/environ; ls /proc", small()).await;
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !all.contains("hunter2"),
        "the host's environment leaked: {all}"
    );
    assert!(!all.contains("root:"), "/etc/shadow leaked");
    assert!(all.contains("No such file"), "{all}");
    let env = sh(&b, "env", small()).await;
    let names: Vec<String> = text(&env.stdout)
        .lines()
        .map(|l| l.split('=').next().unwrap().to_string())
        .collect();
    for n in &names {
        assert!(
            ["PATH", "HOME", "PWD", "SHLVL", "_"].contains(&n.as_str()),
            "unexpected variable {n}"
        );
    }
    b.destroy().await;
}

#[tokio::test]
async fn writing_outside_the_box_fails() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    for target in [
        "/usr/kiln-escape",
        "/etc/kiln-escape",
        "/kiln-escape",
        "/dev/kiln-escape",
        "/proc/kiln-escape",
    ] {
        let o = sh(&b, &format!("echo x > {target}"), small()).await;
        assert_ne!(o.exit_code, Some(0), "wrote {target}");
        assert!(
            !std::path::Path::new(target).exists(),
            "{target} appeared on the host"
        );
    }
    b.destroy().await;
}

#[tokio::test]
async fn planted_symlinks_are_not_followed_by_the_host_side() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "original").unwrap();
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let o = sh(
        &b,
        "ln -s /etc/passwd out.txt; ln -s /usr/bin bin; ln -s /proc/self/root/etc root",
        small(),
    )
    .await;
    assert_eq!(o.exit_code, Some(0), "{}", text(&o.stderr));
    assert!(b.read_file("out.txt", 4096).await.is_err());
    assert!(b.read_file("root/passwd", 4096).await.is_err());
    assert!(b.write_file("out.txt", b"pwned", 0o644).await.is_err());
    assert!(b.write_file("bin/pwned", b"pwned", 0o755).await.is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original");
    assert!(!std::path::Path::new("/usr/bin/pwned").exists());
    b.destroy().await;
}

#[tokio::test]
async fn kill_minus_one_only_hits_the_program_itself() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    // Linux spares the caller of kill(-1): its siblings die, init survives.
    let o = sh(
        &b,
        "sleep 30 & kill -9 -1; wait; echo survived; ps -e -o comm= | grep -c sleep",
        small(),
    )
    .await;
    assert_eq!(text(&o.stdout), "survived\n0\n", "{}", text(&o.stderr));
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn dangerous_syscalls_are_refused() {
    let sb = sandbox();
    let b = with_c_program(&sb, r#"
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <errno.h>
        #include <sched.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        #include <sys/socket.h>
        #include <sys/mount.h>
        #include <sys/ptrace.h>
        static void t(const char *name, long r) { printf("%s %s\n", name, r < 0 ? (errno == EPERM || errno == EAFNOSUPPORT || errno == ENOSYS ? "refused" : "failed-otherwise") : "ALLOWED"); }
        int main(void) {
            t("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
            t("mount", mount("none", "/tmp", "tmpfs", 0, 0));
            t("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
            t("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -2));
            t("io_uring_setup", syscall(SYS_io_uring_setup, 1, 0));
            t("unshare", unshare(CLONE_NEWUSER));
            t("bpf", syscall(SYS_bpf, 0, 0, 0));
            t("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
            t("userfaultfd", syscall(SYS_userfaultfd, 0));
            t("vsock", socket(40, SOCK_STREAM, 0));
            t("netlink", socket(AF_NETLINK, SOCK_RAW, 0));
            t("clone_newns", syscall(SYS_clone, CLONE_NEWNS | 17, 0, 0, 0, 0));
            fflush(stdout);
            return 0;
        }
    "#).await;
    let o = b.exec(spec(&["./prog"], small())).await.unwrap();
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 12, "{out}{}", text(&o.stderr));
    for line in out.lines() {
        assert!(line.ends_with(" refused"), "{line}");
    }
    b.destroy().await;
}

#[tokio::test]
async fn an_x32_syscall_kills_the_program() {
    let sb = sandbox();
    let b = with_c_program(&sb, r#"
        #include <stdio.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        int main(void) { long r = syscall(0x40000000 | SYS_getpid); printf("x32 returned %ld\n", r); return 0; }
    "#).await;
    let o = b.exec(spec(&["./prog"], small())).await.unwrap();
    assert_eq!(o.signal, Some(libc::SIGSYS), "{o:?}");
    assert!(o.stdout.is_empty());
    b.destroy().await;
}

#[tokio::test]
async fn a_setuid_root_binary_gains_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("p.c");
    std::fs::write(&src, "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d %d\\n\", getuid(), geteuid());return 0;}").unwrap();
    let bin = dir.path().join("whoami-suid");
    assert!(std::process::Command::new("cc")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sb = sandbox();
    let bind = kiln_sandbox::BindSpec {
        host: dir.path().display().to_string(),
        inside: "/opt/suid".into(),
    };
    let b = sb.create_box(&[bind]).await.unwrap();
    let o = b
        .exec(spec(&["/opt/suid/whoami-suid"], small()))
        .await
        .unwrap();
    let ids: Vec<u32> = text(&o.stdout)
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{o:?}");
    assert_eq!(ids[0], b.uid());
    assert_eq!(ids[1], b.uid(), "setuid took effect");
    let o = sh(&b, "su -c id root </dev/null; id -u", small()).await;
    assert_eq!(
        text(&o.stdout).trim().lines().last().unwrap(),
        b.uid().to_string()
    );
    b.destroy().await;
}

#[tokio::test]
async fn concurrent_boxes_are_isolated_from_each_other() {
    let sb = sandbox();
    let a = sb.create_box(&[]).await.unwrap();
    let b = sb.create_box(&[]).await.unwrap();
    assert_ne!(a.uid(), b.uid());
    sh(
        &a,
        "echo secret > /dev/shm/x; echo secret > /tmp/x; sleep 0",
        small(),
    )
    .await;
    let o = sh(
        &b,
        "cat /dev/shm/x /tmp/x; (ls -A /dev/shm; ls -A /tmp) | wc -w",
        small(),
    )
    .await;
    assert_eq!(
        text(&o.stdout).trim(),
        "0",
        "box b saw box a's files: {o:?}"
    );
    a.destroy().await;
    b.destroy().await;
}
