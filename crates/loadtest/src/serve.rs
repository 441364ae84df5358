//! Starting `kiln serve` as a child process on a free loopback port when no
//! `--target` is given, waiting for `/health`, and stopping it with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::client::{ApiClient, Target};
use crate::error::LoadtestError;

/// A running embedded server; stop it with [`Embedded::stop`].
#[derive(Debug)]
pub struct Embedded {
    child: Child,
    pub url: String,
    _data_dir: tempfile::TempDir,
}

/// A free loopback port (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Embedded {
    /// Starts `exe serve --listen 127.0.0.1:PORT --data-dir TMP [--workers N]`.
    pub async fn start(
        exe: Option<&Path>,
        workers: Option<usize>,
        wait: Duration,
    ) -> Result<Self, LoadtestError> {
        let exe: PathBuf = match exe {
            Some(p) => p.to_owned(),
            None => std::env::current_exe().map_err(|e| LoadtestError::Spawn(e.to_string()))?,
        };
        let port = free_port().map_err(|e| LoadtestError::Spawn(format!("no free port: {e}")))?;
        let data_dir = tempfile::Builder::new()
            .prefix("kiln-loadtest-")
            .tempdir()
            .map_err(|e| LoadtestError::Spawn(format!("temp dir: {e}")))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir.path());
        if let Some(w) = workers {
            cmd.arg("--workers").arg(w.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| LoadtestError::Spawn(format!("{}: {e}", exe.display())))?;
        let mut me = Embedded {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _data_dir: data_dir,
        };
        if let Err(e) = me.wait_healthy(wait).await {
            me.stop().await;
            return Err(e);
        }
        Ok(me)
    }

    async fn wait_healthy(&mut self, wait: Duration) -> Result<(), LoadtestError> {
        let client = ApiClient::new(Target::parse(&self.url)?, None, 1);
        wait_healthy(&client, wait, Some(&mut self.child)).await
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Polls `GET /health` until 200, the deadline, or the child's exit.
pub async fn wait_healthy(
    client: &ApiClient,
    wait: Duration,
    mut child: Option<&mut Child>,
) -> Result<(), LoadtestError> {
    let start = Instant::now();
    let mut last: String;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(2),
            client.request(Method::GET, "/health", None),
        )
        .await
        {
            Ok(Ok((s, _))) if s.is_success() => return Ok(()),
            Ok(Ok((s, b))) => {
                last = format!(
                    "HTTP {s}: {}",
                    String::from_utf8_lossy(&b)
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            }
            // Nothing listens there: waiting will not help (an embedded
            // server still starting is the exception).
            Ok(Err(e)) if child.is_none() && is_refused(&e) => {
                return Err(LoadtestError::Refused {
                    url: client.target().base.clone(),
                })
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = "timed out".into(),
        }
        if let Some(c) = child.as_deref_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(LoadtestError::Spawn(format!(
                    "`kiln serve` exited with {status} before it was healthy"
                )));
            }
        }
        if start.elapsed() >= wait {
            return Err(LoadtestError::Unhealthy {
                url: client.target().url("/health"),
                waited_s: start.elapsed().as_secs_f64(),
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a client error is a refused connection.
fn is_refused(e: &str) -> bool {
    e.contains("ConnectionRefused") || e.contains("Connection refused")
}
