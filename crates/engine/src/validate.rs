//! The one validator of submissions. Every way in (the native API, the
//! WebSocket run, `kiln run`, and any API dialect) builds a [`Submission`] and
//! passes it here before it is queued or run; the HTTP layer checks only the
//! shape of its own request. Errors name the field as the API spells it
//! (`files[2].name`, `limits.memory_kb`, `tests[0].stdin`) and say the fix.
//!
//! - [`check`]: everything but the language, against [`Rules`];
//! - [`language`]: the language is known and installed here;
//! - [`validate`]: both, with the rules of an [`EngineConfig`];
//! - [`file_name`]: the rule for a source file's name (names are data, never
//!   options: compilers also get them as `./name`, see `kiln_lang::template`).

use kiln_lang::Catalog;

use crate::config::EngineConfig;
use crate::types::{Limits, Submission};

/// Most command-line arguments of a submission.
pub const MAX_ARGS: usize = 64;
/// Most bytes of one argument.
pub const MAX_ARG_BYTES: usize = 4096;
/// Most bytes of all arguments together. The program's whole argv and env
/// travel to the box in one request of bounded size: whatever their bytes,
/// an exec whose strings stay within `kiln_sandbox::protocol::
/// MAX_EXEC_STRINGS_BYTES` always fits. Half of that is for the arguments, the
/// rest for the language's own command, environment and working directory.
pub const MAX_ARGS_TOTAL_BYTES: usize = kiln_sandbox::protocol::MAX_EXEC_STRINGS_BYTES / 2;
/// Most bytes of one file name.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// A submission the engine refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        message: message.into(),
    }
}

/// The maxima a submission is checked against (the server's settings, or an
/// [`EngineConfig`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub max_files: usize,
    /// All files' contents together.
    pub max_source_bytes: usize,
    /// Of `stdin`, of each test's `stdin`, and of each expected output.
    pub max_stdin_bytes: usize,
    pub max_tests: usize,
    pub max_limits: Limits,
}

impl From<&EngineConfig> for Rules {
    fn from(c: &EngineConfig) -> Rules {
        Rules {
            max_files: c.max_files,
            max_source_bytes: c.max_source_bytes,
            max_stdin_bytes: c.max_stdin_bytes,
            max_tests: c.max_tests,
            max_limits: c.max_limits,
        }
    }
}

impl Default for Rules {
    fn default() -> Rules {
        Rules::from(&EngineConfig::default())
    }
}

/// The language and every other rule, with the maxima of `cfg`.
pub fn validate(
    sub: &Submission,
    catalog: &Catalog,
    cfg: &EngineConfig,
) -> Result<(), ValidationError> {
    language(&sub.language, catalog)?;
    check(sub, &Rules::from(cfg))
}

/// The language is known and its toolchain installed on this machine.
pub fn language(id: &str, catalog: &Catalog) -> Result<(), ValidationError> {
    if catalog.get(id).is_some() {
        return Ok(());
    }
    let available = catalog.ids().join(", ");
    Err(match catalog.find_missing(id) {
        Some(m) => err("language", format!("language {id:?} is known but not installed on this server ({}); install it with `{}`; available: {available}", m.reason, m.install_hint)),
        None => err("language", format!("unknown language {id:?}; available: {available}")),
    })
}

