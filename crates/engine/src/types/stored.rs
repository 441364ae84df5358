//! The compact form a report is stored in (the server's store): each output
//! field is a JSON string when that is exact and costs at most 4/3 of its
//! bytes, else `{"base64": "…"}` of its exact bytes. So a stored report is at
//! most 8/3 × the output budget (plus the fixed fields), where the text form
//! with every control byte escaped as `\u00XX` would be 12 ×. Reading accepts
//! this form and the plain serde form of [`Report`] (reports stored before).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{output_text, Report, RunReport, Status};

/// A stored output field: exact text, or the exact bytes, written as
/// `{"base64": "…"}` when serialized (one field's base64 at a time).
enum Out<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl Out<'_> {
    /// Bytes of this field in the JSON, closely.
    fn json_len(&self) -> usize {
        match self {
            Out::Text(t) => escaped_len(t) + 2,
            Out::Bytes(b) => b.len().div_ceil(3) * 4 + 14,
        }
    }
}

impl Serialize for Out<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Out::Text(t) => s.serialize_str(t),
            Out::Bytes(b) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "base64",
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?;
                m.end()
            }
        }
    }
}

/// A stored output field: a string, or `{"base64": "…"}`. (By hand, not
/// `untagged`, which would first copy the whole field into a buffer.)
enum In {
    Text(String),
    Bytes { base64: String },
}

