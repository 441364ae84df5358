//! The static table of known languages.
//!
//! Commands name their tools as `{tool:NAME}`; detection replaces each with the
//! tool's path as seen inside a box. Everything else in a command is an argv
//! template (see [`crate::template`]).

use crate::language::Accel;

/// Ids of every built-in language, in catalogue order.
pub const BUILTIN_IDS: &[&str] = &[
    "python",
    "javascript",
    "c",
    "cpp",
    "java",
    "rust",
    "go",
    "bash",
    "ruby",
    "php",
    "perl",
    "lua",
];

/// How to find, probe and run one language.
#[derive(Debug)]
pub(crate) struct Spec {
    pub id: &'static str,
    /// Display name; `{v}` is replaced by the detected version.
    pub display: &'static str,
    pub aliases: &'static [&'static str],
    pub extensions: &'static [&'static str],
    pub default_file: &'static str,
    /// Binaries that must exist (looked up in /usr/bin, then /usr/local/bin).
    pub tools: &'static [&'static str],
    /// Command that prints the version; the first dotted number in its output wins.
    pub version: &'static [&'static str],
    pub compile: Option<&'static [&'static str]>,
    pub run: &'static [&'static str],
    /// Language-specific env (PATH, HOME, TMPDIR and LANG are added for all).
    pub env: &'static [(&'static str, &'static str)],
    /// /etc entries to bind, when they exist on the host.
    pub etc: &'static [&'static str],
    /// Debian package(s) that provide the toolchain.
    pub package: &'static str,
    pub min_processes: u32,
    pub compile_min_processes: u32,
    pub accel: Accel,
}

const NOT_COMPILED: u32 = 0;
/// Small single-process runtimes (and the headroom a shell script needs).
const SMALL: u32 = 8;

