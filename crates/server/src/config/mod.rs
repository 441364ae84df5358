//! Settings of `kiln serve` and `kiln worker`: command-line flags, `KILN_…`
//! environment variables and an optional TOML file, with that precedence over
//! the built-in defaults.
//!
//! - [`settings`]: every setting, declared once in groups (flag, env var, TOML
//!   key, default and help from one line); the groups a command flattens are
//!   the settings it has.
//! - [`file`]: the TOML file, parsed into the same group structs.
//! - here: [`ServeArgs`], and [`Config`], what a node runs with: the groups
//!   resolved (flags > env > file > defaults) and the values derived from
//!   several settings (workers, warm boxes, lease, limits).

pub mod file;
pub mod settings;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kiln_engine::config::{MAX_FILES, MAX_LIMITS};
use kiln_engine::Limits;

pub use settings::{
    Api, ApiArgs, Backend, BackendArgs, JobArgs, Jobs, LimitArgs, LimitsPatch, SqliteSync,
    SubmissionLimits, WorkerNode, WorkerNodeArgs,
};

/// `--config`: the TOML file, for both commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigFileArg {
    /// TOML config file; its keys are the long flag names with `_` for `-`
    /// (the --workspaces-… ones in a [workspaces] table).
    #[arg(long, env = "KILN_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `kiln serve` flags: every group. Each also reads `KILN_<NAME>` from the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub file: ConfigFileArg,
    #[command(flatten, next_help_heading = "Queue and store")]
    pub backend: BackendArgs,
    #[command(flatten, next_help_heading = "Workers and jobs")]
    pub jobs: JobArgs,
    #[command(flatten, next_help_heading = "Submissions")]
    pub limits: LimitArgs,
    #[command(flatten, next_help_heading = "API")]
    pub api: ApiArgs,
    #[command(flatten, next_help_heading = "Workspaces")]
    pub workspaces: kiln_workspace::SettingsArgs,
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
    #[error("config file {path}: unknown key `{key}`; the keys are the long flag names with `_` for `-` (see `kiln serve --help`), the workspace ones in a [workspaces] table")]
    UnknownKey { path: PathBuf, key: String },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// The resolved settings a node runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// False for `kiln worker`: no public API, only `/health` and `/metrics`.
    pub serves_api: bool,
    /// Where this node's HTTP listens: the API's `listen`, or a worker's
    /// `metrics_listen`.
    pub listen: SocketAddr,
    /// Queue and store; `queue`/`store` `None`: the embedded ones.
    pub backend: Backend,
    /// The job settings as given (`workers` and `warm_boxes` resolved below).
    pub jobs: Jobs,
    /// The submission maxima as given (the limits resolved below).
    pub limits: SubmissionLimits,
    pub api: Api,
    /// Workspace settings (disabled on a worker node).
    pub workspaces: kiln_workspace::Settings,
    /// Workers of this process: `jobs.workers`, or the CPUs (none for an API
    /// node of a shared queue).
    pub workers: usize,
    /// `jobs.warm_boxes`, or one per worker.
    pub warm_boxes: usize,
    /// How long a shared-queue job may run before it is presumed abandoned.
    pub lease: Duration,
    /// `limits.default_limits` over `Limits::default()`.
    pub default_limits: Limits,
    /// `limits.max_limits` over the engine's `MAX_LIMITS`.
    pub max_limits: Limits,
    /// The compile cache: `jobs.compile_cache_dir`, or `compile-cache` in
    /// the data directory (a worker, which has none: [`WORKER_COMPILE_CACHE`]);
    /// `None` when `jobs.compile_cache` is off.
    pub compile_cache: Option<kiln_engine::CompileCacheConfig>,
    /// The toolchain assets: `jobs.toolchain_assets_dir`, or
    /// `toolchain-assets` in the data directory (a worker:
    /// [`WORKER_TOOLCHAIN_ASSETS`]); `None` when `jobs.toolchain_assets` is off.
    pub assets: Option<kiln_engine::AssetsConfig>,
}

/// The groups of one node, each already flags over file.
pub(crate) struct Layers {
    pub backend: BackendArgs,
    pub jobs: JobArgs,
    pub limits: LimitArgs,
    pub api: ApiArgs,
    pub workspaces: kiln_workspace::SettingsArgs,
}

impl Layers {
    /// `kiln serve`'s groups: flags/env over the config file's.
    pub(crate) fn of(args: &ServeArgs) -> Result<Layers, ConfigError> {
        let file = file::read(args.file.config.as_deref())?;
        Ok(Layers {
            backend: args.backend.clone().or(file.backend),
            jobs: args.jobs.clone().or(file.jobs),
            limits: args.limits.clone().or(file.limits),
            api: args.api.clone().or(file.api),
            workspaces: args.workspaces.clone().or(file.workspaces),
        })
    }
}

/// The compile cache of `kiln worker` (which has no data directory) by default.
pub const WORKER_COMPILE_CACHE: &str = "/var/cache/kiln/compile-cache";
/// Where a `kiln worker` keeps its toolchain assets unless told otherwise.
pub const WORKER_TOOLCHAIN_ASSETS: &str = "/var/cache/kiln/toolchain-assets";

/// The most submissions one batch request may carry.
pub const MAX_BATCH: usize = 100;

