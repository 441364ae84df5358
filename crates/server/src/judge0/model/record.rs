//! A stored record shown as Judge0's attributes: status ids, isolate's
//! messages, units, base64, averages over `number_of_runs`.

use kiln_engine::{exact_bytes, Report, Status};
use serde_json::{json, Map, Value};

use super::ruby::{encode64, seconds, timestamp};
use super::{status_json, STACK_LIMIT_KB};
use crate::executor::LanguageInfo;
use crate::judge0::languages;
use crate::store::SubmissionRecord;

/// The Judge0 status id of a record.
pub fn status_id(status: Status, report: Option<&Report>) -> u8 {
    match status {
        Status::Queued => 1,
        Status::Running => 2,
        Status::Accepted => 3,
        Status::WrongAnswer => 4,
        Status::TimeLimitExceeded => 5,
        Status::CompilationError => 6,
        Status::RuntimeError => match report.and_then(|r| r.signal) {
            Some(11) => 7,
            Some(25) => 8,
            Some(8) => 9,
            Some(6) => 10,
            Some(_) => 12,
            None => 11,
        },
        // Judge0 has no MLE status: a cgroup OOM kill is "Runtime Error (Other)".
        Status::MemoryLimitExceeded => 12,
        // Judge0's output limit is RLIMIT_FSIZE: SIGXFSZ.
        Status::OutputLimitExceeded => 8,
        Status::InternalError => 13,
    }
}

/// Judge0's `message` for a finished record: isolate's words for what
/// isolate reports (clients parse "Exited with error status N"), Kiln's
/// message for the rest (memory and output limits, internal errors).
fn message(status: Status, r: &Report) -> Option<String> {
    match status {
        Status::TimeLimitExceeded => return Some("Time limit exceeded".into()),
        Status::RuntimeError => match (r.signal, r.exit_code) {
            (Some(s), _) => return Some(format!("Caught fatal signal {s}")),
            (None, Some(c)) => return Some(format!("Exited with error status {c}")),
            (None, None) => {}
        },
        _ => {}
    }
    if let Some(m) = &r.message {
        return Some(m.clone());
    }
    match status {
        Status::MemoryLimitExceeded => Some("Memory limit exceeded".into()),
        Status::OutputLimitExceeded => Some("Output limit exceeded (max_file_size)".into()),
        _ => None,
    }
}

/// A text attribute is not UTF-8 and `base64_encoded=false` was asked.
#[derive(Debug)]
pub struct NotUtf8;

