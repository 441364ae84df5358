//! The seccomp allowlist in a real box: syscalls outside the list (new ones,
//! made-up ones, `personality`, `memfd_secret`) get `ENOSYS` and the program
//! lives on; the dangerous ones stay refused; x32 still kills; and the
//! ordinary surface programs use (glibc's fallbacks, threads, processes,
//! pipes, sockets, IPC, a shell with coreutils, Python's standard library)
//! still works under the filter. The language hellos run in the engine, lang
//! and cli tests. See docs/seccomp.md.

mod common;
use common::*;
use kiln_sandbox::ExecLimits;

fn limits() -> ExecLimits {
    ExecLimits {
        cpu_ms: 5_000,
        wall_ms: 20_000,
        memory_bytes: 256 << 20,
        processes: 32,
        output_bytes: 256 << 10,
        ..ExecLimits::default()
    }
}

async fn still_works(b: &kiln_sandbox::SandboxBox) {
    let o = sh(b, "echo alive", ExecLimits::default()).await;
    assert_eq!(text(&o.stdout), "alive\n", "box unusable afterwards: {o:?}");
}

/// Lines "name errno-name" for each call; the program itself must end with
/// exit 0 after all of them (a killed program prints nothing after the kill).
const REPORT: &str = r#"
    #define _GNU_SOURCE
    #include <stdio.h>
    #include <string.h>
    #include <errno.h>
    #include <unistd.h>
    #include <sys/syscall.h>
    static void t(const char *name, long r) {
        const char *e = r >= 0 ? "OK" : errno == ENOSYS ? "ENOSYS" : errno == EPERM ? "EPERM"
            : errno == EAFNOSUPPORT ? "EAFNOSUPPORT" : strerror(errno);
        printf("%s %s\n", name, e);
        fflush(stdout);
    }
"#;

