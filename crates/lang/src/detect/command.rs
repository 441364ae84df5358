//! Running a probe under its timeout, and reading a version from its output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `argv` with stdin closed and either exactly `env` or the inherited
/// environment; returns stdout and stderr together when it exits 0 within
/// `timeout`.
pub(super) fn run_with_timeout(
    argv: &[String],
    env: Option<&[(String, String)]>,
    timeout: Duration,
) -> Result<String, String> {
    let shown = argv.join(" ");
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(env) = env {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("`{shown}` failed to start: {e}"))?;
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers are left behind: a grandchild may hold the pipes.
                return Err(format!("`{shown}` timed out after {timeout:?}"));
            }
            Err(e) => return Err(format!("`{shown}`: {e}")),
        }
    };
    let text: String = readers
        .into_iter()
        .map(|r| String::from_utf8_lossy(&r.join().unwrap_or_default()).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    if status.success() {
        Ok(text)
    } else {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        Err(format!("`{shown}` failed ({status}): {first}"))
    }
}

/// The first dotted number in `text`: "go version go1.19.8 linux/amd64" →
/// "1.19.8", "v20.11.0" → "20.11.0", "5.2.15(1)-release" → "5.2.15".
pub(super) fn parse_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
        if starts {
            let end = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_digit() || bytes[j] == b'.'))
                .unwrap_or(bytes.len());
            let candidate = text[i..end].trim_end_matches('.');
            if candidate.contains('.') {
                return Some(candidate.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::PROBE_TIMEOUT;

    #[test]
    fn versions_from_real_outputs() {
        let cases = [
            ("Python 3.11.2\n", "3.11.2"),
            ("v20.20.2\n", "20.20.2"),
            ("12.2.0\n", "12.2.0"),
            ("javac 17.0.17\n", "17.0.17"),
            ("rustc 1.95.0 (f2d3ce0bd 2026-03-21)\n", "1.95.0"),
            ("go version go1.19.8 linux/amd64\n", "1.19.8"),
            ("5.2.15(1)-release\n", "5.2.15"),
            ("3.1.2", "3.1.2"),
            ("v5.36.0", "5.36.0"),
            (
                "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio\n",
                "5.4.4",
            ),
            ("build 7 of 2024, release 8.2.", "8.2"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), Some(want), "{text:?}");
        }
        assert_eq!(parse_version("no digits here"), None);
        assert_eq!(parse_version("version 12"), None);
    }

    #[test]
    fn a_slow_probe_is_cut_off() {
        let argv = ["/bin/sleep".to_string(), "30".to_string()];
        let started = Instant::now();
        let err = run_with_timeout(&argv, Some(&[]), Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_failing_probe_says_why() {
        let argv = [
            "/bin/sh".to_string(),
            "-c".to_string(),
            "echo nope >&2; exit 4".to_string(),
        ];
        let err = run_with_timeout(&argv, Some(&[]), PROBE_TIMEOUT).unwrap_err();
        assert!(err.contains("nope") && err.contains('4'), "{err}");
        let argv = ["/nonexistent/tool".to_string()];
        assert!(run_with_timeout(&argv, None, PROBE_TIMEOUT)
            .unwrap_err()
            .contains("failed to start"));
    }
}
