//! Piston's bodies: the execute request (read from any JSON value with
//! Piston's own error messages, `get_job` in Piston's `api/src/api/v2.js`),
//! the stages and answer, runtimes, packages, and Piston's error shape
//! `{"message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

/// An error in Piston's shape: `{"message": …}` with its status.
#[derive(Debug, Clone)]
pub struct PistonError {
    pub status: StatusCode,
    pub message: String,
}

impl PistonError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        PistonError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for PistonError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "message": self.message }))).into_response()
    }
}

/// One file of a request, decoded; `name` is `None` when the request gave none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PistonFile {
    pub name: Option<String>,
    pub content: String,
}

/// The six limits of a request, in Piston's units (ms, bytes); `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageLimits {
    pub compile_timeout: Option<f64>,
    pub run_timeout: Option<f64>,
    pub compile_cpu_time: Option<f64>,
    pub run_cpu_time: Option<f64>,
    pub compile_memory_limit: Option<f64>,
    pub run_memory_limit: Option<f64>,
}

/// A parsed `/execute` body (or the WebSocket's `init` message).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteRequest {
    pub language: String,
    pub version: String,
    pub files: Vec<PistonFile>,
    pub stdin: String,
    pub args: Vec<String>,
    pub limits: StageLimits,
}

fn string_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, PistonError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| PistonError::bad_request(format!("{name} is required as a string")))
}

fn decode_file(i: usize, f: &Value) -> Result<(PistonFile, bool), PistonError> {
    let content = f.get("content").and_then(Value::as_str).ok_or_else(|| {
        PistonError::bad_request(format!("files[{i}].content is required as a string"))
    })?;
    let name = match f.get("name") {
        // Piston names a file without a name (or with "", as piston-rs sends) itself.
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(PistonError::bad_request(format!(
                "files[{i}].name must be a string"
            )))
        }
    };
    let encoding = f.get("encoding").and_then(Value::as_str).unwrap_or("utf8");
    let bytes = match encoding {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|e| {
                PistonError::bad_request(format!("files[{i}].content is not valid base64: {e}"))
            })?,
        "hex" => decode_hex(content.trim()).ok_or_else(|| {
            PistonError::bad_request(format!("files[{i}].content is not valid hex"))
        })?,
        // Piston reads unknown encodings as utf8.
        _ => {
            return Ok((
                PistonFile {
                    name,
                    content: content.to_string(),
                },
                true,
            ))
        }
    };
    let content = String::from_utf8(bytes).map_err(|_| {
        PistonError::bad_request(format!(
            "files[{i}].content: the decoded {encoding} content is not UTF-8 text; Kiln's source files are text"
        ))
    })?;
    Ok((PistonFile { name, content }, false))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One of the six limits: absent, null, 0 or false is "the default";
/// otherwise a number, not negative (but a negative memory limit means
/// "none", as with Piston's default of -1).
fn limit(v: &Value, name: &str) -> Result<Option<f64>, PistonError> {
    let x = match v.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(_) => {
            return Err(PistonError::bad_request(format!(
                "If specified, {name} must be a number"
            )))
        }
    };
    if x == 0.0 {
        return Ok(None);
    }
    if x < 0.0 {
        if name.ends_with("memory_limit") {
            return Ok(None);
        }
        return Err(PistonError::bad_request(format!(
            "{name} must be non-negative"
        )));
    }
    Ok(Some(x))
}

