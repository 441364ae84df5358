//! Every setting of `kiln serve` and `kiln worker`, each declared once (see
//! `kiln_settings::settings!`): its flag `--name`, env var `KILN_NAME`, TOML
//! key `name`, default and help all come from the line below. The groups
//! decide who gets a setting: `kiln worker` flattens [`BackendArgs`],
//! [`JobArgs`], [`LimitArgs`] and [`WorkerNodeArgs`]; `kiln serve` all but
//! the last, plus [`ApiArgs`] and the workspaces' `kiln_workspace::SettingsArgs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kiln_engine::config::{
    COMPILE_CACHE_BYTES, MAX_LIMITS, MAX_SOURCE_BYTES, MAX_STDIN_BYTES, MAX_TESTS,
    TOOLCHAIN_ASSETS_BYTES,
};
use kiln_engine::Limits;
use kiln_settings::show;
use serde::{Deserialize, Serialize};

kiln_settings::settings! {
    /// Where jobs wait and results live (`kiln serve` and `kiln worker`).
    pub struct BackendArgs => Backend {
        /// Redis queue shared with other nodes, e.g. redis://127.0.0.1:6379/0
        /// (with --store).
        #[arg(hide_env_values = true)]
        queue: String => "none: kiln serve embeds one in --data-dir; kiln worker needs one",
        /// PostgreSQL store shared with other nodes, e.g.
        /// postgres://kiln:pw@127.0.0.1/kiln (with --queue).
        #[arg(hide_env_values = true)]
        store: String => "none: kiln serve embeds one in --data-dir; kiln worker needs one",
        /// With --queue: seconds a job's worker may go without renewing its
        /// lease (it renews every third of it while the job runs) before
        /// another worker takes the job over (its worker is presumed dead).
        lease_secs: u64 = 30,
        /// With --queue: a prefix before every Redis key (stream, group,
        /// channels), so that two deployments can share one Redis.
        queue_prefix: String => "none: the plan's names (code-execution-jobs:container)",
    }
}

kiln_settings::settings! {
    /// The workers and what they do with a job (`kiln serve` and `kiln worker`).
    pub struct JobArgs => Jobs {
        /// Workers of this process (and sandboxes at once).
        workers: usize => "the number of CPUs; 0 for kiln serve with --queue",
        /// Sandboxes kept built ahead of time, so runs skip their setup (0 = built on demand).
        warm_boxes: usize => "workers",
        /// Runs of one job (process crashes included) before it ends `internal_error`.
        max_attempts: u32 = 3,
        /// On SIGTERM, seconds running jobs get to finish before they are requeued.
        shutdown_grace_secs: u64 = 30,
        /// Finished submissions are deleted after this many seconds (0 = kept).
        retention_secs: u64 = 7 * 24 * 3600,
        /// Allow callback URLs on loopback, private, link-local addresses.
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        allow_private_callbacks: bool = false,
        /// Timeout of one callback POST in seconds.
        callback_timeout_secs: u64 = 10,
        /// Retries of a failed callback POST, with exponential backoff.
        callback_retries: u32 = 3,
        /// Secret of the callbacks' `Kiln-Signature` (HMAC-SHA256); every node
        /// of a deployment needs the same one.
        #[arg(hide_env_values = true)]
        callback_secret: String => "kiln serve: one generated into <data-dir>/callback-secret; kiln worker: one per process (set it)",
        /// Cache compile results on disk: a submission compiled before
        /// skips its compiler (see docs/compile-cache.md).
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        compile_cache: bool = true,
        /// Directory of the compile cache (this node's; several nodes may share one).
        compile_cache_dir: PathBuf => "<data-dir>/compile-cache; kiln worker: /var/cache/kiln/compile-cache",
        /// Bytes the compile cache may hold; the least recently used entries go first.
        compile_cache_bytes: u64 = COMPILE_CACHE_BYTES,
        /// Build compiler speed-ups once per node: a precompiled header of the
        /// standard headers a C++ source includes first, a class-data archive
        /// for javac (see docs/compile-cache.md).
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        toolchain_assets: bool = true,
        /// Directory of the toolchain assets (this process's own).
        toolchain_assets_dir: PathBuf => "<data-dir>/toolchain-assets; kiln worker: /var/cache/kiln/toolchain-assets",
        /// Bytes the toolchain assets may hold; the least recently used go first.
        toolchain_assets_bytes: u64 = TOOLCHAIN_ASSETS_BYTES,
    }
}

