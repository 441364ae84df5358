//! Between Piston's words and Kiln's: runtimes (names, aliases, versions in
//! semver form and Piston's version selectors), the request's limits as a
//! Kiln [`LimitsPatch`], Kiln's validation errors in Piston's field names,
//! and a Kiln [`Report`] as Piston's `compile` and `run` stages.

use kiln_engine::{Limits, Report, Status};

use super::model::{Stage, StageLimits};
use crate::config::LimitsPatch;
use crate::executor::LanguageInfo;

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

/// A semantic version, `major.minor.patch`.
pub type Version = [u64; 3];

/// A detected version (`"3.11.2"`, `"17.0.9"`, `"20"`, `None`) in semver
/// form: the first three dotted numbers, missing ones 0; unknown is `0.0.0`.
pub fn semver(detected: Option<&str>) -> Version {
    let mut v = [0u64; 3];
    let Some(s) = detected else { return v };
    let start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    for (i, part) in s[start..].split('.').take(3).enumerate() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse() {
            Ok(n) => v[i] = n,
            Err(_) => break,
        }
        if digits.len() != part.len() {
            break;
        }
    }
    v
}

pub fn version_string(v: Version) -> String {
    format!("{}.{}.{}", v[0], v[1], v[2])
}

/// Does `v` satisfy Piston's `version` selector (node-semver's
/// `satisfies`): `*`, `x`, exact or partial (`3`, `3.11`, `3.x`), the
/// operators `=`, `>`, `>=`, `<`, `<=`, `~`, `^`, comparators separated
/// by spaces (all must hold) and alternatives separated by `||`.
pub fn satisfies(v: Version, selector: &str) -> bool {
    selector.split("||").any(|alt| {
        let mut parts = alt.split_whitespace().peekable();
        if parts.peek().is_none() {
            return true;
        }
        parts.all(|c| comparator(v, c).unwrap_or(false))
    })
}

/// A partial version: `None` for a component absent or `x`/`X`/`*`.
type Partial = [Option<u64>; 3];

fn partial(s: &str) -> Option<Partial> {
    let s = s.trim_start_matches(['v', 'V', '=']);
    let mut p: Partial = [None; 3];
    if s.is_empty() {
        return Some(p);
    }
    // A pre-release or build suffix is not part of any Kiln version.
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        p[i] = match *part {
            "x" | "X" | "*" => None,
            n => Some(n.parse().ok()?),
        };
        if p[i].is_none() {
            break;
        }
    }
    Some(p)
}

fn matches(v: Version, p: &Partial) -> bool {
    (0..3).all(|i| p[i].is_none_or(|n| n == v[i]))
}

fn low(p: &Partial) -> Version {
    [p[0].unwrap_or(0), p[1].unwrap_or(0), p[2].unwrap_or(0)]
}

fn comparator(v: Version, c: &str) -> Option<bool> {
    let (op, rest) = [">=", "<=", ">", "<", "~>", "~", "^", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", c));
    let p = partial(rest)?;
    let lo = low(&p);
    Some(match op {
        "" | "=" => matches(v, &p),
        ">=" => v >= lo,
        ">" => v > lo && !matches(v, &p),
        "<" => v < lo,
        "<=" => v < lo || matches(v, &p),
        "~" | "~>" => v >= lo && v[0] == lo[0] && (p[1].is_none() || v[1] == lo[1]),
        "^" => {
            v >= lo
                && if lo[0] > 0 || p[1].is_none() {
                    v[0] == lo[0]
                } else if lo[1] > 0 || p[2].is_none() {
                    v[0] == lo[0] && v[1] == lo[1]
                } else {
                    v == lo
                }
        }
        _ => false,
    })
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

/// A signal's name, as Piston reports it (`"SIGKILL"`).
pub fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return format!("SIG{n}"),
    };
    name.to_string()
}

/// Piston's status code of a stage: `RE`, `SG`, `TO`, `OL`, `XX`, or none.
fn status_code(status: Status, code: Option<i32>, signal: Option<i32>) -> Option<&'static str> {
    match status {
        Status::TimeLimitExceeded => Some("TO"),
        Status::OutputLimitExceeded => Some("OL"),
        Status::InternalError => Some("XX"),
        Status::MemoryLimitExceeded => Some("SG"),
        _ if signal.is_some() => Some("SG"),
        _ if code.is_some_and(|c| c != 0) => Some("RE"),
        Status::RuntimeError | Status::CompilationError => Some("RE"),
        _ => None,
    }
}

