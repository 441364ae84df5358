//! No host descriptor reaches a box.

use super::*;

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
