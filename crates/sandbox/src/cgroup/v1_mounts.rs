//! Where the cgroup v1 hierarchies are mounted, and whether Kiln can make
//! its groups there from where it runs.
//!
//! Inside a container a v1 hierarchy is mounted with the container's own
//! group as its root (mountinfo's fourth field is that group, while
//! `/proc/self/cgroup` names it from the hierarchy's root): Kiln's groups go
//! below the mount's root (see `v1::locate`). What it cannot use is refused
//! before anything is made, with what to do: a hierarchy mounted read-only
//! (what container runtimes do for an unprivileged container on a v1 node),
//! or one whose mount shows a group this process is not in. The fixture
//! tests read mountinfo and `/proc/self/cgroup` of a bare host, a
//! Kubernetes pod (read-only and privileged), Docker with a private cgroup
//! namespace, and a foreign group's mount (`fixtures/`).

use std::path::PathBuf;

/// One v1 hierarchy's mount, from a mountinfo line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct V1Mount {
    pub(super) point: PathBuf,
    /// The group the mount shows (field 4): `/` on a host.
    pub(super) root: String,
    /// Mounted read-only (the per-mount options, field 6).
    pub(super) read_only: bool,
}

/// The mount of the v1 hierarchy that carries `ctrl`.
pub(super) fn find_mount(mountinfo: &str, ctrl: &str) -> Option<V1Mount> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut post = post.split_whitespace();
        if post.next()? != "cgroup" {
            return None;
        }
        let _source = post.next()?;
        let super_opts = post.next()?;
        let mut pre = pre.split_whitespace();
        let root = pre.nth(3)?;
        let point = pre.next()?;
        let mount_opts = pre.next()?;
        super_opts.split(',').any(|o| o == ctrl).then(|| V1Mount {
            point: PathBuf::from(point),
            root: root.to_string(),
            read_only: mount_opts.split(',').any(|o| o == "ro"),
        })
    })
}

/// Refuses a hierarchy Kiln cannot create its groups in, saying why and
/// what to do.
pub(super) fn check_writable(m: &V1Mount, ctrl: &str) -> Result<(), String> {
    if !m.read_only {
        return Ok(());
    }
    let place = if m.root != "/" {
        format!(
            " (cgroup v1 inside a container: the mount shows the container's own group {})",
            m.root
        )
    } else {
        String::new()
    };
    Err(format!(
        "the cgroup v1 {ctrl} hierarchy at {} is mounted read-only{place}, so Kiln cannot create its boxes' groups there; run the worker on a cgroup v2 node (every current distribution's default), or give it write access to its v1 groups (a privileged pod)",
        m.point.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::super::v1::locate;
    use super::*;

    /// mountinfo and /proc/self/cgroup of one fixture.
    fn fixture(name: &str) -> (String, String) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cgroup/fixtures");
        let read = |ext: &str| std::fs::read_to_string(format!("{dir}/{name}.{ext}")).unwrap();
        (read("mountinfo"), read("cgroup"))
    }

    const POD: &str = "/kubepods/burstable/pod5f1c2d7e-0b7a-4b9e-9d7e-2a1f3c4b5d6e/0f3a9c1e2b4d";

    #[test]
    fn a_bare_host_uses_each_hierarchy_from_its_root() {
        let (mi, pc) = fixture("host");
        let m = find_mount(&mi, "memory").unwrap();
        assert_eq!((m.root.as_str(), m.read_only), ("/", false));
        let p = locate(&mi, &pc).unwrap();
        assert_eq!(
            p[0],
            PathBuf::from(
                "/sys/fs/cgroup/memory/process_api/ecceb4f1833e78117123139f2ddb4cf7/kiln"
            )
        );
        assert_eq!(p[2], PathBuf::from("/sys/fs/cgroup/cpuacct/kiln"));
    }

    #[test]
    fn an_unprivileged_pod_on_a_v1_node_is_refused_with_what_to_do() {
        let (mi, pc) = fixture("k8s-pod");
        let m = find_mount(&mi, "pids").unwrap();
        assert_eq!((m.root.as_str(), m.read_only), (POD, true));
        let err = locate(&mi, &pc).unwrap_err();
        assert!(err.contains("cgroup v1 inside a container"), "{err}");
        assert!(err.contains("mounted read-only"), "{err}");
        assert!(err.contains("cgroup v2 node"), "{err}");
    }

    #[test]
    fn a_privileged_pod_makes_its_groups_below_its_own() {
        let (mi, pc) = fixture("k8s-privileged");
        let p = locate(&mi, &pc).unwrap();
        assert_eq!(p[0], PathBuf::from("/sys/fs/cgroup/memory/kiln"));
        assert_eq!(p[1], PathBuf::from("/sys/fs/cgroup/pids/kiln"));
        assert_eq!(p[2], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/kiln"));
        assert_eq!(p[3], PathBuf::from("/sys/fs/cgroup/freezer/kiln"));
    }

    #[test]
    fn a_private_cgroup_namespace_sees_its_group_as_the_root() {
        let (mi, pc) = fixture("docker-cgroupns");
        let p = locate(&mi, &pc).unwrap();
        assert_eq!(p[0], PathBuf::from("/sys/fs/cgroup/memory/kiln"));
    }

    #[test]
    fn a_mount_of_another_group_is_refused() {
        let (mi, pc) = fixture("foreign-group");
        let err = locate(&mi, &pc).unwrap_err();
        assert!(
            err.contains("outside what /sys/fs/cgroup/memory shows"),
            "{err}"
        );
    }
}