impl Config {
    /// `kiln serve`: flags/env (already merged by clap) over the config file
    /// over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Config, ConfigError> {
        Config::build(Layers::of(args)?, true)
    }

    /// The defaults applied, then what derives from several settings, then
    /// the checks.
    pub(crate) fn build(layers: Layers, serves_api: bool) -> Result<Config, ConfigError> {
        let mut backend = layers.backend.resolve();
        backend.queue = backend.queue.filter(|u| !u.is_empty());
        backend.store = backend.store.filter(|u| !u.is_empty());
        let jobs = layers.jobs.resolve();
        let limits = layers.limits.resolve();
        let mut api = layers.api.resolve();
        let clean = |keys: &[String]| -> Vec<String> {
            keys.iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect()
        };
        api.api_keys = clean(&api.api_keys);
        api.admin_keys = clean(&api.admin_keys);
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = match jobs.workers {
            Some(n) => n,
            None if serves_api && backend.queue.is_some() => 0,
            None => cpus,
        };
        let max_limits = limits.max_limits.unwrap_or_default().apply(MAX_LIMITS);
        let compile_cache = jobs.compile_cache.then(|| kiln_engine::CompileCacheConfig {
            dir: jobs.compile_cache_dir.clone().unwrap_or_else(|| {
                if serves_api {
                    api.data_dir.join("compile-cache")
                } else {
                    PathBuf::from(WORKER_COMPILE_CACHE)
                }
            }),
            max_bytes: jobs.compile_cache_bytes,
        });
        let assets = jobs.toolchain_assets.then(|| kiln_engine::AssetsConfig {
            dir: jobs.toolchain_assets_dir.clone().unwrap_or_else(|| {
                if serves_api {
                    api.data_dir.join("toolchain-assets")
                } else {
                    PathBuf::from(WORKER_TOOLCHAIN_ASSETS)
                }
            }),
            max_bytes: jobs.toolchain_assets_bytes,
        });
        let config = Config {
            serves_api,
            listen: api.listen,
            lease: Duration::from_secs(backend.lease_secs),
            workers,
            warm_boxes: jobs.warm_boxes.unwrap_or(workers),
            default_limits: limits
                .default_limits
                .unwrap_or_default()
                .apply(Limits::default()),
            max_limits,
            compile_cache,
            assets,
            backend,
            jobs,
            limits,
            api,
            workspaces: layers.workspaces.resolve(),
        };
        config.check()?;
        Ok(config)
    }

    /// The maxima submissions are validated against (the engine's one
    /// validator); the engine of this node gets the same through
    /// [`crate::executor::engine_config`].
    pub fn validation_rules(&self) -> kiln_engine::validate::Rules {
        kiln_engine::validate::Rules {
            max_files: MAX_FILES,
            max_source_bytes: self.limits.max_source_bytes,
            max_stdin_bytes: self.limits.max_stdin_bytes,
            max_tests: self.limits.max_tests,
            max_limits: self.max_limits,
        }
    }

    /// The shared backends, the workers and the lease (checked first).
    fn check_backend(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_string(),
            })
        };
        match (&self.backend.queue, &self.backend.store) {
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
        if self.workers == 0 && self.backend.queue.is_none() {
            return invalid(
                "workers",
                "must be at least 1 (0 is allowed only with a shared --queue)",
            );
        }
        if self.lease.is_zero() {
            return invalid("lease_secs", "must be at least 1");
        }
        if let Some(p) = &self.backend.queue_prefix {
            if p.len() > 64 || !p.bytes().all(|b| b.is_ascii_graphic()) {
                return invalid(
                    "queue_prefix",
                    "must be at most 64 printable characters without spaces, e.g. `staging:`",
                );
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.check_backend()?;
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_string(),
            })
        };
        if let Err(m) = self.workspaces.check() {
            return invalid("workspaces", &m);
        }
        if self.api.queue_capacity == 0 {
            return invalid("queue_capacity", "must be at least 1");
        }
        if self.compile_cache.is_some() && self.jobs.compile_cache_bytes < 1 << 20 {
            return invalid(
                "compile_cache_bytes",
                "must be at least 1048576 (1 MiB); turn the cache off with compile_cache = false",
            );
        }
        if self.jobs.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1");
        }
        if !(self.api.rate_limit_per_sec >= 0.0 && self.api.rate_limit_per_sec.is_finite()) {
            return invalid("rate_limit_per_sec", "must be a finite number >= 0");
        }
        if !(self.api.ip_rate_limit_per_sec >= 0.0 && self.api.ip_rate_limit_per_sec.is_finite()) {
            return invalid("ip_rate_limit_per_sec", "must be a finite number >= 0");
        }
        for o in &self.api.cors_origins {
            let ok = o == "*"
                || url::Url::parse(o).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host().is_some()
                        && u.path() == "/"
                        && !o.ends_with('/')
                        && u.query().is_none()
                });
            if !ok {
                return invalid(
                    "cors_origins",
                    &format!("{o:?} is not an origin; write scheme://host[:port] like https://console.example.com, or *"),
                );
            }
        }
        if let Some(field) =
            kiln_engine::validate::limit_over_max(&self.default_limits, &self.max_limits)
        {
            return Err(ConfigError::Invalid {
                key: "default_limits",
                message: format!("{field} is above max_limits"),
            });
        }
        Ok(())
    }
}
