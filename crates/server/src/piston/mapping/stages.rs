//! A Kiln [`Report`] as Piston's `compile` and `run` stages: status codes,
//! signal names, outputs.

use kiln_engine::{Report, Status};

use crate::piston::model::Stage;

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