fn stage(
    status: Status,
    stdout: String,
    stderr: String,
    code: Option<i32>,
    signal: Option<i32>,
    message: Option<String>,
    times: (u64, u64, u64),
) -> Stage {
    let st = status_code(status, code, signal);
    // Piston forces SIGKILL for the limits it kills at.
    let signal = match st {
        Some("TO" | "OL") => Some("SIGKILL".to_string()),
        Some("SG") => Some(signal.map_or_else(|| "SIGKILL".to_string(), signal_name)),
        _ => signal.map(signal_name),
    };
    let code = if signal.is_some() { None } else { code };
    let message = message.or_else(|| match st {
        Some("RE") => code.map(|c| format!("Exited with error status {c}")),
        Some("SG") => signal
            .as_ref()
            .map(|s| format!("Caught fatal signal ({s})")),
        Some("TO") => Some("Time limit exceeded".into()),
        Some("OL") => Some("stdout length exceeded".into()),
        _ => None,
    });
    let output = format!("{stdout}{stderr}");
    Stage {
        stdout,
        stderr,
        output,
        code,
        signal,
        message,
        status: st.map(String::from),
        cpu_time: times.0,
        wall_time: times.1,
        memory: times.2,
    }
}

/// A finished Kiln run as Piston's `(compile, run)` stages. `compiled`: the
/// language has a compile step (Piston then always sends `compile`). On a
/// compile error `run` is the compile stage, as Piston does.
pub fn stages(r: Report, compiled: bool) -> (Option<Stage>, Stage) {
    if r.status == Status::CompilationError {
        let code = r.exit_code.or(Some(1));
        let st = stage(
            Status::CompilationError,
            String::new(),
            r.compile_output,
            code,
            r.signal,
            r.message,
            (
                r.compile_time_ms.unwrap_or(r.time_ms),
                r.compile_wall_time_ms.unwrap_or(r.wall_time_ms),
                r.memory_kb * 1024,
            ),
        );
        return (Some(st.clone()), st);
    }
    let compile = compiled.then(|| Stage {
        stdout: String::new(),
        output: r.compile_output.clone(),
        stderr: r.compile_output.clone(),
        code: Some(0),
        signal: None,
        message: None,
        status: None,
        cpu_time: r.compile_time_ms.unwrap_or(0),
        wall_time: r.compile_wall_time_ms.unwrap_or(0),
        memory: 0,
    });
    let run = stage(
        r.status,
        r.stdout,
        r.stderr,
        r.exit_code,
        r.signal,
        r.message,
        (r.time_ms, r.wall_time_ms, r.memory_kb * 1024),
    );
    (compile, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_as_node_semver_does() {
        let v = [3, 11, 2];
        for yes in [
            "*",
            "",
            "x",
            "3",
            "3.x",
            "3.11",
            "3.11.x",
            "3.11.2",
            "=3.11.2",
            "v3.11.2",
            ">=3.10",
            ">3.10.9",
            "<4",
            "<=3.11",
            "~3.11.0",
            "^3.1",
            "^3.0.0",
            "3.10 || 3.11",
            ">=3 <4",
            "3.*",
        ] {
            assert!(satisfies(v, yes), "{yes} should match 3.11.2");
        }
        for no in [
            "3.10.0",
            "2",
            "4.x",
            ">3.11",
            "<3.11.2",
            "~3.10",
            "^3.12",
            "<=3.10",
            ">=3 <3.11",
            "nonsense",
            "1.2.3.4",
        ] {
            assert!(!satisfies(v, no), "{no} should not match 3.11.2");
        }
        assert!(satisfies([0, 2, 5], "^0.2.3"));
        assert!(!satisfies([0, 3, 0], "^0.2.3"));
    }

    #[test]
    fn detected_versions_become_semver() {
        assert_eq!(semver(Some("3.11.2")), [3, 11, 2]);
        assert_eq!(semver(Some("17.0.9.1")), [17, 0, 9]);
        assert_eq!(semver(Some("20")), [20, 0, 0]);
        assert_eq!(semver(Some("go1.19.8")), [1, 19, 8]);
        assert_eq!(semver(Some("5.2.15(1)-release")), [5, 2, 15]);
        assert_eq!(semver(None), [0, 0, 0]);
    }

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

    #[test]
    fn a_compile_error_is_also_the_run_stage() {
        let mut r = Report::internal_error("compile failed");
        r.status = Status::CompilationError;
        r.exit_code = Some(1);
        r.compile_output = "main.c:1: error".into();
        let (c, run) = stages(r, true);
        assert_eq!(c.as_ref(), Some(&run));
        assert_eq!(run.stderr, "main.c:1: error");
        assert_eq!(run.code, Some(1));
        assert_eq!(run.status.as_deref(), Some("RE"));
    }

    #[test]
    fn limits_are_killed_with_sigkill() {
        let mut r = Report::internal_error("");
        r.status = Status::TimeLimitExceeded;
        r.message = None;
        r.exit_code = None;
        let (_, run) = stages(r, false);
        assert_eq!(run.status.as_deref(), Some("TO"));
        assert_eq!(run.signal.as_deref(), Some("SIGKILL"));
        assert_eq!(run.code, None);
    }
}
