//! Judge0's bodies: a submission request translated into Kiln's
//! [`SubmissionRequest`] (Kiln's validator then checks it), and a stored
//! record shown as Judge0's attributes (statuses, units, base64, `fields`).

use base64::Engine as _;
use kiln_engine::{exact_bytes, Report, SourceFile, Status, TestCase};
use serde_json::{json, Map, Value};

use super::languages::{self, Language};
use super::Judge0Error;
use crate::config::{Config, LimitsPatch};
use crate::executor::LanguageInfo;
use crate::model::SubmissionRequest;
use crate::store::SubmissionRecord;

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

/// Ruby's `Base64.encode64`: a `\n` after every 60 characters and at the end.
pub fn encode64(bytes: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Ruby's lenient `Base64.decode64`: characters outside the alphabet are
/// skipped, and decoding stops at the first `=`.
pub fn decode64(s: &str) -> Vec<u8> {
    let mut clean: Vec<u8> = s
        .bytes()
        .take_while(|b| *b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .unwrap_or_default()
}

/// Seconds as Judge0 writes them (`"0.001"`, `"5.0"`): Ruby's `Float#to_s`.
pub fn seconds(ms: u64) -> String {
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

/// A Judge0 submission request (one JSON object), with the language it names.
pub struct Parsed {
    pub request: SubmissionRequest,
    pub callback_url: Option<String>,
    /// The files of `additional_files`, beside the source file.
    pub additional: Vec<SourceFile>,
}

/// Reads one Judge0 submission object. Judge0-only checks are those of
/// fields Kiln has no counterpart for; everything Kiln has is left to Kiln's
/// validator (see [`kiln_field`] for how its errors are named back).
pub fn parse(
    body: &Value,
    base64: bool,
    installed: &[LanguageInfo],
    config: &Config,
) -> Result<Parsed, Judge0Error> {
    let Some(obj) = body.as_object() else {
        return Err(Judge0Error::fields([
            ("source_code", "can't be blank"),
            ("language_id", "can't be blank"),
        ]));
    };
    let present = |k: &str| obj.get(k).filter(|v| !v.is_null());
    let text = |k: &str| -> Result<Option<String>, Judge0Error> {
        match present(k) {
            None => Ok(None),
            Some(Value::String(s)) if base64 => {
                String::from_utf8(decode64(s)).map(Some).map_err(|_| {
                    Judge0Error::field(
                        k,
                        "is not valid UTF-8 once decoded from base64; Kiln takes text here",
                    )
                })
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Judge0Error::field(k, "must be a string")),
        }
    };
    let number = |k: &str| -> Result<Option<f64>, Judge0Error> {
        match present(k) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| Judge0Error::field(k, "is not a number")),
            Some(_) => Err(Judge0Error::field(k, "is not a number")),
        }
    };
    let flag = |k: &str| -> Result<bool, Judge0Error> {
        match present(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => Ok(matches!(s.as_str(), "true" | "1" | "t")),
            Some(Value::Number(n)) => Ok(n.as_f64() == Some(1.0)),
            Some(_) => Err(Judge0Error::field(k, "must be true or false")),
        }
    };
    let range = |k: &str, v: Option<f64>, lo: f64, hi: f64| -> Result<(), Judge0Error> {
        match v {
            Some(x) if x < lo => Err(Judge0Error::field(
                k,
                format!("must be greater than or equal to {lo}"),
            )),
            Some(x) if x > hi => Err(Judge0Error::field(
                k,
                format!("must be less than or equal to {hi}"),
            )),
            _ => Ok(()),
        }
    };

    // The language.
    let language_id = match number("language_id")? {
        None => return Err(Judge0Error::field("language_id", "can't be blank")),
        Some(x) => x as u32,
    };
    let lang: Language = languages::by_id(installed, language_id).ok_or_else(|| {
        Judge0Error::field(
            "language_id",
            format!("language with id {language_id} doesn't exist"),
        )
    })?;
    if lang.archived {
        return Err(Judge0Error::field(
            "language_id",
            format!("language with id {language_id} is archived and cannot be used anymore"),
        ));
    }

    // What Kiln cannot do, refused as Judge0 refuses what its configuration disables.
    let additional = match present("additional_files") {
        None => Vec::new(),
        Some(Value::String(z)) => read_additional_files(z, config.limits.max_source_bytes)?,
        Some(_) => {
            return Err(Judge0Error::field(
                "additional_files",
                "must be a string (a base64 .zip)",
            ))
        }
    };
    // Judge0 puts the string into its compile command; Kiln passes its words
    // as arguments (the engine's rule says which characters they may hold).
    let compiler_options: Vec<String> = text("compiler_options")?
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    if !compiler_options.is_empty() && !lang.compiled {
        return Err(Judge0Error::field(
            "compiler_options",
            "setting compiler options is only allowed for compiled languages",
        ));
    }
    if flag("enable_network")? {
        return Err(Judge0Error::field(
            "enable_network",
            "enabling network is not allowed",
        ));
    }
    let merge_stderr = flag("redirect_stderr_to_stdout")?;
    for k in [
        "enable_per_process_and_thread_time_limit",
        "enable_per_process_and_thread_memory_limit",
    ] {
        if flag(k)? {
            return Err(Judge0Error::field(k, "this option cannot be enabled"));
        }
    }
    // Judge0-only limits with no Kiln counterpart: Judge0's ranges, then ignored.
    range(
        "cpu_extra_time",
        number("cpu_extra_time")?,
        0.0,
        MAX_CPU_EXTRA_TIME,
    )?;
    range(
        "stack_limit",
        number("stack_limit")?,
        0.0,
        MAX_STACK_LIMIT_KB as f64,
    )?;
    let runs = number("number_of_runs")?;
    range("number_of_runs", runs, 1.0, MAX_NUMBER_OF_RUNS as f64)?;
    let runs = runs.map_or(1, |r| r as usize);

    // The rest is Kiln's: translated, and checked by Kiln's validator.
    let secs_to_ms = |v: Option<f64>| {
        v.map(|s| {
            if s <= 0.0 {
                0
            } else {
                (s * 1000.0).round() as u64
            }
        })
    };
    let as_u64 = |v: Option<f64>| v.map(|x| if x <= 0.0 { 0 } else { x.round() as u64 });
    let cpu_ms = secs_to_ms(number("cpu_time_limit")?);
    let wall_ms = secs_to_ms(number("wall_time_limit")?);
    let memory_kb = as_u64(number("memory_limit")?);
    let processes =
        as_u64(number("max_processes_and_or_threads")?).map(|p| p.min(u64::from(u32::MAX)) as u32);
    let output_bytes = as_u64(number("max_file_size")?).map(|kb| kb.saturating_mul(1024));
    let args = match text("command_line_arguments")? {
        Some(s) if s.len() > MAX_OPTIONS_LEN => {
            return Err(Judge0Error::field(
                "command_line_arguments",
                format!("is too long (maximum is {MAX_OPTIONS_LEN} characters)"),
            ))
        }
        Some(s) => Some(split_args(&s)),
        None => None,
    };
    let source = text("source_code")?;
    if source.as_deref().is_none_or(str::is_empty) {
        return Err(Judge0Error::field("source_code", "can't be blank"));
    }
    let callback_url = match present("callback_url") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Judge0Error::field("callback_url", "must be a string")),
    };
    let stdin = text("stdin")?;
    let expected_output = text("expected_output")?;
    // Several runs: Kiln's tests, compiled once, the same input each time.
    let tests = (runs > 1).then(|| {
        vec![
            TestCase {
                stdin: stdin.clone().unwrap_or_default(),
                expected_output: expected_output.clone()
            };
            runs
        ]
    });
    Ok(Parsed {
        request: SubmissionRequest {
            language: lang.kiln,
            source,
            files: None,
            stdin,
            args,
            expected_output,
            limits: Some(LimitsPatch {
                cpu_time_ms: cpu_ms,
                wall_time_ms: wall_ms,
                memory_kb,
                processes,
                output_bytes,
            }),
            tests,
            callback_url: None,
            compiler_options: Some(compiler_options),
            merge_stderr: Some(merge_stderr),
            compile_limits: None,
        },
        callback_url,
        additional,
    })
}