kiln_settings::settings! {
    /// What a submission may be and ask for (`kiln serve` and `kiln worker`:
    /// a worker's must match the API nodes').
    pub struct LimitArgs => SubmissionLimits {
        /// Most bytes of source (all files together).
        max_source_bytes: usize = MAX_SOURCE_BYTES,
        /// Most bytes of stdin (and of each test's stdin).
        max_stdin_bytes: usize = MAX_STDIN_BYTES,
        /// Most test cases in one submission.
        max_tests: usize = MAX_TESTS,
        /// Default limits as JSON, e.g. '{"cpu_time_ms":2000}' (fields left out keep theirs).
        #[arg(value_parser = parse_limits_json)]
        default_limits: LimitsPatch => show(&LimitsPatch::from(Limits::default())),
        /// Maximum limits a submission may ask for, as JSON like --default-limits.
        #[arg(value_parser = parse_limits_json)]
        max_limits: LimitsPatch => show(&LimitsPatch::from(MAX_LIMITS)),
    }
}

kiln_settings::settings! {
    /// The public API and the embedded queue and store (`kiln serve` only).
    pub struct ApiArgs => Api {
        /// Address to listen on.
        listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 3000)),
        /// Directory of the embedded database (and of workspaces).
        data_dir: PathBuf = PathBuf::from("kiln-data"),
        /// Most queued (not yet running) submissions; beyond, 503.
        queue_capacity: u64 = 1000,
        /// Longest `?wait=true` wait in seconds before answering 202.
        max_wait_secs: u64 = 30,
        /// Most bytes of one request body.
        max_body_bytes: usize = 16 << 20,
        /// Comma-separated API keys; when set, every endpoint but /health and /metrics needs one.
        #[arg(value_delimiter = ',', hide_env_values = true)]
        api_keys: Vec<String> = Vec::new() => "none: open to all",
        /// Comma-separated admin API keys: valid keys that also read every key's submissions.
        #[arg(value_delimiter = ',', hide_env_values = true)]
        admin_keys: Vec<String> = Vec::new() => "none",
        /// Requests per second allowed per API key (token bucket; 0 = unlimited).
        rate_limit_per_sec: f64 = 50.0,
        /// Token-bucket burst per API key.
        rate_limit_burst: u32 = 100,
        /// With API keys off: requests per second allowed per client address
        /// (an IPv6 /64 counts as one; loopback is never limited; 0 = unlimited).
        ip_rate_limit_per_sec: f64 = 100.0,
        /// Token-bucket burst per client address (with API keys off).
        ip_rate_limit_burst: u32 = 200,
        /// Comma-separated origins (`https://console.example.com`, or `*`) whose
        /// browser pages may call the API and open its WebSockets; without one,
        /// no cross-origin access and WebSockets from the same origin only.
        #[arg(value_delimiter = ',')]
        cors_origins: Vec<String> = Vec::new() => "none: same origin only",
        /// Most unfinished submissions per API key (0 = no cap).
        max_queued_per_key: u64 = 500,
        /// `full`: every commit is fsynced (a 202 survives power loss);
        /// `normal`: survives a crash of the process (kill -9) but not of the
        /// machine, ~2.5× the write throughput.
        #[arg(value_enum)]
        sqlite_synchronous: SqliteSync = SqliteSync::Full,
    }
}

kiln_settings::settings! {
    /// The operational port of `kiln worker` (`kiln worker` only).
    pub struct WorkerNodeArgs => WorkerNode {
        /// Address of /metrics and /health (`--listen` means the same for a worker; this one wins).
        metrics_listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 9091)),
    }
}

/// Every setting of both commands, workspaces included, as each place spells it.
pub fn all() -> Vec<kiln_settings::Setting> {
    [
        BackendArgs::settings(),
        JobArgs::settings(),
        LimitArgs::settings(),
        ApiArgs::settings(),
        WorkerNodeArgs::settings(),
        kiln_workspace::SettingsArgs::settings(),
    ]
    .concat()
}

impl Jobs {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn callback_timeout(&self) -> Duration {
        Duration::from_secs(self.callback_timeout_secs)
    }

    /// How long finished submissions are kept; `None`: for ever.
    pub fn retention(&self) -> Option<Duration> {
        (self.retention_secs > 0).then(|| Duration::from_secs(self.retention_secs))
    }
}

impl Api {
    pub fn max_wait(&self) -> Duration {
        Duration::from_secs(self.max_wait_secs)
    }
}

/// How hard the embedded database pushes each commit to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// A partial [`Limits`]: the fields given replace those of the base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// Every field given.
impl From<Limits> for LimitsPatch {
    fn from(l: Limits) -> LimitsPatch {
        LimitsPatch {
            cpu_time_ms: Some(l.cpu_time_ms),
            wall_time_ms: Some(l.wall_time_ms),
            memory_kb: Some(l.memory_kb),
            processes: Some(l.processes),
            output_bytes: Some(l.output_bytes),
        }
    }
}

fn parse_limits_json(s: &str) -> Result<LimitsPatch, String> {
    serde_json::from_str(s).map_err(|e| format!("expected a JSON object of limits: {e}"))
}