/// The rule for the name of a source file: a plain name in the working
/// directory that no tool can read as anything but a file. 1 to 255 bytes;
/// not `.` or `..`; no `/`, `\`, NUL or other control characters; not starting
/// with `-` or `@` (an option, or gcc's and javac's `@file` of options).
pub fn file_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_FILE_NAME_BYTES {
        return Err(format!(
            "must be a plain file name of 1 to {MAX_FILE_NAME_BYTES} bytes"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!(
            "{name:?} is not a file name; use a plain name such as main.c"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(format!("must be a plain file name (no `/`, `\\`, NUL or control characters); {name:?} has {c:?}"));
    }
    if name.starts_with(['-', '@']) {
        return Err(format!("must not start with `-` or `@` ({name:?} would read as a compiler option); rename the file"));
    }
    Ok(())
}

/// Every rule but the language.
pub fn check(sub: &Submission, rules: &Rules) -> Result<(), ValidationError> {
    check_files(sub, rules)?;
    check_inputs(sub, rules)?;
    check_args(&sub.args)?;
    compiler_options(&sub.compiler_options)?;
    check_compile_limits(&sub.compile_limits)?;
    check_limits(&sub.limits, &rules.max_limits)
}

/// Most bytes of all compiler options together (Judge0's limit).
pub const MAX_COMPILER_OPTIONS_BYTES: usize = 512;
/// Most compiler options.
pub const MAX_COMPILER_OPTIONS: usize = 64;

/// The rule for compiler options: at most [`MAX_COMPILER_OPTIONS`] words of
/// [`MAX_COMPILER_OPTIONS_BYTES`] bytes in all, each of letters, digits and
/// `-_=+.,:/` only (flags and their values, never shell syntax, quotes,
/// spaces or `@file`). They reach the compiler inside the compile box, as
/// separate arguments, where the box's limits and walls hold as for the run.
pub fn compiler_options(options: &[String]) -> Result<(), ValidationError> {
    if options.len() > MAX_COMPILER_OPTIONS {
        return Err(err(
            "compiler_options",
            format!(
                "has {} options; at most {MAX_COMPILER_OPTIONS}",
                options.len()
            ),
        ));
    }
    let bytes: usize = options.iter().map(|o| o.len() + 1).sum();
    if bytes > MAX_COMPILER_OPTIONS_BYTES {
        return Err(err(
            "compiler_options",
            format!("is {bytes} bytes; at most {MAX_COMPILER_OPTIONS_BYTES}"),
        ));
    }
    for o in options {
        let bad = o
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_=+.,:/".contains(*c)));
        if o.is_empty() || bad.is_some() {
            return Err(err(
                "compiler_options",
                format!("{o:?} is not an option: use letters, digits and -_=+.,:/ only (e.g. -O2, -DDEBUG=1, -std=c11)"),
            ));
        }
    }
    Ok(())
}

fn check_compile_limits(c: &crate::types::CompileLimits) -> Result<(), ValidationError> {
    for (field, v) in [
        ("compile_limits.cpu_time_ms", c.cpu_time_ms),
        ("compile_limits.wall_time_ms", c.wall_time_ms),
        ("compile_limits.memory_kb", c.memory_kb),
    ] {
        if v == Some(0) {
            return Err(err(
                field,
                "must be at least 1 (leave it out for the server's)",
            ));
        }
    }
    Ok(())
}

fn check_files(sub: &Submission, rules: &Rules) -> Result<(), ValidationError> {
    if sub.files.is_empty() {
        return Err(err(
            "files",
            "a submission needs `source` or at least one entry in `files`",
        ));
    }
    if sub.files.len() > rules.max_files {
        return Err(err(
            "files",
            format!(
                "{} files given; at most {} are allowed",
                sub.files.len(),
                rules.max_files
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in sub.files.iter().enumerate() {
        file_name(&f.name).map_err(|m| err(format!("files[{i}].name"), m))?;
        if !seen.insert(f.name.as_str()) {
            return Err(err(
                format!("files[{i}].name"),
                format!("{:?} appears twice", f.name),
            ));
        }
    }
    let total: usize = sub.files.iter().map(|f| f.content.len()).sum();
    if total > rules.max_source_bytes {
        return Err(err(
            "source",
            format!(
                "source is {total} bytes; the maximum is {}",
                rules.max_source_bytes
            ),
        ));
    }
    Ok(())
}

fn check_inputs(sub: &Submission, rules: &Rules) -> Result<(), ValidationError> {
    if sub.tests.len() > rules.max_tests {
        return Err(err(
            "tests",
            format!(
                "{} tests given; the maximum is {}",
                sub.tests.len(),
                rules.max_tests
            ),
        ));
    }
    let max = rules.max_stdin_bytes;
    let over = |field: String, text: &str| -> Result<(), ValidationError> {
        if text.len() > max {
            return Err(err(
                field,
                format!("is {} bytes; the maximum is {max}", text.len()),
            ));
        }
        Ok(())
    };
    over("stdin".into(), &sub.stdin)?;
    over(
        "expected_output".into(),
        sub.expected_output.as_deref().unwrap_or(""),
    )?;
    for (i, t) in sub.tests.iter().enumerate() {
        over(format!("tests[{i}].stdin"), &t.stdin)?;
        over(
            format!("tests[{i}].expected_output"),
            t.expected_output.as_deref().unwrap_or(""),
        )?;
    }
    Ok(())
}

fn check_args(args: &[String]) -> Result<(), ValidationError> {
    if args.len() > MAX_ARGS {
        return Err(err(
            "args",
            format!("has {} arguments; at most {MAX_ARGS}", args.len()),
        ));
    }
    if let Some(i) = args
        .iter()
        .position(|a| a.len() > MAX_ARG_BYTES || a.contains('\0'))
    {
        return Err(err(
            format!("args[{i}]"),
            format!("must be at most {MAX_ARG_BYTES} bytes without NUL"),
        ));
    }
    let total: usize = args.iter().map(String::len).sum();
    if total > MAX_ARGS_TOTAL_BYTES {
        return Err(err(
            "args",
            format!("arguments total {total} bytes; the maximum is {MAX_ARGS_TOTAL_BYTES}"),
        ));
    }
    Ok(())
}

fn check_limits(l: &Limits, max: &Limits) -> Result<(), ValidationError> {
    let checks = [
        ("limits.cpu_time_ms", l.cpu_time_ms, max.cpu_time_ms),
        ("limits.wall_time_ms", l.wall_time_ms, max.wall_time_ms),
        ("limits.memory_kb", l.memory_kb, max.memory_kb),
        ("limits.processes", l.processes as u64, max.processes as u64),
        ("limits.output_bytes", l.output_bytes, max.output_bytes),
    ];
    for (field, v, m) in checks {
        if v == 0 {
            return Err(err(field, "must be at least 1"));
        }
        if v > m {
            return Err(err(
                field,
                format!("{v} is above the maximum {m}; ask for at most that"),
            ));
        }
    }
    if l.memory_kb < 4096 {
        return Err(err("limits.memory_kb", "must be at least 4096 (4 MiB)"));
    }
    Ok(())
}

/// The first limit of `asked` above `max`, by its API field name (checks a
/// server's default limits against its maxima at start-up).
pub fn limit_over_max(asked: &Limits, max: &Limits) -> Option<&'static str> {
    [
        ("cpu_time_ms", asked.cpu_time_ms > max.cpu_time_ms),
        ("wall_time_ms", asked.wall_time_ms > max.wall_time_ms),
        ("memory_kb", asked.memory_kb > max.memory_kb),
        ("processes", asked.processes > max.processes),
        ("output_bytes", asked.output_bytes > max.output_bytes),
    ]
    .into_iter()
    .find_map(|(name, over)| over.then_some(name))
}

#[cfg(test)]
mod tests;