/// `additional_files`: always base64 (whatever `base64_encoded` says) of a
/// `.zip`; its files go beside the source file, as Judge0's `unzip -n` puts
/// them (a file named as the source file is skipped: the source wins).
fn read_additional_files(z: &str, max_bytes: usize) -> Result<Vec<SourceFile>, Judge0Error> {
    let bad = |m: String| Judge0Error::field("additional_files", m);
    let entries = super::zip::read(&decode64(z), max_bytes).map_err(bad)?;
    entries
        .into_iter()
        .map(|e| {
            String::from_utf8(e.data)
                .map(|content| SourceFile {
                    name: e.name.clone(),
                    content,
                })
                .map_err(|_| {
                    bad(format!(
                        "{:?} is not UTF-8 text; Kiln's files are text",
                        e.name
                    ))
                })
        })
        .collect()
}

/// The command line Judge0 appends to the run command, as a shell splits
/// it (quotes and backslashes; Judge0's stripped characters `$&;<>|\``
/// are dropped as it drops them).
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().filter(|c| !"$&;<>|`".contains(*c));
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Kiln's name of a request field (as its validator names it) in Judge0's words.
pub fn kiln_field(field: &str) -> &'static str {
    let f = field.split(['[', '.']).next().unwrap_or(field);
    match (f, field) {
        (_, "limits.cpu_time_ms") => "cpu_time_limit",
        (_, "limits.wall_time_ms") => "wall_time_limit",
        (_, "limits.memory_kb") => "memory_limit",
        (_, "limits.processes") => "max_processes_and_or_threads",
        (_, "limits.output_bytes") => "max_file_size",
        ("language", _) => "language_id",
        ("files", _) if !field.starts_with("files[0]") => "additional_files",
        ("source" | "files", _) => "source_code",
        ("stdin", _) => "stdin",
        ("expected_output", _) => "expected_output",
        ("args", _) => "command_line_arguments",
        ("tests", _) => "number_of_runs",
        ("callback_url", _) => "callback_url",
        _ => "base",
    }
}

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

