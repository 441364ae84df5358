//! Settings of `kiln serve`: command-line flags, `KILN_…` environment variables
//! and an optional TOML file, with that precedence over the built-in defaults.
//!
//! Every flag is optional in [`ServeArgs`] so that an absent flag (and env var)
//! falls through to the file, then to the default; [`Config::resolve`] does the merge.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_engine::Limits;
use serde::Deserialize;

/// `kiln serve` flags. Each also reads `KILN_<NAME>` from the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 0.0.0.0:3000].
    #[arg(long, env = "KILN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded database [default: ./kiln-data].
    #[arg(long, env = "KILN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Redis queue shared with other nodes, e.g. redis://127.0.0.1:6379/0 (with
    /// --store; default: the embedded queue in --data-dir).
    #[arg(long, env = "KILN_QUEUE", hide_env_values = true)]
    pub queue: Option<String>,
    /// PostgreSQL store shared with other nodes, e.g. postgres://kiln:pw@127.0.0.1/kiln
    /// (with --queue; default: the embedded store in --data-dir).
    #[arg(long, env = "KILN_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// With --queue: seconds a running job may go without finishing before another
    /// worker takes it over (its worker is presumed dead) [default: the longest
    /// allowed job (max wall time × max tests) + 4 min].
    #[arg(long, env = "KILN_LEASE_SECS")]
    pub lease_secs: Option<u64>,
    /// In-process workers [default: number of CPUs; 0 with --queue].
    #[arg(long, env = "KILN_WORKERS")]
    pub workers: Option<usize>,
    /// TOML config file; its keys are the long flag names with `_` for `-`.
    #[arg(long, env = "KILN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Most queued (not yet running) submissions; beyond, 503 [default: 1000].
    #[arg(long, env = "KILN_QUEUE_CAPACITY")]
    pub queue_capacity: Option<u64>,
    /// Longest `?wait=true` wait in seconds before answering 202 [default: 30].
    #[arg(long, env = "KILN_MAX_WAIT_SECS")]
    pub max_wait_secs: Option<u64>,
    /// Most bytes of source (all files together) [default: 262144].
    #[arg(long, env = "KILN_MAX_SOURCE_BYTES")]
    pub max_source_bytes: Option<usize>,
    /// Most bytes of stdin (and of each test's stdin) [default: 1048576].
    #[arg(long, env = "KILN_MAX_STDIN_BYTES")]
    pub max_stdin_bytes: Option<usize>,
    /// Most test cases in one submission [default: 64].
    #[arg(long, env = "KILN_MAX_TESTS")]
    pub max_tests: Option<usize>,
    /// Most bytes of one request body [default: 16777216].
    #[arg(long, env = "KILN_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Default limits as JSON, e.g. '{"cpu_time_ms":2000}' (fields left out keep theirs).
    #[arg(long, env = "KILN_DEFAULT_LIMITS", value_parser = parse_limits_json)]
    pub default_limits: Option<LimitsPatch>,
    /// Maximum limits a submission may ask for, as JSON like --default-limits.
    #[arg(long, env = "KILN_MAX_LIMITS", value_parser = parse_limits_json)]
    pub max_limits: Option<LimitsPatch>,
    /// Comma-separated API keys; when set, every endpoint but /health and /metrics needs one.
    #[arg(
        long,
        env = "KILN_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Option<Vec<String>>,
    /// Requests per second allowed per API key (token bucket; 0 = unlimited) [default: 50].
    #[arg(long, env = "KILN_RATE_LIMIT_PER_SEC")]
    pub rate_limit_per_sec: Option<f64>,
    /// Token-bucket burst per API key [default: 100].
    #[arg(long, env = "KILN_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Most unfinished submissions per API key (0 = no cap) [default: 500].
    #[arg(long, env = "KILN_MAX_QUEUED_PER_KEY")]
    pub max_queued_per_key: Option<u64>,
    /// Allow callback URLs on loopback, private, link-local addresses [default: false].
    #[arg(long, env = "KILN_ALLOW_PRIVATE_CALLBACKS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_callbacks: Option<bool>,
    /// Timeout of one callback POST in seconds [default: 10].
    #[arg(long, env = "KILN_CALLBACK_TIMEOUT_SECS")]
    pub callback_timeout_secs: Option<u64>,
    /// Retries of a failed callback POST, with exponential backoff [default: 3].
    #[arg(long, env = "KILN_CALLBACK_RETRIES")]
    pub callback_retries: Option<u32>,
    /// Finished submissions are deleted after this many seconds (0 = kept) [default: 604800].
    #[arg(long, env = "KILN_RETENTION_SECS")]
    pub retention_secs: Option<u64>,
    /// On SIGTERM, seconds running jobs get to finish before they are requeued [default: 30].
    #[arg(long, env = "KILN_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Runs of one job (process crashes included) before it ends `internal_error` [default: 3].
    #[arg(long, env = "KILN_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// Sandboxes kept built ahead of time, so runs skip their setup [default: workers].
    #[arg(long, env = "KILN_WARM_BOXES")]
    pub warm_boxes: Option<usize>,
    /// `full`: every commit is fsynced (a 202 survives power loss); `normal`:
    /// survives a crash of the process (kill -9) but not of the machine, ~2.5× the
    /// write throughput [default: full].
    #[arg(long, env = "KILN_SQLITE_SYNCHRONOUS", value_enum)]
    pub sqlite_synchronous: Option<SqliteSync>,
}

