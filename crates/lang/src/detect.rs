//! Probing the host: where each toolchain's binaries are, which version they
//! are, and what a box needs to run them.
//!
//! Tools are looked up only in `/usr/bin` and `/usr/local/bin` (both inside the
//! box's read-only `/usr`), never through the caller's `PATH`, so that a shim
//! such as pyenv's is never picked. The one exception is a rustup toolchain,
//! which lives under the host's home and is bound at [`RUST_INSIDE`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::builtin::{Spec, BUILTIN};
use crate::language::{Language, Missing, Mount};

/// How long one version probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a rustup toolchain (its sysroot) is bound inside a box.
pub const RUST_INSIDE: &str = "/opt/rust";
const SEARCH_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];
const BASE_PATH: &str = "/usr/bin:/bin";

/// One binary: its host path and its path inside a box.
struct Tool {
    name: &'static str,
    host: PathBuf,
    inside: String,
}

/// Probes every built-in language, all at once, each under [`PROBE_TIMEOUT`].
pub(crate) fn detect_all() -> (Vec<Language>, Vec<Missing>) {
    let results: Vec<Result<Language, Missing>> = thread::scope(|scope| {
        let handles: Vec<_> = BUILTIN
            .iter()
            .map(|spec| thread::Builder::new().spawn_scoped(scope, move || probe(spec)))
            .collect();
        handles
            .into_iter()
            .zip(BUILTIN)
            .map(|(handle, spec)| match handle {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(missing(spec, "probe panicked"))),
                Err(_) => probe(spec),
            })
            .collect()
    });
    let mut available = Vec::new();
    let mut absent = Vec::new();
    for result in results {
        match result {
            Ok(lang) => available.push(lang),
            Err(m) => absent.push(m),
        }
    }
    (available, absent)
}

/// Probes the one built-in language `spec` (`kiln run`: one program, one
/// toolchain to find).
pub(crate) fn detect_one(spec: &Spec) -> (Vec<Language>, Vec<Missing>) {
    match probe(spec) {
        Ok(lang) => (vec![lang], Vec::new()),
        Err(m) => (Vec::new(), vec![m]),
    }
}

/// Finds one language's toolchain and reads its version.
fn probe(spec: &Spec) -> Result<Language, Missing> {
    let mut mounts = Vec::new();
    let mut tools = Vec::new();
    for &name in spec.tools {
        let tool = if name == "rustc" {
            let (tool, mount) = find_rustc().map_err(|reason| missing(spec, &reason))?;
            mounts.extend(mount);
            tool
        } else {
            find_tool(name).ok_or_else(|| {
                missing(
                    spec,
                    &format!("{name} not found in /usr/bin or /usr/local/bin"),
                )
            })?
        };
        tools.push(tool);
    }
    let mut lang = Language {
        id: spec.id.to_string(),
        name: String::new(),
        version: String::new(),
        aliases: strings(spec.aliases),
        extensions: strings(spec.extensions),
        default_file: spec.default_file.to_string(),
        compile: spec.compile.map(|c| resolve_tools(c, &tools)),
        run: resolve_tools(spec.run, &tools),
        env: base_env(&tools, &mounts),
        mounts,
        etc: existing(spec.etc.iter().map(|e| e.to_string())),
        min_processes: spec.min_processes,
        compile_min_processes: spec.compile_min_processes,
    };
    lang.env
        .extend(spec.env.iter().map(|(k, v)| (k.to_string(), v.to_string())));

    let version_argv = lang.host_argv(&resolve_tools(spec.version, &tools));
    let output = run_with_timeout(&version_argv, Some(&lang.host_env()), PROBE_TIMEOUT)
        .map_err(|e| missing(spec, &e))?;
    lang.version = parse_version(&output).ok_or_else(|| {
        let first = output.lines().next().unwrap_or("").trim();
        missing(
            spec,
            &format!(
                "no version in the output of `{}`: {first:?}",
                version_argv.join(" ")
            ),
        )
    })?;
    lang.name = spec.display.replace("{v}", &lang.version);

    match spec.id {
        "go" => add_goroot(&mut lang, &tools[0]),
        "java" => lang.etc.extend(java_etc(&tools[0].host)),
        _ => {}
    }
    Ok(lang)
}

