//! Checks a submission before it is queued or run, with errors that name the
//! field and the fix.

use kiln_lang::Catalog;

use crate::config::EngineConfig;
use crate::types::{Limits, Submission};

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

pub fn validate(
    sub: &Submission,
    catalog: &Catalog,
    cfg: &EngineConfig,
) -> Result<(), ValidationError> {
    if catalog.get(&sub.language).is_none() {
        let available = catalog.ids().join(", ");
        return Err(match catalog.find_missing(&sub.language) {
            Some(m) => err("language", format!("language {:?} is known but not installed on this server ({}); install it with `{}`; available: {available}", sub.language, m.reason, m.install_hint)),
            None => err("language", format!("unknown language {:?}; available: {available}", sub.language)),
        });
    }
    if sub.files.is_empty() {
        return Err(err(
            "files",
            "a submission needs `source` or at least one entry in `files`",
        ));
    }
    if sub.files.len() > cfg.max_files {
        return Err(err(
            "files",
            format!(
                "{} files given; at most {} are allowed",
                sub.files.len(),
                cfg.max_files
            ),
        ));
    }
    let mut total = 0usize;
    let mut seen = std::collections::HashSet::new();
    for (i, f) in sub.files.iter().enumerate() {
        kiln_sandbox::files::validate(&f.name).map_err(|m| err(format!("files[{i}].name"), m))?;
        if !seen.insert(f.name.as_str()) {
            return Err(err(
                format!("files[{i}].name"),
                format!("{:?} appears twice", f.name),
            ));
        }
        total += f.content.len();
    }
    if total > cfg.max_source_bytes {
        return Err(err(
            "source",
            format!(
                "source is {total} bytes; the maximum is {}",
                cfg.max_source_bytes
            ),
        ));
    }
    let stdin_max = sub
        .tests
        .iter()
        .map(|t| t.stdin.len())
        .max()
        .unwrap_or(0)
        .max(sub.stdin.len());
    if stdin_max > cfg.max_stdin_bytes {
        return Err(err(
            "stdin",
            format!(
                "stdin is {stdin_max} bytes; the maximum is {}",
                cfg.max_stdin_bytes
            ),
        ));
    }
    if sub.tests.len() > cfg.max_tests {
        return Err(err(
            "tests",
            format!(
                "{} tests given; at most {} are allowed",
                sub.tests.len(),
                cfg.max_tests
            ),
        ));
    }
    check_limits(&sub.limits, &cfg.max_limits)
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
            return Err(err(field, "must be greater than 0"));
        }
        if v > m {
            return Err(err(
                field,
                format!("{v} is above this server's maximum of {m}"),
            ));
        }
    }
    if l.memory_kb < 4096 {
        return Err(err("limits.memory_kb", "must be at least 4096 (4 MiB)"));
    }
    Ok(())
}
