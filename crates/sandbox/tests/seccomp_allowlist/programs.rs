//! The bigger programs the allowlist tests run: a C program over the
//! ordinary POSIX surface, and what a workspace terminal runs (a shell
//! script, Python and Node programs).

/// Lines "name errno-name" for each call; the program itself must end with
/// exit 0 after all of them (a killed program prints nothing after the kill).
pub const REPORT: &str = r#"
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

/// The C program of `the_ordinary_posix_surface_works_under_the_filter`
/// (after [`REPORT`]): a line "name OK" per call, then "survived".
const POSIX_SURFACE: &str = r#"
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
        static void *worker(void *p) { return p; }
        static volatile int alarmed;
        static void on_alarm(int s) { (void)s; alarmed = 1; }
        int main(void) {
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
            char *argv[] = { "/bin/true", 0 };
            t("posix_spawn", posix_spawn(&pid, "/bin/true", 0, 0, argv, environ) == 0 && waitpid(pid, &st, 0) == pid ? 0 : -1);
            int p[2]; t("pipe2", pipe2(p, O_CLOEXEC));
            t("write_pipe", write(p[1], "x", 1));
            struct pollfd pf = { p[0], POLLIN, 0 };
            t("poll", poll(&pf, 1, 1000) == 1 ? 0 : -1);
            fd_set fs; FD_ZERO(&fs); FD_SET(p[0], &fs); struct timeval tv = { 1, 0 };
            t("select", select(p[0] + 1, &fs, 0, 0, &tv) == 1 ? 0 : -1);
            int ep = epoll_create1(0); struct epoll_event ev = { EPOLLIN, { 0 } };
            t("epoll", ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0 && epoll_wait(ep, &ev, 1, 1000) == 1 ? 0 : -1);
            t("eventfd", eventfd(0, 0));
            int tf = timerfd_create(CLOCK_MONOTONIC, 0);
            struct itimerspec its = { { 0, 0 }, { 0, 1000000 } }; unsigned long long n;
            t("timerfd", tf >= 0 && timerfd_settime(tf, 0, &its, 0) == 0 && read(tf, &n, 8) == 8 ? 0 : -1);
            signal(SIGALRM, on_alarm); ualarm(1000, 0);
            struct timespec ts = { 0, 50000000 }; while (!alarmed && nanosleep(&ts, &ts) == 0) {}
            t("alarm", alarmed ? 0 : -1);
            int sv[2]; t("socketpair_unix", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            socklen_t al = sizeof a;
            t("tcp_listen", s >= 0 && bind(s, (void *)&a, sizeof a) == 0 && listen(s, 1) == 0
                && getsockname(s, (void *)&a, &al) == 0 ? 0 : -1);
            /* The box has no network: the kernel (not the filter) answers. */
            int c = socket(AF_INET, SOCK_STREAM, 0);
            t("tcp_connect", connect(c, (void *)&a, sizeof a) == -1 && errno == ENETUNREACH ? 0 : -1);
            struct sockaddr_un u = { .sun_family = AF_UNIX, .sun_path = "/tmp/sock" };
            int us = socket(AF_UNIX, SOCK_STREAM, 0), uc = socket(AF_UNIX, SOCK_STREAM, 0);
            t("unix_connect_accept", bind(us, (void *)&u, sizeof u) == 0 && listen(us, 1) == 0
                && connect(uc, (void *)&u, sizeof u) == 0 && accept4(us, 0, 0, SOCK_CLOEXEC) >= 0 ? 0 : -1);
            int q = msgget(IPC_PRIVATE, 0600);
            struct { long type; char text[4]; } m = { 1, "hi" };
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
        }
    "#;

/// [`REPORT`] and [`POSIX_SURFACE`], the whole program.
pub fn posix_surface() -> String {
    format!("{REPORT}{POSIX_SURFACE}")
}

/// Shell and coreutils (and git, where installed); prints "shell-ok".
pub const SHELL: &str = r#"
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

/// Python's standard library; prints "python-ok".
pub const PYTHON: &str = r#"
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

/// Node's standard library; prints "node-ok 42 100000".
pub const NODE: &str = r#"
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
