//! Workspace quotas enforced by the kernel, through the real `kiln serve`:
//! the template's CPU is a CFS quota (two spinners get half a CPU), the home
//! is a filesystem of its own (full at `disk_mb`, inodes bounded, nothing
//! more on the host), and `nproc`, `free` and `df` show the template.

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::Server;
use helpers::{create_from, put, sh, start, wait_status};

const TINY: &str = "[[template]]\nname = \"tiny\"\ncpu = 0.5\nmemory_mb = 256\ndisk_mb = 8\npids = 64\nlanguages = [\"bash\", \"python\"]\n";

fn tiny_server(dir: &Path, first_uid: u32) -> Server {
    let t = dir.join("templates.toml");
    std::fs::write(&t, TINY).unwrap();
    start(
        dir,
        first_uid,
        &format!("templates_file = {:?}\n", t.display().to_string()),
        &[],
    )
}

/// The directory of the server's `kiln` parent group for `ctrl` (v1), or
/// in the unified tree (v2, `ctrl` ignored).
fn kiln_parent(pid: u32, ctrl: &str) -> PathBuf {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls
            .split(',')
            .any(|c| c == ctrl)
            .then(|| path.to_string())
    });
    match v1 {
        Some(path) => {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let point = mounts
                .lines()
                .find_map(|l| {
                    let (pre, post) = l.split_once(" - ")?;
                    let opts = post.split_whitespace().nth(2)?;
                    (post.starts_with("cgroup ") && opts.split(',').any(|o| o == ctrl))
                        .then(|| pre.split_whitespace().nth(4).unwrap().to_string())
                })
                .unwrap();
            Path::new(&point)
                .join(path.trim_start_matches('/'))
                .join("kiln")
        }
        None => {
            let path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
            let path = path.trim_end_matches("/kiln-host");
            Path::new("/sys/fs/cgroup")
                .join(path.trim_start_matches('/'))
                .join("kiln")
        }
    }
}

/// The one box group of the server with a CPU quota, in the `cpu` hierarchy.
fn quota_group(pid: u32) -> PathBuf {
    let parent = kiln_parent(pid, "cpu");
    let found: Vec<PathBuf> = std::fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&format!("kiln-{pid}-"))
        })
        .filter(|p| {
            let q = std::fs::read_to_string(p.join("cpu.cfs_quota_us"))
                .or_else(|_| std::fs::read_to_string(p.join("cpu.max")))
                .unwrap_or_default();
            q.starts_with("50000")
        })
        .collect();
    assert_eq!(found.len(), 1, "box groups with a quota: {found:?}");
    found.into_iter().next().unwrap()
}

fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time of the box (ns) and how often it was throttled.
fn cpu_of(pid: u32, group: &Path) -> (u64, u64) {
    let stat = std::fs::read_to_string(group.join("cpu.stat")).unwrap();
    let name = group.file_name().unwrap();
    let acct = kiln_parent(pid, "cpuacct").join(name).join("cpuacct.usage");
    let used = match std::fs::read_to_string(&acct) {
        Ok(s) => s.trim().parse().unwrap(),
        Err(_) => keyed(&stat, "usage_usec") * 1000,
    };
    (used, keyed(&stat, "nr_throttled"))
}

#[test]
fn two_spinners_get_the_templates_half_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let s = tiny_server(dir.path(), 112_000);
    let id = create_from(&s, "spin", "tiny");
    wait_status(&s, &id, "running");
    let pid = s.child.id();
    let group = quota_group(pid);
    let (cpu0, thr0) = cpu_of(pid, &group);
    let t0 = Instant::now();
    let v = sh(
        &s,
        &id,
        "for i in 1 2; do timeout 3 sh -c 'while :; do :; done' & done; wait; echo spun",
    );
    let wall = t0.elapsed();
    assert_eq!(v["stdout"], "spun\n", "{v}");
    let (cpu1, thr1) = cpu_of(pid, &group);
    let cores = (cpu1 - cpu0) as f64 / wall.as_nanos() as f64;
    eprintln!(
        "two spinners for {wall:?} used {cores:.2} cores; throttled {} times",
        thr1 - thr0
    );
    // `quota_group` found the box's group by its quota (50 ms per 100 ms).
    // On a machine busy enough that the spinners got less than the quota
    // the kernel had nothing to throttle; otherwise it must have.
    if cores > 0.45 {
        assert!(thr1 > thr0, "{cores:.2} cores but never throttled");
    }
    assert!(
        cores <= 0.6,
        "two spinners used {cores:.2} cores under cpu = 0.5"
    );
}

#[test]
fn the_home_is_full_at_disk_mb_and_its_inodes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let s = tiny_server(dir.path(), 112_100);
    let id = create_from(&s, "full", "tiny");
    wait_status(&s, &id, "running");
    let fill = "python3 -c \"import errno\nn = 0\ntry:\n    while n < 64:\n        open(f'/home/kiln/f{n}', 'wb').write(b'x' * (1 << 20)); n += 1\nexcept OSError as e:\n    print(n, errno.errorcode[e.errno])\"";
    let v = sh(&s, &id, fill);
    let out = v["stdout"].as_str().unwrap().to_string();
    let (mib, err) = out.trim().split_once(' ').expect(&out);
    assert_eq!(err, "ENOSPC", "{v}");
    assert!(
        mib.parse::<u32>().unwrap() < 8,
        "{mib} MiB in an 8 MiB home"
    );
    // Nothing more than the image on the host: the workspace's directory
    // (not counting the mounted home) holds at most the image's 8 MiB.
    let ws_dir = dir.path().join("data/workspaces").join(&id);
    let du = std::process::Command::new("du")
        .args(["-skx"])
        .arg(&ws_dir)
        .output()
        .unwrap();
    let kib: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        kib <= 8 * 1024 + 64,
        "{kib} KiB on the host for an 8 MiB home"
    );
    // Inodes: 1024 for a small home; making empty files stops there.
    let inodes = "rm -f /home/kiln/f*; python3 -c \"import errno\nn = 0\ntry:\n    while n < 100000:\n        open(f'/home/kiln/e{n}', 'wb'); n += 1\nexcept OSError as e:\n    print(n, errno.errorcode[e.errno])\"";
    let v = sh(&s, &id, inodes);
    let out = v["stdout"].as_str().unwrap().to_string();
    let (n, err) = out.trim().split_once(' ').expect(&out);
    assert_eq!(err, "ENOSPC", "{v}");
    assert!(n.parse::<u32>().unwrap() <= 1024, "{n} files");
    // An upload into a full home is refused with the reason.
    let (code, body) = put(&s, &id, "/home/kiln/new.txt", b"data");
    assert_eq!(code, 413, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("the home is full"));
}

#[test]
fn nproc_free_and_df_show_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let s = tiny_server(dir.path(), 112_200);
    let id = create_from(&s, "views", "tiny");
    wait_status(&s, &id, "running");
    let v = sh(
        &s,
        &id,
        "nproc; grep -c ^processor /proc/cpuinfo; free -m | awk '/^Mem:/{print $2}'; df -k /home/kiln | awk 'NR==2{print $2}'",
    );
    let out = v["stdout"].as_str().unwrap().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["1", "1", "256"], "{v}");
    let df_kib: u64 = lines[3].parse().unwrap();
    assert!(
        (6 * 1024..=8 * 1024).contains(&df_kib),
        "df says {df_kib} KiB for an 8 MiB home"
    );
}
