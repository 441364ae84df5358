use super::*;

#[test]
fn proc_paths_are_refused_for_cwd_and_program() {
    for (p, cwd) in [
        ("/proc/self/fd/3", "/"),
        ("/proc/1/root", "/"),
        ("/proc", "/"),
        ("/proc/self/exe", "/box"),
        ("../proc/self/exe", "/box"),
        ("./self/exe", "/proc"),
        ("//proc/./self/../1/root", "/"),
        ("/box/../proc/1/root", "/"),
    ] {
        let e = check_exec_path("cwd", p, cwd).unwrap_err();
        assert!(
            e.starts_with("cwd: ") && e.contains("/proc"),
            "{p} in {cwd}: {e}"
        );
    }
    for (p, cwd) in [
        ("/box", "/"),
        ("python3", "/proc"),
        ("./prog", "/box"),
        ("/usr/bin/env", "/"),
        ("/procfoo/x", "/"),
        ("../x", "/"),
    ] {
        assert!(check_exec_path("command", p, cwd).is_ok(), "{p} in {cwd}");
    }
}

#[test]
fn validation_refuses_escapes() {
    assert!(validate("main.py").is_ok());
    assert_eq!(
        validate("src/util/mod.rs").unwrap(),
        vec!["src", "util", "mod.rs"]
    );
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../b",
        "a//b",
        "./a",
        "a/",
        "a\0b",
    ] {
        assert!(validate(bad).is_err(), "{bad:?} should be refused");
    }
    assert!(validate("a/".repeat(17).trim_end_matches('/')).is_err());
}

fn root_of(dir: &std::path::Path) -> OwnedFd {
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

#[test]
fn write_and_read_back() {
    let d = tempfile::tempdir().unwrap();
    let root = root_of(d.path());
    let me = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    write(&root, "a/b/c.txt", b"hello", 0o644, false, me).unwrap();
    write(&root, "a/b/c.txt", b" world", 0o644, true, me).unwrap();
    assert_eq!(
        read(&root, "a/b/c.txt", 100).unwrap(),
        (b"hello world".to_vec(), false)
    );
    assert_eq!(
        read(&root, "a/b/c.txt", 5).unwrap(),
        (b"hello".to_vec(), true)
    );
}

#[test]
fn symlinks_are_never_followed() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("dirlink")).unwrap();
    let root = root_of(d.path());
    let me = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    assert!(read(&root, "link", 100).is_err());
    assert!(read(&root, "dirlink/secret", 100).is_err());
    assert!(write(&root, "link", b"pwned", 0o644, false, me).is_err());
    assert!(write(&root, "dirlink/new", b"pwned", 0o644, false, me).is_err());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret")).unwrap(),
        "s3cret"
    );
    assert!(!outside.path().join("new").exists());
}

#[test]
fn fifos_do_not_block_and_are_refused() {
    let d = tempfile::tempdir().unwrap();
    nix::unistd::mkfifo(&d.path().join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let root = root_of(d.path());
    assert!(read(&root, "fifo", 100)
        .unwrap_err()
        .contains("not a regular file"));
}

#[test]
fn listing_shows_every_entry_and_follows_no_link() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
    std::fs::create_dir_all(d.path().join("pkg/inner")).unwrap();
    std::fs::write(d.path().join("main"), "\x7fELF").unwrap();
    std::fs::set_permissions(
        d.path().join("main"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(d.path().join("pkg/inner/A.class"), "cafe").unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("out")).unwrap();
    nix::unistd::mkfifo(&d.path().join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let root = root_of(d.path());
    let mut got = list(&root, 100).unwrap();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let summary: Vec<(&str, FileKind, u64)> = got
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("fifo", FileKind::Other, 0),
            ("main", FileKind::File, 4),
            ("out", FileKind::Symlink, 0),
            ("pkg", FileKind::Dir, 0),
            ("pkg/inner", FileKind::Dir, 0),
            ("pkg/inner/A.class", FileKind::File, 4),
        ]
    );
    assert_eq!(got[1].mode, 0o755);
    assert!(list(&root, 5).unwrap_err().contains("more than 5 entries"));
}