/// How hard the embedded database pushes each commit to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// A partial [`Limits`]: the fields given replace those of the base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    pub cpu_time_ms: Option<u64>,
    pub wall_time_ms: Option<u64>,
    pub memory_kb: Option<u64>,
    pub processes: Option<u32>,
    pub output_bytes: Option<u64>,
}

impl LimitsPatch {
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            cpu_time_ms: self.cpu_time_ms.unwrap_or(base.cpu_time_ms),
            wall_time_ms: self.wall_time_ms.unwrap_or(base.wall_time_ms),
            memory_kb: self.memory_kb.unwrap_or(base.memory_kb),
            processes: self.processes.unwrap_or(base.processes),
            output_bytes: self.output_bytes.unwrap_or(base.output_bytes),
        }
    }
}

fn parse_limits_json(s: &str) -> Result<LimitsPatch, String> {
    serde_json::from_str(s).map_err(|e| format!("expected a JSON object of limits: {e}"))
}

/// The config file: the same keys as the flags, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    queue: Option<String>,
    store: Option<String>,
    lease_secs: Option<u64>,
    workers: Option<usize>,
    queue_capacity: Option<u64>,
    max_wait_secs: Option<u64>,
    max_source_bytes: Option<usize>,
    max_stdin_bytes: Option<usize>,
    max_tests: Option<usize>,
    max_body_bytes: Option<usize>,
    default_limits: Option<LimitsPatch>,
    max_limits: Option<LimitsPatch>,
    api_keys: Option<Vec<String>>,
    rate_limit_per_sec: Option<f64>,
    rate_limit_burst: Option<u32>,
    max_queued_per_key: Option<u64>,
    allow_private_callbacks: Option<bool>,
    callback_timeout_secs: Option<u64>,
    callback_retries: Option<u32>,
    retention_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    max_attempts: Option<u32>,
    warm_boxes: Option<usize>,
    sqlite_synchronous: Option<SqliteSync>,
    /// The `[workspaces]` table (see docs/workspaces.md).
    workspaces: Option<kiln_workspace::Settings>,
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Redis URL of the shared queue; `None`: embedded.
    pub queue_url: Option<String>,
    /// PostgreSQL URL of the shared store; `None`: embedded.
    pub store_url: Option<String>,
    /// How long a shared-queue job may run before it is presumed abandoned.
    pub lease: Duration,
    /// False for `kiln worker`: no public API, only `/health` and `/metrics`.
    pub serves_api: bool,
    pub workers: usize,
    pub queue_capacity: u64,
    pub max_wait: Duration,
    pub max_source_bytes: usize,
    pub max_stdin_bytes: usize,
    pub max_tests: usize,
    pub max_body_bytes: usize,
    pub default_limits: Limits,
    pub max_limits: Limits,
    pub api_keys: Vec<String>,
    pub rate_limit_per_sec: f64,
    pub rate_limit_burst: u32,
    pub max_queued_per_key: u64,
    pub allow_private_callbacks: bool,
    pub callback_timeout: Duration,
    pub callback_retries: u32,
    pub retention: Option<Duration>,
    pub shutdown_grace: Duration,
    pub max_attempts: u32,
    pub warm_boxes: usize,
    pub sqlite_synchronous: SqliteSync,
    /// Workspace settings: the `[workspaces]` table of the config file.
    pub workspaces: kiln_workspace::Settings,
}