/// Renders one attribute of a record. `text` fields are `null` when empty,
/// base64 (Ruby's wrapping) when `base64`, and [`NotUtf8`] when plain text
/// was asked of bytes that are not UTF-8.
pub fn attribute(
    rec: &SubmissionRecord,
    name: &str,
    base64: bool,
    installed: &[LanguageInfo],
) -> Result<Value, NotUtf8> {
    let text = |t: &str, raw: &Option<Vec<u8>>| -> Result<Value, NotUtf8> {
        let bytes = exact_bytes(t, raw);
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        if base64 {
            return Ok(Value::String(encode64(bytes)));
        }
        if raw.is_some() {
            return Err(NotUtf8);
        }
        Ok(Value::String(t.to_string()))
    };
    let none = &None;
    let r = rec.report.as_ref().filter(|_| rec.status.is_final());
    let compiled_out = r.is_some_and(|r| r.status == Status::CompilationError);
    let ran = r.filter(|r| !compiled_out && r.status != Status::InternalError);
    let sub = &rec.submission;
    let l = &sub.limits;
    let lang = primary_language(installed, &sub.language);
    let sid = status_id(rec.status, r);
    Ok(match name {
        "token" => json!(rec.id),
        "source_code" => text(sub.files.first().map_or("", |f| f.content.as_str()), none)?,
        "language_id" => json!(lang.0),
        "language" => json!({ "id": lang.0, "name": lang.1 }),
        "stdin" => text(&sub.stdin, none)?,
        "expected_output" => match &sub.expected_output {
            Some(e) => text(e, none)?,
            None => Value::Null,
        },
        "stdout" => r.map_or(Ok(Value::Null), |r| text(&r.stdout, &r.stdout_bytes))?,
        "stderr" => r.map_or(Ok(Value::Null), |r| text(&r.stderr, &r.stderr_bytes))?,
        "compile_output" => r.map_or(Ok(Value::Null), |r| {
            text(&r.compile_output, &r.compile_output_bytes)
        })?,
        "message" => match r.and_then(|r| message(rec.status, r)) {
            Some(m) if base64 => json!(encode64(m.as_bytes())),
            Some(m) => json!(m),
            None => Value::Null,
        },
        "status" => status_json(sid),
        "status_id" => json!(sid),
        "created_at" => json!(timestamp(rec.created_at_ms)),
        "finished_at" => json!(rec.finished_at_ms.map(timestamp)),
        "time" => json!(ran.map(|r| seconds(average(r, r.time_ms, |t| t.time_ms)))),
        "wall_time" => json!(ran.map(|r| seconds(average(r, r.wall_time_ms, |t| t.wall_time_ms)))),
        "memory" => json!(ran.map(|r| average(r, r.memory_kb, |t| t.memory_kb))),
        "exit_code" => json!(ran.map(|r| r.exit_code.unwrap_or(0))),
        "exit_signal" => json!(ran.and_then(|r| r.signal)),
        "number_of_runs" => json!(sub.tests.len().max(1)),
        "cpu_time_limit" => json!(seconds(l.cpu_time_ms)),
        "cpu_extra_time" => json!("0.0"),
        "wall_time_limit" => json!(seconds(l.wall_time_ms)),
        "memory_limit" => json!(l.memory_kb),
        "stack_limit" => json!(STACK_LIMIT_KB),
        "max_processes_and_or_threads" => json!(l.processes),
        "enable_per_process_and_thread_time_limit"
        | "enable_per_process_and_thread_memory_limit"
        | "enable_network" => json!(false),
        "redirect_stderr_to_stdout" => json!(sub.merge_stderr),
        "max_file_size" => json!(l.output_bytes / 1024),
        "compiler_options" => match sub.compiler_options.is_empty() {
            true => Value::Null,
            false => json!(sub.compiler_options.join(" ")),
        },
        "additional_files" => Value::Null,
        "command_line_arguments" => match sub.args.is_empty() {
            true => Value::Null,
            false => json!(sub.args.join(" ")),
        },
        "callback_url" => json!(rec.callback_url),
        _ => Value::Null,
    })
}

/// Judge0's average over the runs (`number_of_runs`), up to the first that
/// was not accepted (Judge0 stops there); the one run's value without tests.
fn average(r: &Report, one: u64, per_run: impl Fn(&kiln_engine::RunReport) -> u64) -> u64 {
    if r.tests.is_empty() {
        return one;
    }
    let n = r
        .tests
        .iter()
        .position(|t| t.status != Status::Accepted)
        .map_or(r.tests.len(), |i| i + 1);
    r.tests[..n].iter().map(per_run).sum::<u64>() / n as u64
}

/// The requested attributes of a record, in the order asked.
pub fn view(
    rec: &SubmissionRecord,
    fields: &[&str],
    base64: bool,
    installed: &[LanguageInfo],
) -> Result<Map<String, Value>, NotUtf8> {
    let mut m = Map::new();
    for f in fields {
        m.insert((*f).to_string(), attribute(rec, f, base64, installed)?);
    }
    Ok(m)
}

/// The Judge0 id (the CE 1.13.1 one) and name of a Kiln language.
fn primary_language(installed: &[LanguageInfo], kiln: &str) -> (u32, String) {
    languages::all(installed)
        .into_iter()
        .find(|l| l.kiln == kiln && !l.archived)
        .map_or((languages::extra_id(kiln), kiln.to_string()), |l| {
            (l.id, l.name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_as_judge0_reports_them() {
        let mut r = Report::internal_error("x");
        r.status = Status::RuntimeError;
        for (sig, id) in [
            (Some(11), 7),
            (Some(25), 8),
            (Some(8), 9),
            (Some(6), 10),
            (Some(9), 12),
            (None, 11),
        ] {
            r.signal = sig;
            assert_eq!(status_id(Status::RuntimeError, Some(&r)), id);
        }
        assert_eq!(status_id(Status::MemoryLimitExceeded, None), 12);
        assert_eq!(status_id(Status::OutputLimitExceeded, None), 8);
        assert_eq!(status_id(Status::InternalError, None), 13);
        assert_eq!(status_json(14)["description"], "Exec Format Error");
    }
}