impl ExecuteRequest {
    /// Reads a request as Piston's `get_job` does, with its messages. The
    /// rules Kiln applies to every run (sizes, names, limits' maxima) are
    /// not here: they are [`kiln_engine::validate::check`]'s.
    pub fn parse(v: &Value) -> Result<ExecuteRequest, PistonError> {
        if !v.is_object() {
            return Err(PistonError::bad_request("the body must be a JSON object"));
        }
        let language = string_field(v, "language")?.to_string();
        let version = string_field(v, "version")?.to_string();
        let files = v
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| PistonError::bad_request("files is required as an array"))?;
        let mut decoded = Vec::with_capacity(files.len());
        let mut any_utf8 = false;
        for (i, f) in files.iter().enumerate() {
            let (file, utf8) = decode_file(i, f)?;
            any_utf8 |= utf8;
            decoded.push(file);
        }
        if !any_utf8 && !decoded.is_empty() {
            return Err(PistonError::bad_request(
                "files must include at least one utf8 encoded file",
            ));
        }
        let stdin = match v.get("stdin") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(PistonError::bad_request("stdin must be a string")),
        };
        let args = match v.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(PistonError::bad_request(format!(
                        "args[{i}] must be a string"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(PistonError::bad_request("args must be an array of strings")),
        };
        let limits = StageLimits {
            compile_timeout: limit(v, "compile_timeout")?,
            run_timeout: limit(v, "run_timeout")?,
            compile_cpu_time: limit(v, "compile_cpu_time")?,
            run_cpu_time: limit(v, "run_cpu_time")?,
            compile_memory_limit: limit(v, "compile_memory_limit")?,
            run_memory_limit: limit(v, "run_memory_limit")?,
        };
        Ok(ExecuteRequest {
            language,
            version,
            files: decoded,
            stdin,
            args,
            limits,
        })
    }
}

/// Piston appends a newline to stdin that lacks one (`job.js`).
pub fn piston_stdin(stdin: String) -> String {
    if stdin.ends_with('\n') {
        stdin
    } else {
        stdin + "\n"
    }
}

/// One stage's result (`Job#safe_call` in Piston's `job.js`): times in
/// ms, memory in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub stdout: String,
    pub stderr: String,
    pub output: String,
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub cpu_time: u64,
    pub wall_time: u64,
    pub memory: u64,
}

/// `POST /api/v2/execute`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct ExecuteResponse {
    pub language: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile: Option<Stage>,
    pub run: Stage,
}

/// One entry of `GET /api/v2/runtimes`.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub language: String,
    pub version: String,
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// One entry of `GET /api/v2/packages`.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub language: String,
    pub language_version: String,
    pub installed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piston_messages_for_missing_fields() {
        let e = |v: Value| ExecuteRequest::parse(&v).unwrap_err().message;
        assert_eq!(e(json!({})), "language is required as a string");
        assert_eq!(
            e(json!({"language": "py"})),
            "version is required as a string"
        );
        assert_eq!(
            e(json!({"language": "py", "version": "*"})),
            "files is required as an array"
        );
        assert_eq!(
            e(json!({"language": "py", "version": "*", "files": [{}]})),
            "files[0].content is required as a string"
        );
        assert_eq!(
            e(
                json!({"language": "py", "version": "*", "files": [{"content": "", "encoding": "base64"}]})
            ),
            "files must include at least one utf8 encoded file"
        );
        assert_eq!(
            e(
                json!({"language": "py", "version": "*", "files": [{"content": "x"}], "run_timeout": "9"})
            ),
            "If specified, run_timeout must be a number"
        );
        assert_eq!(
            e(
                json!({"language": "py", "version": "*", "files": [{"content": "x"}], "run_timeout": -5})
            ),
            "run_timeout must be non-negative"
        );
    }

    #[test]
    fn encodings_are_decoded() {
        let r = ExecuteRequest::parse(&json!({
            "language": "py", "version": "*",
            "files": [{"name": "", "content": "print(1)"}, {"name": "a.txt", "content": "aGk=", "encoding": "base64"}, {"name": "b.txt", "content": "6869", "encoding": "hex"}, {"name": "c", "content": "q", "encoding": "rot13"}],
            "run_memory_limit": -1, "compile_timeout": 0
        }))
        .unwrap();
        let contents: Vec<&str> = r.files.iter().map(|f| f.content.as_str()).collect();
        assert_eq!(contents, ["print(1)", "hi", "hi", "q"]);
        assert_eq!(r.files[0].name, None);
        assert_eq!(r.limits, StageLimits::default());
    }

    #[test]
    fn stdin_gets_a_trailing_newline() {
        assert_eq!(piston_stdin(String::new()), "\n");
        assert_eq!(piston_stdin("a".into()), "a\n");
        assert_eq!(piston_stdin("a\n".into()), "a\n");
    }
}
