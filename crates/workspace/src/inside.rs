//! Working inside a running workspace: exec with output, exit code and a
//! timeout; files up and down through the box's init (`openat2` beneath the
//! home, symlinks never followed); terminals that survive a reconnect.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_sandbox::protocol::Rlimits;
use kiln_sandbox::{ExecLimits, ExecSpec, Input, LimitHit, SandboxError};
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::manager::{lock, Manager, HOME};
use crate::model::{Command, ExecRequest, ExecResponse};
use crate::pty::{Attachment, PtySession};

/// Output kept per exec (stdout and stderr together).
const EXEC_OUTPUT_BYTES: u64 = 1 << 20;
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The environment of every program in a workspace, with its template's `PATH`.
fn base_env(path: &str) -> Vec<String> {
    vec![
        format!("PATH={path}"),
        format!("HOME={HOME}"),
        "USER=kiln".into(),
        "LANG=C.UTF-8".into(),
        "TERM=xterm-256color".into(),
    ]
}

fn env_name_ok(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `/home/kiln/a/b.txt` → `a/b.txt`; anything else is refused.
pub fn home_relative(path: &str) -> Result<&str> {
    path.strip_prefix(HOME)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            WorkspaceError::invalid(
                "path",
                format!("{path:?} must name a file inside {HOME}/ (an absolute path)"),
            )
        })
}

/// What the box said about a file, as an API error.
pub(crate) fn file_error(path: &str, e: SandboxError) -> WorkspaceError {
    match e {
        SandboxError::Rejected(m) if m.contains("ENOENT") => {
            WorkspaceError::FileMissing(format!("{path}: no such file"))
        }
        SandboxError::Rejected(m) if m.contains("EEXIST") || m.contains("not empty") => {
            WorkspaceError::Conflict(format!("{path}: {m}"))
        }
        SandboxError::Rejected(m) if m.contains("No space left") || m.contains("ENOSPC") => {
            WorkspaceError::TooLarge(format!(
                "{path}: the home is full (its filesystem holds the template's disk_mb); delete files first"
            ))
        }
        SandboxError::Rejected(m) => WorkspaceError::FileRefused(format!("{path}: {m}")),
        other => WorkspaceError::Sandbox(other),
    }
}

/// The argv of an exec request: its argv, or `sh -c` with its shell line.
fn exec_argv(command: Command) -> Result<Vec<String>> {
    let argv = match command {
        Command::Argv(a) if a.is_empty() || a[0].is_empty() => {
            return Err(WorkspaceError::invalid("command", "must not be empty"))
        }
        Command::Argv(a) => a,
        Command::Shell(s) if s.trim().is_empty() => {
            return Err(WorkspaceError::invalid("command", "must not be empty"))
        }
        Command::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s],
    };
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(WorkspaceError::invalid(
            "command",
            "must not contain NUL bytes",
        ));
    }
    Ok(argv)
}

/// The environment of an exec: the base one with the request's variables.
fn exec_env(path: &str, given: BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut env = base_env(path);
    for (k, v) in given {
        if !env_name_ok(&k) || v.contains('\0') {
            return Err(WorkspaceError::invalid(
                "env",
                format!("{k:?} is not a valid variable name (or its value has a NUL)"),
            ));
        }
        env.retain(|x| !x.starts_with(&format!("{k}=")));
        env.push(format!("{k}={v}"));
    }
    Ok(env)
}

impl Manager {
    pub async fn exec(&self, owner: &str, id: Uuid, req: ExecRequest) -> Result<ExecResponse> {
        let e = self.entry(owner, id)?;
        let timeout = req.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout == 0 || timeout > self.settings.max_exec_timeout_ms {
            return Err(WorkspaceError::invalid(
                "timeout_ms",
                format!(
                    "must be 1 to {} (workspaces.max_exec_timeout_ms)",
                    self.settings.max_exec_timeout_ms
                ),
            ));
        }
        let argv = exec_argv(req.command)?;
        let cwd = req.cwd.unwrap_or_else(|| HOME.into());
        if !cwd.starts_with('/') || cwd.contains('\0') {
            return Err(WorkspaceError::invalid(
                "cwd",
                format!("{cwd:?} must be an absolute path"),
            ));
        }
        kiln_sandbox::files::check_exec_path("cwd", &cwd, "/")
            .map_err(|m| WorkspaceError::invalid("cwd", m))?;
        kiln_sandbox::files::check_exec_path("command", &argv[0], &cwd)
            .map_err(|m| WorkspaceError::invalid("command", m))?;
        let t = self.template(&e.snapshot().template)?;
        let env = exec_env(&t.path, req.env)?;
        let b = e.running_box()?;
        let _busy = e.busy();
        let limits = ExecLimits {
            cpu_ms: timeout,
            wall_ms: timeout,
            memory_bytes: t.memory_mb << 20,
            processes: t.pids,
            output_bytes: EXEC_OUTPUT_BYTES,
            file_size_bytes: t.disk_mb << 20,
            open_files: 1024,
            stack_bytes: 8 << 20,
        };
        let mut spec = ExecSpec::new(argv, env, limits);
        spec.cwd = cwd;
        spec.stdin = Input::Bytes(req.stdin.into_bytes());
        spec.shared_box = true;
        let out = b.exec(spec).await.map_err(|err| match err {
            SandboxError::Rejected(m) => WorkspaceError::invalid("command", m),
            other => WorkspaceError::Sandbox(other),
        })?;
        Ok(ExecResponse {
            exit_code: out.exit_code,
            signal: out.signal,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            wall_time_ms: out.wall_ms,
            timed_out: matches!(out.limit, Some(LimitHit::WallTime | LimitHit::CpuTime)),
            output_truncated: out.limit == Some(LimitHit::Output),
        })
    }

