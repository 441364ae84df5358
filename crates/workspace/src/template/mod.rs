//! Workspace templates: what a box gets (CPU, memory, home size, processes,
//! network) and which toolchains it offers. Two ship built in, `pod-swdev`
//! (every language Kiln runs, and git) and `ec2-datasci` (Python with numpy,
//! pandas, scipy and matplotlib, installed by scripts/install-toolchains.sh);
//! config may replace or add templates, and give them read-only tool
//! directories. What is offered is what this host has (`toolchain`): every
//! box binds the host's `/usr` read-only, plus the toolchains' own binds.

mod toolchain;

use std::collections::BTreeMap;
use std::path::Path;

use kiln_sandbox::BindSpec;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkspaceError};
pub use toolchain::{ToolDir, Toolchain, BASE_PATH, CHECKS};

/// A template as written in config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// CPUs: a CFS quota on the box's cgroup, and `ceil(cpu)` CPUs of affinity.
    pub cpu: f64,
    pub memory_mb: u64,
    /// The size of the home's own filesystem (also the largest file a
    /// program may write, RLIMIT_FSIZE, and the largest upload).
    pub disk_mb: u64,
    /// Processes and threads in the box at once.
    #[serde(default = "default_pids")]
    pub pids: u32,
    /// Network access. Boxes have their own network namespace with no
    /// interface to the outside; `true` is refused.
    #[serde(default)]
    pub network: bool,
    /// Toolchains wanted (ids like `python`, `c`, `go`); those found on the host are offered.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Python packages wanted; those importable on the host are offered.
    #[serde(default)]
    pub python_packages: Vec<String>,
    /// Read-only directories bound into every box of the template (under
    /// `/opt/`; their `bin` joins `PATH`).
    #[serde(default)]
    pub tools: Vec<ToolDir>,
    /// After a restart of the server, start again the workspaces of this
    /// template that were running (default true).
    #[serde(default = "default_autostart")]
    pub autostart: bool,
}

fn default_autostart() -> bool {
    true
}

fn default_pids() -> u32 {
    256
}

/// A parameter a workspace may be created with.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub name: &'static str,
    pub description: &'static str,
    pub default: String,
    pub options: Vec<String>,
}

/// A template as served: the spec plus what this host offers.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub cpu: f64,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub pids: u32,
    pub network: bool,
    /// Whether its running workspaces start again after a server restart.
    pub autostart: bool,
    /// Ids of the toolchains found on this host.
    pub languages: Vec<String>,
    /// The same, with each one's version and the command that proves it in a workspace.
    pub toolchains: Vec<Toolchain>,
    /// Python packages importable on this host.
    pub python_packages: Vec<String>,
    /// Where the template's own tool directories are, inside.
    pub tool_dirs: Vec<String>,
    pub parameters: Vec<Parameter>,
    /// Read-only binds of the toolchains and tool directories.
    #[serde(skip)]
    pub binds: Vec<BindSpec>,
    /// `PATH` inside the template's boxes.
    #[serde(skip)]
    pub path: String,
}

/// The languages Kiln runs (the ids of kiln-lang's catalogue), and git.
const SWDEV: &[&str] = &[
    "bash",
    "python",
    "c",
    "cpp",
    "javascript",
    "go",
    "rust",
    "java",
    "ruby",
    "php",
    "perl",
    "lua",
    "git",
];

pub fn builtin() -> Vec<TemplateSpec> {
    let langs = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    vec![
        TemplateSpec {
            name: "pod-swdev".into(),
            description: "Software development: every language Kiln runs and git, 1 CPU, 2 GiB"
                .into(),
            cpu: 1.0,
            memory_mb: 2048,
            disk_mb: 1024,
            pids: 256,
            network: false,
            languages: langs(SWDEV),
            python_packages: vec![],
            tools: vec![],
            autostart: true,
        },
        TemplateSpec {
            name: "ec2-datasci".into(),
            description:
                "Data science: Python with numpy, pandas, scipy and matplotlib, 2 CPUs, 8 GiB"
                    .into(),
            cpu: 2.0,
            memory_mb: 8192,
            disk_mb: 4096,
            pids: 512,
            network: false,
            languages: langs(&["bash", "python"]),
            python_packages: langs(&["numpy", "pandas", "scipy", "matplotlib"]),
            tools: vec![],
            autostart: true,
        },
    ]
}

/// Reads `[[template]]` tables from a TOML file.
pub fn read_file(path: &Path) -> Result<Vec<TemplateSpec>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        template: Vec<TemplateSpec>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| WorkspaceError::io(format!("read templates file {}", path.display()), e))?;
    let f: File = toml::from_str(&text)
        .map_err(|e| WorkspaceError::Config(format!("templates file {}: {e}", path.display())))?;
    Ok(f.template)
}

