//! Probing the host: where each toolchain's binaries are, which version they
//! are, and what a box needs to run them.
//!
//! Tools are looked up only in `/usr/bin` and `/usr/local/bin` (both inside the
//! box's read-only `/usr`), never through the caller's `PATH`, so that a shim
//! such as pyenv's is never picked. The one exception is a rustup toolchain,
//! which lives under the host's home and is bound at [`RUST_INSIDE`].
//!
//! Layout: this module turns a spec into a language; `tools` finds binaries
//! (and the rustup sysroot), `command` runs a version probe under its
//! timeout and reads the version.

mod command;
mod tools;

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::builtin::{Spec, BUILTIN};
use crate::language::{Language, Missing, Mount};
use command::{parse_version, run_with_timeout};
use tools::{find_rustc, find_tool, Tool};

/// How long one version probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a rustup toolchain (its sysroot) is bound inside a box.
pub const RUST_INSIDE: &str = "/opt/rust";
const BASE_PATH: &str = "/usr/bin:/bin";

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
        accel: spec.accel,
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

#[cfg(test)]
mod tests {
    use super::*;

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