    /// Attaches to the terminal `reconnect` (starting it if it is new or its
    /// program ended), sized `rows` x `cols`.
    pub async fn attach_pty(
        &self,
        owner: &str,
        id: Uuid,
        reconnect: Option<&str>,
        rows: u16,
        cols: u16,
        command: Option<&str>,
    ) -> Result<Attachment> {
        let e = self.entry(owner, id)?;
        if rows == 0 || cols == 0 {
            return Err(WorkspaceError::invalid(
                "width",
                "width and height must be at least 1",
            ));
        }
        let key = match reconnect {
            Some(r)
                if r.is_empty()
                    || r.len() > 64
                    || !r
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
            {
                return Err(WorkspaceError::invalid(
                    "reconnect",
                    "must be 1 to 64 characters of letters, digits, - and _ (a UUID)",
                ));
            }
            Some(r) => r.to_string(),
            None => Uuid::new_v4().to_string(),
        };
        let b = e.running_box()?;
        e.touch();
        let existing = lock(&e.ptys).get(&key).filter(|s| !s.is_closed()).cloned();
        if let Some(s) = existing {
            s.resize(rows, cols).await;
            return Ok(s.attach());
        }
        let argv = match command {
            Some(c) if !c.trim().is_empty() => vec!["/bin/sh".into(), "-c".into(), c.to_string()],
            _ => vec![e
                .snapshot()
                .parameters
                .get("shell")
                .cloned()
                .unwrap_or_else(|| "/bin/sh".into())],
        };
        let t = self.template(&e.snapshot().template)?;
        // Terminal programs get the exec rlimits that make sense without a timeout.
        let rlimits = Rlimits {
            file_size_bytes: Some(t.disk_mb << 20),
            open_files: Some(1024),
            ..Rlimits::default()
        };
        let p = b
            .spawn_pty_limited(argv, base_env(&t.path), HOME, rows, cols, rlimits)
            .await
            .map_err(|err| match err {
                SandboxError::Rejected(m) => WorkspaceError::invalid("command", m),
                other => WorkspaceError::Sandbox(other),
            })?;
        let save_to = self.scrollback_file(id, &key);
        let s = PtySession::start(key.clone(), p, &b, self.settings.pty_buffer_bytes, save_to);
        let old = lock(&e.ptys).insert(key, s.clone());
        if let Some(old) = old {
            old.kill().await;
        }
        Ok(s.attach())
    }

    /// Where terminal `key`'s scrollback is kept (`<ws dir>/pty/<key>`; the
    /// key is letters, digits, `-` and `_`); `None` when the directory
    /// cannot be made (the terminal then works without it).
    fn scrollback_file(&self, id: Uuid, key: &str) -> Option<std::path::PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = self.store.ws_dir(id).join("pty");
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "no terminal scrollback on disk");
                return None;
            }
        }
        Some(dir.join(key))
    }

    /// A client of a terminal went away; the shell is kept for the grace period.
    pub fn detach_pty(&self, owner: &str, id: Uuid, session: &Arc<PtySession>) {
        let weak = self.entry(owner, id).ok().map(|e| Arc::downgrade(&e));
        if let Some(e) = weak.as_ref().and_then(|w| w.upgrade()) {
            e.touch();
        }
        session.detach(self.settings.pty_grace(), move |s| {
            if let Some(e) = weak.and_then(|w| w.upgrade()) {
                let mut ptys = lock(&e.ptys);
                if ptys.get(&s.id).is_some_and(|cur| Arc::ptr_eq(cur, s)) {
                    ptys.remove(&s.id);
                }
            }
            s.forget();
            let s = s.clone();
            tokio::spawn(async move { s.kill().await });
        });
    }

    /// Terminal input counts as activity.
    pub fn touch(&self, owner: &str, id: Uuid) {
        if let Ok(e) = self.entry(owner, id) {
            e.touch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_inside_the_home() {
        assert_eq!(home_relative("/home/kiln/a.txt").unwrap(), "a.txt");
        assert_eq!(home_relative("/home/kiln/d/e").unwrap(), "d/e");
        for bad in [
            "/home/kiln",
            "/home/kiln/",
            "/etc/passwd",
            "a.txt",
            "/home/kilnx/a",
        ] {
            let e = home_relative(bad).unwrap_err();
            assert!(e.to_string().starts_with("path:"), "{bad}: {e}");
        }
    }

    #[test]
    fn env_names_are_checked() {
        assert!(env_name_ok("FOO_1"));
        assert!(env_name_ok("_x"));
        assert!(!env_name_ok("1A"));
        assert!(!env_name_ok("A-B"));
        assert!(!env_name_ok(""));
    }
}
