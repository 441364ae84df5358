//! Hostile programs through the engine: each gets its exact verdict, and the
//! engine keeps working afterwards.

mod common;
use common::*;
use kiln_engine::{Limits, Status, Submission};

fn small(mut s: Submission) -> Submission {
    s.limits = Limits {
        cpu_time_ms: 1000,
        wall_time_ms: 3000,
        memory_kb: 64 * 1024,
        processes: 32,
        output_bytes: 64 * 1024,
    };
    s
}

async fn verdict(lang: &str, name: &str, code: &str) -> kiln_engine::Report {
    verdict_with(lang, name, code, |_| {}).await
}

async fn verdict_with(
    lang: &str,
    name: &str,
    code: &str,
    change: impl FnOnce(&mut Limits),
) -> kiln_engine::Report {
    let e = engine();
    let mut s = small(submission(lang, vec![source(name, code)]));
    change(&mut s.limits);
    let r = e.execute(s).await;
    let ok = e
        .execute(submission("python", vec![source("main.py", "print('ok')")]))
        .await;
    assert_eq!(ok.stdout, "ok\n", "the engine broke after a hostile run");
    r
}

#[tokio::test]
async fn fork_bomb_is_time_limit_exceeded() {
    // Each fork refused at the process limit still allocates a task and a
    // kernel stack, charged to the box's memory group and freed only after an
    // RCU grace period. On an idle host that is 15-30 MiB in flight; on a host
    // whose CPUs are saturated the frees lag and a 64 MiB limit was reached
    // (then `memory_limit_exceeded` is what really happened). 256 MiB, the
    // default limit, leaves the kernel room: the bomb spins to its CPU limit.
    let r = verdict_with(
        "c",
        "main.c",
        "#include <unistd.h>\nint main(void){for(;;)fork();}",
        |l| l.memory_kb = 256 * 1024,
    )
    .await;
    assert_eq!(r.status, Status::TimeLimitExceeded, "{r:?}");
}

#[tokio::test]
async fn memory_bomb_is_memory_limit_exceeded() {
    let r = verdict("cpp", "main.cpp", "#include <vector>\n#include <cstdio>\nint main(){std::vector<std::vector<char>> v; for(;;) v.emplace_back(1<<20, 'x'); }").await;
    assert_eq!(r.status, Status::MemoryLimitExceeded, "{r:?}");
    let r = verdict(
        "python",
        "main.py",
        "a = []\nwhile True: a.append(bytearray(1 << 20))",
    )
    .await;
    assert_eq!(r.status, Status::MemoryLimitExceeded, "{r:?}");
}

#[tokio::test]
async fn infinite_loop_and_sleep_are_time_limit_exceeded() {
    // A wall limit far above the CPU limit: on a loaded machine the loop
    // still reaches its CPU limit first.
    let r = verdict_with("python", "main.py", "while True: pass", |l| {
        l.wall_time_ms = 20_000
    })
    .await;
    assert_eq!(r.status, Status::TimeLimitExceeded, "{r:?}");
    assert!(r.time_ms >= 1000, "{r:?}");
    let r = verdict("python", "main.py", "import time; time.sleep(60)").await;
    assert_eq!(r.status, Status::TimeLimitExceeded, "{r:?}");
    assert!(r.message.unwrap().contains("wall-clock"));
}

#[tokio::test]
async fn huge_output_is_output_limit_exceeded() {
    let r = verdict(
        "python",
        "main.py",
        "import sys\nwhile True: sys.stdout.write('x' * 65536)",
    )
    .await;
    assert_eq!(r.status, Status::OutputLimitExceeded, "{r:?}");
    assert_eq!(r.stdout.len(), 64 * 1024);
}

#[tokio::test]
async fn forbidden_syscalls_are_runtime_errors_or_refusals() {
    let r = verdict("c", "main.c", "#include <unistd.h>\n#include <sys/syscall.h>\nint main(void){ syscall(0x40000000 | SYS_getpid); return 0; }").await;
    assert_eq!(
        (r.status, r.signal),
        (Status::RuntimeError, Some(31)),
        "{r:?}"
    );
    let r = verdict("python", "main.py", "import ctypes, os\nlibc = ctypes.CDLL(None)\nprint(libc.syscall(101, 0, 0, 0, 0), ctypes.get_errno())\nprint(open('/etc/shadow').read())").await;
    assert_eq!(r.status, Status::RuntimeError, "{r:?}");
    assert!(r.stderr.contains("No such file or directory"), "{r:?}");
}

#[tokio::test]
async fn a_crash_reports_its_signal() {
    let r = verdict(
        "c",
        "main.c",
        "int main(void){ volatile int *p = 0; return *p; }",
    )
    .await;
    assert_eq!(
        (r.status, r.signal),
        (Status::RuntimeError, Some(11)),
        "{r:?}"
    );
}