impl<'de> Deserialize<'de> for In {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<In, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = In;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a string or {"base64": "…"}"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<In, E> {
                Ok(In::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<In, E> {
                Ok(In::Text(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<In, A::Error> {
                let mut base64 = None;
                while let Some(k) = m.next_key::<String>()? {
                    if k == "base64" {
                        base64 = Some(m.next_value::<String>()?);
                    } else {
                        return Err(serde::de::Error::unknown_field(&k, &["base64"]));
                    }
                }
                base64
                    .map(|base64| In::Bytes { base64 })
                    .ok_or_else(|| serde::de::Error::missing_field("base64"))
            }
        }
        d.deserialize_any(V)
    }
}

use super::json_escaped_len as escaped_len;

fn out<'a>(text: &'a str, raw: &'a Option<Vec<u8>>) -> Out<'a> {
    match raw {
        Some(b) => Out::Bytes(b),
        None if escaped_len(text) > text.len().div_ceil(3) * 4 => Out::Bytes(text.as_bytes()),
        None => Out::Text(text),
    }
}

fn input<E: serde::de::Error>(
    v: In,
    legacy_raw: Option<String>,
) -> Result<(String, Option<Vec<u8>>), E> {
    let decode = |t: String| {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(E::custom)
    };
    match (v, legacy_raw) {
        (In::Bytes { base64 }, _) => Ok(output_text(decode(base64)?)),
        (In::Text(text), Some(raw)) => Ok((text, Some(decode(raw)?))),
        (In::Text(text), None) => Ok((text, None)),
    }
}

#[derive(Serialize)]
struct RunOut<'a> {
    status: Status,
    stdout: Out<'a>,
    stderr: Out<'a>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    time_ms: u64,
    wall_time_ms: u64,
    memory_kb: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct ReportOut<'a> {
    status: Status,
    stdout: Out<'a>,
    stderr: Out<'a>,
    compile_output: Out<'a>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    time_ms: u64,
    wall_time_ms: u64,
    memory_kb: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    tests: Vec<RunOut<'a>>,
    compile_time_ms: Option<u64>,
    compile_wall_time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_cached: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stages: Option<super::Stages>,
}

#[derive(Deserialize)]
struct RunIn {
    status: Status,
    stdout: In,
    stderr: In,
    exit_code: Option<i32>,
    signal: Option<i32>,
    time_ms: u64,
    wall_time_ms: u64,
    memory_kb: u64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stdout_bytes: Option<String>,
    #[serde(default)]
    stderr_bytes: Option<String>,
}

#[derive(Deserialize)]
struct ReportIn {
    status: Status,
    stdout: In,
    stderr: In,
    compile_output: In,
    exit_code: Option<i32>,
    signal: Option<i32>,
    time_ms: u64,
    wall_time_ms: u64,
    memory_kb: u64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    tests: Vec<RunIn>,
    #[serde(default)]
    compile_time_ms: Option<u64>,
    #[serde(default)]
    compile_wall_time_ms: Option<u64>,
    #[serde(default)]
    compile_cached: Option<bool>,
    #[serde(default)]
    stdout_bytes: Option<String>,
    #[serde(default)]
    stderr_bytes: Option<String>,
    #[serde(default)]
    compile_output_bytes: Option<String>,
    #[serde(default)]
    stages: Option<super::Stages>,
}

pub fn to_json(r: &Report) -> serde_json::Result<String> {
    let out = ReportOut {
        status: r.status,
        stdout: out(&r.stdout, &r.stdout_bytes),
        stderr: out(&r.stderr, &r.stderr_bytes),
        compile_output: out(&r.compile_output, &r.compile_output_bytes),
        exit_code: r.exit_code,
        signal: r.signal,
        time_ms: r.time_ms,
        wall_time_ms: r.wall_time_ms,
        memory_kb: r.memory_kb,
        message: r.message.as_deref(),
        tests: r
            .tests
            .iter()
            .map(|t| RunOut {
                status: t.status,
                stdout: out(&t.stdout, &t.stdout_bytes),
                stderr: out(&t.stderr, &t.stderr_bytes),
                exit_code: t.exit_code,
                signal: t.signal,
                time_ms: t.time_ms,
                wall_time_ms: t.wall_time_ms,
                memory_kb: t.memory_kb,
                message: t.message.as_deref(),
            })
            .collect(),
        compile_time_ms: r.compile_time_ms,
        compile_wall_time_ms: r.compile_wall_time_ms,
        compile_cached: r.compile_cached,
        stages: r.stages,
    };
    // Sized once: a stored report can be many MiB.
    let fields = [&out.stdout, &out.stderr, &out.compile_output]
        .map(Out::json_len)
        .iter()
        .sum::<usize>()
        + out
            .tests
            .iter()
            .map(|t| {
                300 + t.stdout.json_len() + t.stderr.json_len() + t.message.map_or(0, escaped_len)
            })
            .sum::<usize>();
    let mut buf = Vec::with_capacity(fields + 1024 + r.message.as_deref().map_or(0, escaped_len));
    serde_json::to_writer(&mut buf, &out)?;
    String::from_utf8(buf).map_err(|e| {
        <serde_json::Error as serde::ser::Error>::custom(format!("stored report is not UTF-8: {e}"))
    })
}

pub fn from_json(s: &str) -> serde_json::Result<Report> {
    use serde_json::Error as E;
    let r: ReportIn = serde_json::from_str(s)?;
    let (stdout, stdout_bytes) = input::<E>(r.stdout, r.stdout_bytes)?;
    let (stderr, stderr_bytes) = input::<E>(r.stderr, r.stderr_bytes)?;
    let (compile_output, compile_output_bytes) =
        input::<E>(r.compile_output, r.compile_output_bytes)?;
    let mut tests = Vec::with_capacity(r.tests.len());
    for t in r.tests {
        let (stdout, stdout_bytes) = input::<E>(t.stdout, t.stdout_bytes)?;
        let (stderr, stderr_bytes) = input::<E>(t.stderr, t.stderr_bytes)?;
        tests.push(RunReport {
            status: t.status,
            stdout,
            stderr,
            exit_code: t.exit_code,
            signal: t.signal,
            time_ms: t.time_ms,
            wall_time_ms: t.wall_time_ms,
            memory_kb: t.memory_kb,
            message: t.message,
            stdout_bytes,
            stderr_bytes,
        });
    }
    Ok(Report {
        status: r.status,
        stdout,
        stderr,
        compile_output,
        exit_code: r.exit_code,
        signal: r.signal,
        time_ms: r.time_ms,
        wall_time_ms: r.wall_time_ms,
        memory_kb: r.memory_kb,
        message: r.message,
        tests,
        compile_time_ms: r.compile_time_ms,
        compile_wall_time_ms: r.compile_wall_time_ms,
        compile_cached: r.compile_cached,
        stdout_bytes,
        stderr_bytes,
        compile_output_bytes,
        stages: r.stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;

    #[test]
    fn the_stored_form_is_compact_and_exact() {
        let mut r = Report::internal_error("why");
        let controls = [0u8, 27, 1, 2].repeat(1000);
        r.stdout = String::from_utf8(controls.clone()).unwrap();
        let invalid = [b'a', 0xff, 0xfe].repeat(1000);
        (r.stderr, r.stderr_bytes) = output_text(invalid.clone());
        r.compile_output = "warning: x\n".into();
        r.compile_cached = Some(true);
        r.stages = Some(crate::Stages {
            run_ms: Some(3),
            ..Default::default()
        });
        let mut t = RunReport {
            status: Status::Accepted,
            stdout: r.stdout.clone(),
            stderr: "plain".into(),
            exit_code: Some(0),
            signal: None,
            time_ms: 1,
            wall_time_ms: 2,
            memory_kb: 3,
            message: None,
            stdout_bytes: None,
            stderr_bytes: None,
        };
        r.tests = vec![t.clone()];
        let json = to_json(&r).unwrap();
        // 4000 control bytes and 3000 invalid ones, twice as text would be ~60 KB.
        assert!(
            json.len() < 4 * 7000 / 3 + 8000 / 3 * 2 + 1000,
            "{} bytes",
            json.len()
        );
        assert!(
            json.contains("\"compile_output\":\"warning: x\\n\""),
            "cheap text stays text: {json}"
        );
        let back = from_json(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(exact_bytes(&back.stderr, &back.stderr_bytes), &invalid[..]);
        // Reports stored in the plain form still load, lossy fields included.
        t.stdout_bytes = Some(vec![0xff]);
        t.stdout = "\u{fffd}".into();
        r.tests = vec![t];
        let plain = serde_json::to_string(&r).unwrap();
        assert_eq!(from_json(&plain).unwrap(), r);
    }
}
