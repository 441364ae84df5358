//! Shared setup for the sandbox's integration tests: a `Sandbox` whose helper
//! is this crate's `kiln-box` binary.
#![allow(dead_code)]

use std::sync::Arc;

use kiln_sandbox::{
    ExecLimits, ExecOutcome, ExecSpec, HelperCommand, Input, Sandbox, SandboxBox, SandboxConfig,
};

pub fn sandbox() -> Arc<Sandbox> {
    sandbox_with(|_| {})
}

/// A sandbox whose configuration `f` adjusts (shorter deadlines, bigger tmpfs).
pub fn sandbox_with(f: impl FnOnce(&mut SandboxConfig)) -> Arc<Sandbox> {
    let mut cfg = SandboxConfig {
        helper: HelperCommand {
            program: env!("CARGO_BIN_EXE_kiln-box").into(),
            args: vec!["__box".into()],
        },
        ..SandboxConfig::default()
    };
    f(&mut cfg);
    Sandbox::new(cfg).expect("the sandbox needs root, cgroups and namespaces")
}

/// Compiles a C program on the host and returns its bytes.
pub fn compile_c(src: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("p.c");
    std::fs::write(&c, src).unwrap();
    let out = dir.path().join("prog");
    let st = std::process::Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .unwrap();
    assert!(st.success(), "host cc failed");
    std::fs::read(&out).unwrap()
}

pub const PATH: &str = "PATH=/usr/local/bin:/usr/bin:/bin";

pub fn spec(argv: &[&str], limits: ExecLimits) -> ExecSpec {
    ExecSpec::new(
        argv.iter().map(|s| s.to_string()).collect(),
        vec![PATH.into(), "HOME=/tmp".into()],
        limits,
    )
}

pub async fn sh(b: &SandboxBox, script: &str, limits: ExecLimits) -> ExecOutcome {
    b.exec(spec(&["/bin/sh", "-c", script], limits))
        .await
        .expect("exec")
}

pub async fn sh_stdin(b: &SandboxBox, script: &str, stdin: &[u8]) -> ExecOutcome {
    let mut s = spec(&["/bin/sh", "-c", script], ExecLimits::default());
    s.stdin = Input::Bytes(stdin.to_vec());
    b.exec(s).await.expect("exec")
}

/// Compiles a C program on the host into the box as `prog` and returns the box.
pub async fn with_c_program(sb: &Sandbox, src: &str) -> SandboxBox {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("p.c");
    std::fs::write(&c, src).unwrap();
    let out = dir.path().join("prog");
    let st = std::process::Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .unwrap();
    assert!(st.success(), "host cc failed");
    let b = sb.create_box(&[]).await.unwrap();
    b.write_file("prog", &std::fs::read(&out).unwrap(), 0o755)
        .await
        .unwrap();
    b
}

/// How many times slower than real hardware the machine running the tests
/// is (`KILN_TEST_TIME_SCALE`, default 1): the cgroup v2 VM run
/// (scripts/vm-cgroup-v2.sh) runs under software emulation, where a guest
/// task's CPU time also counts the time its vCPU thread waited for a host
/// core. Tests multiply their CPU and wall-clock limits and their liveness
/// deadlines by it; what they assert stays the same.
pub fn time_scale() -> u64 {
    std::env::var("KILN_TEST_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

pub fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Asserts that the box still runs a program (after an attack on it).
pub async fn still_works(b: &SandboxBox) {
    let o = sh(b, "echo alive", ExecLimits::default()).await;
    assert_eq!(text(&o.stdout), "alive\n", "box unusable afterwards: {o:?}");
}
