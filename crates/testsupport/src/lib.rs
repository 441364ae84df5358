//! kiln-testsupport (dev-dependency only):
//!
//! Private Redis and PostgreSQL servers for tests: each one in a temporary
//! directory, on a free loopback port, owned by the test that started it, so
//! that tests can stop and start them freely without touching the machine's own
//! services. Needs `redis-server` on `PATH` and PostgreSQL's `initdb`/`pg_ctl`
//! (in `/usr/lib/postgresql/*/bin` or on `PATH`); `scripts/test.sh` installs them.
//! As root, PostgreSQL runs as the `postgres` user (it refuses to run as root).
//!
//! Test code: panics with a clear message instead of returning errors.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private Redis and PostgreSQL: what a scale-out test runs on.
pub struct Services {
    pub redis: RedisServer,
    pub pg: PgServer,
}

impl Services {
    pub fn start() -> Services {
        Services {
            redis: RedisServer::start(),
            pg: PgServer::start(),
        }
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let path = std::env::temp_dir().join(format!("{prefix}-{}", &tag[..12]));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free loopback port")
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-server` with AOF (`appendfsync always`: an acknowledged write survives
/// a `kill -9`), in its own directory.
pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut r = RedisServer {
            port: free_port(),
            dir: TempDir::new("kiln-test-redis"),
            child: None,
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) on the same port and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server (apt-get install redis-server)");
        self.child = Some(child);
        let port = self.port;
        wait_until("redis-server", Duration::from_secs(20), || {
            redis_cmd(port, &["PING"]).is_some_and(|r| r.starts_with("+PONG"))
        });
    }

    /// `kill -9`: the hardest way to lose Redis.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One command over RESP; the raw reply (`None` when Redis does not answer).
    pub fn cmd(&self, args: &[&str]) -> Option<String> {
        redis_cmd(self.port, args)
    }

    /// An integer reply (`XLEN`, `SCARD`, …).
    pub fn int(&self, args: &[&str]) -> i64 {
        let reply = self
            .cmd(args)
            .unwrap_or_else(|| panic!("redis {args:?}: no answer"));
        reply
            .trim()
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("redis {args:?}: not an integer: {reply:?}"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn redis_cmd(port: u16, args: &[&str]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A PostgreSQL cluster of its own (`initdb` + `pg_ctl`), trust auth on
/// 127.0.0.1, database `postgres`, user `postgres`.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
    running: bool,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| PathBuf::from("")) // on PATH
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl PgServer {
    pub fn start() -> PgServer {
        let dir = TempDir::new("kiln-test-pg");
        let mut pg = PgServer {
            port: free_port(),
            bin: pg_bin(),
            dir,
            running: false,
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir.0)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "chown postgres {} failed (is the postgres user there?)",
                pg.dir.0.display()
            );
        }
        let data = pg.data();
        pg.run_pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.restart();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "running {} (apt-get install postgresql): {e}",
                    exe.display()
                )
            });
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it (again) on the same port and data; waits until it accepts connections.
    pub fn restart(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.0.display()
        );
        let data = self.data();
        let log = self.dir.0.join("pg.log");
        self.run_pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        self.running = true;
        let port = self.port;
        wait_until("postgres", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops it like a crash (`-m immediate`); committed data survives.
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data();
            self.run_pg(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
            self.running = false;
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir.0
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.dir.0.join("pg.log")) {
                eprintln!("--- postgres log ---\n{log}");
            }
        }
        self.stop();
    }
}
