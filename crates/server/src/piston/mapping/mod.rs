//! Between Piston's words and Kiln's: runtimes (names, aliases, versions in
//! semver form and Piston's version selectors), the request's limits as a
//! Kiln [`LimitsPatch`], Kiln's validation errors in Piston's field names,
//! and a Kiln [`Report`](kiln_engine::Report) as Piston's `compile` and `run` stages.
//!
//! Module map: this file, runtime names and aliases, [`resolve`], limits and
//! errors; [`semver`](mod@semver), versions and selectors;
//! [`stages`](mod@stages), a report
//! as Piston's stages.

pub mod semver;
pub mod stages;

pub use self::semver::{satisfies, semver, version_string, Version};
pub use self::stages::{signal_name, stages};

use kiln_engine::Limits;

use crate::config::LimitsPatch;
use crate::executor::LanguageInfo;
use crate::piston::model::StageLimits;

/// The names Piston's own packages give each Kiln language (and Kiln's
/// catalogue aliases), listed as `aliases` by `/api/v2/runtimes` and
/// accepted as `language`.
pub const ALIASES: &[(&str, &[&str])] = &[
    (
        "python",
        &[
            "py",
            "py3",
            "python3",
            "python3.10",
            "python3.11",
            "python3.12",
        ],
    ),
    (
        "javascript",
        &["node-javascript", "node-js", "js", "node", "nodejs"],
    ),
    ("c", &["gcc", "c17"]),
    ("cpp", &["c++", "g++", "cxx", "cpp17"]),
    ("java", &["java17", "jdk"]),
    ("rust", &["rs", "rustc"]),
    ("go", &["golang"]),
    ("bash", &["sh", "shell"]),
    ("ruby", &["ruby3", "rb"]),
    ("php", &[]),
    ("perl", &["pl"]),
    ("lua", &[]),
];

/// The `runtime` field Piston gives languages several runtimes provide.
pub fn runtime_of(language: &str) -> Option<&'static str> {
    (language == "javascript").then_some("node")
}

pub fn aliases(language: &str) -> Vec<String> {
    ALIASES
        .iter()
        .find(|(id, _)| *id == language)
        .map(|(_, a)| a.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}

/// The runtime a request names: its `language` (Kiln's id or an alias)
/// and `version` selector against the languages this server has.
pub fn resolve<'a>(
    languages: &'a [LanguageInfo],
    language: &str,
    selector: &str,
) -> Option<(&'a LanguageInfo, Version)> {
    let wanted = language.trim().to_ascii_lowercase();
    languages
        .iter()
        .filter(|l| l.id == wanted || aliases(&l.id).contains(&wanted))
        .map(|l| (l, semver(l.version.as_deref())))
        .filter(|(_, v)| satisfies(*v, selector.trim()))
        .max_by_key(|(_, v)| *v)
}

/// Piston's run limits as a Kiln limits patch: `run_timeout` (ms, wall),
/// `run_cpu_time` (ms), `run_memory_limit` (bytes, -1 = none). Absent or
/// 0 (and a negative memory limit) keep Kiln's default.
pub fn run_limits(l: &StageLimits) -> LimitsPatch {
    LimitsPatch {
        wall_time_ms: l.run_timeout.filter(|&v| v > 0.0).map(|v| v.ceil() as u64),
        cpu_time_ms: l.run_cpu_time.filter(|&v| v > 0.0).map(|v| v.ceil() as u64),
        memory_kb: l
            .run_memory_limit
            .filter(|&v| v > 0.0)
            .map(|v| (v / 1024.0).ceil() as u64),
        ..LimitsPatch::default()
    }
}

/// Piston's compile limits as the submission's compile limits (each lowers
/// the server's; a value at or above it, or -1/0 for "none", leaves it).
pub fn compile_limits(l: &StageLimits) -> kiln_engine::CompileLimits {
    kiln_engine::CompileLimits {
        wall_time_ms: l
            .compile_timeout
            .filter(|&v| v > 0.0)
            .map(|v| v.ceil() as u64),
        cpu_time_ms: l
            .compile_cpu_time
            .filter(|&v| v > 0.0)
            .map(|v| v.ceil() as u64),
        memory_kb: l
            .compile_memory_limit
            .filter(|&v| v > 0.0)
            .map(|v| (v / 1024.0).ceil() as u64),
    }
}

/// A Kiln field named in a validation error, as the Piston request spells it,
/// with the configured maximum in Piston's unit for the limits.
pub fn piston_field(kiln_field: &str, max: &Limits) -> (String, Option<u64>) {
    match kiln_field {
        "limits.wall_time_ms" => ("run_timeout".into(), Some(max.wall_time_ms)),
        "limits.cpu_time_ms" => ("run_cpu_time".into(), Some(max.cpu_time_ms)),
        "limits.memory_kb" => ("run_memory_limit".into(), Some(max.memory_kb * 1024)),
        "source" => ("files".into(), None),
        other => (other.into(), None),
    }
}

/// A Kiln validation error (`"field: message"`, as [`crate::model::Validator`]
/// words it) in Piston's words.
pub fn piston_error(kiln_message: &str, max: &Limits) -> String {
    let Some((field, message)) = kiln_message.split_once(": ") else {
        return kiln_message.to_string();
    };
    let (name, limit) = piston_field(field, max);
    match limit {
        Some(n) if message.contains("above the maximum") => {
            format!("{name} cannot exceed the configured limit of {n} (Kiln's {field}: {message})")
        }
        Some(_) => format!("{name}: {message} (Kiln's {field})"),
        None => format!("{name}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kiln_errors_read_in_piston_words() {
        let max = Limits::default();
        let m = piston_error(
            "limits.memory_kb: 999999999 is above the maximum 262144; ask for at most that",
            &max,
        );
        assert!(
            m.starts_with("run_memory_limit cannot exceed the configured limit of 268435456"),
            "{m}"
        );
        let m = piston_error(
            "files[0].name: must be a plain file name (no `/`); \"src/a.py\" has '/'",
            &max,
        );
        assert!(m.starts_with("files[0].name: "), "{m}");
    }
}
