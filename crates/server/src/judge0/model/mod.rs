//! Judge0's bodies: a submission request translated into Kiln's
//! [`SubmissionRequest`](crate::model::SubmissionRequest) (Kiln's validator
//! then checks it), and a stored record shown as Judge0's attributes
//! (statuses, units, base64, `fields`).
//!
//! Module map:
//! - this file: Judge0's statuses, attribute names, default `fields`, its
//!   limits' ranges, and the `fields` query.
//! - [`request`]: [`parse`] (a Judge0 request into Kiln's), [`split_args`],
//!   [`kiln_field`] (Kiln's error fields named back).
//! - [`record`]: [`attribute`] and [`view()`] (a record as Judge0's attributes),
//!   [`status_id`].
//! - [`ruby`]: Ruby's base64, seconds and timestamps, as Judge0 writes them.

pub mod record;
pub mod request;
pub mod ruby;

pub use record::{attribute, status_id, view, NotUtf8};
pub use request::{kiln_field, parse, split_args, Parsed};
pub use ruby::{decode64, encode64, seconds, timestamp};

use serde_json::{json, Value};

use super::Judge0Error;

/// Judge0's statuses (`app/enumerations/status.rb`), id 1 to 14.
pub const STATUSES: [&str; 14] = [
    "In Queue",
    "Processing",
    "Accepted",
    "Wrong Answer",
    "Time Limit Exceeded",
    "Compilation Error",
    "Runtime Error (SIGSEGV)",
    "Runtime Error (SIGXFSZ)",
    "Runtime Error (SIGFPE)",
    "Runtime Error (SIGABRT)",
    "Runtime Error (NZEC)",
    "Runtime Error (Other)",
    "Internal Error",
    "Exec Format Error",
];

/// `{"id", "description"}` of status `id`.
pub fn status_json(id: u8) -> Value {
    json!({ "id": id, "description": STATUSES[usize::from(id) - 1] })
}

/// Every attribute of a submission, in the order of Judge0's serializer.
pub const ATTRIBUTES: &[&str] = &[
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
];

/// `SubmissionSerializer.default_fields`.
pub const DEFAULT_FIELDS: &[&str] = &[
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// Judge0's `stack_limit` default (KB); Kiln has no separate stack limit.
pub const STACK_LIMIT_KB: u64 = 64_000;
pub const MAX_STACK_LIMIT_KB: u64 = 128_000;
pub const MAX_NUMBER_OF_RUNS: u64 = 20;
pub const MAX_CPU_EXTRA_TIME: f64 = 5.0;
/// The most bytes of `compiler_options` and `command_line_arguments`.
pub const MAX_OPTIONS_LEN: usize = 512;

/// The `fields` query: default, `*`, or a list.
pub fn parse_fields(fields: Option<&str>) -> Result<Vec<&'static str>, Judge0Error> {
    let Some(f) = fields else {
        return Ok(DEFAULT_FIELDS.to_vec());
    };
    if f.trim() == "*" {
        return Ok(ATTRIBUTES.to_vec());
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for name in f.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match ATTRIBUTES.iter().find(|a| **a == name) {
            Some(a) => out.push(*a),
            None => bad.push(name.to_string()),
        }
    }
    if !bad.is_empty() {
        return Err(Judge0Error::bad(format!(
            "invalid fields: [{}]",
            bad.join(", ")
        )));
    }
    if out.is_empty() {
        return Ok(DEFAULT_FIELDS.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked() {
        assert_eq!(parse_fields(None).unwrap(), DEFAULT_FIELDS);
        assert_eq!(parse_fields(Some("*")).unwrap().len(), ATTRIBUTES.len());
        assert_eq!(
            parse_fields(Some("stdout,status_id")).unwrap(),
            ["stdout", "status_id"]
        );
        let e = parse_fields(Some("stdout,foo,bar")).unwrap_err();
        assert_eq!(e.body, json!({"error": "invalid fields: [foo, bar]"}));
    }
}
