//! `kiln worker`: a process of sandbox workers on the shared Redis queue and
//! PostgreSQL store, with no public API. It serves `/health` (readiness: Redis
//! and PostgreSQL answer and its workers run), `/health/live` and `/metrics` on
//! `--metrics-listen`, and drains on SIGTERM like `kiln serve`: running jobs get
//! the grace period to finish, the rest are put back on the queue.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Config, ServeArgs};
use crate::executor::Executor;

/// `kiln worker` flags: those of `kiln serve` (the limits, attempts, lease, …
/// must match the API nodes'), and the address of the operational port.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkerArgs {
    /// Address of /metrics and /health (`--listen` means the same for a worker;
    /// this one wins) [default: 0.0.0.0:9091].
    #[arg(long, env = "KILN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl WorkerArgs {
    /// The settings of a worker node: a queue and a store are required,
    /// workers default to the number of CPUs.
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let mut serve = self.serve.clone();
        if serve.queue.is_none() || serve.store.is_none() {
            anyhow::bail!(
                "kiln worker needs the shared queue and store: give --queue redis://… and \
                 --store postgres://… (or KILN_QUEUE and KILN_STORE)"
            );
        }
        if serve.workers.is_none() {
            serve.workers = Some(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            );
        }
        let mut config = Config::resolve(&serve)?;
        if config.workers == 0 {
            anyhow::bail!("invalid setting workers: a worker node needs at least 1");
        }
        config.serves_api = false;
        config.listen = self
            .metrics_listen
            .or(self.serve.listen)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 9091)));
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

    fn shared() -> ServeArgs {
        ServeArgs {
            queue: Some("redis://127.0.0.1:6379/0".into()),
            store: Some("postgres://kiln@127.0.0.1/kiln".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_worker_needs_the_shared_backends_and_serves_only_its_ops_port() {
        let err = WorkerArgs::default().resolve().unwrap_err();
        assert!(err.to_string().contains("--queue"), "{err}");
        let c = WorkerArgs {
            metrics_listen: None,
            serve: shared(),
        }
        .resolve()
        .unwrap();
        assert!(!c.serves_api);
        assert!(c.workers >= 1, "workers default to the CPUs");
        assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9091)));
        let mut serve = shared();
        serve.workers = Some(0);
        assert!(WorkerArgs {
            metrics_listen: None,
            serve
        }
        .resolve()
        .is_err());
        let mut serve = shared();
        serve.listen = Some("127.0.0.1:7000".parse().unwrap());
        let c = WorkerArgs {
            metrics_listen: Some("127.0.0.1:7001".parse().unwrap()),
            serve,
        }
        .resolve()
        .unwrap();
        assert_eq!(c.listen.port(), 7001, "--metrics-listen wins over --listen");
    }
}