pub(crate) const BUILTIN: &[Spec] = &[
    Spec {
        id: "python",
        display: "Python {v}",
        aliases: &["py", "python3", "py3"],
        extensions: &["py"],
        default_file: "main.py",
        tools: &["python3"],
        version: &["{tool:python3}", "--version"],
        compile: None,
        // -B: never write .pyc files next to the sources.
        run: &["{tool:python3}", "-B", "{main}"],
        env: &[("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONNOUSERSITE", "1")],
        etc: &[],
        package: "python3",
        min_processes: SMALL,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "javascript",
        display: "JavaScript (Node.js {v})",
        aliases: &["js", "node", "nodejs"],
        extensions: &["js", "mjs", "cjs"],
        default_file: "main.js",
        tools: &["node"],
        version: &["{tool:node}", "--version"],
        compile: None,
        run: &["{tool:node}", "{main}"],
        // A script writes nothing of node's own; HOME=/tmp catches the rest and
        // the REPL keeps no history.
        env: &[("NODE_REPL_HISTORY", "")],
        etc: &[],
        package: "nodejs",
        min_processes: 16,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "c",
        display: "C (GCC {v})",
        aliases: &["gcc", "c17"],
        extensions: &["c"],
        default_file: "main.c",
        tools: &["gcc"],
        version: &["{tool:gcc}", "-dumpfullversion"],
        compile: Some(&[
            "{tool:gcc}",
            "-O2",
            "-std=c17",
            "{options}",
            "-o",
            "main",
            "{files}",
            "-lm",
        ]),
        run: &["./main"],
        env: &[],
        etc: &[],
        package: "gcc",
        min_processes: SMALL,
        compile_min_processes: 16,
        accel: Accel::None,
    },
    Spec {
        id: "cpp",
        display: "C++ (GCC {v})",
        aliases: &["c++", "g++", "cxx", "cpp17"],
        extensions: &["cpp", "cc", "cxx", "c++"],
        default_file: "main.cpp",
        tools: &["g++"],
        version: &["{tool:g++}", "-dumpfullversion"],
        compile: Some(&[
            "{tool:g++}",
            "-O2",
            "-std=c++20",
            "{options}",
            "-o",
            "main",
            "{files}",
        ]),
        run: &["./main"],
        env: &[],
        etc: &[],
        package: "g++",
        min_processes: SMALL,
        compile_min_processes: 16,
        accel: Accel::CxxPch,
    },
    Spec {
        id: "java",
        display: "Java (OpenJDK {v})",
        aliases: &["java17", "jdk"],
        extensions: &["java"],
        default_file: "Main.java",
        tools: &["javac", "java"],
        version: &["{tool:javac}", "-version"],
        // The JVM sizes itself from the host's memory, not the box's: cap the
        // heap below the cgroup limit, use one GC thread and C1 only (fast start),
        // and skip the /tmp/hsperfdata file.
        compile: Some(&[
            "{tool:javac}",
            "-J-Xmx{heap_mb}m",
            "-J-XX:+UseSerialGC",
            "-J-XX:TieredStopAtLevel=1",
            "-J-XX:-UsePerfData",
            "-encoding",
            "UTF-8",
            "{options}",
            "-d",
            ".",
            "{files}",
        ]),
        run: &[
            "{tool:java}",
            "-Xmx{heap_mb}m",
            "-Xss64m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-Dfile.encoding=UTF-8",
            "-cp",
            ".",
            "{main_stem}",
        ],
        env: &[],
        // Detection adds the JDK's /etc/java-NN-openjdk (its conf/ links there).
        etc: &[],
        package: "openjdk-17-jdk-headless",
        min_processes: 48,
        compile_min_processes: 64,
        accel: Accel::JavacCds,
    },
    Spec {
        id: "rust",
        display: "Rust {v}",
        aliases: &["rs", "rustc"],
        extensions: &["rs"],
        default_file: "main.rs",
        // rustc comes from /usr/bin or from a rustup toolchain (see detect/tools.rs);
        // gcc is its linker.
        tools: &["rustc", "gcc"],
        version: &["{tool:rustc}", "--version"],
        compile: Some(&[
            "{tool:rustc}",
            "-O",
            "--edition",
            "2021",
            "-C",
            "linker={tool:gcc}",
            "{options}",
            "-o",
            "main",
            "{main}",
        ]),
        run: &["./main"],
        env: &[],
        etc: &[],
        package: "rustc",
        min_processes: SMALL,
        compile_min_processes: 32,
        accel: Accel::None,
    },
    Spec {
        id: "go",
        display: "Go {v}",
        aliases: &["golang"],
        extensions: &["go"],
        default_file: "main.go",
        tools: &["go"],
        version: &["{tool:go}", "version"],
        compile: Some(&["{tool:go}", "build", "{options}", "-o", "main", "{files}"]),
        run: &["./main"],
        // GOPATH mode (no go.mod needed); caches in the box's /tmp. Detection
        // adds GOROOT.
        env: &[
            ("GOCACHE", "/tmp/go-cache"),
            ("GOPATH", "/tmp/go"),
            ("GO111MODULE", "off"),
            ("GOFLAGS", "-buildvcs=false"),
            ("GOTELEMETRY", "off"),
        ],
        etc: &[],
        package: "golang-go",
        min_processes: 16,
        compile_min_processes: 48,
        accel: Accel::None,
    },
    Spec {
        id: "bash",
        display: "Bash {v}",
        aliases: &["sh", "shell"],
        extensions: &["sh", "bash"],
        default_file: "main.sh",
        tools: &["bash"],
        version: &["{tool:bash}", "-c", "echo $BASH_VERSION"],
        compile: None,
        run: &["{tool:bash}", "{main}"],
        env: &[],
        etc: &[],
        package: "bash",
        min_processes: 16,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "ruby",
        display: "Ruby {v}",
        aliases: &["rb"],
        extensions: &["rb"],
        default_file: "main.rb",
        tools: &["ruby"],
        version: &["{tool:ruby}", "-e", "print RUBY_VERSION"],
        compile: None,
        run: &["{tool:ruby}", "{main}"],
        env: &[],
        etc: &[],
        package: "ruby",
        min_processes: SMALL,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "php",
        display: "PHP {v}",
        aliases: &["php8"],
        extensions: &["php"],
        default_file: "main.php",
        tools: &["php"],
        version: &["{tool:php}", "-n", "-r", "echo PHP_VERSION;"],
        compile: None,
        // Debian's CLI php.ini (in /etc/php) loads the packaged extensions;
        // errors go to stderr once, with or without that ini.
        run: &[
            "{tool:php}",
            "-d",
            "display_errors=stderr",
            "-d",
            "log_errors=0",
            "{main}",
        ],
        env: &[],
        etc: &["/etc/php"],
        package: "php-cli",
        min_processes: SMALL,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "perl",
        display: "Perl {v}",
        aliases: &["pl", "perl5"],
        extensions: &["pl"],
        default_file: "main.pl",
        tools: &["perl"],
        version: &["{tool:perl}", "-e", "print $^V"],
        compile: None,
        run: &["{tool:perl}", "{main}"],
        env: &[],
        etc: &[],
        package: "perl",
        min_processes: SMALL,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
    Spec {
        id: "lua",
        display: "Lua {v}",
        aliases: &["lua5.4", "lua54"],
        extensions: &["lua"],
        default_file: "main.lua",
        tools: &["lua5.4"],
        version: &["{tool:lua5.4}", "-v"],
        compile: None,
        run: &["{tool:lua5.4}", "{main}"],
        env: &[],
        etc: &[],
        package: "lua5.4",
        min_processes: SMALL,
        compile_min_processes: NOT_COMPILED,
        accel: Accel::None,
    },
];

/// The spec whose id, alias or extension is `name` (case-insensitive).
pub(crate) fn spec_for(name: &str) -> Option<&'static Spec> {
    let eq = |s: &&str| s.eq_ignore_ascii_case(name);
    BUILTIN
        .iter()
        .find(|s| eq(&s.id) || s.aliases.iter().any(eq))
        .or_else(|| BUILTIN.iter().find(|s| s.extensions.iter().any(eq)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_compiled_language_takes_compiler_options_before_its_files() {
        for (spec, t) in BUILTIN.iter().filter_map(|s| Some((s, s.compile?))) {
            let at = t.iter().position(|a| *a == "{options}");
            let files = t
                .iter()
                .position(|a| a.contains("{files}") || a.contains("{main}"));
            let ok = matches!((at, files), (Some(o), Some(f)) if o < f);
            assert!(ok, "{}: {t:?}", spec.id);
        }
    }

    #[test]
    fn ids_match_the_table() {
        let ids: Vec<_> = BUILTIN.iter().map(|s| s.id).collect();
        assert_eq!(ids, BUILTIN_IDS);
    }

    #[test]
    fn names_are_unique_across_languages() {
        let mut ids_and_aliases = HashSet::new();
        let mut extensions = HashSet::new();
        for spec in BUILTIN {
            for name in std::iter::once(&spec.id).chain(spec.aliases) {
                assert!(
                    ids_and_aliases.insert(name.to_ascii_lowercase()),
                    "{name} twice"
                );
            }
            for ext in spec.extensions {
                assert!(extensions.insert(*ext), "extension {ext} twice");
            }
        }
    }

    #[test]
    fn every_tool_placeholder_names_a_listed_tool() {
        for spec in BUILTIN {
            let args = spec
                .version
                .iter()
                .chain(spec.run)
                .chain(spec.compile.unwrap_or_default());
            for arg in args {
                if let Some(at) = arg.find("{tool:") {
                    let name = &arg[at + 6..arg[at..].find('}').unwrap() + at];
                    assert!(
                        spec.tools.contains(&name),
                        "{}: unknown tool {name}",
                        spec.id
                    );
                }
            }
            assert_eq!(
                spec.compile.is_some(),
                spec.compile_min_processes > 0,
                "{}",
                spec.id
            );
            assert!(spec.min_processes > 0, "{}", spec.id);
        }
    }
}
