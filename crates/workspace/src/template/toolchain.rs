//! What a template really offers on this host: each language it asks for
//! whose toolchain Kiln's language catalogue finds (the same probe as
//! one-shot runs, so Rust from a rustup toolchain comes bound at
//! `/opt/rust`), git, the Python packages the host's python3 imports, and the
//! template's own read-only tool directories. Each toolchain is served with
//! the command that proves it inside a workspace (`check`), which the
//! templates test runs in one.

use std::collections::BTreeSet;
use std::path::Path;

use kiln_lang::Catalog;
use kiln_sandbox::BindSpec;
use serde::{Deserialize, Serialize};

/// Each toolchain id a template may ask for, with the command that shows
/// it works inside a box (found through the box's `PATH`).
pub const CHECKS: &[(&str, &[&str])] = &[
    ("bash", &["bash", "--version"]),
    ("python", &["python3", "--version"]),
    ("c", &["gcc", "--version"]),
    ("cpp", &["g++", "--version"]),
    ("javascript", &["node", "--version"]),
    ("go", &["go", "version"]),
    ("rust", &["rustc", "--version"]),
    ("java", &["javac", "-version"]),
    ("ruby", &["ruby", "--version"]),
    ("php", &["php", "--version"]),
    ("perl", &["perl", "-v"]),
    ("lua", &["lua5.4", "-v"]),
    ("git", &["git", "--version"]),
];

/// The `PATH` of every box before a template's tool directories.
pub const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A read-only directory a template adds to its boxes (`host` bound at
/// `inside`; `inside/bin`, when the host has it, joins `PATH`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ToolDir {
    pub host: String,
    pub inside: String,
}

/// One toolchain a template offers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Toolchain {
    pub id: String,
    /// As its version command printed it (empty for git).
    pub version: String,
    /// The argv that proves it inside a workspace.
    pub check: Vec<String>,
}

/// What a template's boxes get besides the system binds.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub toolchains: Vec<Toolchain>,
    pub binds: Vec<BindSpec>,
    pub path: String,
}

fn check_of(id: &str) -> Vec<String> {
    CHECKS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, argv)| argv.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}

/// Where a tool directory is refused inside a box: it must be a normalised
/// absolute path under `/opt/`.
pub fn check_tool_dir(t: &ToolDir) -> Result<(), String> {
    let ok_inside = t.inside.starts_with("/opt/")
        && t.inside.len() > 5
        && !t
            .inside
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..");
    if !ok_inside {
        return Err(format!(
            "tool directory inside {:?} must be a plain absolute path under /opt/",
            t.inside
        ));
    }
    if !Path::new(&t.host).is_dir() {
        return Err(format!(
            "tool directory {:?} does not exist on this host (or is not a directory)",
            t.host
        ));
    }
    Ok(())
}

/// The toolchains of `wanted` found on this host, with the binds and
/// `PATH` that make them (and the template's tool directories) work.
pub fn offer(catalog: &Catalog, wanted: &[String], tools: &[ToolDir]) -> Offer {
    let mut binds: Vec<BindSpec> = Vec::new();
    let mut bins: BTreeSet<String> = BTreeSet::new();
    let mut toolchains = Vec::new();
    for id in wanted {
        if id == "git" {
            if ["/usr/bin/git", "/usr/local/bin/git"]
                .iter()
                .any(|p| Path::new(p).is_file())
            {
                toolchains.push(Toolchain {
                    id: id.clone(),
                    version: String::new(),
                    check: check_of(id),
                });
            }
            continue;
        }
        let Some(lang) = catalog.available().iter().find(|l| &l.id == id) else {
            continue;
        };
        for m in &lang.mounts {
            let (host, inside) = (m.host.display().to_string(), m.inside.display().to_string());
            if m.host.join("bin").is_dir() {
                bins.insert(format!("{inside}/bin"));
            }
            binds.push(BindSpec { host, inside });
        }
        for e in &lang.etc {
            binds.push(BindSpec {
                host: e.clone(),
                inside: e.clone(),
            });
        }
        toolchains.push(Toolchain {
            id: id.clone(),
            version: lang.version.clone(),
            check: check_of(id),
        });
    }
    for t in tools {
        if Path::new(&t.host).join("bin").is_dir() {
            bins.insert(format!("{}/bin", t.inside));
        }
        binds.push(BindSpec {
            host: t.host.clone(),
            inside: t.inside.clone(),
        });
    }
    binds.sort_by(|a, b| a.inside.cmp(&b.inside));
    binds.dedup_by(|a, b| a.inside == b.inside);
    let mut path: Vec<String> = bins.into_iter().collect();
    path.push(BASE_PATH.into());
    Offer {
        toolchains,
        binds,
        path: path.join(":"),
    }
}