fn missing(spec: &Spec, reason: &str) -> Missing {
    Missing {
        id: spec.id.to_string(),
        reason: reason.to_string(),
        install_hint: format!("apt-get install -y {}", spec.package),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Keeps the paths that exist on the host.
fn existing(paths: impl Iterator<Item = String>) -> Vec<String> {
    paths.filter(|p| Path::new(p).exists()).collect()
}

/// PATH (tool directories first), HOME, TMPDIR and LANG, as seen in a box.
fn base_env(tools: &[Tool], mounts: &[Mount]) -> Vec<(String, String)> {
    let mut path: Vec<String> = mounts
        .iter()
        .map(|m| format!("{}/bin", m.inside.display()))
        .collect();
    if tools
        .iter()
        .any(|t| t.inside.starts_with("/usr/local/bin/"))
    {
        path.push("/usr/local/bin".to_string());
    }
    path.push(BASE_PATH.to_string());
    [
        ("PATH", path.join(":")),
        ("HOME", "/tmp".to_string()),
        ("TMPDIR", "/tmp".to_string()),
        ("LANG", "C.UTF-8".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Replaces every `{tool:NAME}` with that tool's path inside a box.
fn resolve_tools(template: &[&str], tools: &[Tool]) -> Vec<String> {
    template
        .iter()
        .map(|arg| {
            tools.iter().fold(arg.to_string(), |acc, t| {
                acc.replace(&format!("{{tool:{}}}", t.name), &t.inside)
            })
        })
        .collect()
}

/// Looks `name` up in [`SEARCH_DIRS`]. A link through `/etc` (Debian's
/// alternatives) is resolved to its target under `/usr`, so the box does not
/// depend on `/etc/alternatives`.
fn find_tool(name: &'static str) -> Option<Tool> {
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
fn find_rustc() -> Result<(Tool, Option<Mount>), String> {
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

/// Sets GOROOT from `go env GOROOT` when it lies under `/usr`.
fn add_goroot(lang: &mut Language, go: &Tool) {
    let argv = [
        go.host.to_string_lossy().into_owned(),
        "env".into(),
        "GOROOT".into(),
    ];
    if let Ok(out) = run_with_timeout(&argv, Some(&lang.host_env()), PROBE_TIMEOUT) {
        let root = out.trim();
        if root.starts_with("/usr/") {
            lang.env.push(("GOROOT".into(), root.into()));
        }
    }
}

/// The `/etc/java-NN-openjdk` directory the JDK's `conf/` links into.
fn java_etc(javac: &Path) -> Option<String> {
    let home = javac.parent()?.parent()?;
    let target = std::fs::read_link(home.join("conf/security/java.security")).ok()?;
    let mut parts = target.components();
    let (root, etc, dir) = (parts.next()?, parts.next()?, parts.next()?);
    let dir = Path::new(root.as_os_str()).join(etc).join(dir);
    (dir.starts_with("/etc") && dir.is_dir()).then(|| dir.to_string_lossy().into_owned())
}

/// Runs `argv` with stdin closed and either exactly `env` or the inherited
/// environment; returns stdout and stderr together when it exits 0 within
/// `timeout`.
fn run_with_timeout(
    argv: &[String],
    env: Option<&[(String, String)]>,
    timeout: Duration,
) -> Result<String, String> {
    let shown = argv.join(" ");
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(env) = env {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("`{shown}` failed to start: {e}"))?;
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers are left behind: a grandchild may hold the pipes.
                return Err(format!("`{shown}` timed out after {timeout:?}"));
            }
            Err(e) => return Err(format!("`{shown}`: {e}")),
        }
    };
    let text: String = readers
        .into_iter()
        .map(|r| String::from_utf8_lossy(&r.join().unwrap_or_default()).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    if status.success() {
        Ok(text)
    } else {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        Err(format!("`{shown}` failed ({status}): {first}"))
    }
}

/// The first dotted number in `text`: "go version go1.19.8 linux/amd64" →
/// "1.19.8", "v20.11.0" → "20.11.0", "5.2.15(1)-release" → "5.2.15".
pub(crate) fn parse_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
        if starts {
            let end = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_digit() || bytes[j] == b'.'))
                .unwrap_or(bytes.len());
            let candidate = text[i..end].trim_end_matches('.');
            if candidate.contains('.') {
                return Some(candidate.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_real_outputs() {
        let cases = [
            ("Python 3.11.2\n", "3.11.2"),
            ("v20.20.2\n", "20.20.2"),
            ("12.2.0\n", "12.2.0"),
            ("javac 17.0.17\n", "17.0.17"),
            ("rustc 1.95.0 (f2d3ce0bd 2026-03-21)\n", "1.95.0"),
            ("go version go1.19.8 linux/amd64\n", "1.19.8"),
            ("5.2.15(1)-release\n", "5.2.15"),
            ("3.1.2", "3.1.2"),
            ("v5.36.0", "5.36.0"),
            (
                "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio\n",
                "5.4.4",
            ),
            ("build 7 of 2024, release 8.2.", "8.2"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), Some(want), "{text:?}");
        }
        assert_eq!(parse_version("no digits here"), None);
        assert_eq!(parse_version("version 12"), None);
    }

    #[test]
    fn a_slow_probe_is_cut_off() {
        let argv = ["/bin/sleep".to_string(), "30".to_string()];
        let started = Instant::now();
        let err = run_with_timeout(&argv, Some(&[]), Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_failing_probe_says_why() {
        let argv = [
            "/bin/sh".to_string(),
            "-c".to_string(),
            "echo nope >&2; exit 4".to_string(),
        ];
        let err = run_with_timeout(&argv, Some(&[]), PROBE_TIMEOUT).unwrap_err();
        assert!(err.contains("nope") && err.contains('4'), "{err}");
        let argv = ["/nonexistent/tool".to_string()];
        assert!(run_with_timeout(&argv, None, PROBE_TIMEOUT)
            .unwrap_err()
            .contains("failed to start"));
    }

    #[test]
    fn tools_are_resolved_to_box_paths() {
        let tools = [Tool {
            name: "gcc",
            host: "/h/gcc".into(),
            inside: "/usr/bin/gcc".into(),
        }];
        assert_eq!(
            resolve_tools(&["{tool:gcc}", "linker={tool:gcc}", "{main}"], &tools),
            ["/usr/bin/gcc", "linker=/usr/bin/gcc", "{main}"]
        );
    }
}