/// Built-ins, then `extra` replacing same-named ones; checks and resolves each.
pub fn resolve(extra: Vec<TemplateSpec>) -> Result<Vec<Template>> {
    let mut by_name: BTreeMap<String, TemplateSpec> =
        builtin().into_iter().map(|t| (t.name.clone(), t)).collect();
    for t in extra {
        by_name.insert(t.name.clone(), t);
    }
    let shells = toolchain::available_shells();
    let catalog = kiln_lang::Catalog::detect();
    by_name
        .into_values()
        .map(|t| check(&t).map(|()| offer(t, &catalog, &shells)))
        .collect()
}

fn check(t: &TemplateSpec) -> Result<()> {
    let bad = |m: String| {
        Err(WorkspaceError::Config(format!(
            "template {:?}: {m}",
            t.name
        )))
    };
    if crate::model::check_name(&t.name).is_err() {
        return bad("the name must be 1-63 characters of a-z, 0-9 and -".into());
    }
    if t.network {
        return bad("network = true is not supported: a workspace box has its own network namespace with no interface \
                    to the outside (only an unconfigured loopback); set network = false"
            .into());
    }
    if !t.cpu.is_finite() || t.cpu <= 0.0 || t.memory_mb < 64 || t.disk_mb == 0 || t.pids < 8 {
        return bad(format!("needs cpu > 0, memory_mb >= 64, disk_mb >= 1, pids >= 8 (got cpu {}, memory_mb {}, disk_mb {}, pids {})", t.cpu, t.memory_mb, t.disk_mb, t.pids));
    }
    if let Some(l) = t
        .languages
        .iter()
        .find(|l| !CHECKS.iter().any(|(id, _)| id == l))
    {
        let known: Vec<&str> = CHECKS.iter().map(|(id, _)| *id).collect();
        return bad(format!(
            "unknown language {l:?}; known: {}",
            known.join(", ")
        ));
    }
    for tool in &t.tools {
        toolchain::check_tool_dir(tool).or_else(bad)?;
    }
    Ok(())
}

fn offer(t: TemplateSpec, catalog: &kiln_lang::Catalog, shells: &[String]) -> Template {
    let mut found = toolchain::offer(catalog, &t.languages, &t.tools);
    let python_packages = toolchain::importable(&t.python_packages);
    found
        .binds
        .extend(toolchain::package_binds(&python_packages));
    Template {
        name: t.name,
        description: t.description,
        cpu: t.cpu,
        memory_mb: t.memory_mb,
        disk_mb: t.disk_mb,
        pids: t.pids,
        network: t.network,
        autostart: t.autostart,
        languages: found.toolchains.iter().map(|c| c.id.clone()).collect(),
        toolchains: found.toolchains,
        python_packages,
        tool_dirs: t.tools.iter().map(|d| d.inside.clone()).collect(),
        parameters: vec![Parameter {
            name: "shell",
            description: "The program a terminal starts when none is asked for",
            default: shells.first().cloned().unwrap_or_else(|| "/bin/sh".into()),
            options: shells.to_vec(),
        }],
        binds: found.binds,
        path: found.path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve_and_config_replaces_them() {
        let mut mine = builtin().remove(0);
        mine.memory_mb = 512;
        let all = resolve(vec![mine]).unwrap();
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["ec2-datasci", "pod-swdev"]);
        let pod = all.iter().find(|t| t.name == "pod-swdev").unwrap();
        assert_eq!(pod.memory_mb, 512);
        assert!(
            pod.languages.contains(&"bash".to_string()),
            "bash is on every host: {:?}",
            pod.languages
        );
        assert_eq!(pod.parameters[0].name, "shell");
    }

    #[test]
    fn network_and_bad_specs_are_refused_with_the_reason() {
        let mut net = builtin().remove(0);
        net.network = true;
        let e = resolve(vec![net]).unwrap_err().to_string();
        assert!(e.contains("network = true is not supported"), "{e}");
        let mut lang = builtin().remove(0);
        lang.languages.push("cobol".into());
        assert!(resolve(vec![lang])
            .unwrap_err()
            .to_string()
            .contains("unknown language \"cobol\""));
        let mut name = builtin().remove(0);
        name.name = "Bad Name".into();
        assert!(resolve(vec![name]).is_err());
    }

    #[test]
    fn templates_file_parses() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.toml");
        std::fs::write(&p, "[[template]]\nname = \"tiny\"\ncpu = 0.5\nmemory_mb = 128\ndisk_mb = 16\nlanguages = [\"bash\"]\n").unwrap();
        let t = read_file(&p).unwrap();
        assert_eq!(t[0].name, "tiny");
        assert_eq!(t[0].pids, 256);
        std::fs::write(&p, "[[template]]\nname = \"x\"\ncpus = 1\n").unwrap();
        assert!(read_file(&p).unwrap_err().to_string().contains("cpus"));
    }
}
