//! Finding a toolchain's binaries on the host (see the module header of
//! [`detect`](super)).

use std::path::{Path, PathBuf};

use super::command::run_with_timeout;
use super::{PROBE_TIMEOUT, RUST_INSIDE};
use crate::language::Mount;

const SEARCH_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];

/// One binary: its host path and its path inside a box.
pub(super) struct Tool {
    pub(super) name: &'static str,
    pub(super) host: PathBuf,
    pub(super) inside: String,
}

/// Looks `name` up in [`SEARCH_DIRS`]. A link through `/etc` (Debian's
/// alternatives) is resolved to its target under `/usr`, so the box does not
/// depend on `/etc/alternatives`.
pub(super) fn find_tool(name: &'static str) -> Option<Tool> {
    SEARCH_DIRS.iter().find_map(|dir| {
        let path = Path::new(dir).join(name);
        if !is_executable(&path) {
            return None;
        }
        let through_etc = std::fs::read_link(&path).is_ok_and(|t| t.starts_with("/etc"));
        let chosen = match std::fs::canonicalize(&path) {
            Ok(real) if through_etc && real.starts_with("/usr") => real,
            _ => path,
        };
        let inside = chosen.to_str()?.to_string();
        Some(Tool {
            name,
            host: chosen,
            inside,
        })
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Debian's `/usr/bin/rustc` when there is one; otherwise the sysroot of the
/// rustup toolchain that `rustc` on PATH (or in `~/.cargo/bin`) selects,
/// bound at [`RUST_INSIDE`].
pub(super) fn find_rustc() -> Result<(Tool, Option<Mount>), String> {
    let debian = Path::new("/usr/bin/rustc");
    if is_executable(debian) {
        let tool = Tool {
            name: "rustc",
            host: debian.into(),
            inside: "/usr/bin/rustc".into(),
        };
        return Ok((tool, None));
    }
    let proxy = rustc_candidates()
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or(
            "rustc not found (no /usr/bin/rustc, no rustup toolchain on PATH or in ~/.cargo/bin)",
        )?;
    let proxy_str = proxy.to_string_lossy().into_owned();
    let sysroot = run_with_timeout(
        &[proxy_str, "--print".into(), "sysroot".into()],
        None,
        PROBE_TIMEOUT,
    )?;
    let sysroot = PathBuf::from(sysroot.trim());
    let host = sysroot.join("bin/rustc");
    if !is_executable(&host) {
        return Err(format!(
            "rustup sysroot {} has no bin/rustc",
            sysroot.display()
        ));
    }
    let tool = Tool {
        name: "rustc",
        host,
        inside: format!("{RUST_INSIDE}/bin/rustc"),
    };
    Ok((
        tool,
        Some(Mount {
            host: sysroot,
            inside: RUST_INSIDE.into(),
        }),
    ))
}

fn rustc_candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.push("/root/.cargo/bin".into());
    dirs.into_iter().map(|d| d.join("rustc")).collect()
}