impl Config {
    /// The maxima submissions are validated against (the engine's one
    /// validator); the engine of this node gets the same through
    /// [`crate::executor::engine_config`].
    pub fn validation_rules(&self) -> kiln_engine::validate::Rules {
        kiln_engine::validate::Rules {
            max_source_bytes: self.max_source_bytes,
            max_stdin_bytes: self.max_stdin_bytes,
            max_tests: self.max_tests,
            max_limits: self.max_limits,
            ..kiln_engine::validate::Rules::default()
        }
    }
}

/// The most submissions one batch request may carry.
pub const MAX_BATCH: usize = 100;

/// Maximum limits when none are configured: generous for compiled languages,
/// bounded so that one submission cannot hold a worker for long.
pub fn builtin_max_limits() -> Limits {
    Limits {
        cpu_time_ms: 20_000,
        wall_time_ms: 40_000,
        memory_kb: 1024 * 1024,
        processes: 256,
        output_bytes: 16 * 1024 * 1024,
    }
}

impl Config {
    /// Merges flags/env (already merged by clap), the config file, and defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let pick = |a: Option<u64>, b: Option<u64>, d: u64| a.or(b).unwrap_or(d);
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let max_limits = args
            .max_limits
            .or(file.max_limits)
            .unwrap_or_default()
            .apply(builtin_max_limits());
        let default_limits = args
            .default_limits
            .or(file.default_limits)
            .unwrap_or_default()
            .apply(Limits::default());
        let api_keys: Vec<String> = args
            .api_keys
            .clone()
            .or(file.api_keys)
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        let queue_url = args.queue.clone().or(file.queue).filter(|u| !u.is_empty());
        let store_url = args.store.clone().or(file.store).filter(|u| !u.is_empty());
        let default_workers = if queue_url.is_some() { 0 } else { cpus };
        let workers = args.workers.or(file.workers).unwrap_or(default_workers);
        let max_tests = args.max_tests.or(file.max_tests).unwrap_or(64);
        let longest_job =
            Duration::from_millis(max_limits.wall_time_ms.saturating_mul(max_tests as u64));
        let lease = match args.lease_secs.or(file.lease_secs) {
            Some(secs) => Duration::from_secs(secs),
            None => longest_job + Duration::from_secs(240),
        };
        let retention_secs = pick(args.retention_secs, file.retention_secs, 7 * 24 * 3600);
        let config = Config {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 3000))),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("kiln-data")),
            queue_url,
            store_url,
            lease,
            serves_api: true,
            workers,
            queue_capacity: pick(args.queue_capacity, file.queue_capacity, 1000),
            max_wait: Duration::from_secs(pick(args.max_wait_secs, file.max_wait_secs, 30)),
            max_source_bytes: args
                .max_source_bytes
                .or(file.max_source_bytes)
                .unwrap_or(256 * 1024),
            max_stdin_bytes: args
                .max_stdin_bytes
                .or(file.max_stdin_bytes)
                .unwrap_or(1024 * 1024),
            max_tests,
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(16 * 1024 * 1024),
            default_limits,
            max_limits,
            api_keys,
            rate_limit_per_sec: args
                .rate_limit_per_sec
                .or(file.rate_limit_per_sec)
                .unwrap_or(50.0),
            rate_limit_burst: args
                .rate_limit_burst
                .or(file.rate_limit_burst)
                .unwrap_or(100),
            max_queued_per_key: pick(args.max_queued_per_key, file.max_queued_per_key, 500),
            allow_private_callbacks: args
                .allow_private_callbacks
                .or(file.allow_private_callbacks)
                .unwrap_or(false),
            callback_timeout: Duration::from_secs(pick(
                args.callback_timeout_secs,
                file.callback_timeout_secs,
                10,
            )),
            callback_retries: args.callback_retries.or(file.callback_retries).unwrap_or(3),
            retention: (retention_secs > 0).then(|| Duration::from_secs(retention_secs)),
            shutdown_grace: Duration::from_secs(pick(
                args.shutdown_grace_secs,
                file.shutdown_grace_secs,
                30,
            )),
            max_attempts: args.max_attempts.or(file.max_attempts).unwrap_or(3),
            warm_boxes: args.warm_boxes.or(file.warm_boxes).unwrap_or(workers),
            sqlite_synchronous: args
                .sqlite_synchronous
                .or(file.sqlite_synchronous)
                .unwrap_or_default(),
            workspaces: file.workspaces.unwrap_or_default(),
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_string(),
            })
        };
        match (&self.queue_url, &self.store_url) {
            (Some(q), Some(s)) => {
                if !(q.starts_with("redis://") || q.starts_with("rediss://")) {
                    return invalid("queue", "must be a redis:// or rediss:// URL");
                }
                if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
                    return invalid("store", "must be a postgres:// URL");
                }
            }
            (None, None) => {}
            (Some(_), None) => {
                return invalid("store", "a Redis queue needs a shared store: give --store postgres://… too (or neither, for the embedded mode)")
            }
            (None, Some(_)) => {
                return invalid("queue", "a PostgreSQL store needs a shared queue: give --queue redis://… too (or neither, for the embedded mode)")
            }
        }
        if self.workers == 0 && self.queue_url.is_none() {
            return invalid(
                "workers",
                "must be at least 1 (0 is allowed only with a shared --queue)",
            );
        }
        if self.lease.is_zero() {
            return invalid("lease_secs", "must be at least 1");
        }
        if let Err(m) = self.workspaces.check() {
            return invalid("workspaces", &m);
        }
        if self.queue_capacity == 0 {
            return invalid("queue_capacity", "must be at least 1");
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1");
        }
        if !(self.rate_limit_per_sec >= 0.0 && self.rate_limit_per_sec.is_finite()) {
            return invalid("rate_limit_per_sec", "must be a finite number >= 0");
        }
        if let Some(field) = kiln_engine::validate::limit_over_max(&self.default_limits, &self.max_limits) {
            return Err(ConfigError::Invalid {
                key: "default_limits",
                message: format!("{field} is above max_limits"),
            });
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.toml");
        std::fs::write(
            &path,
            "workers = 7\nqueue_capacity = 5\nmax_limits = { cpu_time_ms = 9000 }\napi_keys = [\"k1\"]\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "kiln",
            "--config",
            path.to_str().unwrap(),
            "--workers",
            "3",
            "--listen",
            "127.0.0.1:0",
        ]);
        let c = Config::resolve(&cli.serve).unwrap();
        assert_eq!(c.workers, 3);
        assert_eq!(c.queue_capacity, 5);
        assert_eq!(c.max_limits.cpu_time_ms, 9000);
        assert_eq!(c.max_limits.memory_kb, builtin_max_limits().memory_kb);
        assert_eq!(c.api_keys, vec!["k1".to_string()]);
        assert_eq!(c.max_wait, Duration::from_secs(30));
        assert!(!c.allow_private_callbacks);
    }

    #[test]
    fn env_beats_file_and_flags_beat_env() {
        // Keys no other test reads, so a shared process (cargo test) is safe too.
        std::env::set_var("KILN_MAX_STDIN_BYTES", "5");
        std::env::set_var("KILN_CALLBACK_RETRIES", "9");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.toml");
        std::fs::write(
            &path,
            "max_stdin_bytes = 7\ncallback_retries = 8\nretention_secs = 3\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "kiln",
            "--config",
            path.to_str().unwrap(),
            "--callback-retries",
            "10",
            "--workers",
            "4",
        ]);
        let c = Config::resolve(&cli.serve).unwrap();
        assert_eq!((c.max_stdin_bytes, c.callback_retries), (5, 10));
        assert_eq!(c.retention, Some(Duration::from_secs(3)));
        assert_eq!(c.warm_boxes, 4, "one warm box per worker by default");
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.toml");
        std::fs::write(&path, "wokers = 7\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(&args),
            Err(ConfigError::Parse { .. })
        ));
        let args = ServeArgs {
            workers: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(&args),
            Err(ConfigError::Invalid { key: "workers", .. })
        ));
    }

    #[test]
    fn shared_queue_and_store_go_together_and_default_to_no_workers() {
        let c = Config::resolve(&ServeArgs {
            queue: Some("redis://127.0.0.1:6379/0".into()),
            store: Some("postgres://kiln@127.0.0.1/kiln".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.workers, 0, "an API node runs no workers unless asked");
        let longest = builtin_max_limits().wall_time_ms * 64;
        assert_eq!(
            c.lease,
            Duration::from_millis(longest) + Duration::from_secs(240)
        );
        for (queue, store, key) in [
            (Some("redis://h/0"), None, "store"),
            (None, Some("postgres://h/db"), "queue"),
            (Some("http://h"), Some("postgres://h/db"), "queue"),
            (Some("redis://h/0"), Some("mysql://h/db"), "store"),
        ] {
            let err = Config::resolve(&ServeArgs {
                queue: queue.map(String::from),
                store: store.map(String::from),
                ..Default::default()
            })
            .unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { key: k, .. } if *k == key),
                "{queue:?} {store:?}: {err}"
            );
        }
        let err = Config::resolve(&ServeArgs {
            workers: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("workers"), "{err}");
    }
}
