//! `kiln worker`: a process of sandbox workers on the shared Redis queue and
//! PostgreSQL store, with no public API. It serves `/health` (readiness: Redis
//! and PostgreSQL answer and its workers run), `/health/live` and `/metrics` on
//! `--metrics-listen`, and drains on SIGTERM like `kiln serve`: running jobs get
//! the grace period to finish, the rest are put back on the queue.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{
    file, BackendArgs, Config, ConfigFileArg, JobArgs, Layers, LimitArgs, WorkerNodeArgs,
};
use crate::executor::Executor;

/// `kiln worker` flags: the groups of settings a worker uses (queue and store,
/// jobs, submission limits: these must match the API nodes'), and the address
/// of its operational port. The API's settings are not among them; a shared
/// config file may still hold them (they are checked, and unused here).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub file: ConfigFileArg,
    #[command(flatten, next_help_heading = "Queue and store")]
    pub backend: BackendArgs,
    #[command(flatten, next_help_heading = "Workers and jobs")]
    pub jobs: JobArgs,
    #[command(flatten, next_help_heading = "Submissions")]
    pub limits: LimitArgs,
    #[command(flatten, next_help_heading = "Worker")]
    pub node: WorkerNodeArgs,
    /// The same as --metrics-listen (kept for compatibility; --metrics-listen wins).
    #[arg(long, env = "KILN_LISTEN", hide = true)]
    pub listen: Option<SocketAddr>,
}

impl WorkerArgs {
    /// The settings of a worker node: a queue and a store are required,
    /// workers default to the number of CPUs, workspaces are off.
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let file = file::read(self.file.config.as_deref())?;
        let backend = self.backend.clone().or(file.backend);
        let given = |v: &Option<String>| v.as_deref().is_some_and(|u| !u.is_empty());
        if !given(&backend.queue) || !given(&backend.store) {
            anyhow::bail!(
                "kiln worker needs the shared queue and store: give --queue redis://… and \
                 --store postgres://… (or KILN_QUEUE and KILN_STORE)"
            );
        }
        let node = WorkerNodeArgs {
            metrics_listen: self.node.metrics_listen.or(self.listen),
        }
        .or(file.worker)
        .resolve();
        let mut config = Config::build(
            Layers {
                backend,
                jobs: self.jobs.clone().or(file.jobs),
                limits: self.limits.clone().or(file.limits),
                api: Default::default(),
                workspaces: kiln_workspace::SettingsArgs {
                    enabled: Some(false),
                    ..Default::default()
                },
            },
            false,
        )?;
        if config.workers == 0 {
            anyhow::bail!("invalid setting workers: a worker node needs at least 1");
        }
        config.listen = node.metrics_listen;
        Ok(config)
    }
}

/// `kiln worker`: the real engine, until SIGTERM or Ctrl-C, then drains.
pub async fn work(args: WorkerArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let engine = kiln_engine::Engine::new(crate::executor::engine_config(&config))
        .context("starting the execution engine")?;
    tracing::info!(workers = config.workers, "engine ready");
    crate::app::run_until_signal(config, Arc::new(engine)).await
}

/// Like [`work`], with another executor.
pub async fn work_with_executor(
    args: WorkerArgs,
    executor: Arc<dyn Executor>,
) -> anyhow::Result<()> {
    crate::app::run_until_signal(args.resolve()?, executor).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn shared() -> WorkerArgs {
        WorkerArgs {
            backend: BackendArgs {
                queue: Some("redis://127.0.0.1:6379/0".into()),
                store: Some("postgres://kiln@127.0.0.1/kiln".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_worker_needs_the_shared_backends_and_serves_only_its_ops_port() {
        let err = WorkerArgs::default().resolve().unwrap_err();
        assert!(err.to_string().contains("--queue"), "{err}");
        let c = shared().resolve().unwrap();
        assert!(!c.serves_api);
        assert!(c.workers >= 1, "workers default to the CPUs");
        assert!(!c.workspaces.enabled, "a worker serves no workspaces");
        assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9091)));
        let mut a = shared();
        a.jobs.workers = Some(0);
        assert!(a.resolve().is_err());
        let mut a = shared();
        a.listen = Some("127.0.0.1:7000".parse().unwrap());
        assert_eq!(
            a.resolve().unwrap().listen.port(),
            7000,
            "--listen means --metrics-listen"
        );
        a.node.metrics_listen = Some("127.0.0.1:7001".parse().unwrap());
        assert_eq!(
            a.resolve().unwrap().listen.port(),
            7001,
            "--metrics-listen wins over --listen"
        );
    }

    /// The worker's flags are its groups': no API-only setting among them.
    #[test]
    fn worker_help_lists_no_api_only_flag() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            worker: WorkerArgs,
        }
        let help = Cli::command().render_long_help().to_string();
        let api_only = crate::config::ApiArgs::settings()
            .into_iter()
            .chain(kiln_workspace::SettingsArgs::settings());
        for s in api_only {
            let Some(flag) = s.flag else { continue };
            assert!(
                !help.contains(&format!("{flag} ")),
                "{flag} in kiln worker --help:\n{help}"
            );
        }
        for s in BackendArgs::settings()
            .into_iter()
            .chain(JobArgs::settings())
            .chain(LimitArgs::settings())
            .chain(WorkerNodeArgs::settings())
        {
            let flag = s.flag.unwrap();
            assert!(
                help.contains(&format!("{flag} ")),
                "{flag} missing:\n{help}"
            );
        }
        assert!(help.contains("--config "));
    }

    #[test]
    fn a_worker_reads_the_shared_config_file_and_ignores_the_api_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.toml");
        std::fs::write(
            &path,
            "queue = \"redis://h/0\"\nstore = \"postgres://h/db\"\nmax_attempts = 5\napi_keys = [\"k\"]\nmetrics_listen = \"127.0.0.1:7002\"\n[workspaces]\nmax_per_owner = 2\n",
        )
        .unwrap();
        let c = WorkerArgs {
            file: ConfigFileArg { config: Some(path) },
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(c.jobs.max_attempts, 5);
        assert_eq!(c.listen.port(), 7002);
        assert!(
            c.api.api_keys.is_empty(),
            "API keys are the API nodes' business"
        );
        // No data directory: the compile cache has a place of its own.
        assert_eq!(
            c.compile_cache.map(|cc| cc.dir),
            Some(crate::config::WORKER_COMPILE_CACHE.into())
        );
    }
}
