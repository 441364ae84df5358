//! What the cgroup layer promises, on whichever version the host runs (the
//! cgroup v2 path runs in scripts/vm-cgroup-v2.sh's guest): each exec's
//! memory peak is its own, not the box's high-water mark, and a workspace's
//! box-wide limits (`set_box_limits`, shared execs) hold.

mod common;

use common::{sandbox, spec, with_c_program};
use kiln_sandbox::{ExecLimits, LimitHit};

/// Allocates and touches argv[1] MiB, holds it a moment, exits 0.
const ALLOC: &str = r#"
    #include <stdlib.h>
    #include <string.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
        size_t n = (size_t)atoi(argv[1]) << 20;
        char *p = malloc(n);
        if (!p) return 1;
        memset(p, 1, n);
        usleep(200000);
        return p[n - 1] == 1 ? 0 : 2;
    }
"#;

fn limits() -> ExecLimits {
    ExecLimits {
        cpu_ms: 20_000,
        wall_ms: 60_000,
        memory_bytes: 256 << 20,
        processes: 16,
        ..ExecLimits::default()
    }
}

/// Two execs in one box: the second, smaller one reports its own peak. On
/// kernels whose `memory.peak` cannot be reset (Linux before 6.12, Debian
/// 12's 6.1 among them) the old v2 code reported the box's high-water mark,
/// the first exec's 96 MiB, for both.
#[tokio::test]
async fn each_execs_memory_peak_is_its_own() {
    let sb = sandbox();
    let b = with_c_program(&sb, ALLOC).await;
    let big = b.exec(spec(&["./prog", "96"], limits())).await.unwrap();
    assert_eq!((big.exit_code, big.limit), (Some(0), None), "{big:?}");
    assert!(
        big.memory_peak_kb >= 96 * 1024,
        "the first exec's peak {} KiB",
        big.memory_peak_kb
    );
    let small = b.exec(spec(&["./prog", "8"], limits())).await.unwrap();
    assert_eq!((small.exit_code, small.limit), (Some(0), None), "{small:?}");
    assert!(
        small.memory_peak_kb < 48 * 1024,
        "the second exec's peak {} KiB is the first one's",
        small.memory_peak_kb
    );
    // And a later, bigger exec is measured in full again.
    let again = b.exec(spec(&["./prog", "128"], limits())).await.unwrap();
    assert!(
        again.memory_peak_kb >= 128 * 1024,
        "the third exec's peak {} KiB",
        again.memory_peak_kb
    );
    b.destroy().await;
}

/// A workspace box: the limits are the box's (`set_box_limits`), its execs
/// are shared (no per-exec limits, nothing killed after), and going past the
/// memory limit is a memory verdict from the kernel's OOM count, with the
/// box still usable afterwards.
#[tokio::test]
async fn a_workspace_boxs_limits_hold_for_shared_execs() {
    let sb = sandbox();
    let b = with_c_program(&sb, ALLOC).await;
    b.set_box_limits(64 << 20, 16).unwrap();
    let shared = |argv: &[&str]| {
        let mut s = spec(argv, limits());
        s.shared_box = true;
        s
    };
    let o = b.exec(shared(&["./prog", "128"])).await.unwrap();
    assert_eq!(o.limit, Some(LimitHit::Memory), "{o:?}");
    let o = b.exec(shared(&["./prog", "16"])).await.unwrap();
    assert_eq!((o.exit_code, o.limit), (Some(0), None), "{o:?}");
    // 16 processes at most, counted on the host: of 40 background sleeps
    // (left running: shared execs kill nothing) at most 16 exist.
    let _ = b
        .exec(shared(&[
            "/bin/sh",
            "-c",
            "for i in $(seq 40); do sleep 30 >/dev/null 2>&1 & done",
        ]))
        .await
        .unwrap();
    let pids = b.host_pids();
    // The helper and init are in the box's group too, outside the limit.
    assert!(
        pids.len() > 4 && pids.len() <= 16 + 2,
        "{} processes in the box with a limit of 16",
        pids.len()
    );
    b.destroy().await;
}
