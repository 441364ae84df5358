//! A Judge0 submission request translated into Kiln's [`SubmissionRequest`]
//! (Kiln's validator then checks it), and Kiln's field names in its errors
//! named back in Judge0's words.

use kiln_engine::{SourceFile, TestCase};
use serde_json::Value;

use super::ruby::decode64;
use super::{MAX_CPU_EXTRA_TIME, MAX_NUMBER_OF_RUNS, MAX_OPTIONS_LEN, MAX_STACK_LIMIT_KB};
use crate::config::{Config, LimitsPatch};
use crate::executor::LanguageInfo;
use crate::judge0::languages::{self, Language};
use crate::judge0::Judge0Error;
use crate::model::SubmissionRequest;

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
    let f = Fields { obj, base64 };
    let lang = language(&f, installed)?;
    let refused = refusals(&f, &lang, config)?;
    let runs = judge0_only_limits(&f)?;
    // The rest is Kiln's: translated, and checked by Kiln's validator.
    let limits = limits(&f)?;
    let args = match f.text("command_line_arguments")? {
        Some(s) if s.len() > MAX_OPTIONS_LEN => {
            return Err(Judge0Error::field(
                "command_line_arguments",
                format!("is too long (maximum is {MAX_OPTIONS_LEN} characters)"),
            ))
        }
        Some(s) => Some(split_args(&s)),
        None => None,
    };
    let source = f.text("source_code")?;
    if source.as_deref().is_none_or(str::is_empty) {
        return Err(Judge0Error::field("source_code", "can't be blank"));
    }
    let callback_url = match f.present("callback_url") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Judge0Error::field("callback_url", "must be a string")),
    };
    let stdin = f.text("stdin")?;
    let expected_output = f.text("expected_output")?;
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
            limits: Some(limits),
            tests,
            callback_url: None,
            compiler_options: Some(refused.compiler_options),
            merge_stderr: Some(refused.merge_stderr),
            compile_limits: None,
        },
        callback_url,
        additional: refused.additional,
    })
}

/// The fields of one Judge0 request object, read as Judge0 reads them
/// (`null` is absent; numbers and flags may be strings).
struct Fields<'a> {
    obj: &'a serde_json::Map<String, Value>,
    /// `base64_encoded`: text fields are base64.
    base64: bool,
}

impl Fields<'_> {
    fn present(&self, k: &str) -> Option<&Value> {
        self.obj.get(k).filter(|v| !v.is_null())
    }

    fn text(&self, k: &str) -> Result<Option<String>, Judge0Error> {
        match self.present(k) {
            None => Ok(None),
            Some(Value::String(s)) if self.base64 => {
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
    }

    fn number(&self, k: &str) -> Result<Option<f64>, Judge0Error> {
        match self.present(k) {
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
    }

    fn flag(&self, k: &str) -> Result<bool, Judge0Error> {
        match self.present(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => Ok(matches!(s.as_str(), "true" | "1" | "t")),
            Some(Value::Number(n)) => Ok(n.as_f64() == Some(1.0)),
            Some(_) => Err(Judge0Error::field(k, "must be true or false")),
        }
    }
}

/// Judge0's range check of a number field.
fn range(k: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), Judge0Error> {
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
}

/// The language `language_id` names: known and not archived.
fn language(f: &Fields<'_>, installed: &[LanguageInfo]) -> Result<Language, Judge0Error> {
    let language_id = match f.number("language_id")? {
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
    Ok(lang)
}

/// What [`refusals`] lets through: the options Kiln applies.
struct Options {
    additional: Vec<SourceFile>,
    compiler_options: Vec<String>,
    merge_stderr: bool,
}

/// `additional_files`, `compiler_options` and the flags; what Kiln cannot do
/// refused as Judge0 refuses what its configuration disables.
fn refusals(f: &Fields<'_>, lang: &Language, config: &Config) -> Result<Options, Judge0Error> {
    let additional = match f.present("additional_files") {
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
    let compiler_options: Vec<String> = f
        .text("compiler_options")?
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    if !compiler_options.is_empty() && !lang.compiled {
        return Err(Judge0Error::field(
            "compiler_options",
            "setting compiler options is only allowed for compiled languages",
        ));
    }
    if f.flag("enable_network")? {
        return Err(Judge0Error::field(
            "enable_network",
            "enabling network is not allowed",
        ));
    }
    let merge_stderr = f.flag("redirect_stderr_to_stdout")?;
    for k in [
        "enable_per_process_and_thread_time_limit",
        "enable_per_process_and_thread_memory_limit",
    ] {
        if f.flag(k)? {
            return Err(Judge0Error::field(k, "this option cannot be enabled"));
        }
    }
    Ok(Options {
        additional,
        compiler_options,
        merge_stderr,
    })
}

/// Judge0-only limits with no Kiln counterpart: Judge0's ranges, then
/// ignored; `number_of_runs` is returned (1 when absent).
fn judge0_only_limits(f: &Fields<'_>) -> Result<usize, Judge0Error> {
    range(
        "cpu_extra_time",
        f.number("cpu_extra_time")?,
        0.0,
        MAX_CPU_EXTRA_TIME,
    )?;
    range(
        "stack_limit",
        f.number("stack_limit")?,
        0.0,
        MAX_STACK_LIMIT_KB as f64,
    )?;
    let runs = f.number("number_of_runs")?;
    range("number_of_runs", runs, 1.0, MAX_NUMBER_OF_RUNS as f64)?;
    Ok(runs.map_or(1, |r| r as usize))
}

/// Judge0's limits in Kiln's units (seconds to ms, KB of `max_file_size`
/// to bytes); Kiln's validator checks them against the server's maxima.
fn limits(f: &Fields<'_>) -> Result<LimitsPatch, Judge0Error> {
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
    Ok(LimitsPatch {
        cpu_time_ms: secs_to_ms(f.number("cpu_time_limit")?),
        wall_time_ms: secs_to_ms(f.number("wall_time_limit")?),
        memory_kb: as_u64(f.number("memory_limit")?),
        processes: as_u64(f.number("max_processes_and_or_threads")?)
            .map(|p| p.min(u64::from(u32::MAX)) as u32),
        output_bytes: as_u64(f.number("max_file_size")?).map(|kb| kb.saturating_mul(1024)),
    })
}

/// `additional_files`: always base64 (whatever `base64_encoded` says) of a
/// `.zip`; its files go beside the source file, as Judge0's `unzip -n` puts
/// them (a file named as the source file is skipped: the source wins).
fn read_additional_files(z: &str, max_bytes: usize) -> Result<Vec<SourceFile>, Judge0Error> {
    let bad = |m: String| Judge0Error::field("additional_files", m);
    let entries = crate::judge0::zip::read(&decode64(z), max_bytes).map_err(bad)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
