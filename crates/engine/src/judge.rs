//! From what a run did to its verdict: limits first, then crashes, then the
//! output compared with the expected output.

use kiln_sandbox::{ExecOutcome, LimitHit};

use crate::types::{output_text, RunReport, Status};

/// Compares outputs ignoring whitespace at line ends and trailing blank lines
/// (so a missing or extra final newline, or CRLF line ends, do not matter).
pub fn same_output(actual: &str, expected: &str) -> bool {
    fn norm(s: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = s.split('\n').map(|l| l.trim_end()).collect();
        while lines.last() == Some(&"") {
            lines.pop();
        }
        lines
    }
    norm(actual) == norm(expected)
}

pub fn verdict(o: &ExecOutcome, expected: Option<&str>) -> (Status, Option<String>) {
    match o.limit {
        Some(LimitHit::Output) => {
            return (
                Status::OutputLimitExceeded,
                Some("the program wrote more output than allowed".into()),
            )
        }
        Some(LimitHit::CpuTime) => {
            return (
                Status::TimeLimitExceeded,
                Some(format!("CPU time limit exceeded ({} ms used)", o.cpu_ms)),
            )
        }
        Some(LimitHit::WallTime) => {
            return (
                Status::TimeLimitExceeded,
                Some(format!("wall-clock limit exceeded ({} ms)", o.wall_ms)),
            )
        }
        Some(LimitHit::Memory) => {
            return (
                Status::MemoryLimitExceeded,
                Some(format!(
                    "memory limit exceeded (peak {} KiB)",
                    o.memory_peak_kb
                )),
            )
        }
        Some(LimitHit::StreamClosed) => {
            return (
                Status::InternalError,
                Some("stopped: the client went away (nobody read the output)".into()),
            )
        }
        None => {}
    }
    if let Some(sig) = o.signal {
        return (
            Status::RuntimeError,
            Some(format!("killed by signal {sig} ({})", signal_name(sig))),
        );
    }
    if o.exit_code != Some(0) {
        return (
            Status::RuntimeError,
            Some(format!("exited with code {}", o.exit_code.unwrap_or(-1))),
        );
    }
    match expected {
        Some(e) if !same_output(&String::from_utf8_lossy(&o.stdout), e) => {
            (Status::WrongAnswer, None)
        }
        _ => (Status::Accepted, None),
    }
}

pub fn run_report(o: ExecOutcome, expected: Option<&str>) -> RunReport {
    let (status, message) = verdict(&o, expected);
    let (stdout, stdout_bytes) = output_text(o.stdout);
    let (stderr, stderr_bytes) = output_text(o.stderr);
    RunReport {
        status,
        stdout,
        stderr,
        exit_code: o.exit_code,
        signal: o.signal,
        time_ms: o.cpu_ms,
        wall_time_ms: o.wall_ms,
        memory_kb: o.memory_peak_kb,
        message,
        stdout_bytes,
        stderr_bytes,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc_sig::SIGABRT => "SIGABRT",
        libc_sig::SIGFPE => "SIGFPE",
        libc_sig::SIGKILL => "SIGKILL",
        libc_sig::SIGSEGV => "SIGSEGV",
        libc_sig::SIGBUS => "SIGBUS",
        libc_sig::SIGSYS => "SIGSYS: a forbidden system call",
        libc_sig::SIGXFSZ => "SIGXFSZ: file size limit",
        libc_sig::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// Signal numbers of x86_64 Linux, so this crate needs no libc.
mod libc_sig {
    pub const SIGABRT: i32 = 6;
    pub const SIGBUS: i32 = 7;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGSEGV: i32 = 11;
    pub const SIGPIPE: i32 = 13;
    pub const SIGXFSZ: i32 = 25;
    pub const SIGSYS: i32 = 31;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        code: Option<i32>,
        signal: Option<i32>,
        stdout: &str,
        limit: Option<LimitHit>,
    ) -> ExecOutcome {
        ExecOutcome {
            exit_code: code,
            signal,
            cpu_ms: 1,
            wall_ms: 1,
            memory_peak_kb: 1,
            stdout: stdout.into(),
            stderr: vec![],
            limit,
        }
    }

    #[test]
    fn output_comparison_ignores_line_end_whitespace_and_final_newlines() {
        assert!(same_output("1 2\n3\n", "1 2\n3"));
        assert!(same_output("1 2  \r\n3\r\n\n\n", "1 2\n3\n"));
        assert!(!same_output("1 2\n3\n", "1 2\n4\n"));
        assert!(!same_output(" 1", "1"), "leading whitespace matters");
        assert!(!same_output("1\n\n2", "1\n2"), "inner blank lines matter");
        assert!(same_output("", "\n"));
    }

    #[test]
    fn verdicts_in_order_of_precedence() {
        assert_eq!(
            verdict(&outcome(Some(0), None, "4\n", None), Some("4")).0,
            Status::Accepted
        );
        assert_eq!(
            verdict(&outcome(Some(0), None, "5\n", None), Some("4")).0,
            Status::WrongAnswer
        );
        assert_eq!(
            verdict(&outcome(Some(0), None, "anything", None), None).0,
            Status::Accepted
        );
        assert_eq!(
            verdict(&outcome(Some(1), None, "4", None), Some("4")).0,
            Status::RuntimeError
        );
        assert_eq!(
            verdict(&outcome(None, Some(11), "", None), None).0,
            Status::RuntimeError
        );
        assert_eq!(
            verdict(&outcome(None, Some(9), "", Some(LimitHit::Memory)), None).0,
            Status::MemoryLimitExceeded
        );
        assert_eq!(
            verdict(&outcome(None, Some(9), "", Some(LimitHit::CpuTime)), None).0,
            Status::TimeLimitExceeded
        );
        assert_eq!(
            verdict(&outcome(None, Some(9), "", Some(LimitHit::WallTime)), None).0,
            Status::TimeLimitExceeded
        );
        assert_eq!(
            verdict(&outcome(None, Some(9), "", Some(LimitHit::Output)), None).0,
            Status::OutputLimitExceeded
        );
    }
}