/// `2024-04-03T05:40:51.306Z`, as Judge0 (and the SDK's parser) writes it.
pub fn timestamp(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_wrapped_as_ruby_does() {
        assert_eq!(encode64(b"hello, Judge0\n"), "aGVsbG8sIEp1ZGdlMAo=\n");
        let long = encode64(&[b'a'; 100]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines[0].len(), 60);
        assert!(long.ends_with('\n'));
        assert_eq!(decode64(&long), vec![b'a'; 100]);
        assert_eq!(decode64("aGk=\n"), b"hi");
        assert_eq!(decode64("aG k"), b"hi");
    }

    #[test]
    fn seconds_are_written_as_ruby_floats() {
        assert_eq!(seconds(1), "0.001");
        assert_eq!(seconds(5000), "5.0");
        assert_eq!(seconds(1500), "1.5");
        assert_eq!(seconds(0), "0.0");
    }

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

    #[test]
    fn arguments_split_as_a_shell_would() {
        assert_eq!(
            split_args(r#"a "b c" d\ e 'f;g'"#),
            ["a", "b c", "d e", "fg"]
        );
        assert!(split_args("  ").is_empty());
    }

    #[test]
    fn kiln_fields_are_named_back() {
        assert_eq!(kiln_field("limits.memory_kb"), "memory_limit");
        assert_eq!(kiln_field("language"), "language_id");
        assert_eq!(kiln_field("files[0].name"), "source_code");
        assert_eq!(kiln_field("args[3]"), "command_line_arguments");
    }

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