#[tokio::test]
async fn syscalls_outside_the_allowlist_get_enosys_and_the_program_lives_on() {
    let sb = sandbox();
    let src = format!(
        r#"{REPORT}
        #include <sys/personality.h>
        int main(void) {{
            struct {{ unsigned size, spare; unsigned long long mnt_id, param; }} req = {{ 24, 0, 0, 0 }};
            unsigned long long ids[4];
            t("listmount", syscall(458, &req, ids, 4, 0));     /* Linux 6.8 */
            t("statmount", syscall(457, &req, ids, sizeof ids, 0));
            t("memfd_secret", syscall(447, 0));                /* Linux 5.14 */
            t("personality_query", syscall(SYS_personality, 0xffffffffUL));
            t("personality_exec", syscall(SYS_personality, READ_IMPLIES_EXEC));
            t("personality_aslr", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
            t("modify_ldt", syscall(SYS_modify_ldt, 0, 0, 0));
            t("future_1000", syscall(1000, 0, 0, 0));
            t("future_4000", syscall(4000));
            t("getppid", syscall(SYS_getppid));
            puts("survived");
            return 0;
        }}
    "#
    );
    let b = with_c_program(&sb, &src).await;
    let o = b.exec(spec(&["./prog"], limits())).await.unwrap();
    let out = text(&o.stdout);
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    assert_eq!(o.signal, None);
    let want =
        "listmount ENOSYS\nstatmount ENOSYS\nmemfd_secret ENOSYS\npersonality_query ENOSYS\n\
        personality_exec ENOSYS\npersonality_aslr ENOSYS\nmodify_ldt ENOSYS\nfuture_1000 ENOSYS\n\
        future_4000 ENOSYS\ngetppid OK\nsurvived\n";
    assert_eq!(out, want, "stderr: {}", text(&o.stderr));
    still_works(&b).await;
    b.destroy().await;
}

#[tokio::test]
async fn dangerous_syscalls_stay_refused_and_change_nothing() {
    let sb = sandbox();
    let src = format!(
        r#"{REPORT}
        #include <sched.h>
        #include <sys/mount.h>
        #include <sys/ptrace.h>
        #include <sys/socket.h>
        #include <sys/ioctl.h>
        int main(void) {{
            t("mount", mount("none", "/box", "tmpfs", 0, 0));
            t("umount", umount2("/box", MNT_DETACH));
            t("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
            t("ptrace_attach", ptrace(PTRACE_ATTACH, getppid(), 0, 0));
            t("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
            t("clone_newns", syscall(SYS_clone, CLONE_NEWNS | 17, 0, 0, 0, 0));
            t("clone3", syscall(SYS_clone3, 0, 0));
            t("bpf", syscall(SYS_bpf, 0, 0, 0));
            t("io_uring_setup", syscall(SYS_io_uring_setup, 1, 0));
            t("userfaultfd", syscall(SYS_userfaultfd, 0));
            t("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
            t("vsock", socket(40, SOCK_STREAM, 0));
            t("netlink", socket(AF_NETLINK, SOCK_RAW, 0));
            t("packet", socket(AF_PACKET, SOCK_RAW, 0));
            t("alg_pair", syscall(SYS_socketpair, AF_ALG, SOCK_SEQPACKET, 0, 0));
            char c = 'x';
            t("tiocsti", ioctl(0, TIOCSTI, &c));
            puts("survived");
            return 0;
        }}
    "#
    );
    let b = with_c_program(&sb, &src).await;
    // A marker in the box's /box (kept between one-shot execs, unlike /tmp):
    // a mount over /box would hide it.
    sh(&b, "echo here > /box/marker", ExecLimits::default()).await;
    let o = b.exec(spec(&["./prog"], limits())).await.unwrap();
    let out = text(&o.stdout);
    let want = "mount EPERM\numount EPERM\nptrace EPERM\nptrace_attach EPERM\nunshare EPERM\n\
        clone_newns EPERM\nclone3 ENOSYS\nbpf EPERM\nio_uring_setup EPERM\nuserfaultfd EPERM\nkeyctl EPERM\n\
        vsock EAFNOSUPPORT\nnetlink EAFNOSUPPORT\npacket EAFNOSUPPORT\nalg_pair EAFNOSUPPORT\ntiocsti EPERM\nsurvived\n";
    assert_eq!(out, want, "stderr: {}", text(&o.stderr));
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    let o = sh(&b, "cat /box/marker", ExecLimits::default()).await;
    assert_eq!(
        text(&o.stdout),
        "here\n",
        "/box changed under the box: {o:?}"
    );
    b.destroy().await;
}

#[tokio::test]
async fn an_x32_syscall_still_kills_the_program() {
    let sb = sandbox();
    let b = with_c_program(
        &sb,
        r#"
        #include <stdio.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        int main(void) {
            puts("before"); fflush(stdout);
            long r = syscall(0x40000000 | SYS_getpid);
            printf("x32 returned %ld\n", r);
            /* x32's own numbers (512+) too. */
            r = syscall(0x40000000 | 512);
            printf("x32 512 returned %ld\n", r);
            return 0;
        }
    "#,
    )
    .await;
    let o = b.exec(spec(&["./prog"], limits())).await.unwrap();
    assert_eq!(o.signal, Some(libc::SIGSYS), "{o:?}");
    assert_eq!(text(&o.stdout), "before\n");
    still_works(&b).await;
    b.destroy().await;
}

/// What C programs (and every runtime, through glibc) do all the time:
/// threads (glibc tries clone3, gets ENOSYS, falls back to clone), fork and
/// exec, pipes, poll, timers, signals, Unix and TCP sockets, SysV messages,
/// mmap, abort.
#[tokio::test]
async fn the_ordinary_posix_surface_works_under_the_filter() {
    let sb = sandbox();
    let src = format!(
        r#"{REPORT}
        #include <pthread.h>
        #include <signal.h>
        #include <stdlib.h>
        #include <time.h>
        #include <poll.h>
        #include <fcntl.h>
        #include <spawn.h>
        #include <sys/mman.h>
        #include <sys/msg.h>
        #include <sys/random.h>
        #include <sys/select.h>
        #include <sys/socket.h>
        #include <sys/stat.h>
        #include <sys/wait.h>
        #include <sys/epoll.h>
        #include <sys/timerfd.h>
        #include <sys/eventfd.h>
        #include <netinet/in.h>
        #include <sys/un.h>
        extern char **environ;
        static void *worker(void *p) {{ return p; }}
        static volatile int alarmed;
        static void on_alarm(int s) {{ (void)s; alarmed = 1; }}
        int main(void) {{
            pthread_t th; void *ret = 0;
            int r = pthread_create(&th, 0, worker, (void *)7);
            t("pthread_create", r == 0 ? 0 : (errno = r, -1));
            t("pthread_join", pthread_join(th, &ret) == 0 && ret == (void *)7 ? 0 : -1);
            pid_t pid = fork();
            if (pid == 0) _exit(5);
            int st = 0;
            t("fork_wait", waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 5 ? 0 : -1);
            pid = fork();
            if (pid == 0) abort();
            t("abort_child", waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT ? 0 : -1);
            char *argv[] = {{ "/bin/true", 0 }};
            t("posix_spawn", posix_spawn(&pid, "/bin/true", 0, 0, argv, environ) == 0 && waitpid(pid, &st, 0) == pid ? 0 : -1);
            int p[2]; t("pipe2", pipe2(p, O_CLOEXEC));
            t("write_pipe", write(p[1], "x", 1));
            struct pollfd pf = {{ p[0], POLLIN, 0 }};
            t("poll", poll(&pf, 1, 1000) == 1 ? 0 : -1);
            fd_set fs; FD_ZERO(&fs); FD_SET(p[0], &fs); struct timeval tv = {{ 1, 0 }};
            t("select", select(p[0] + 1, &fs, 0, 0, &tv) == 1 ? 0 : -1);
            int ep = epoll_create1(0); struct epoll_event ev = {{ EPOLLIN, {{ 0 }} }};
            t("epoll", ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0 && epoll_wait(ep, &ev, 1, 1000) == 1 ? 0 : -1);
            t("eventfd", eventfd(0, 0));
            int tf = timerfd_create(CLOCK_MONOTONIC, 0);
            struct itimerspec its = {{ {{ 0, 0 }}, {{ 0, 1000000 }} }}; unsigned long long n;
            t("timerfd", tf >= 0 && timerfd_settime(tf, 0, &its, 0) == 0 && read(tf, &n, 8) == 8 ? 0 : -1);
            signal(SIGALRM, on_alarm); ualarm(1000, 0);
            struct timespec ts = {{ 0, 50000000 }}; while (!alarmed && nanosleep(&ts, &ts) == 0) {{}}
            t("alarm", alarmed ? 0 : -1);
            int sv[2]; t("socketpair_unix", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {{ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) }};
            socklen_t al = sizeof a;
            t("tcp_listen", s >= 0 && bind(s, (void *)&a, sizeof a) == 0 && listen(s, 1) == 0
                && getsockname(s, (void *)&a, &al) == 0 ? 0 : -1);
            /* The box has no network: the kernel (not the filter) answers. */
            int c = socket(AF_INET, SOCK_STREAM, 0);
            t("tcp_connect", connect(c, (void *)&a, sizeof a) == -1 && errno == ENETUNREACH ? 0 : -1);
            struct sockaddr_un u = {{ .sun_family = AF_UNIX, .sun_path = "/tmp/sock" }};
            int us = socket(AF_UNIX, SOCK_STREAM, 0), uc = socket(AF_UNIX, SOCK_STREAM, 0);
            t("unix_connect_accept", bind(us, (void *)&u, sizeof u) == 0 && listen(us, 1) == 0
                && connect(uc, (void *)&u, sizeof u) == 0 && accept4(us, 0, 0, SOCK_CLOEXEC) >= 0 ? 0 : -1);
            int q = msgget(IPC_PRIVATE, 0600);
            struct {{ long type; char text[4]; }} m = {{ 1, "hi" }};
            t("sysv_msg", q >= 0 && msgsnd(q, &m, 3, 0) == 0 && msgrcv(q, &m, 3, 0, 0) == 3 && msgctl(q, IPC_RMID, 0) == 0 ? 0 : -1);
            void *mem = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            t("mmap", mem == MAP_FAILED ? -1 : 0);
            t("mprotect", mprotect(mem, 4096, PROT_READ));
            t("memfd_create", memfd_create("m", MFD_CLOEXEC));
            struct stat sb; t("statx_fallbacks", stat("/bin/sh", &sb));
            t("faccessat2", faccessat(AT_FDCWD, "/bin/sh", X_OK, AT_EACCESS));
            t("getrandom", getrandom(&n, 8, 0) == 8 ? 0 : -1);
            puts("survived");
            return 0;
        }}
    "#
    );
    let b = with_c_program(&sb, &src).await;
    let o = b.exec(spec(&["./prog"], limits())).await.unwrap();
    let out = text(&o.stdout);
    assert_eq!(o.exit_code, Some(0), "{o:?}\n{out}");
    for line in out.lines().filter(|l| *l != "survived") {
        assert!(
            line.ends_with(" OK"),
            "{line}\n{out}\nstderr: {}",
            text(&o.stderr)
        );
    }
    assert!(out.ends_with("survived\n"), "{out}");
    b.destroy().await;
}

/// What a workspace terminal runs: bash, coreutils, git, and Python's and
/// Node's standard libraries (threads, processes, sockets, asyncio, sqlite,
/// workers).
#[tokio::test]
async fn shell_coreutils_git_python_and_node_work_under_the_filter() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let shell = r#"
        set -e
        cd /tmp && mkdir -p d/e && echo hello > d/f && cp d/f d/g && mv d/g d/e/h && ln -s f d/l
        ls -la d >/dev/null && find d -type f | sort | xargs grep -l hello >/dev/null && stat d/f >/dev/null
        seq 1 100 | sort -rn | head -3 | tail -1 | tr 0-9 a-j | sed 's/a/x/' | awk '{print $1}' >/dev/null
        tar czf a.tgz d && mkdir x && tar xzf a.tgz -C x && diff -r d x/d && sha256sum d/f >/dev/null
        date >/dev/null; sleep 0.1 & wait; timeout 1 sleep 5 || true; mkfifo p && (echo fifo > p &) && cat p >/dev/null
        ps aux >/dev/null 2>&1 || true; id -u >/dev/null; uname -a >/dev/null; df . >/dev/null; du -s d >/dev/null
        if command -v git >/dev/null; then
            export HOME=/tmp GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b
            git init -q r && cd r && echo a > a && git add a && git commit -qm one && git log --oneline >/dev/null
            git checkout -qb side && echo b >> a && git commit -qam two && git checkout -q - && git merge -q side
            cd .. && git clone -q r c && git -C c status --short
        fi
        echo shell-ok
    "#;
    let o = b
        .exec(spec(&["/bin/bash", "-c", shell], limits()))
        .await
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        "shell-ok\n",
        "{o:?}\nstderr: {}",
        text(&o.stderr)
    );
    let py = r#"
import asyncio, concurrent.futures, mmap, multiprocessing, os, select, shutil, signal, socket, sqlite3, subprocess, tempfile, time
def sq(x): return x * x
if __name__ == "__main__":
    with concurrent.futures.ThreadPoolExecutor(4) as ex: assert sum(ex.map(sq, range(10))) == 285
    with multiprocessing.Pool(2) as p: assert p.map(sq, [3]) == [9]
    assert subprocess.run(["echo", "sub"], capture_output=True).stdout == b"sub\n"
    a, b = socket.socketpair(); a.send(b"x"); select.select([b], [], [], 1); assert b.recv(1) == b"x"
    srv = socket.socket(socket.AF_UNIX); srv.bind("/tmp/py.sock"); srv.listen()
    c = socket.socket(socket.AF_UNIX); c.connect("/tmp/py.sock"); srv.accept()
    try: socket.create_connection(("127.0.0.1", 9), timeout=1)
    except OSError as e: assert e.errno in (101, 111), e  # the kernel's answer: ENETUNREACH, ECONNREFUSED
    async def main():
        await asyncio.sleep(0.01); p = await asyncio.create_subprocess_exec("true"); await p.wait()
    asyncio.run(main())
    d = tempfile.mkdtemp(); f = os.path.join(d, "f")
    with open(f, "wb") as fh: fh.write(os.urandom(1 << 16))
    shutil.copy(f, f + "2"); shutil.copytree(d, d + "-c")
    with open(f, "r+b") as fh: m = mmap.mmap(fh.fileno(), 0); m[0:1] = b"x"; m.flush(); m.close()
    db = sqlite3.connect(os.path.join(d, "db")); db.execute("create table t(x)"); db.commit()
    signal.signal(signal.SIGALRM, lambda *a: None); signal.setitimer(signal.ITIMER_REAL, 0.01); time.sleep(0.05)
    os.sched_getaffinity(0); os.getloadavg(); os.times()
    print("python-ok")
"#;
    let o = b
        .exec(spec(&["/usr/bin/python3", "-c", py], limits()))
        .await
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        "python-ok\n",
        "{o:?}\nstderr: {}",
        text(&o.stderr)
    );
    let js = r#"
const fs = require("fs"), cp = require("child_process"), os = require("os"), crypto = require("crypto");
const { Worker } = require("worker_threads");
process.chdir("/tmp");
fs.writeFileSync("n.txt", "x".repeat(100000)); fs.copyFileSync("n.txt", "m.txt"); fs.readdirSync(".");
if (cp.execSync("echo sub").toString() !== "sub\n") throw new Error("child_process");
crypto.randomBytes(16); os.cpus(); os.totalmem(); os.hostname();
new Worker("require('worker_threads').parentPort.postMessage(6 * 7)", { eval: true }).on("message", (m) => {
  fs.promises.readFile("m.txt").then((d) => console.log(`node-ok ${m} ${d.length}`));
});
"#;
    let o = b
        .exec(spec(&["/usr/bin/node", "-e", js], limits()))
        .await
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        "node-ok 42 100000\n",
        "{o:?}\nstderr: {}",
        text(&o.stderr)
    );
    b.destroy().await;
}

