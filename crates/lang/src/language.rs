//! The records the engine works with: a runnable [`Language`], the extra
//! read-only [`Mount`]s its toolchain needs, and a [`Missing`] toolchain.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::template::{self, ExpandContext};

/// One language the host can run, with every command resolved to a path that
/// exists inside a box (the host's `/usr` plus [`Language::mounts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    /// Stable id: "python", "javascript", "c", "cpp", "java", "rust", "go",
    /// "bash", "ruby", "php", "perl", "lua".
    pub id: String,
    /// Display name with the detected version, e.g. "Python 3.11.2".
    pub name: String,
    /// Detected version, e.g. "3.11.2".
    pub version: String,
    /// Other names accepted by [`crate::Catalog::get`] ("py", "js", "c++", …).
    pub aliases: Vec<String>,
    /// File extensions without the dot; the first is the canonical one.
    pub extensions: Vec<String>,
    /// File name used when a submission gives one unnamed source.
    pub default_file: String,
    /// Compile argv template; `None` for interpreted languages.
    pub compile: Option<Vec<String>>,
    /// Run argv template.
    pub run: Vec<String>,
    /// Environment inside the box (always includes PATH, HOME, TMPDIR, LANG).
    pub env: Vec<(String, String)>,
    /// Extra read-only binds (host → box) the toolchain needs.
    pub mounts: Vec<Mount>,
    /// Extra host `/etc` entries to bind read-only (only ones that exist).
    pub etc: Vec<String>,
    /// Processes/threads the runtime needs at least when running.
    pub min_processes: u32,
    /// Processes/threads the compiler needs at least (0 when not compiled).
    pub compile_min_processes: u32,
    /// What can make its compiler start faster, built once per node from
    /// Kiln's own inputs (see the engine's `assets`).
    #[serde(default)]
    pub accel: Accel,
}

/// A compiler speed-up a language's toolchain supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    #[default]
    None,
    /// GCC's precompiled header of the standard headers a C++ source
    /// includes first (`-x c++-header`, used with `-include`).
    CxxPch,
    /// A class-data-sharing archive of the `javac` compiler's own classes
    /// (`-J-XX:SharedArchiveFile`).
    JavacCds,
}

/// A read-only bind mount: `host` is bound at `inside` in the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub host: PathBuf,
    pub inside: PathBuf,
}

/// A known language whose toolchain is not usable on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub id: String,
    /// Why it is unavailable, e.g. "/usr/bin/go not found".
    pub reason: String,
    /// Command that installs it, e.g. "apt-get install -y golang-go".
    pub install_hint: String,
}

impl Language {
    /// Expands a template: "{main}" → `./` + entry file name, "{main_stem}" → its stem
    /// (Java class), "{files}" → one argument per source file, "{memory_mb}" →
    /// memory limit in MiB, "{heap_mb}" → a heap size that leaves the runtime
    /// headroom under that limit. An argument may embed a placeholder
    /// ("-Xmx{heap_mb}m"). See [`crate::template`].
    pub fn expand(&self, template: &[String], ctx: &ExpandContext) -> Vec<String> {
        template::expand(template, ctx)
    }

    /// The expanded compile argv, if the language is compiled.
    pub fn compile_argv(&self, ctx: &ExpandContext) -> Option<Vec<String>> {
        self.compile_argv_with(ctx, &[])
    }

    /// The expanded compile argv with a submission's compiler options where
    /// the template has [`OPTIONS`](crate::template::OPTIONS), one argument each.
    pub fn compile_argv_with(
        &self,
        ctx: &ExpandContext,
        options: &[String],
    ) -> Option<Vec<String>> {
        let t = self.compile.as_ref()?;
        let mut argv = Vec::with_capacity(t.len() + options.len());
        for (i, part) in t.split(|a| a == crate::template::OPTIONS).enumerate() {
            if i > 0 {
                argv.extend(options.iter().cloned());
            }
            argv.extend(self.expand(part, ctx));
        }
        Some(argv)
    }

    /// Whether the compile step takes a submission's compiler options.
    pub fn accepts_compiler_options(&self) -> bool {
        self.compile
            .as_ref()
            .is_some_and(|t| t.iter().any(|a| a == crate::template::OPTIONS))
    }

    /// The expanded run argv.
    pub fn run_argv(&self, ctx: &ExpandContext) -> Vec<String> {
        self.expand(&self.run, ctx)
    }

    /// Whether the language has a compile step.
    pub fn is_compiled(&self) -> bool {
        self.compile.is_some()
    }

    /// Whether `path` has one of this language's extensions (case-insensitive).
    pub fn matches_file(&self, path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|ext| self.extensions.iter().any(|x| x.eq_ignore_ascii_case(ext)))
    }

    /// Value of one variable of [`Language::env`].
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `argv` with every mount's box path replaced by its host path, to run the
    /// toolchain outside a box (benchmarks, host tests): "/opt/rust/bin/rustc"
    /// → "`<sysroot>`/bin/rustc".
    pub fn host_argv(&self, argv: &[String]) -> Vec<String> {
        argv.iter().map(|a| self.to_host(a)).collect()
    }

    /// [`Language::env`] with box paths replaced by host paths, as
    /// [`Language::host_argv`] does.
    pub fn host_env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), self.to_host(v)))
            .collect()
    }

    fn to_host(&self, text: &str) -> String {
        self.mounts.iter().fold(text.to_string(), |acc, m| {
            match (m.inside.to_str(), m.host.to_str()) {
                (Some(inside), Some(host)) => acc.replace(inside, host),
                _ => acc,
            }
        })
    }
}
