//! `/proc` shows the box, not the host.

use super::*;

#[tokio::test]
async fn host_views_of_proc_are_masked_and_proc_sys_is_read_only() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let masked = [
        "kcore",
        "kallsyms",
        "keys",
        "key-users",
        "timer_list",
        "sched_debug",
        "sysrq-trigger",
        "config.gz",
        "cmdline",
        "kmsg",
        "interrupts",
        "iomem",
    ];
    for f in masked {
        let o = sh(&b, &format!("cat /proc/{f} 2>/dev/null | wc -c"), small()).await;
        assert_eq!(
            text(&o.stdout).trim(),
            "0",
            "/proc/{f} shows something: {o:?}"
        );
    }
    for d in ["acpi", "asound", "scsi", "driver"] {
        let o = sh(&b, &format!("ls -A /proc/{d} 2>/dev/null | wc -l"), small()).await;
        assert_eq!(
            text(&o.stdout).trim(),
            "0",
            "/proc/{d} lists something: {o:?}"
        );
    }
    // Reading the host's own view from outside the box is unaffected.
    assert!(!std::fs::read_to_string("/proc/cmdline").unwrap().is_empty());
    let mi = text(&sh(&b, "cat /proc/self/mountinfo", small()).await.stdout);
    for d in ["sys", "bus", "fs", "irq"] {
        if std::path::Path::new("/proc").join(d).exists() {
            assert!(
                mi.lines()
                    .any(|l| l.split(' ').nth(4) == Some(&format!("/proc/{d}"))
                        && l.split(' ').nth(5).is_some_and(|o| o.starts_with("ro"))),
                "/proc/{d} is not read-only:\n{mi}"
            );
        }
    }
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let o = sh(&b, "echo pwned > /proc/sys/kernel/hostname; echo pwned > /proc/sysrq-trigger; cat /proc/sys/kernel/hostname", small()).await;
    assert!(
        text(&o.stderr).contains("Read-only file system")
            || text(&o.stderr).contains("Permission denied"),
        "{o:?}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before
    );
    b.destroy().await;
}

#[tokio::test]
async fn mountinfo_names_no_host_path_of_a_toolchain_or_a_home() {
    // Like a rustup toolchain: under /root (mode 700), bound at /opt/tool.
    let tool = tempfile::Builder::new()
        .prefix("kiln-secret-toolchain-")
        .tempdir_in("/root")
        .unwrap();
    std::fs::create_dir(tool.path().join("bin")).unwrap();
    std::fs::write(tool.path().join("bin/tool"), "#!/bin/sh\necho tool-ran\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tool.path().join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(tool.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A workspace-like home: <data>/workspaces/<id>/home under a root-only parent.
    let data = tempfile::Builder::new()
        .prefix("kiln-secret-data-")
        .tempdir()
        .unwrap();
    let parent = data.path().join("workspaces").join("0b5e6c2a");
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = parent.join("home");
    std::fs::create_dir(&home).unwrap();
    let uid = 99_377;
    std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
    std::fs::write(home.join("kept.txt"), "from before\n").unwrap();
    let sb = sandbox();
    let opts = kiln_sandbox::BoxOptions {
        uid: Some(uid),
        home: Some(home.clone()),
        work_dir: Some("/home/kiln".into()),
        binds: vec![kiln_sandbox::BindSpec {
            host: tool.path().display().to_string(),
            inside: "/opt/tool".into(),
        }],
        ..Default::default()
    };
    let b = sb.create_box_with(&opts).await.unwrap();
    let mut s = spec(&["/bin/sh", "-c", "cat /proc/self/mountinfo /proc/self/mounts; /opt/tool/bin/tool; cat kept.txt; echo new > made.txt; touch /opt/tool/x || echo tool-ro; id -u"], small());
    s.cwd = "/home/kiln".into();
    s.shared_box = true;
    let o = b.exec(s).await.unwrap();
    let out = text(&o.stdout);
    for secret in [
        "kiln-secret-toolchain-",
        "kiln-secret-data-",
        "workspaces",
        "0b5e6c2a",
        "/tmp/",
        "/root",
    ] {
        assert!(
            !out.contains(secret),
            "mountinfo names the host path {secret:?}:\n{out}"
        );
    }
    assert!(
        out.contains("tool-ran\n") && out.contains("from before\n") && out.contains("tool-ro\n"),
        "{out}\n{}",
        text(&o.stderr)
    );
    assert!(out.ends_with(&format!("{uid}\n")), "{out}");
    // The home is still the host directory: what the box wrote is there, owned by the box's user.
    b.destroy().await;
    assert_eq!(
        std::fs::read_to_string(home.join("made.txt")).unwrap(),
        "new\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(home.join("made.txt")).unwrap().uid(), uid);
    assert!(!tool.path().join("x").exists());
}

#[tokio::test]
async fn a_mount_below_a_read_only_bind_is_read_only_too() {
    // Bound at its own path (a plain bind), with a writable tmpfs mounted inside on the host.
    let dir = tempfile::Builder::new()
        .prefix("kiln-rec-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _guard = Unmount(sub.clone());
    std::fs::write(sub.join("f"), "host").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let at = dir.path().display().to_string();
    let sb = sandbox();
    let b = sb
        .create_box(&[kiln_sandbox::BindSpec {
            host: at.clone(),
            inside: at.clone(),
        }])
        .await
        .unwrap();
    let o = sh(&b, &format!("cat {at}/sub/f; echo x > {at}/sub/escaped && echo WROTE; echo x > {at}/sub/f && echo WROTE"), small()).await;
    let out = text(&o.stdout);
    assert!(
        out.starts_with("host") && !out.contains("WROTE"),
        "{out}\n{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
    assert!(!sub.join("escaped").exists());
    assert_eq!(std::fs::read_to_string(sub.join("f")).unwrap(), "host");
    b.destroy().await;
}