/// What the filter costs per syscall, printed (not asserted: timings on a
/// shared machine are no test). A forked child per configuration makes the
/// same calls with no filter and with the allowlist:
///
/// ```sh
/// cargo test --release -p kiln-sandbox --test seccomp_allowlist filter_cost -- --ignored --nocapture
/// ```
#[test]
#[ignore = "a measurement; run by hand (see docs/seccomp.md)"]
fn filter_cost() {
    const N: u32 = 1_000_000;
    let prog = kiln_sandbox::seccomp::program();
    for round in 0..3 {
        for filtered in [false, true] {
            let mut p = [0; 2];
            // SAFETY: `p` has room for the two descriptors pipe writes.
            assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
            // SAFETY: the child only makes syscalls, formats into a
            // preallocated buffer and _exits.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                let mut out = String::with_capacity(512);
                // SAFETY: integer prctls and raw syscalls on this process;
                // `fprog` and `tio` live on this stack for the calls.
                unsafe {
                    libc::close(p[0]);
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    if filtered {
                        let fprog = libc::sock_fprog {
                            len: prog.len() as u16,
                            filter: prog.as_ptr() as *mut _,
                        };
                        if libc::prctl(
                            libc::PR_SET_SECCOMP,
                            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                            &fprog as *const _ as libc::c_ulong,
                        ) != 0
                        {
                            libc::_exit(1);
                        }
                    }
                    let mut tio: libc::termios = std::mem::zeroed();
                    let tio = &mut tio as *mut libc::termios;
                    let calls: [(&str, &dyn Fn()); 3] = [
                        ("getppid (allowed)", &|| {
                            libc::syscall(libc::SYS_getppid);
                        }),
                        ("ioctl TCGETS (argument check)", &|| {
                            libc::syscall(libc::SYS_ioctl, p[1], libc::TCGETS, tio);
                        }),
                        ("syscall 1000 (not listed)", &|| {
                            libc::syscall(1000);
                        }),
                    ];
                    out += if filtered { "allowlist:" } else { "no filter:" };
                    for (name, call) in calls {
                        let start = std::time::Instant::now();
                        for _ in 0..N {
                            call();
                        }
                        out += &format!(
                            "  {name} {:.1} ns",
                            start.elapsed().as_nanos() as f64 / f64::from(N)
                        );
                    }
                    out.push('\n');
                    libc::write(p[1], out.as_ptr().cast(), out.len());
                    libc::_exit(0);
                }
            }
            // SAFETY: closes our copy of the write end; reads into a local buffer.
            let text = unsafe {
                libc::close(p[1]);
                let mut buf = vec![0u8; 1024];
                let n = libc::read(p[0], buf.as_mut_ptr().cast(), buf.len());
                libc::close(p[0]);
                buf.truncate(n.max(0) as usize);
                String::from_utf8_lossy(&buf).into_owned()
            };
            let mut status = 0;
            // SAFETY: reaps the child forked above, which has written its line and exits.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            print!("round {round} {text}");
        }
    }
}