/// Files of `/etc` a Python package needs at import (Debian's
/// matplotlib reads `/etc/matplotlibrc`), bound when present.
const PACKAGE_ETC: &[(&str, &str)] = &[("matplotlib", "/etc/matplotlibrc")];

/// The binds the offered Python packages need.
pub fn package_binds(packages: &[String]) -> Vec<BindSpec> {
    PACKAGE_ETC
        .iter()
        .filter(|(p, f)| packages.iter().any(|x| x == p) && Path::new(f).exists())
        .map(|(_, f)| BindSpec {
            host: f.to_string(),
            inside: f.to_string(),
        })
        .collect()
}

/// The packages of `wanted` that the boxes' python3 (the host's
/// `/usr/bin/python3`, never a shim on `PATH`) can import.
pub fn importable(wanted: &[String]) -> Vec<String> {
    let names: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    if names.is_empty() {
        return vec![];
    }
    let script = format!(
        "import importlib.util\nfor n in {:?}:\n    print(n) if importlib.util.find_spec(n) else None\n",
        names
    );
    match std::process::Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .stderr(std::process::Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

pub fn available_shells() -> Vec<String> {
    ["/bin/bash", "/bin/sh"]
        .iter()
        .filter(|p| Path::new(p).is_file())
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_lang::{Language, Mount};

    fn lang(id: &str, mounts: Vec<Mount>) -> Language {
        let mut l: Language = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "version": "1.2.3", "aliases": [], "extensions": [],
            "default_file": "main", "compile": null, "run": [], "env": [], "mounts": [],
            "etc": [], "min_processes": 1, "compile_min_processes": 1
        }))
        .unwrap();
        l.mounts = mounts;
        l
    }

    #[test]
    fn found_toolchains_bring_their_binds_and_path() {
        let sysroot = tempfile::tempdir().unwrap();
        std::fs::create_dir(sysroot.path().join("bin")).unwrap();
        let rust = lang(
            "rust",
            vec![Mount {
                host: sysroot.path().into(),
                inside: "/opt/rust".into(),
            }],
        );
        let catalog = Catalog::from_parts(vec![rust, lang("python", vec![])], vec![]);
        let wanted: Vec<String> = ["python", "rust", "go"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let tool = ToolDir {
            host: sysroot.path().display().to_string(),
            inside: "/opt/mine".into(),
        };
        let o = offer(&catalog, &wanted, &[tool]);
        let ids: Vec<&str> = o.toolchains.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["python", "rust"], "go is not in the catalogue");
        assert_eq!(o.toolchains[1].check, ["rustc", "--version"]);
        assert_eq!(o.binds.len(), 2);
        assert!(
            o.path
                .starts_with("/opt/mine/bin:/opt/rust/bin:/usr/local/sbin"),
            "{}",
            o.path
        );
    }

    #[test]
    fn tool_dirs_must_be_under_opt_and_exist() {
        let t = |host: &str, inside: &str| ToolDir {
            host: host.into(),
            inside: inside.into(),
        };
        assert!(check_tool_dir(&t("/usr", "/opt/x")).is_ok());
        for bad in ["/usr/x", "/opt/", "/opt/../etc", "/opt//x", "opt/x"] {
            assert!(check_tool_dir(&t("/usr", bad)).is_err(), "{bad}");
        }
        assert!(check_tool_dir(&t("/surely/not/here", "/opt/x"))
            .unwrap_err()
            .contains("does not exist"));
    }

    #[test]
    fn missing_packages_are_left_out() {
        let got = importable(&["json".into(), "surely_not_a_module_kiln".into()]);
        if Path::new("/usr/bin/python3").is_file() {
            assert_eq!(got, ["json"]);
        } else {
            assert!(got.is_empty());
        }
    }
}
